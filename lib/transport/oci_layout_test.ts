import assert from "node:assert/strict";
import { InvalidImageError, NotAFileError, UnsafePathError } from "../errors.ts";
import {
  LAYER_A,
  makeLayout,
  mkfifo,
  ociboxCopy,
  treeDigest,
  withTempDir,
} from "./archive_test_util.ts";
import { openSource } from "./open.ts";

const SECRET = "root:SECRETHASH:19000:0:99999:7:::\n";

Deno.test("oci: files linked out of the layout are refused, even with the right bytes", async () => {
  await withTempDir(async (tmp) => {
    const img = await makeLayout(`${tmp}/L`, [LAYER_A]);
    await Deno.writeTextFile(`${tmp}/secret`, SECRET);
    const outside = async (rel: string, target: string) => {
      await Deno.rename(`${tmp}/L/${rel}`, target);
      await Deno.symlink(target, `${tmp}/L/${rel}`);
    };
    const layer = `blobs/sha256/${img.layerDigests[0].slice(7)}`;
    await outside(layer, `${tmp}/layer-outside`);
    await assert.rejects(ociboxCopy(img.location, `oci:${tmp}/o:x`), UnsafePathError);
    await assert.rejects(Deno.stat(`${tmp}/o`), Deno.errors.NotFound);

    // index.json pointing at a host file: refused before a byte of it is read.
    await Deno.remove(`${tmp}/L/index.json`);
    await Deno.symlink(`${tmp}/secret`, `${tmp}/L/index.json`);
    await assert.rejects(openSource(img.location), (e: unknown) => {
      assert.ok(e instanceof UnsafePathError);
      assert.doesNotMatch(e.message, /SECRET|root/);
      return true;
    });
    // The whole blobs directory elsewhere.
    const other = await makeLayout(`${tmp}/M`, [LAYER_A]);
    await Deno.rename(`${tmp}/M/blobs`, `${tmp}/blobs-elsewhere`);
    await Deno.symlink(`${tmp}/blobs-elsewhere`, `${tmp}/M/blobs`);
    await assert.rejects(ociboxCopy(other.location, `oci:${tmp}/o:x`), UnsafePathError);
  });
});

Deno.test("oci: an index.json or oci-layout that is a FIFO or socket is refused at once", async () => {
  await withTempDir(async (tmp) => {
    const img = await makeLayout(`${tmp}/L`, [LAYER_A]);
    for (const rel of ["index.json", "oci-layout"]) {
      await Deno.rename(`${tmp}/L/${rel}`, `${tmp}/saved`);
      mkfifo(`${tmp}/L/${rel}`);
      await assert.rejects(openSource(img.location), {
        name: "NotAFileError",
        message: `${tmp}/L/${rel}: is a FIFO, not a regular file`,
      });
      // As a destination too: copy must not wait on it either.
      const src = await makeLayout(`${tmp}/S`, [LAYER_A]);
      await assert.rejects(ociboxCopy(src.location, `oci:${tmp}/L:y`), NotAFileError);
      await Deno.remove(`${tmp}/L/${rel}`);
      const socket = Deno.listen({ transport: "unix", path: `${tmp}/L/${rel}` });
      try {
        await assert.rejects(openSource(img.location), NotAFileError);
      } finally {
        socket.close(); // which removes it
      }
      await Deno.rename(`${tmp}/saved`, `${tmp}/L/${rel}`);
    }
  });
});

Deno.test("oci: a destination whose blobs lead out of the layout is refused before writing", async () => {
  await withTempDir(async (tmp) => {
    const src = await makeLayout(`${tmp}/S`, [LAYER_A]);
    for (const sub of ["blobs", "blobs/sha256"]) {
      const dst = `${tmp}/D-${sub.length}`;
      await makeLayout(dst, [LAYER_A]);
      await Deno.mkdir(`${tmp}/elsewhere-${sub.length}/sha256`, { recursive: true });
      await Deno.remove(`${dst}/${sub}`, { recursive: true });
      await Deno.symlink(
        `${tmp}/elsewhere-${sub.length}${sub === "blobs" ? "" : "/sha256"}`,
        `${dst}/${sub}`,
      );
      const before = await treeDigest(`${tmp}/elsewhere-${sub.length}`);
      await assert.rejects(ociboxCopy(src.location, `oci:${dst}:new`), UnsafePathError);
      assert.deepEqual(await treeDigest(`${tmp}/elsewhere-${sub.length}`), before);
    }
    const file = `${tmp}/F`;
    await makeLayout(file, [LAYER_A]);
    await Deno.remove(`${file}/blobs`, { recursive: true });
    await Deno.writeTextFile(`${file}/blobs`, "");
    await assert.rejects(ociboxCopy(src.location, `oci:${file}:new`), InvalidImageError);
  });
});
