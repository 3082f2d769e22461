/**
 * The dir:, docker-archive: and oci-archive: transports against skopeo, umoci and GNU tar: ocibox
 * reads what skopeo wrote with skopeo's digests, skopeo and umoci read (and unpack) what ocibox
 * wrote, ocibox's docker-archive matches skopeo's member for member, a multi-image save is
 * addressed as skopeo addresses it, and a layer changed inside skopeo's archive is refused.
 * @module
 */
import assert from "node:assert/strict";
import { digestOf } from "../lib/digest/digester.ts";
import { DigestMismatchError, NotFoundError } from "../lib/errors.ts";
import { hostPlatform } from "../lib/image/platform.ts";
import { scanTarFile } from "../lib/archive/tar/reader.ts";
import {
  LAYER_A,
  LAYER_B,
  makeLayout,
  ociboxCopy,
  ociboxFacts,
  treeDigest,
  withTempDir,
} from "../lib/transport/archive_test_util.ts";
import { DIR_TRANSPORT_VERSION, openDirSource } from "../lib/transport/dir.ts";
import { OciLayoutDestination } from "../lib/transport/oci_layout.ts";
import { peerTest, run } from "./support/peers.ts";
import { makeUmociImage, skopeoFacts, unpackWithPeers } from "./support/transport_peers.ts";

const enc = new TextEncoder();

// ---- dir: --------------------------------------------------------------------------------------

/** Adds an image index tagged `idx` over the image `img` of `layout`; returns its digest. */
async function addIndex(layout: string, manifestDigest: string): Promise<string> {
  const size = (await Deno.stat(`${layout}/blobs/sha256/${manifestDigest.slice(7)}`)).size;
  const index = enc.encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [{
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      digest: manifestDigest,
      size,
      platform: hostPlatform(),
    }],
  }));
  const dst = await OciLayoutDestination.open(`oci:${layout}:idx`, layout, "idx");
  await dst.putManifest({ bytes: index, mediaType: "application/vnd.oci.image.index.v1+json" });
  await dst.commit();
  return digestOf(index);
}

peerTest(
  "dir: reads what skopeo wrote, with skopeo's digests",
  { peers: ["skopeo", "umoci"] },
  async () => {
    await withTempDir(async (tmp) => {
      const layout = await makeUmociImage(tmp, [LAYER_A, LAYER_B]);
      await run("skopeo", ["copy", "--quiet", `oci:${layout}:t`, `dir:${tmp}/D`]);
      const theirs = await skopeoFacts(`dir:${tmp}/D`);
      const ours = await ociboxFacts(`dir:${tmp}/D`);
      assert.equal(ours.configDigest, theirs.configDigest);
      assert.deepEqual(ours.diffIds, theirs.diffIds);
      assert.deepEqual(ours.layerDigests, theirs.layerDigests);
      assert.deepEqual(ours.contentDigests, theirs.diffIds);
    });
  },
);

peerTest(
  "dir: skopeo and umoci read what ocibox wrote",
  { peers: ["skopeo", "umoci"] },
  async () => {
    await withTempDir(async (tmp) => {
      const img = await makeLayout(`${tmp}/L`, [LAYER_A, LAYER_B]);
      await ociboxCopy(img.location, `dir:${tmp}/D`);
      const theirs = await skopeoFacts(`dir:${tmp}/D`);
      assert.equal(theirs.configDigest, img.configDigest);
      assert.deepEqual(theirs.layerDigests, img.layerDigests);
      const files = await unpackWithPeers(tmp, `dir:${tmp}/D`, [
        "data/hello.txt",
        "data/link",
        "data/second.txt",
      ]);
      assert.deepEqual(files, {
        "data/hello.txt": "hello\n",
        "data/link": "->hello.txt",
        "data/second.txt": "second layer\n",
      });
      // skopeo overwrites what ocibox wrote, so the version file is one it accepts.
      await run("skopeo", ["copy", "--quiet", img.location, `dir:${tmp}/D`]);
    });
  },
);

peerTest(
  "dir: an index copied with all keeps per-instance manifests",
  { peers: ["skopeo"] },
  async () => {
    await withTempDir(async (tmp) => {
      const img = await makeLayout(`${tmp}/L`, [LAYER_A]);
      const indexDigest = await addIndex(img.layout, img.manifestDigest);

      await ociboxCopy(`oci:${img.layout}:idx`, `dir:${tmp}/ours`, { all: true });
      const ourFiles = await treeDigest(`${tmp}/ours`);
      assert.equal(ourFiles["manifest.json"], indexDigest);
      assert.equal(ourFiles[`${img.manifestDigest.slice(7)}.manifest.json`], img.manifestDigest);
      // skopeo reads the index and the instance through it.
      const raw = await run("skopeo", ["inspect", "--raw", `dir:${tmp}/ours`]);
      assert.equal(digestOf(enc.encode(raw)), indexDigest);
      await run("skopeo", ["copy", "--quiet", "--all", `dir:${tmp}/ours`, `oci:${tmp}/back:x`]);

      // ...and ocibox reads skopeo's --all output the same way.
      await run("skopeo", [
        "copy",
        "--quiet",
        "--all",
        `oci:${img.layout}:idx`,
        `dir:${tmp}/theirs`,
      ]);
      assert.deepEqual(await treeDigest(`${tmp}/theirs`), {
        ...ourFiles,
        version: digestOf(enc.encode(DIR_TRANSPORT_VERSION)),
      });
      const src = await openDirSource(`dir:${tmp}/theirs`, `${tmp}/theirs`);
      try {
        assert.equal(digestOf((await src.getManifest()).bytes), indexDigest);
        assert.equal(
          digestOf((await src.getManifest(img.manifestDigest)).bytes),
          img.manifestDigest,
        );
        await assert.rejects(src.getManifest(img.configDigest), NotFoundError);
      } finally {
        await src.close();
      }
      assert.equal((await ociboxFacts(`dir:${tmp}/theirs`)).configDigest, img.configDigest);
    });
  },
);

// ---- docker-archive: ---------------------------------------------------------------------------

peerTest("docker-archive: reads what skopeo wrote, with skopeo's digests", {
  peers: ["skopeo", "umoci"],
}, async () => {
  await withTempDir(async (tmp) => {
    const layout = await makeUmociImage(tmp, [LAYER_A, LAYER_B]);
    await run("skopeo", [
      "copy",
      "--quiet",
      `oci:${layout}:t`,
      `docker-archive:${tmp}/s.tar:foo/bar:v1`,
    ]);
    const loc = `docker-archive:${tmp}/s.tar`;
    const theirs = await skopeoFacts(loc);
    for (const l of [loc, `${loc}:foo/bar:v1`, `${loc}:docker.io/foo/bar:v1`, `${loc}:@0`]) {
      const ours = await ociboxFacts(l);
      assert.equal(ours.configDigest, theirs.configDigest);
      assert.deepEqual(ours.diffIds, theirs.diffIds);
      // skopeo presents the layers uncompressed: their digests are the diff_ids.
      assert.deepEqual(ours.layerDigests, theirs.layerDigests);
      assert.deepEqual(ours.contentDigests, theirs.diffIds);
      assert.deepEqual(ours.repoTags, ["docker.io/foo/bar:v1"]);
    }
  });
});

peerTest("docker-archive: ocibox writes what skopeo writes, and skopeo and umoci read it", {
  peers: ["skopeo", "umoci", "tar"],
}, async () => {
  await withTempDir(async (tmp) => {
    const layout = await makeUmociImage(tmp, [LAYER_A, LAYER_B]);
    await run("skopeo", [
      "copy",
      "--quiet",
      `oci:${layout}:t`,
      `docker-archive:${tmp}/s.tar:foo/bar:v1`,
    ]);
    await ociboxCopy(`oci:${layout}:t`, `docker-archive:${tmp}/o.tar:foo/bar:v1`);
    // Member for member the same archive (legacy IDs included); only the order may differ.
    for (const name of ["s", "o"]) {
      await Deno.mkdir(`${tmp}/${name}`);
      await run("tar", ["-xf", `${tmp}/${name}.tar`, "-C", `${tmp}/${name}`]);
    }
    assert.deepEqual(await treeDigest(`${tmp}/o`), await treeDigest(`${tmp}/s`));

    const loc = `docker-archive:${tmp}/o.tar`;
    assert.deepEqual(await skopeoFacts(loc), await skopeoFacts(`docker-archive:${tmp}/s.tar`));
    const files = await unpackWithPeers(tmp, loc, ["data/hello.txt", "data/link", "etc/motd"]);
    assert.deepEqual(files, {
      "data/hello.txt": "hello\n",
      "data/link": "->hello.txt",
      "etc/motd": "welcome\n",
    });
  });
});

peerTest("docker-archive: a multi-image save, as a tar and as a directory", {
  peers: ["skopeo", "tar"],
}, async () => {
  await withTempDir(async (tmp) => {
    const a = await makeLayout(`${tmp}/A`, [LAYER_A]);
    const b = await makeLayout(`${tmp}/B`, [LAYER_B]);
    await run("skopeo", ["copy", "--quiet", a.location, `docker-archive:${tmp}/a.tar:foo/a:v1`]);
    await run("skopeo", ["copy", "--quiet", b.location, `docker-archive:${tmp}/b.tar:b`]);
    // Merge the two saves as `docker save a b` would: one manifest.json listing both.
    const dir = `${tmp}/merged`;
    await Deno.mkdir(dir);
    const manifest = [];
    const repositories = {};
    for (const name of ["a", "b"]) {
      await run("tar", ["-xf", `${tmp}/${name}.tar`, "-C", dir]);
      manifest.push(...JSON.parse(await Deno.readTextFile(`${dir}/manifest.json`)));
      Object.assign(repositories, JSON.parse(await Deno.readTextFile(`${dir}/repositories`)));
    }
    await Deno.writeTextFile(`${dir}/manifest.json`, JSON.stringify(manifest));
    await Deno.writeTextFile(`${dir}/repositories`, JSON.stringify(repositories));
    await run("tar", ["-cf", `${tmp}/two.tar`, "-C", dir, "."]);

    for (const path of [`${tmp}/two.tar`, dir]) {
      const loc = `docker-archive:${path}`;
      assert.equal((await ociboxFacts(`${loc}:foo/a:v1`)).configDigest, a.configDigest);
      assert.equal((await ociboxFacts(`${loc}:b:latest`)).configDigest, b.configDigest);
      assert.equal((await ociboxFacts(`${loc}:@1`)).configDigest, b.configDigest);
      assert.deepEqual((await ociboxFacts(`${loc}:@1`)).contentDigests, b.diffIds);
      await assert.rejects(ociboxFacts(loc), /holds 2 images; pick one with :REF or :@N/);
      // skopeo agrees on which image is which.
      assert.equal(
        (await skopeoFacts(`docker-archive:${tmp}/two.tar:@1`)).configDigest,
        b.configDigest,
      );
    }
  });
});

peerTest("docker-archive: a layer changed inside skopeo's archive is refused on read", {
  peers: ["skopeo", "umoci"],
}, async () => {
  await withTempDir(async (tmp) => {
    const layout = await makeUmociImage(tmp, [LAYER_A]);
    await run("skopeo", [
      "copy",
      "--quiet",
      `oci:${layout}:t`,
      `docker-archive:${tmp}/s.tar:foo/bar:v1`,
    ]);
    const bytes = await Deno.readFile(`${tmp}/s.tar`);
    using file = await Deno.open(`${tmp}/s.tar`);
    const layer = (await scanTarFile(file)).find((m) => /^[0-9a-f]{64}\.tar$/.test(m.entry.name))!;
    const at = bytes.indexOf(enc.encode("hello")[0], layer.dataOffset + 512);
    bytes[at] ^= 0x20;
    await Deno.writeFile(`${tmp}/s.tar`, bytes);
    await assert.rejects(
      ociboxCopy(`docker-archive:${tmp}/s.tar`, `oci:${tmp}/o:x`),
      DigestMismatchError,
    );
  });
});

// ---- oci-archive: ------------------------------------------------------------------------------

peerTest("oci-archive: reads what skopeo wrote, with skopeo's digests", {
  peers: ["skopeo", "umoci"],
}, async () => {
  await withTempDir(async (tmp) => {
    const layout = await makeUmociImage(tmp, [LAYER_A, LAYER_B]);
    const loc = `oci-archive:${tmp}/s.tar:t`;
    await run("skopeo", ["copy", "--quiet", `oci:${layout}:t`, loc]);
    const theirs = await skopeoFacts(loc);
    const ours = await ociboxFacts(loc);
    assert.equal(ours.configDigest, theirs.configDigest);
    assert.deepEqual(ours.diffIds, theirs.diffIds);
    assert.deepEqual(ours.layerDigests, theirs.layerDigests);
    assert.deepEqual(ours.contentDigests, theirs.diffIds);
  });
});

peerTest("oci-archive: skopeo and umoci read what ocibox wrote", {
  peers: ["skopeo", "umoci", "tar"],
}, async () => {
  await withTempDir(async (tmp) => {
    const img = await makeLayout(`${tmp}/L`, [LAYER_A, LAYER_B]);
    const loc = `oci-archive:${tmp}/a.tar:v1`;
    await ociboxCopy(img.location, loc);
    const theirs = await skopeoFacts(loc);
    assert.equal(theirs.configDigest, img.configDigest);
    assert.deepEqual(theirs.layerDigests, img.layerDigests);
    const files = await unpackWithPeers(tmp, loc, ["data/hello.txt", "data/link", "etc/motd"]);
    assert.deepEqual(files, {
      "data/hello.txt": "hello\n",
      "data/link": "->hello.txt",
      "etc/motd": "welcome\n",
    });
    // GNU tar agrees that the archive is well formed.
    await run("tar", ["-tf", `${tmp}/a.tar`]);
  });
});
