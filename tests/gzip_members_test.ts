/**
 * ocibox writes gzip layers as many members (one per 1 MiB block, compressed on every core:
 * lib/archive/parallel_gzip.ts). RFC 1952 allows it and every reader must take it; this checks
 * the readers that matter: Go's compress/gzip (skopeo decompressing, umoci unpacking) and
 * Python's gzip and tarfile.
 */
import assert from "node:assert/strict";
import { peerTest, run } from "./support/peers.ts";
import { ociboxOk } from "./support/ocibox_cli.ts";
import { diffSnapshots, snapshotTree } from "./support/tree_snapshot.ts";

/** A tree of ~3 MiB (so the layer has several members), half text and half noise. */
async function sampleTree(dir: string): Promise<void> {
  await Deno.mkdir(`${dir}/usr/lib`, { recursive: true });
  const noise = new Uint8Array(1 << 20);
  for (let i = 0; i < noise.length; i += 65536) {
    crypto.getRandomValues(noise.subarray(i, i + 65536));
  }
  await Deno.writeFile(`${dir}/usr/lib/noise.bin`, noise);
  await Deno.writeTextFile(`${dir}/usr/lib/text.txt`, "the same line again\n".repeat(100_000));
  for (let i = 0; i < 50; i++) await Deno.writeTextFile(`${dir}/usr/f${i}`, `file ${i}\n`);
}

async function layerBlob(layout: string): Promise<{ path: string; diffId: string }> {
  const index = JSON.parse(await Deno.readTextFile(`${layout}/index.json`));
  const blob = (d: string) => `${layout}/blobs/${d.replace(":", "/")}`;
  const manifest = JSON.parse(await Deno.readTextFile(blob(index.manifests[0].digest)));
  const config = JSON.parse(await Deno.readTextFile(blob(manifest.config.digest)));
  return { path: blob(manifest.layers[0].digest), diffId: config.rootfs.diff_ids[0] };
}

/** Counts gzip members by walking them with Python's zlib (a reader that stops at each end). */
const COUNT_MEMBERS = `
import sys, zlib, gzip, tarfile, hashlib
data = open(sys.argv[1], "rb").read()
members = 0
while data:
    d = zlib.decompressobj(31)
    d.decompress(data)
    data = d.unused_data
    members += 1
whole = gzip.decompress(open(sys.argv[1], "rb").read())
with tarfile.open(sys.argv[1], "r:gz") as t:
    names = len(t.getnames())
print(members, "sha256:" + hashlib.sha256(whole).hexdigest(), names)
`;

peerTest("gzip layers of many members: Python's gzip and tarfile, Go's (skopeo, umoci) read them", {
  peers: ["python3", "skopeo", "umoci"],
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "ocibox-gzip-members-" });
  try {
    await sampleTree(`${dir}/tree`);
    await ociboxOk(["append", "-q", "--layer", `${dir}/tree`, `oci:${dir}/img:t`]);
    const layer = await layerBlob(`${dir}/img`);
    const [members, digest, names] = (await run("python3", ["-c", COUNT_MEMBERS, layer.path]))
      .trim().split(" ");
    assert.ok(Number(members) >= 3, `${members} members`);
    assert.equal(digest, layer.diffId, "Python's gzip reads every member");
    assert.ok(Number(names) >= 53, `tarfile lists ${names} entries`);

    // skopeo decompresses with Go's compress/gzip; it checks the diff_id as it goes.
    await run("skopeo", ["copy", "-q", "--dest-decompress", `oci:${dir}/img:t`, `dir:${dir}/d`]);
    const dirManifest = JSON.parse(await Deno.readTextFile(`${dir}/d/manifest.json`));
    assert.equal(dirManifest.layers[0].digest, layer.diffId, "skopeo's decompressed layer");

    await run("umoci", ["unpack", "--rootless", "--image", `${dir}/img:t`, `${dir}/bundle`]);
    const [a, b] = await Promise.all([
      snapshotTree(`${dir}/tree`, { mtimes: "none" }),
      snapshotTree(`${dir}/bundle/rootfs`, { mtimes: "none" }),
    ]);
    assert.deepEqual(diffSnapshots(a, b, ["tree", "umoci"]), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
