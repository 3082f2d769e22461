/**
 * Crash safety: a process pushing through the store is killed with SIGKILL at random moments;
 * the store it leaves must have no partial blob visible and every tag must point at a complete
 * manifest whose blobs are there. Then a new store on the same root keeps working.
 */
import assert from "node:assert/strict";
import { digestOf } from "../../digest/digester.ts";
import { parseManifestBytes } from "../../image/parsed.ts";
import { openRegistryStore } from "./registry_store.ts";
import { pushImage } from "./store_test_util.ts";

const WRITER = `
const [root, storeUrl, digestUrl] = Deno.args;
const { openRegistryStore } = await import(storeUrl);
const { digestOf } = await import(digestUrl);
const store = await openRegistryStore(root);
const enc = new TextEncoder();
const OCI = "application/vnd.oci.image.manifest.v1+json";
async function upload(repo, bytes, chunks) {
  const s = await store.startUpload(repo);
  const step = Math.ceil(bytes.length / chunks);
  let off = 0;
  while (off < bytes.length) {
    const part = bytes.subarray(off, off + step);
    await store.appendUpload(repo, s.id, off, new Blob([part]).stream());
    off += part.length;
  }
  await store.completeUpload(repo, s.id, digestOf(bytes));
  return digestOf(bytes);
}
let ready = false;
for (let i = 0; ; i++) {
  const repo = "crash/r" + (i % 2);
  const layer = new Uint8Array((1 << 20) + i).fill(i % 251);
  const config = enc.encode(JSON.stringify({ i }));
  const ld = await upload(repo, layer, 4);
  const cd = await upload(repo, config, 1);
  const m = enc.encode(JSON.stringify({
    schemaVersion: 2, mediaType: OCI,
    config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: cd, size: config.length },
    layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: ld, size: layer.length }],
  }));
  await store.putManifest(repo, "latest", m, OCI);
  await store.putManifest(repo, "t" + (i % 5), m, OCI);
  if (!ready) { ready = true; console.log("ready"); }
}
`;

async function checkConsistent(root: string): Promise<number> {
  // Every visible blob is complete: its bytes hash to its name.
  let blobs = 0;
  for await (const alg of Deno.readDir(`${root}/blobs`)) {
    for await (const f of Deno.readDir(`${root}/blobs/${alg.name}`)) {
      const bytes = await Deno.readFile(`${root}/blobs/${alg.name}/${f.name}`);
      assert.equal(digestOf(bytes, alg.name), `${alg.name}:${f.name}`, "partial blob visible");
      blobs++;
    }
  }
  // Every tag points at a complete manifest whose blobs are there.
  const store = await openRegistryStore(root);
  let tags = 0;
  for (const repo of await store.listRepositories()) {
    for (const tag of (await store.listTags(repo)) ?? []) {
      const m = await store.getManifest(repo, tag);
      assert.ok(m, `${repo}:${tag} points at a missing manifest`);
      const parsed = parseManifestBytes(m.bytes, m.mediaType, { expectedDigest: m.digest });
      assert.equal(parsed.kind, "manifest");
      if (parsed.kind !== "manifest") continue;
      for (const d of [parsed.manifest.config, ...parsed.manifest.layers]) {
        assert.equal((await store.statBlob(d.digest))?.size, d.size, `${repo}:${tag} ${d.digest}`);
        assert.ok(await store.repositoryHasBlob(repo, d.digest));
      }
      tags++;
    }
  }
  return blobs + tags;
}

Deno.test("crash safety: SIGKILL mid-upload and mid-index-rewrite leaves a consistent store", async () => {
  const root = await Deno.makeTempDir({ prefix: "ocibox-crash-" });
  try {
    const storeUrl = new URL("./registry_store.ts", import.meta.url).href;
    const digestUrl = new URL("../../digest/digester.ts", import.meta.url).href;
    for (const delay of [0, 37, 150, 420]) {
      const child = new Deno.Command(Deno.execPath(), {
        args: ["eval", "--no-check", WRITER, root, storeUrl, digestUrl],
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const reader = child.stdout.getReader();
      const first = await reader.read();
      assert.equal(new TextDecoder().decode(first.value).trim(), "ready");
      await new Promise((r) => setTimeout(r, delay));
      child.kill("SIGKILL");
      reader.releaseLock();
      await child.stdout.cancel();
      await child.stderr.cancel();
      const status = await child.status;
      assert.equal(status.signal, "SIGKILL");
      assert.ok((await checkConsistent(root)) > 0);
    }
    // The store keeps working: abandoned sessions expire, new pushes land.
    const store = await openRegistryStore(root);
    await store.expireUploads(-1);
    assert.deepStrictEqual([...Deno.readDirSync(`${root}/uploads`)], []);
    const img = await pushImage(store, "crash/r0", "after");
    await store.putManifest(
      "crash/r0",
      "after",
      img.bytes,
      "application/vnd.oci.image.manifest.v1+json",
    );
    assert.equal((await store.getManifest("crash/r0", "after"))?.digest, img.digest);
    await checkConsistent(root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
