/**
 * The registry store keeps every repository as an OCI image layout at
 * ROOT/repositories/NAME: skopeo and `ocibox inspect` read it as `oci:ROOT/repositories/NAME:TAG`
 * and skopeo copies out of it. `ocibox gc` runs on the root from the command line.
 */
import assert from "node:assert/strict";
import { digestOf } from "../lib/digest/digester.ts";
import {
  openRegistryStore,
  type RegistryStoreInternals,
} from "../lib/server/storage/registry_store.ts";
import { buildTar, writeImage } from "./support/images.ts";
import { ociboxOk } from "./support/ocibox_cli.ts";
import { peerTest, run } from "./support/peers.ts";

const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
const enc = new TextEncoder();

async function upload(
  store: RegistryStoreInternals,
  repo: string,
  bytes: Uint8Array,
): Promise<void> {
  const s = await store.startUpload(repo);
  await store.appendUpload(repo, s.id, 0, ReadableStream.from([bytes]));
  await store.completeUpload(repo, s.id, digestOf(bytes));
}

/** Pushes the image of a layout's tag through the store (blobs by upload, then the manifest). */
async function pushLayoutImage(
  store: RegistryStoreInternals,
  layout: string,
  manifestDigest: string,
  repo: string,
  tag: string,
  mediaType = OCI_MANIFEST,
): Promise<{ bytes: Uint8Array; digest: string }> {
  const read = (d: string) => Deno.readFile(`${layout}/blobs/${d.replace(":", "/")}`);
  let bytes = await read(manifestDigest);
  const manifest = JSON.parse(new TextDecoder().decode(bytes));
  for (const d of [manifest.config, ...manifest.layers]) {
    await upload(store, repo, await read(d.digest));
  }
  if (mediaType === DOCKER_MANIFEST) {
    manifest.mediaType = DOCKER_MANIFEST;
    manifest.config.mediaType = "application/vnd.docker.container.image.v1+json";
    for (const l of manifest.layers) l.mediaType = "application/vnd.docker.image.rootfs.diff.tar";
    bytes = enc.encode(JSON.stringify(manifest));
  }
  const { digest } = await store.putManifest(repo, tag, bytes, mediaType);
  return { bytes, digest };
}

peerTest("a repository of the registry store is an OCI layout skopeo and ocibox read", {
  peers: ["skopeo"],
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "ocibox-regl-" });
  try {
    const root = `${dir}/root`;
    const store = await openRegistryStore(root);
    const src = await writeImage(`${dir}/src`, "v1", {
      layers: [
        {
          tar: buildTar([{ name: "hello.txt", type: "file", data: "hello\n" }]),
          compression: "gzip",
        },
        { tar: buildTar([{ name: "etc/", type: "dir" }]) },
      ],
      config: { Cmd: ["/bin/sh"] },
    });
    const oci = await pushLayoutImage(store, `${dir}/src`, src.manifestDigest, "lib/app", "v1");
    assert.equal(oci.digest, src.manifestDigest);
    const docker = await pushLayoutImage(
      store,
      `${dir}/src`,
      src.manifestDigest,
      "lib/app",
      "docker",
      DOCKER_MANIFEST,
    );
    const index = enc.encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [{
        mediaType: OCI_MANIFEST,
        digest: oci.digest,
        size: oci.bytes.length,
        platform: {
          architecture:
            JSON.parse(await run("skopeo", ["inspect", `oci:${root}/repositories/lib/app:v1`]))
              .Architecture,
          os: "linux",
        },
      }],
    }));
    await store.putManifest("lib/app", "multi", index, OCI_INDEX);
    await store.putManifest("library/app", "x", oci.bytes, OCI_MANIFEST).catch(() => {});

    const ref = `oci:${root}/repositories/lib/app:v1`;
    const inspected = JSON.parse(await run("skopeo", ["inspect", ref]));
    assert.equal(inspected.Digest, src.manifestDigest);
    assert.deepStrictEqual(inspected.Layers, src.layerDigests);
    const raw = await run("skopeo", ["inspect", "--raw", `oci:${root}/repositories/lib/app:multi`]);
    assert.equal(digestOf(enc.encode(raw)), digestOf(index));
    // Docker schema 2 manifests are stored and listed in index.json too; containers/image's
    // oci: transport skips index.json entries that are not OCI media types, ocibox reads them.
    const dockerRaw = await ociboxOk([
      "inspect",
      "--raw",
      `oci:${root}/repositories/lib/app:docker`,
    ]);
    assert.equal(digestOf(enc.encode(dockerRaw)), docker.digest);

    // skopeo copies out of it: the copy has the same manifest and blobs.
    await run("skopeo", ["copy", "-q", "--preserve-digests", ref, `oci:${dir}/out:copy`]);
    const copied = JSON.parse(await run("skopeo", ["inspect", `oci:${dir}/out:copy`]));
    assert.equal(copied.Digest, src.manifestDigest);
    await run("skopeo", [
      "copy",
      "-q",
      "--all",
      `oci:${root}/repositories/lib/app:multi`,
      `oci:${dir}/out:multi`,
    ]);

    // And so does ocibox.
    const ours = JSON.parse(await ociboxOk(["inspect", ref]));
    assert.equal(ours.Digest, src.manifestDigest);
    assert.deepStrictEqual(ours.Layers, src.layerDigests);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

peerTest("ocibox gc --root: dry run lists, a run removes, tagged images stay readable", {
  peers: ["skopeo"],
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "ocibox-regl-" });
  try {
    const root = `${dir}/root`;
    const store = await openRegistryStore(root);
    const keep = await writeImage(`${dir}/src`, "keep", {
      layers: [{ tar: buildTar([{ name: "a", type: "file", data: "a" }]) }],
    });
    const drop = await writeImage(`${dir}/src`, "drop", {
      layers: [{ tar: buildTar([{ name: "b", type: "file", data: "b" }]) }],
    });
    await pushLayoutImage(store, `${dir}/src`, keep.manifestDigest, "r", "keep");
    await pushLayoutImage(store, `${dir}/src`, drop.manifestDigest, "r", "drop");
    await store.deleteManifest("r", drop.manifestDigest);

    const dry = await ociboxOk(["gc", "--root", root, "--dry-run", "--min-age", "0"]);
    assert.match(dry, new RegExp(`would remove blob ${drop.layerDigests[0]}`));
    assert.ok(await store.statBlob(drop.layerDigests[0]));
    const young = await ociboxOk(["gc", "--root", root]);
    assert.match(young, /removed 0 blobs/);
    const out = JSON.parse(await ociboxOk(["gc", "--root", root, "--min-age", "0", "--json"]));
    assert.equal(out.removedBlobs.length, 3);
    assert.equal(await store.statBlob(drop.layerDigests[0]), undefined);
    const inspected = JSON.parse(
      await run("skopeo", ["inspect", `oci:${root}/repositories/r:keep`]),
    );
    assert.equal(inspected.Digest, keep.manifestDigest);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
