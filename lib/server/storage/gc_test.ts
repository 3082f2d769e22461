import assert from "node:assert/strict";
import { digestOf } from "../../digest/digester.ts";
import { collectGarbage } from "./gc.ts";
import { blobPathOf, openRegistryStore, type RegistryStoreInternals } from "./registry_store.ts";
import { pushBlob, pushImage } from "./store_test_util.ts";

const enc = new TextEncoder();
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX = "application/vnd.oci.image.index.v1+json";

async function withStore(
  fn: (store: RegistryStoreInternals, root: string) => Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "ocibox-gc-" });
  try {
    await fn(await openRegistryStore(root), root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

/** Makes every blob a day old, as if pushed long before the run. */
async function ageBlobs(root: string): Promise<void> {
  const old = new Date(Date.now() - 86400_000);
  for await (const alg of Deno.readDir(`${root}/blobs`)) {
    for await (const f of Deno.readDir(`${root}/blobs/${alg.name}`)) {
      await Deno.utime(`${root}/blobs/${alg.name}/${f.name}`, old, old);
    }
  }
}

async function exists(store: RegistryStoreInternals, digest: string): Promise<boolean> {
  return (await store.statBlob(digest)) !== undefined;
}

Deno.test("gc: removes what no manifest references, keeps the rest; dry run changes nothing", async () => {
  await withStore(async (store, root) => {
    const keep = await pushImage(store, "r", "keep");
    await store.putManifest("r", "v1", keep.bytes, OCI_MANIFEST);
    const drop = await pushImage(store, "r", "drop");
    await store.putManifest("r", "v2", drop.bytes, OCI_MANIFEST);
    assert.ok(await store.deleteManifest("r", drop.digest));
    const stray = await pushBlob(store, "other", "never referenced");
    await ageBlobs(root);

    const dry = await collectGarbage(store, { dryRun: true, minAgeMs: 0 });
    assert.deepStrictEqual(
      dry.removedBlobs.map((b) => b.digest).sort(),
      [drop.digest, drop.config, drop.layer, stray.digest].sort(),
    );
    for (const d of [drop.digest, drop.layer, stray.digest]) assert.ok(await exists(store, d));

    const run = await collectGarbage(root, { minAgeMs: 0 });
    assert.equal(run.removedBlobs.length, 4);
    assert.equal(run.removedBytes, dry.removedBytes);
    for (const d of [drop.digest, drop.config, drop.layer, stray.digest]) {
      assert.equal(await exists(store, d), false);
    }
    for (const d of [keep.digest, keep.config, keep.layer]) assert.ok(await exists(store, d));
    assert.equal((await store.getManifest("r", "v1"))?.digest, keep.digest);
    // The repository's layout lost its links to them too.
    await assert.rejects(Deno.stat(`${root}/repositories/r/blobs/${drop.layer.replace(":", "/")}`));
    await assert.rejects(
      Deno.stat(`${root}/repositories/other/blobs/${stray.digest.replace(":", "/")}`),
    );
    assert.ok(await store.repositoryHasBlob("r", keep.layer));
    assert.equal((await collectGarbage(store, { minAgeMs: 0 })).removedBlobs.length, 0);
  });
});

Deno.test("gc: young unreferenced blobs survive the grace period", async () => {
  await withStore(async (store) => {
    const b = await pushBlob(store, "r", "just uploaded");
    const r = await collectGarbage(store, { minAgeMs: 3600_000 });
    assert.equal(r.removedBlobs.length, 0);
    assert.ok(await exists(store, b.digest));
  });
});

Deno.test("gc: untagged manifests are roots unless deleteUntagged; children and referrers stay", async () => {
  await withStore(async (store, root) => {
    const child = await pushImage(store, "r", "child");
    await store.putManifest("r", child.digest, child.bytes, OCI_MANIFEST);
    const index = enc.encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [{ mediaType: OCI_MANIFEST, digest: child.digest, size: child.bytes.length }],
    }));
    await store.putManifest("r", "multi", index, OCI_INDEX);
    const empty = await pushBlob(store, "r", "{}", "application/vnd.oci.empty.v1+json");
    const sig = enc.encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: "application/vnd.example.sig",
      config: empty,
      layers: [empty],
      subject: { mediaType: OCI_INDEX, digest: digestOf(index), size: index.length },
    }));
    await store.putManifest("r", digestOf(sig), sig, OCI_MANIFEST);
    const loose = await pushImage(store, "r", "loose");
    await store.putManifest("r", loose.digest, loose.bytes, OCI_MANIFEST);
    await ageBlobs(root);

    assert.equal((await collectGarbage(store, { minAgeMs: 0 })).removedBlobs.length, 0);
    assert.ok(await store.getManifest("r", loose.digest));

    const r = await collectGarbage(store, { minAgeMs: 0, deleteUntagged: true });
    assert.deepStrictEqual(r.removedManifests, [{ repository: "r", digest: loose.digest }]);
    assert.deepStrictEqual(
      r.removedBlobs.map((b) => b.digest).sort(),
      [loose.digest, loose.config, loose.layer].sort(),
    );
    assert.equal(await store.getManifest("r", loose.digest), undefined);
    assert.ok(await store.getManifest("r", child.digest));
    assert.ok(await store.getManifest("r", digestOf(sig)));
    assert.equal((await store.referrers("r", digestOf(index))).length, 1);
    assert.ok(await exists(store, child.layer));
  });
});

Deno.test("gc race: a manifest put after the mark, referencing an old unreferenced blob, loses nothing", async () => {
  await withStore(async (store, root) => {
    const base = await pushImage(store, "r", "base");
    await store.putManifest("r", "v1", base.bytes, OCI_MANIFEST);
    // Uploaded long ago, referenced by nothing yet: exactly what a sweep removes.
    const late = await pushImage(store, "r", "late");
    await ageBlobs(root);
    let putDuringGc: Promise<unknown> | undefined;
    const r = await collectGarbage(store, {
      minAgeMs: 0,
      afterMark: async () => {
        putDuringGc = store.putManifest("r", "v2", late.bytes, OCI_MANIFEST);
        await putDuringGc;
      },
    });
    await putDuringGc;
    assert.equal(r.removedBlobs.length, 0, JSON.stringify(r.removedBlobs));
    const got = await store.getManifest("r", "v2");
    assert.equal(got?.digest, late.digest);
    for (const d of [late.config, late.layer]) assert.ok(await exists(store, d));
  });
});

Deno.test("gc race: a put paused inside the repository lock holds the mark back", async () => {
  let release!: () => void;
  const paused = new Promise<void>((r) => (release = r));
  let entered!: () => void;
  const inside = new Promise<void>((r) => (entered = r));
  const root = await Deno.makeTempDir({ prefix: "ocibox-gc-" });
  try {
    const store = await openRegistryStore(root, {
      hooks: {
        afterTouch: async (_repo, digests) => {
          if (digests.length === 2) {
            entered();
            await paused;
          }
        },
      },
    });
    const img = await pushImage(store, "r", "paused");
    await ageBlobs(root);
    const put = store.putManifest("r", "t", img.bytes, OCI_MANIFEST);
    await inside;
    const gc = collectGarbage(store, { minAgeMs: 0 });
    await new Promise((r) => setTimeout(r, 50));
    release();
    await put;
    const result = await gc;
    assert.equal(result.removedBlobs.length, 0);
    assert.ok(await exists(store, img.layer));
    assert.equal((await store.getManifest("r", "t"))?.digest, img.digest);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("gc race: a writer takes a blob back from the trash; a killed run's trash is restored", async () => {
  await withStore(async (store, root) => {
    const img = await pushImage(store, "r", "trash");
    // As if a sweep had just moved the layer to trash/ when the manifest arrives.
    await Deno.mkdir(`${root}/trash/sha256`, { recursive: true });
    const layerPath = blobPathOf(img.layer);
    await Deno.rename(`${root}/${layerPath}`, `${root}/trash/${layerPath.slice(6)}`);
    await store.putManifest("r", "t", img.bytes, OCI_MANIFEST);
    assert.ok(await exists(store, img.layer));

    // A run killed mid-sweep: the next run puts trash/ back and judges it again.
    const other = await pushImage(store, "r", "other");
    await store.putManifest("r", "u", other.bytes, OCI_MANIFEST);
    const p = blobPathOf(other.layer);
    await Deno.rename(`${root}/${p}`, `${root}/trash/${p.slice(6)}`);
    await collectGarbage(store, { minAgeMs: 0 });
    assert.ok(await exists(store, other.layer));
  });
});
