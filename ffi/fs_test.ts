import assert from "node:assert/strict";
import {
  close,
  fdPath,
  lgetxattr,
  llistxattr,
  lsetxattr,
  makedev,
  mkdirat,
  openat,
  openat2,
  statx,
  statxIfExists,
  symlinkat,
  writeAll,
} from "./fs.ts";
import {
  AT_FDCWD,
  AT_SYMLINK_NOFOLLOW,
  O_CREAT,
  O_DIRECTORY,
  O_EXCL,
  O_RDONLY,
  O_WRONLY,
  RESOLVE_IN_ROOT,
  S_IFDIR,
  S_IFMT,
} from "./constants.ts";
import { ErrnoError } from "./errno.ts";

Deno.test("openat2 RESOLVE_IN_ROOT keeps absolute and .. symlinks inside the root", () => {
  const dir = Deno.makeTempDirSync();
  try {
    Deno.mkdirSync(`${dir}/root/etc`, { recursive: true });
    Deno.writeTextFileSync(`${dir}/root/etc/passwd`, "inside");
    Deno.writeTextFileSync(`${dir}/passwd`, "outside");
    Deno.symlinkSync("/etc", `${dir}/root/abs`);
    Deno.symlinkSync("../../..", `${dir}/root/up`);
    const root = openat2(AT_FDCWD, `${dir}/root`, O_RDONLY | O_DIRECTORY, 0, 0);
    try {
      for (const p of ["abs/passwd", "up/etc/passwd", "../etc/passwd", "/etc/passwd"]) {
        const fd = openat2(root, p, O_RDONLY, 0, RESOLVE_IN_ROOT);
        const text = Deno.readTextFileSync(fdPath(fd));
        close(fd);
        assert.equal(text, "inside", p);
      }
    } finally {
      close(root);
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("errors carry errno names and paths", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const root = openat(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY);
    mkdirat(root, "a", 0o755);
    assert.throws(() => mkdirat(root, "a", 0o755), (e) => {
      assert.ok(e instanceof ErrnoError);
      assert.equal(e.code, "EEXIST");
      assert.match(e.message, /mkdirat a: file exists/);
      return true;
    });
    const fd = openat(root, "f", O_WRONLY | O_CREAT | O_EXCL, 0o640);
    writeAll(fd, new TextEncoder().encode("hello"));
    close(fd);
    const st = statx(root, "f", AT_SYMLINK_NOFOLLOW);
    assert.equal(st.size, 5);
    assert.equal(st.mode & 0o777, 0o640 & ~Deno.umask());
    assert.equal(statx(root, "a", 0).mode & S_IFMT, S_IFDIR);
    assert.equal(statxIfExists(root, "nope", 0), undefined);
    symlinkat("f", root, "l");
    assert.equal(statx(root, "l", AT_SYMLINK_NOFOLLOW).size, 1);
    close(root);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("xattrs round-trip with binary values", () => {
  const dir = Deno.makeTempDirSync();
  try {
    Deno.writeTextFileSync(`${dir}/f`, "");
    const value = new Uint8Array([0, 1, 2, 255]);
    try {
      lsetxattr(`${dir}/f`, "user.ocibox", value);
    } catch (e) {
      if (e instanceof ErrnoError && e.code === "EOPNOTSUPP") return; // fs without user xattrs
      throw e;
    }
    assert.deepEqual(llistxattr(`${dir}/f`), ["user.ocibox"]);
    assert.deepEqual(lgetxattr(`${dir}/f`, "user.ocibox"), value);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("makedev matches glibc's encoding", () => {
  assert.equal(makedev(1, 3), 0x103n);
  assert.equal(makedev(8, 0x123), 0x100823n);
  assert.equal(makedev(4101, 70000), 0x100011100570n);
});
