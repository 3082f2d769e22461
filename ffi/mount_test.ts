import assert from "node:assert/strict";
import { AT_FDCWD, O_CREAT, O_RDONLY, O_WRONLY } from "./constants.ts";
import { ErrnoError } from "./errno.ts";
import { close, openat, writeAll } from "./fs.ts";
import { copyFileRange, ficlone, fsopen, sendfile, umount2 } from "./mount.ts";

function withFiles(fn: (src: number, dst: number, dir: string) => void): void {
  const dir = Deno.makeTempDirSync();
  try {
    Deno.writeFileSync(`${dir}/src`, new TextEncoder().encode("x".repeat(100_000)));
    const src = openat(AT_FDCWD, `${dir}/src`, O_RDONLY);
    const dst = openat(AT_FDCWD, `${dir}/dst`, O_WRONLY | O_CREAT, 0o600);
    try {
      fn(src, dst, dir);
    } finally {
      close(src);
      close(dst);
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

Deno.test("copyFileRange copies a whole file, then reports its end", () => {
  withFiles((src, dst, dir) => {
    let total = 0;
    for (let n = copyFileRange(src, dst, 1 << 20); n > 0; n = copyFileRange(src, dst, 1 << 20)) {
      total += n;
    }
    assert.equal(total, 100_000);
    assert.equal(Deno.readTextFileSync(`${dir}/dst`), "x".repeat(100_000));
  });
});

Deno.test("sendfile copies file to file", () => {
  withFiles((src, dst, dir) => {
    let total = 0;
    for (let n = sendfile(dst, src, 4096); n > 0; n = sendfile(dst, src, 4096)) total += n;
    assert.equal(total, 100_000);
    assert.equal(Deno.statSync(`${dir}/dst`).size, 100_000);
  });
});

Deno.test("ficlone clones where the file system shares blocks, else fails with an errno", () => {
  withFiles((src, dst, dir) => {
    try {
      ficlone(dst, src);
      assert.equal(Deno.statSync(`${dir}/dst`).size, 100_000);
    } catch (e) {
      assert.ok(e instanceof ErrnoError, String(e));
      assert.ok(["EOPNOTSUPP", "EXDEV", "EINVAL", "ENOTTY", "E25"].includes(e.code), e.code);
      writeAll(dst, new Uint8Array(1)); // the descriptor is still usable
    }
  });
});

Deno.test("umount2 of a directory that is no mount point fails with an errno", () => {
  const dir = Deno.makeTempDirSync();
  try {
    // EINVAL for root, EPERM for anyone else.
    assert.throws(() => umount2(dir), (e) => e instanceof ErrnoError && /umount2/.test(e.message));
  } finally {
    Deno.removeSync(dir);
  }
});

Deno.test("fsopen of a file system type the kernel lacks fails with an errno", () => {
  // ENODEV for root, EPERM for anyone else.
  assert.throws(() => fsopen("no-such-fs-ocibox"), ErrnoError);
});
