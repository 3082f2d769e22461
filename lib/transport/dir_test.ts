import assert from "node:assert/strict";
import { digestOf } from "../digest/digester.ts";
import {
  DigestMismatchError,
  InvalidImageError,
  NotAFileError,
  NotFoundError,
  UnsafePathError,
} from "../errors.ts";
import {
  LAYER_A,
  LAYER_B,
  leftovers,
  makeLayout,
  mkfifo,
  ociboxCopy,
  ociboxFacts,
  tamperGzipBlob,
  treeDigest,
  withTempDir,
} from "./archive_test_util.ts";
import { DIR_TRANSPORT_VERSION, openDirDestination, openDirSource } from "./dir.ts";

const enc = new TextEncoder();

Deno.test("dir: writes version, manifest.json and blobs named by hex, and reads them back", async () => {
  await withTempDir(async (tmp) => {
    const img = await makeLayout(`${tmp}/L`, [LAYER_A, LAYER_B]);
    await ociboxCopy(img.location, `dir:${tmp}/D`);
    const names = Object.keys(await treeDigest(`${tmp}/D`)).sort();
    const hex = (d: string) => d.slice("sha256:".length);
    assert.deepEqual(
      names,
      ["manifest.json", "version", hex(img.configDigest), ...img.layerDigests.map(hex)].sort(),
    );
    assert.equal(await Deno.readTextFile(`${tmp}/D/version`), DIR_TRANSPORT_VERSION);
    // "preserve": the manifest is stored byte for byte.
    assert.equal(digestOf(await Deno.readFile(`${tmp}/D/manifest.json`)), img.manifestDigest);
    const facts = await ociboxFacts(`dir:${tmp}/D`);
    assert.equal(facts.configDigest, img.configDigest);
    assert.deepEqual(facts.contentDigests, img.diffIds);
    assert.deepEqual(await leftovers(tmp), []);
  });
});

Deno.test("dir: a failed copy leaves the previous image whole and no staging directory", async () => {
  await withTempDir(async (tmp) => {
    const good = await makeLayout(`${tmp}/good`, [LAYER_A]);
    const bad = await makeLayout(`${tmp}/bad`, [LAYER_A, LAYER_B]);
    await tamperGzipBlob(bad.layout, bad.layerDigests[1]);

    await assert.rejects(ociboxCopy(bad.location, `dir:${tmp}/new`), DigestMismatchError);
    await assert.rejects(Deno.stat(`${tmp}/new`), Deno.errors.NotFound);

    await ociboxCopy(good.location, `dir:${tmp}/D`);
    const before = await treeDigest(`${tmp}/D`);
    await assert.rejects(ociboxCopy(bad.location, `dir:${tmp}/D`), DigestMismatchError);
    assert.deepEqual(await treeDigest(`${tmp}/D`), before);
    assert.deepEqual(await leftovers(tmp), []);
  });
});

Deno.test("dir: replacing an image swaps the whole directory", async () => {
  await withTempDir(async (tmp) => {
    const a = await makeLayout(`${tmp}/a`, [LAYER_A]);
    const b = await makeLayout(`${tmp}/b`, [LAYER_B]);
    await ociboxCopy(a.location, `dir:${tmp}/D`);
    await ociboxCopy(b.location, `dir:${tmp}/D`);
    const names = Object.keys(await treeDigest(`${tmp}/D`));
    // Nothing of the first image is left over.
    assert.ok(!names.includes(a.layerDigests[0].slice(7)));
    assert.equal((await ociboxFacts(`dir:${tmp}/D`)).configDigest, b.configDigest);
    assert.deepEqual(await leftovers(tmp), []);
  });
});

Deno.test("dir: refuses to overwrite what is not a dir: image, and accepts an empty directory", async () => {
  await withTempDir(async (tmp) => {
    await Deno.mkdir(`${tmp}/mine`);
    await Deno.writeTextFile(`${tmp}/mine/notes.txt`, "precious\n");
    await assert.rejects(openDirDestination(`dir:${tmp}/mine`, `${tmp}/mine`), InvalidImageError);
    assert.equal(await Deno.readTextFile(`${tmp}/mine/notes.txt`), "precious\n");

    await Deno.writeTextFile(`${tmp}/file`, "x");
    await assert.rejects(openDirDestination(`dir:${tmp}/file`, `${tmp}/file`), InvalidImageError);

    const img = await makeLayout(`${tmp}/L`, [LAYER_A]);
    await Deno.mkdir(`${tmp}/empty`);
    await ociboxCopy(img.location, `dir:${tmp}/empty`);
    assert.equal(await Deno.readTextFile(`${tmp}/empty/version`), DIR_TRANSPORT_VERSION);
    assert.deepEqual(await leftovers(tmp), []);
  });
});

Deno.test("dir: close without commit removes the staging directory", async () => {
  await withTempDir(async (tmp) => {
    const dst = await openDirDestination(`dir:${tmp}/D`, `${tmp}/D`);
    await dst.putBlob(ReadableStream.from([enc.encode("blob")]), {});
    assert.equal((await leftovers(tmp)).length, 1);
    await dst.close();
    assert.deepEqual(await leftovers(tmp), []);
    await assert.rejects(Deno.stat(`${tmp}/D`), Deno.errors.NotFound);
  });
});

Deno.test("dir: putBlob verifies the digest it is given", async () => {
  await withTempDir(async (tmp) => {
    const dst = await openDirDestination(`dir:${tmp}/D`, `${tmp}/D`);
    try {
      const wrong = digestOf(enc.encode("other"));
      await assert.rejects(
        dst.putBlob(ReadableStream.from([enc.encode("blob")]), { digest: wrong }),
        DigestMismatchError,
      );
      assert.equal(await dst.hasBlob({ digest: wrong, size: 4 }), false);
      const ok = await dst.putBlob(ReadableStream.from([enc.encode("blob")]), {});
      assert.equal(ok.digest, digestOf(enc.encode("blob")));
      assert.equal(await dst.hasBlob(ok as { digest: string; size: number }), true);
    } finally {
      await dst.close();
    }
  });
});

Deno.test("dir: a missing directory or manifest is a NotFoundError", async () => {
  await withTempDir(async (tmp) => {
    await assert.rejects(openDirSource(`dir:${tmp}/nope`, `${tmp}/nope`), NotFoundError);
    await Deno.mkdir(`${tmp}/empty`);
    await assert.rejects(openDirSource(`dir:${tmp}/empty`, `${tmp}/empty`), NotFoundError);
  });
});

Deno.test("dir: files that lead out of the directory or are not regular files are refused", async () => {
  await withTempDir(async (tmp) => {
    const img = await makeLayout(`${tmp}/L`, [LAYER_A]);
    await ociboxCopy(img.location, `dir:${tmp}/D`);
    await Deno.writeTextFile(`${tmp}/secret`, "root:SECRETHASH:19000:0:99999:7:::\n");
    const hex = img.layerDigests[0].slice("sha256:".length);
    // A layer linked to its own bytes outside the directory: the digest would match.
    await Deno.rename(`${tmp}/D/${hex}`, `${tmp}/layer-outside`);
    await Deno.symlink(`${tmp}/layer-outside`, `${tmp}/D/${hex}`);
    await assert.rejects(ociboxCopy(`dir:${tmp}/D`, `oci:${tmp}/o:x`), UnsafePathError);
    await assert.rejects(Deno.stat(`${tmp}/o`), Deno.errors.NotFound);
    await Deno.remove(`${tmp}/D/manifest.json`);
    await Deno.symlink("../secret", `${tmp}/D/manifest.json`);
    await assert.rejects(openDirSource("d", `${tmp}/D`), (e: unknown) => {
      assert.ok(e instanceof UnsafePathError);
      assert.doesNotMatch(e.message, /SECRET/);
      return true;
    });
    await Deno.remove(`${tmp}/D/manifest.json`);
    mkfifo(`${tmp}/D/manifest.json`);
    await assert.rejects(openDirSource("d", `${tmp}/D`), NotAFileError);
  });
});

Deno.test("dir: a destination whose version file is a FIFO is refused, not waited on", async () => {
  await withTempDir(async (tmp) => {
    const img = await makeLayout(`${tmp}/L`, [LAYER_A]);
    await Deno.mkdir(`${tmp}/D`);
    await Deno.writeTextFile(`${tmp}/D/keep`, "someone's file");
    mkfifo(`${tmp}/D/version`);
    await assert.rejects(ociboxCopy(img.location, `dir:${tmp}/D`), NotAFileError);
    assert.equal(await Deno.readTextFile(`${tmp}/D/keep`), "someone's file");
  });
});
