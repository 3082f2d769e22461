import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { makeEntry, type TarEntry } from "../archive/tar/entry.ts";
import { RootfsWriter } from "./rootfs_writer.ts";

/** Applies `entries` (files get `body`) as one layer into a fresh rootfs under `dir`. */
function apply(root: string, entries: TarEntry[], body = new Uint8Array([1, 2, 3])): void {
  const w = new RootfsWriter(root, { rootless: Deno.uid() !== 0 });
  try {
    const layer = w.beginLayer();
    for (const e of entries) {
      const sized = e.type === "file" ? { ...e, size: body.length } : e;
      layer.entry(sized);
      if (sized.size > 0) layer.data(body);
      layer.entryEnd();
    }
    layer.finish();
  } finally {
    w.close();
  }
}

const perm = (path: string) => Deno.lstatSync(path).mode! & 0o7777;

Deno.test("RootfsWriter: files keep their exact modes whether or not the umask gives them", () => {
  const root = Deno.makeTempDirSync();
  try {
    const modes = [0o644, 0o755, 0o600, 0o777, 0o666, 0o000, 0o4755, 0o2711, 0o1777, 0o640];
    apply(root, [
      makeEntry({ name: "d/", type: "dir" }),
      ...modes.map((mode) => makeEntry({ name: `d/f${mode.toString(8)}`, type: "file", mode })),
    ]);
    for (const mode of modes) assertEquals(perm(`${root}/d/f${mode.toString(8)}`), mode);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

/** A default ACL user::rwx group::r-x other::--- in the kernel's xattr format. */
function defaultAcl(): Uint8Array {
  const entries: [number, number][] = [[0x01, 7], [0x04, 5], [0x20, 0]];
  const buf = new Uint8Array(4 + 8 * entries.length);
  const v = new DataView(buf.buffer);
  v.setUint32(0, 2, true);
  entries.forEach(([tag, p], i) => {
    v.setUint16(4 + 8 * i, tag, true);
    v.setUint16(6 + 8 * i, p, true);
    v.setUint32(8 + 8 * i, 0xffffffff, true);
  });
  return buf;
}

Deno.test("RootfsWriter: a default ACL does not decide a file's mode (the entry's does)", async () => {
  const root = Deno.makeTempDirSync();
  try {
    const { fsetxattr, openat, close } = await import("../../ffi/fs.ts");
    const { AT_FDCWD, O_DIRECTORY, O_RDONLY } = await import("../../ffi/constants.ts");
    const fd = openat(AT_FDCWD, root, O_RDONLY | O_DIRECTORY);
    try {
      fsetxattr(fd, "system.posix_acl_default", defaultAcl());
    } catch {
      return; // no ACLs on this file system: nothing to check
    } finally {
      close(fd);
    }
    apply(root, [
      makeEntry({ name: "a", type: "file", mode: 0o644 }),
      makeEntry({ name: "d/", type: "dir", mode: 0o755 }),
      makeEntry({ name: "d/b", type: "file", mode: 0o755 }),
    ]);
    assertEquals(perm(`${root}/a`), 0o644);
    assertEquals(perm(`${root}/d/b`), 0o755);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});
