import assert from "node:assert/strict";
import { chooseStoreRoot, imagesDir, lockFile, tmpDir } from "./store_root.ts";

Deno.test("chooseStoreRoot: --store > OCIBOX_STORE > root's > XDG_DATA_HOME > ~/.local/share", () => {
  const base = { uid: 1000, home: "/home/a", xdgDataHome: "/data" };
  assert.equal(chooseStoreRoot({ ...base, flag: "/f/", env: "/e" }), "/f");
  assert.equal(chooseStoreRoot({ ...base, env: "/e" }), "/e");
  assert.equal(chooseStoreRoot({ ...base, uid: 0 }), "/var/lib/ocibox");
  assert.equal(chooseStoreRoot({ ...base, uid: 0, env: "/e" }), "/e");
  assert.equal(chooseStoreRoot(base), "/data/ocibox");
  assert.equal(chooseStoreRoot({ uid: 1000, home: "/home/a" }), "/home/a/.local/share/ocibox");
  assert.equal(chooseStoreRoot({ uid: 0, flag: "/" }), "/");
  assert.throws(() => chooseStoreRoot({ uid: 1000 }), /--store/);
});

Deno.test("the store's paths", () => {
  assert.equal(imagesDir("/s"), "/s/images");
  assert.equal(tmpDir("/s"), "/s/tmp");
  assert.equal(lockFile("/s"), "/s/lock");
});
