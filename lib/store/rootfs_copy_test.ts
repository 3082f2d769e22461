import assert from "node:assert/strict";
import { AT_FDCWD, O_CREAT, O_WRONLY } from "../../ffi/constants.ts";
import { close, lgetxattr, lsetxattr, openat } from "../../ffi/fs.ts";
import { mergeLayerDirs } from "./rootfs_copy.ts";

// Whiteouts (0/0 character devices) and opaque directories (trusted.* xattrs) need root to
// make: tests/layer_cache_test.ts covers them against real overlay mounts.

function withLayers(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = Deno.makeTempDirSync();
  return fn(dir).finally(() => Deno.removeSync(dir, { recursive: true }));
}

/** Two layers: a lower one with one of each kind, an upper one changing them. */
function makeLayers(dir: string): [string, string] {
  const [l0, l1] = [`${dir}/l0`, `${dir}/l1`];
  Deno.mkdirSync(`${l0}/d/sub`, { recursive: true });
  Deno.writeTextFileSync(`${l0}/d/a`, "a0");
  Deno.writeTextFileSync(`${l0}/d/sub/deep`, "deep");
  Deno.writeTextFileSync(`${l0}/f2d`, "file");
  Deno.mkdirSync(`${l0}/d2f`);
  Deno.writeTextFileSync(`${l0}/d2f/child`, "child");
  Deno.writeTextFileSync(`${l0}/hl`, "linked");
  Deno.linkSync(`${l0}/hl`, `${l0}/hl2`);
  Deno.symlinkSync("d/a", `${l0}/link`);
  Deno.chmodSync(l0, 0o750);
  Deno.mkdirSync(`${l1}/d`, { recursive: true });
  Deno.writeTextFileSync(`${l1}/d/a`, "a1");
  Deno.writeTextFileSync(`${l1}/d/b`, "b1", { mode: 0o640 });
  Deno.chmodSync(`${l1}/d/b`, 0o640);
  Deno.utimeSync(`${l1}/d/b`, 1_000_000_000, 1_000_000_000);
  Deno.mkdirSync(`${l1}/f2d`);
  Deno.writeTextFileSync(`${l1}/f2d/in`, "in");
  Deno.writeTextFileSync(`${l1}/d2f`, "now a file");
  lsetxattr(`${l1}/d/b`, "user.test", new TextEncoder().encode("xattr"));
  // A name that is not UTF-8 (ffi/fs.ts turns the surrogate escapes back into its bytes).
  close(openat(AT_FDCWD, `${l1}/bad\udcff`, O_WRONLY | O_CREAT, 0o644));
  Deno.chmodSync(l1, 0o711);
  return [l0, l1];
}

for (const mode of ["copy", "link"] as const) {
  Deno.test(`mergeLayerDirs (${mode}): upper entries replace or merge with lower ones`, async () => {
    await withLayers(async (dir) => {
      const layers = makeLayers(dir);
      const out = `${dir}/out`;
      const stats = await mergeLayerDirs(layers, out, { mode });
      const read = (p: string) => Deno.readTextFileSync(`${out}/${p}`);
      assert.equal(read("d/a"), "a1");
      assert.equal(read("d/b"), "b1");
      assert.equal(read("d/sub/deep"), "deep", "merged with the lower directory");
      assert.ok(Deno.lstatSync(`${out}/f2d`).isDirectory);
      assert.equal(read("f2d/in"), "in");
      assert.equal(read("d2f"), "now a file");
      assert.equal(Deno.readLinkSync(`${out}/link`), "d/a");
      const b = Deno.lstatSync(`${out}/d/b`);
      assert.equal(b.mode! & 0o7777, 0o640);
      assert.equal(b.mtime!.getTime(), 1_000_000_000_000);
      assert.equal(new TextDecoder().decode(lgetxattr(`${out}/d/b`, "user.test")), "xattr");
      assert.equal(Deno.statSync(out).mode! & 0o7777, 0o711, "the top layer's root");
      const names = [...Deno.readDirSync(out)].map((e) => e.name);
      assert.equal(names.filter((n) => n.startsWith("bad")).length, 1);
      const [h1, h2] = [Deno.lstatSync(`${out}/hl`), Deno.lstatSync(`${out}/hl2`)];
      assert.equal(h1.ino, h2.ino, "a hardlink group stays one");
      const src = Deno.lstatSync(`${layers[0]}/hl`);
      if (mode === "link") assert.equal(h1.ino, src.ino, "link mode shares the cached inode");
      else {
        assert.notEqual(h1.ino, src.ino, "copy mode makes files of its own");
        // Every file's data once, replaced ones included: 2+4+4+5+6 below, 2+2+2+10 above.
        assert.equal(stats.bytes, 37);
      }
    });
  });
}
