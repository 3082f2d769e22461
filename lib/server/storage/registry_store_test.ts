import assert from "node:assert/strict";
import { digestOf } from "../../digest/digester.ts";
import { DigestMismatchError, NotFoundError, SizeMismatchError } from "../../errors.ts";
import { FsDriver } from "./fs_driver.ts";
import { openRegistryStore, type RegistryStoreInternals } from "./registry_store.ts";
import { pushBlob, pushImage, rejects, stream, text } from "./store_test_util.ts";
import { ManifestRejectedError, UploadOffsetError } from "./store_errors.ts";

const enc = new TextEncoder();
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";

async function withStore(
  fn: (store: RegistryStoreInternals, root: string) => Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "ocibox-regstore-" });
  try {
    await fn(await openRegistryStore(root), root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("blobs: putBlob verifies, readBlob serves whole, ranges and HEAD", async () => {
  await withStore(async (store) => {
    const content = "0123456789";
    const digest = digestOf(enc.encode(content));
    assert.deepStrictEqual(await store.putBlob(stream("01234", "56789"), { digest, size: 10 }), {
      digest,
      size: 10,
    });
    assert.deepStrictEqual(await store.statBlob(digest), { size: 10 });
    assert.deepStrictEqual(await text((await store.readBlob(digest))?.body), content);
    const r = await store.readBlob(digest, { range: { start: 2, end: 4 } });
    assert.deepStrictEqual(r?.size, 10);
    assert.deepStrictEqual(await text(r?.body), "234");
    const h = await store.readBlob(digest, { head: true });
    assert.deepStrictEqual(h, { size: 10 });
    assert.deepStrictEqual(await store.readBlob("sha256:" + "0".repeat(64)), undefined);
    assert.deepStrictEqual(await store.readBlob("nonsense"), undefined);

    const other = digestOf(enc.encode("x"));
    await rejects(() => store.putBlob(stream("y"), { digest: other }), DigestMismatchError);
    await rejects(
      () => store.putBlob(stream("xx"), { digest: other, size: 1 }),
      SizeMismatchError,
    );
    assert.deepStrictEqual(await store.statBlob(other), undefined);
  });
});

Deno.test("blobs: sha512 put and upload", async () => {
  await withStore(async (store) => {
    const bytes = enc.encode("sha512 content");
    const digest = digestOf(bytes, "sha512");
    await store.putBlob(stream(bytes), { digest });
    assert.deepStrictEqual(await store.statBlob(digest), { size: bytes.length });
    const s = await store.startUpload("a/b");
    await store.appendUpload("a/b", s.id, 0, stream("sha512 "));
    await store.appendUpload("a/b", s.id, 7, stream("content"));
    assert.deepStrictEqual(await store.completeUpload("a/b", s.id, digest), { size: bytes.length });
    assert.ok(await store.repositoryHasBlob("a/b", digest));
  });
});

Deno.test("uploads: chunks, offsets, status, wrong digest, cancel", async () => {
  await withStore(async (store) => {
    const s = await store.startUpload("repo");
    assert.deepStrictEqual(s.size, 0);
    assert.deepStrictEqual((await store.uploadState("repo", s.id))?.size, 0);
    assert.deepStrictEqual(await store.uploadState("other", s.id), undefined);
    assert.deepStrictEqual(await store.uploadState("repo", "../../etc"), undefined);
    assert.deepStrictEqual((await store.appendUpload("repo", s.id, 0, stream("hello "))).size, 6);
    await rejects(
      () => store.appendUpload("repo", s.id, 3, stream("x")),
      UploadOffsetError,
    );
    assert.deepStrictEqual((await store.appendUpload("repo", s.id, 6, stream("world"))).size, 11);
    assert.deepStrictEqual((await store.uploadState("repo", s.id))?.size, 11);
    const digest = digestOf(enc.encode("hello world"));
    assert.deepStrictEqual(await store.repositoryHasBlob("repo", digest), false);
    assert.deepStrictEqual(await store.completeUpload("repo", s.id, digest), { size: 11 });
    assert.ok(await store.repositoryHasBlob("repo", digest));
    assert.deepStrictEqual(await store.repositoryHasBlob("elsewhere", digest), false);
    assert.deepStrictEqual(await store.uploadState("repo", s.id), undefined);

    const bad = await store.startUpload("repo");
    await store.appendUpload("repo", bad.id, 0, stream("not it"));
    await rejects(
      () => store.completeUpload("repo", bad.id, digestOf(enc.encode("other"))),
      DigestMismatchError,
    );
    assert.deepStrictEqual(await store.uploadState("repo", bad.id), undefined);
    assert.deepStrictEqual(await store.statBlob(digestOf(enc.encode("not it"))), undefined);

    const c = await store.startUpload("repo");
    assert.ok(await store.cancelUpload("repo", c.id));
    assert.deepStrictEqual(await store.cancelUpload("repo", c.id), false);
    await rejects(() => store.appendUpload("repo", c.id, 0, stream("x")), NotFoundError);
  });
});

Deno.test("uploads: a new store instance (restart) completes a session by re-reading it", async () => {
  await withStore(async (store, root) => {
    const s = await store.startUpload("repo");
    await store.appendUpload("repo", s.id, 0, stream("first half,"));
    const again = await openRegistryStore(root);
    await again.appendUpload("repo", s.id, 11, stream("second half"));
    const digest = digestOf(enc.encode("first half,second half"));
    assert.deepStrictEqual(await again.completeUpload("repo", s.id, digest), { size: 22 });
  });
});

Deno.test("uploads: concurrent completion of the same digest", async () => {
  await withStore(async (store) => {
    const content = "same bytes ".repeat(1000);
    const digest = digestOf(enc.encode(content));
    const sessions = await Promise.all(
      Array.from({ length: 8 }, (_, i) => store.startUpload(`r${i % 2}`)),
    );
    await Promise.all(
      sessions.map((s) => store.appendUpload(s.repository, s.id, 0, stream(content))),
    );
    const done = await Promise.all(
      sessions.map((s) => store.completeUpload(s.repository, s.id, digest)),
    );
    assert.ok(done.every((d) => d.size === content.length));
    assert.deepStrictEqual(await text((await store.readBlob(digest))?.body), content);
    assert.ok(await store.repositoryHasBlob("r0", digest));
    assert.ok(await store.repositoryHasBlob("r1", digest));
  });
});

Deno.test("uploads: expiry removes sessions untouched for long", async () => {
  let now = Date.now();
  const root = await Deno.makeTempDir({ prefix: "ocibox-regstore-" });
  try {
    const store = await openRegistryStore(root, { now: () => now });
    const old = await store.startUpload("repo");
    await store.appendUpload("repo", old.id, 0, stream("abc"));
    now += 2 * 3600_000;
    const fresh = await store.startUpload("repo");
    await Deno.utime(`${root}/uploads/${fresh.id}/data`, new Date(now), new Date(now));
    assert.deepStrictEqual(await store.expireUploads(3600_000), 1);
    assert.deepStrictEqual(await store.uploadState("repo", old.id), undefined);
    assert.deepStrictEqual((await store.uploadState("repo", fresh.id))?.size, 0);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("mounts and blob deletes are per repository", async () => {
  await withStore(async (store) => {
    const b = await pushBlob(store, "src", "shared");
    assert.deepStrictEqual(await store.repositoryHasBlob("dst", b.digest), false);
    await store.linkBlob("dst", b.digest);
    assert.ok(await store.repositoryHasBlob("dst", b.digest));
    await rejects(() => store.linkBlob("dst", "sha256:" + "1".repeat(64)), NotFoundError);
    assert.ok(await store.deleteBlob("dst", b.digest));
    assert.deepStrictEqual(await store.repositoryHasBlob("dst", b.digest), false);
    assert.ok(await store.repositoryHasBlob("src", b.digest));
    assert.deepStrictEqual(await store.deleteBlob("dst", b.digest), false);
  });
});

Deno.test("manifests: put by tag and digest, get, tags sorted, repositories", async () => {
  await withStore(async (store, root) => {
    const img = await pushImage(store, "lib/app", "one");
    const put = await store.putManifest("lib/app", "v2", img.bytes, OCI_MANIFEST);
    assert.deepStrictEqual(put, { digest: img.digest });
    await store.putManifest("lib/app", "latest", img.bytes, OCI_MANIFEST);
    await store.putManifest("lib/app", "V1", img.bytes, OCI_MANIFEST);
    assert.deepStrictEqual(await store.listTags("lib/app"), ["V1", "latest", "v2"]);
    const got = await store.getManifest("lib/app", "latest");
    assert.deepStrictEqual(got?.digest, img.digest);
    assert.deepStrictEqual(got?.mediaType, OCI_MANIFEST);
    assert.deepStrictEqual(got?.bytes, img.bytes);
    assert.deepStrictEqual((await store.getManifest("lib/app", img.digest))?.digest, img.digest);
    assert.deepStrictEqual(await store.getManifest("lib/app", "nope"), undefined);
    assert.deepStrictEqual(await store.getManifest("other", "latest"), undefined);
    assert.deepStrictEqual(await store.listTags("other"), undefined);

    const two = await pushImage(store, "lib/app", "two");
    assert.deepStrictEqual(
      await store.putManifest("lib/app", two.digest, two.bytes, OCI_MANIFEST),
      { digest: two.digest },
    );
    assert.deepStrictEqual(await store.listTags("lib/app"), ["V1", "latest", "v2"]);
    // Moving a tag.
    await store.putManifest("lib/app", "latest", two.bytes, OCI_MANIFEST);
    assert.deepStrictEqual((await store.getManifest("lib/app", "latest"))?.digest, two.digest);
    assert.deepStrictEqual((await store.getManifest("lib/app", "v2"))?.digest, img.digest);

    await pushImage(store, "lib", "x").then((i) =>
      store.putManifest("lib", "t", i.bytes, OCI_MANIFEST)
    );
    await pushImage(store, "a", "x").then((i) =>
      store.putManifest("a", "t", i.bytes, OCI_MANIFEST)
    );
    assert.deepStrictEqual(await store.listRepositories(), ["a", "lib", "lib/app"]);

    // The repository is an OCI layout.
    const index = JSON.parse(await Deno.readTextFile(`${root}/repositories/lib/app/index.json`));
    assert.deepStrictEqual(index.manifests.length, 3); // v2, V1 -> one; latest -> two
    assert.deepStrictEqual(
      await Deno.readTextFile(`${root}/repositories/lib/app/oci-layout`),
      '{"imageLayoutVersion":"1.0.0"}',
    );
    assert.deepStrictEqual(
      (await Deno.stat(`${root}/repositories/lib/app/blobs/${img.digest.replace(":", "/")}`)).size,
      img.bytes.length,
    );
  });
});

Deno.test("manifests: Docker schema 2, manifest lists and OCI indexes", async () => {
  await withStore(async (store) => {
    const d = await pushImage(store, "r", "docker", { mediaType: DOCKER_MANIFEST });
    await store.putManifest("r", "d", d.bytes, DOCKER_MANIFEST);
    const o = await pushImage(store, "r", "oci");
    await store.putManifest("r", o.digest, o.bytes, OCI_MANIFEST);
    const list = enc.encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: DOCKER_LIST,
      manifests: [{
        mediaType: DOCKER_MANIFEST,
        digest: d.digest,
        size: d.bytes.length,
        platform: { architecture: "amd64", os: "linux" },
      }],
    }));
    await store.putManifest("r", "list", list, DOCKER_LIST);
    const index = enc.encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [{ mediaType: OCI_MANIFEST, digest: o.digest, size: o.bytes.length }],
    }));
    await store.putManifest("r", "index", index, `${OCI_INDEX}; charset=utf-8`);
    assert.deepStrictEqual(await store.listTags("r"), ["d", "index", "list"]);
    assert.deepStrictEqual((await store.getManifest("r", "list"))?.mediaType, DOCKER_LIST);

    const missingChild = enc.encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [{ mediaType: OCI_MANIFEST, digest: "sha256:" + "2".repeat(64), size: 3 }],
    }));
    const e = await rejects(
      () => store.putManifest("r", "bad", missingChild, OCI_INDEX),
      ManifestRejectedError,
    );
    assert.deepStrictEqual(e.code, "MANIFEST_BLOB_UNKNOWN");
    // The proxy may store an index before its children.
    await store.putManifest("r", "proxied", missingChild, OCI_INDEX, { allowMissing: true });
  });
});

Deno.test("manifests: validation failures are MANIFEST_INVALID / MANIFEST_BLOB_UNKNOWN / digest", async () => {
  await withStore(async (store) => {
    const img = await pushImage(store, "r", "v");
    const code = async (fn: () => Promise<unknown>) =>
      (await rejects(fn, ManifestRejectedError)).code;
    assert.deepStrictEqual(
      await code(() => store.putManifest("r", "t", enc.encode("{"), OCI_MANIFEST)),
      "MANIFEST_INVALID",
    );
    assert.deepStrictEqual(
      await code(() => store.putManifest("r", "t", img.bytes, DOCKER_MANIFEST)),
      "MANIFEST_INVALID",
    );
    assert.deepStrictEqual(
      await code(() => store.putManifest("r", "t", img.bytes, OCI_INDEX)),
      "MANIFEST_INVALID",
    );
    assert.deepStrictEqual(
      await code(() => store.putManifest("r", "t", img.bytes, "application/json")),
      "MANIFEST_INVALID",
    );
    assert.deepStrictEqual(
      await code(() =>
        store.putManifest(
          "r",
          "t",
          enc.encode('{"schemaVersion":1,"name":"x","tag":"y","fsLayers":[]}'),
          "application/vnd.docker.distribution.manifest.v1+prettyjws",
        )
      ),
      "MANIFEST_INVALID",
    );
    // A blob that exists in the registry but not in this repository.
    const elsewhere = await pushImage(store, "other", "w");
    assert.deepStrictEqual(
      await code(() => store.putManifest("r", "t", elsewhere.bytes, OCI_MANIFEST)),
      "MANIFEST_BLOB_UNKNOWN",
    );
    await rejects(
      () => store.putManifest("r", "sha256:" + "3".repeat(64), img.bytes, OCI_MANIFEST),
      DigestMismatchError,
    );
    assert.deepStrictEqual(await store.listTags("r"), []);
  });
});

Deno.test("manifests: delete by tag keeps the manifest, by digest removes it and its tags", async () => {
  await withStore(async (store) => {
    const img = await pushImage(store, "r", "d");
    await store.putManifest("r", "a", img.bytes, OCI_MANIFEST);
    await store.putManifest("r", "b", img.bytes, OCI_MANIFEST);
    assert.ok(await store.deleteManifest("r", "a"));
    assert.deepStrictEqual(await store.deleteManifest("r", "a"), false);
    assert.deepStrictEqual(await store.listTags("r"), ["b"]);
    assert.ok(await store.deleteManifest("r", "b"));
    assert.deepStrictEqual(await store.listTags("r"), []);
    assert.deepStrictEqual((await store.getManifest("r", img.digest))?.digest, img.digest);
    await store.putManifest("r", "c", img.bytes, OCI_MANIFEST);
    assert.ok(await store.deleteManifest("r", img.digest));
    assert.deepStrictEqual(await store.listTags("r"), []);
    assert.deepStrictEqual(await store.getManifest("r", img.digest), undefined);
    assert.deepStrictEqual(await store.deleteManifest("r", img.digest), false);
    assert.deepStrictEqual(await store.deleteManifest("nothing", "x"), false);
  });
});

Deno.test("referrers: subject recorded, artifactType and annotations reported", async () => {
  await withStore(async (store) => {
    const img = await pushImage(store, "r", "subject");
    await store.putManifest("r", "v1", img.bytes, OCI_MANIFEST);
    const empty = await pushBlob(store, "r", "{}", "application/vnd.oci.empty.v1+json");
    const subject = { mediaType: OCI_MANIFEST, digest: img.digest, size: img.bytes.length };
    const sig = enc.encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: "application/vnd.example.sig",
      config: empty,
      layers: [empty],
      subject,
      annotations: { "org.example": "yes" },
    }));
    const r1 = await store.putManifest("r", digestOf(sig), sig, OCI_MANIFEST);
    assert.deepStrictEqual(r1, { digest: digestOf(sig), subject: img.digest });
    const sbomConfig = await pushBlob(store, "r", "sbom config", "application/vnd.example.sbom");
    const sbom = enc.encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: sbomConfig,
      layers: [],
      subject,
    }));
    await store.putManifest("r", digestOf(sbom), sbom, OCI_MANIFEST);
    // A subject that is not in the registry is allowed.
    const orphan = enc.encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: "application/vnd.example.x",
      config: empty,
      layers: [empty],
      subject: { mediaType: OCI_MANIFEST, digest: "sha256:" + "4".repeat(64), size: 1 },
    }));
    await store.putManifest("r", digestOf(orphan), orphan, OCI_MANIFEST);

    const refs = await store.referrers("r", img.digest);
    assert.deepStrictEqual(refs.map((r) => r.artifactType).sort(), [
      "application/vnd.example.sbom",
      "application/vnd.example.sig",
    ]);
    const s = refs.find((r) => r.digest === digestOf(sig));
    assert.deepStrictEqual(s?.annotations, { "org.example": "yes" });
    assert.deepStrictEqual(s?.size, sig.length);
    assert.deepStrictEqual((await store.referrers("r", "sha256:" + "4".repeat(64))).length, 1);
    assert.deepStrictEqual(await store.referrers("other", img.digest), []);
    // A fresh instance (no cache) finds them from the stored manifests.
    const again = await openRegistryStore(store.root);
    assert.deepStrictEqual((await again.referrers("r", img.digest)).length, 2);
  });
});

Deno.test("tags: concurrent updates of one repository all land", async () => {
  await withStore(async (store) => {
    const img = await pushImage(store, "r", "c");
    await Promise.all(
      Array.from(
        { length: 20 },
        (_, i) => store.putManifest("r", `t${i}`, img.bytes, OCI_MANIFEST),
      ),
    );
    assert.deepStrictEqual((await store.listTags("r"))?.length, 20);
  });
});

Deno.test("a driver without hard links: membership kept in marker files", async () => {
  const root = await Deno.makeTempDir({ prefix: "ocibox-regstore-" });
  try {
    const fs = new FsDriver(root);
    const driver = new Proxy(fs, {
      get(target, key) {
        if (key === "hardlink") return undefined;
        const v = Reflect.get(target, key, target);
        return typeof v === "function" ? v.bind(target) : v;
      },
    });
    const store = await openRegistryStore(root, { driver });
    assert.equal(store.hardlinks, false);
    const img = await pushImage(store, "r", "markers");
    await store.putManifest("r", "t", img.bytes, "application/vnd.oci.image.manifest.v1+json");
    assert.ok(await store.repositoryHasBlob("r", img.layer));
    assert.equal(await store.repositoryHasBlob("s", img.layer), false);
    await store.linkBlob("s", img.layer);
    assert.ok(await store.repositoryHasBlob("s", img.layer));
    assert.ok((await Deno.stat(`${root}/links/s/_blobs/${img.layer.replace(":", "/")}`)).isFile);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("allowMissing: blobs stored after their manifest become visible in its repository", async () => {
  await withStore(async (store) => {
    const bytes = enc.encode("late layer");
    const digest = digestOf(bytes);
    const config = enc.encode("{}");
    const manifest = enc.encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: {
        mediaType: "application/vnd.oci.image.config.v1+json",
        digest: digestOf(config),
        size: 2,
      },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest, size: bytes.length }],
    }));
    await store.putManifest(
      "proxy/r",
      "t",
      manifest,
      "application/vnd.oci.image.manifest.v1+json",
      {
        allowMissing: true,
      },
    );
    assert.equal(await store.repositoryHasBlob("proxy/r", digest), false);
    await store.putBlob(stream(bytes), { digest, size: bytes.length });
    assert.ok(await store.repositoryHasBlob("proxy/r", digest));
    assert.equal(await store.repositoryHasBlob("other", digest), false);
  });
});
