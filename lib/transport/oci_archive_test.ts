import assert from "node:assert/strict";
import { digestOf } from "../digest/digester.ts";
import { DigestMismatchError, InvalidImageError, InvalidReferenceError } from "../errors.ts";
import { compress } from "../archive/compression.ts";
import { scanTarFile } from "../archive/tar/reader.ts";
import {
  collect,
  LAYER_A,
  LAYER_B,
  leftovers,
  makeLayout,
  ociboxCopy,
  ociboxFacts,
  tamperGzipBlob,
  withTempDir,
} from "./archive_test_util.ts";
import { openOciArchiveDestination, openOciArchiveSource } from "./oci_archive.ts";

const enc = new TextEncoder();

async function members(path: string) {
  using file = await Deno.open(path);
  return (await scanTarFile(file)).map((m) => m.entry);
}

Deno.test("oci-archive: writes a sorted, deterministic tar of the layout and reads it in place", async () => {
  await withTempDir(async (tmp) => {
    const img = await makeLayout(`${tmp}/L`, [LAYER_A, LAYER_B]);
    await ociboxCopy(img.location, `oci-archive:${tmp}/a.tar:v1`);
    const entries = await members(`${tmp}/a.tar`);
    const names = entries.map((e) => e.name);
    assert.deepEqual(names.slice(0, 2), ["blobs/", "blobs/sha256/"]);
    assert.deepEqual(names.slice(-2), ["index.json", "oci-layout"]);
    assert.deepEqual(names, [...names].sort());
    for (const e of entries) {
      assert.equal(e.mtime, 0);
      assert.equal(e.uid, 0);
      assert.equal(e.uname, "");
    }
    // Same image, same bytes.
    await ociboxCopy(img.location, `oci-archive:${tmp}/b.tar:v1`);
    assert.deepEqual(await Deno.readFile(`${tmp}/a.tar`), await Deno.readFile(`${tmp}/b.tar`));

    const facts = await ociboxFacts(`oci-archive:${tmp}/a.tar:v1`);
    assert.equal(facts.configDigest, img.configDigest);
    assert.deepEqual(facts.layerDigests, img.layerDigests);
    assert.deepEqual(facts.contentDigests, img.diffIds);
    assert.deepEqual(await leftovers(tmp), []);
  });
});

Deno.test("oci-archive: writing replaces the file, keeping its permission bits", async () => {
  await withTempDir(async (tmp) => {
    const img = await makeLayout(`${tmp}/L`, [LAYER_A]);
    await Deno.writeTextFile(`${tmp}/a.tar`, "old content");
    await Deno.chmod(`${tmp}/a.tar`, 0o600);
    await ociboxCopy(img.location, `oci-archive:${tmp}/a.tar`);
    assert.equal((await Deno.stat(`${tmp}/a.tar`)).mode! & 0o777, 0o600);
    assert.equal((await ociboxFacts(`oci-archive:${tmp}/a.tar`)).configDigest, img.configDigest);
  });
});

Deno.test("oci-archive: a failed write leaves the file as it was and no staging directory", async () => {
  await withTempDir(async (tmp) => {
    const bad = await makeLayout(`${tmp}/bad`, [LAYER_A, LAYER_B]);
    await tamperGzipBlob(bad.layout, bad.layerDigests[1]);

    await assert.rejects(
      ociboxCopy(bad.location, `oci-archive:${tmp}/new.tar`),
      DigestMismatchError,
    );
    await assert.rejects(Deno.stat(`${tmp}/new.tar`), Deno.errors.NotFound);

    await Deno.writeTextFile(`${tmp}/old.tar`, "previous archive");
    await assert.rejects(
      ociboxCopy(bad.location, `oci-archive:${tmp}/old.tar`),
      DigestMismatchError,
    );
    assert.equal(await Deno.readTextFile(`${tmp}/old.tar`), "previous archive");
    assert.deepEqual(await leftovers(tmp), []);
  });
});

Deno.test("oci-archive: close without commit removes the staging directory", async () => {
  await withTempDir(async (tmp) => {
    const dst = await openOciArchiveDestination(`oci-archive:${tmp}/a.tar`, `${tmp}/a.tar`);
    await dst.putBlob(ReadableStream.from([enc.encode("blob")]), {});
    assert.equal((await leftovers(tmp)).length, 1);
    await dst.close();
    assert.deepEqual(await leftovers(tmp), []);
    await assert.rejects(Deno.stat(`${tmp}/a.tar`), Deno.errors.NotFound);
  });
});

Deno.test("oci-archive: refuses a directory, a missing parent and a bad tag before writing", async () => {
  await withTempDir(async (tmp) => {
    await assert.rejects(openOciArchiveDestination("x", tmp), InvalidImageError);
    await assert.rejects(openOciArchiveDestination("x", `${tmp}/no/such/a.tar`), /does not exist/);
    await assert.rejects(
      openOciArchiveDestination("x", `${tmp}/a.tar`, "-bad"),
      InvalidReferenceError,
    );
    assert.deepEqual(await leftovers(tmp), []);
  });
});

Deno.test("oci-archive: an archive compressed as a whole is read through a temporary copy", async () => {
  await withTempDir(async (tmp) => {
    const img = await makeLayout(`${tmp}/L`, [LAYER_A]);
    await ociboxCopy(img.location, `oci-archive:${tmp}/a.tar:v1`);
    for (const c of ["gzip", "zstd"] as const) {
      const packed = await collect(
        compress(await Deno.open(`${tmp}/a.tar`).then((f) => f.readable), c),
      );
      await Deno.writeFile(`${tmp}/a.tar.${c}`, packed);
      const facts = await ociboxFacts(`oci-archive:${tmp}/a.tar.${c}:v1`);
      assert.equal(facts.configDigest, img.configDigest);
      assert.deepEqual(facts.contentDigests, img.diffIds);
    }
  });
});

Deno.test("oci-archive: the source reads the tag asked for", async () => {
  await withTempDir(async (tmp) => {
    const img = await makeLayout(`${tmp}/L`, [LAYER_A]);
    await ociboxCopy(img.location, `oci-archive:${tmp}/a.tar:v1`);
    const src = await openOciArchiveSource("a", `${tmp}/a.tar`, "v1");
    try {
      assert.equal(digestOf((await src.getManifest()).bytes), img.manifestDigest);
    } finally {
      await src.close();
    }
    await assert.rejects(openOciArchiveSource("a", `${tmp}/a.tar`, "v2"), /no image tagged "v2"/);
  });
});
