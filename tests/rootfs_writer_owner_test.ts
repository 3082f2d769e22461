/**
 * The rootfs writer's ownership shortcut against the kernel's set-group-ID rule: a new file in a
 * set-group-ID directory takes the directory's group, so the writer must not skip fchown when
 * the entry asks for another group. Needs root (chown to other ids); the rest of the writer's
 * modes and ACL cases are unit tests in lib/layer/rootfs_writer_test.ts.
 */
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { makeEntry, type TarEntry } from "../lib/archive/tar/entry.ts";
import { RootfsWriter } from "../lib/layer/rootfs_writer.ts";
import { peerTest } from "./support/peers.ts";

function apply(root: string, entries: TarEntry[], body = new Uint8Array([1, 2, 3])): void {
  const w = new RootfsWriter(root, { rootless: false });
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

peerTest(
  "RootfsWriter: a file in a set-group-ID directory gets the entry's group",
  { root: true },
  () => {
    const root = Deno.makeTempDirSync();
    try {
      Deno.chownSync(root, 0, 4242);
      Deno.chmodSync(root, 0o2755);
      apply(root, [
        makeEntry({ name: "a", type: "file", uid: 0, gid: 0 }),
        makeEntry({ name: "b", type: "file", uid: 0, gid: 4242 }),
        makeEntry({ name: "c", type: "file", uid: 1000, gid: 1000 }),
        makeEntry({ name: "d/", type: "dir", uid: 0, gid: 0, mode: 0o755 }),
        makeEntry({ name: "d/e", type: "file", uid: 0, gid: 0 }),
      ]);
      const owner = (p: string) => {
        const st = Deno.lstatSync(`${root}/${p}`);
        return [st.uid, st.gid];
      };
      assertEquals(owner("a"), [0, 0]);
      assertEquals(owner("b"), [0, 4242]);
      assertEquals(owner("c"), [1000, 1000]);
      assertEquals(owner("d/e"), [0, 0]);
    } finally {
      Deno.removeSync(root, { recursive: true });
    }
  },
);
