import assert from "node:assert/strict";
import { digestOf } from "../digest/digester.ts";
import { DigestMismatchError, ImageInUseError, NotFoundError } from "../errors.ts";
import { REF_NAME_ANNOTATION } from "../image/layout.ts";
import type { NameResolution } from "../image/short_names.ts";
import { quietReporter } from "../report/reporter.ts";
import {
  LAYER_A,
  LAYER_B,
  makeLayout,
  tamperGzipBlob,
  type TinyImage,
} from "../transport/archive_test_util.ts";
import { copyImage } from "../transport/copy.ts";
import { openSource } from "../transport/open.ts";
import { openStoreSource, StoreDestination } from "../transport/store.ts";
import { type ContainerRecord, writeContainer } from "./container_records.ts";
import {
  findImage,
  hasImageId,
  listImages,
  matchImage,
  pruneImages,
  removeImages,
  removeStaleStaging,
  type StoredImage,
  tagImage,
} from "./image_store.ts";

const DOCKER: NameResolution = { registries: ["docker.io"], mirrors: {} };
const X = "docker.io/library/x:latest";

async function withDirs(fn: (dir: string, store: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "ocibox-store-test-" });
  try {
    await fn(dir, `${dir}/store`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Copies `location` into the store under `names` (full names). */
async function storeCopy(store: string, location: string, names: string[]) {
  const src = await openSource(location);
  try {
    const dst = await StoreDestination.open(`store:${names[0]}`, store, names);
    try {
      await copyImage(src, dst, { reporter: quietReporter(() => {}) });
      return dst.stored!;
    } finally {
      await dst.close();
    }
  } finally {
    await src.close();
  }
}

async function blobNames(store: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(`${store}/images/blobs/sha256`)) out.push(`sha256:${e.name}`);
  return out.sort();
}

async function tmpEntries(store: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(`${store}/tmp`)) out.push(e.name);
  return out;
}

function record(id: string, name: string, imageId: string): ContainerRecord {
  return {
    id: id.repeat(64),
    name,
    image: X,
    imageId,
    manifestDigest: `sha256:${"0".repeat(64)}`,
    chainIds: [],
    command: ["true"],
    created: "2026-12-01T00:00:00Z",
    runtimeRoot: "/run/ocibox",
    rootfs: "overlay",
    autoRemove: false,
    detached: false,
    ports: [],
    network: "none",
  };
}

async function twoImages(dir: string): Promise<[TinyImage, TinyImage]> {
  return [
    await makeLayout(`${dir}/a`, [LAYER_A, LAYER_B], "a"),
    await makeLayout(`${dir}/b`, [LAYER_A], "b"),
  ];
}

Deno.test("a copy into the store names the image in an OCI layout and leaves no staging", () =>
  withDirs(async (dir, store) => {
    const [a] = await twoImages(dir);
    const stored = await storeCopy(store, a.location, [X]);
    assert.equal(stored.imageId, a.configDigest);
    assert.deepEqual(stored.diffIds, a.diffIds);
    const index = JSON.parse(await Deno.readTextFile(`${store}/images/index.json`));
    assert.equal(index.manifests.length, 1);
    assert.equal(index.manifests[0].annotations[REF_NAME_ANNOTATION], X);
    assert.equal(
      JSON.parse(await Deno.readTextFile(`${store}/images/oci-layout`)).imageLayoutVersion,
      "1.0.0",
    );
    assert.deepEqual(await tmpEntries(store), []);
    const [img] = await listImages(store);
    assert.deepEqual(img.names, [X]);
    assert.equal(img.imageId, a.configDigest);
    assert.deepEqual(img.layers.map((l) => l.digest), a.layerDigests);
    assert.equal(
      img.size,
      img.descriptor.size + img.manifest.config.size +
        img.layers.reduce((n, l) => n + l.size, 0),
    );
    assert.deepEqual(
      await blobNames(store),
      [
        a.configDigest,
        img.manifestDigest,
        ...a.layerDigests,
      ].sort(),
    );
  }));

Deno.test("findImage: names as normalized, short names per registry, then id prefixes", () =>
  withDirs(async (dir, store) => {
    const [a, b] = await twoImages(dir);
    await storeCopy(store, a.location, [X]);
    await storeCopy(store, b.location, ["localhost:5000/x:latest"]);
    assert.equal((await findImage(store, "x", DOCKER)).imageId, a.configDigest);
    assert.equal((await findImage(store, "x:latest", DOCKER)).name, X);
    const local = { registries: ["localhost:5000", "docker.io"], mirrors: {} };
    assert.equal((await findImage(store, "x", local)).imageId, b.configDigest);
    assert.equal((await findImage(store, "localhost:5000/x", DOCKER)).imageId, b.configDigest);
    const hex = a.configDigest.slice(7);
    const byId = await findImage(store, hex.slice(0, 6), DOCKER);
    assert.equal(byId.imageId, a.configDigest);
    assert.equal(byId.name, X);
    assert.equal((await findImage(store, a.configDigest, DOCKER)).name, X);
    await assert.rejects(
      findImage(store, "y", DOCKER),
      (e) => e instanceof NotFoundError && /"y" is not in the store/.test(e.message),
    );
    await assert.rejects(findImage(store, "x:other", local), /tried localhost:5000\/x:other/);
    await assert.rejects(findImage(store, "Bad Name", DOCKER), /invalid reference/);
  }));

Deno.test("matchImage: an id prefix matching several images is refused", () => {
  const fake = (hex: string, names: string[]) =>
    ({ imageId: `sha256:${hex}`, names }) as StoredImage;
  const images = [fake("abc1" + "0".repeat(60), [X]), fake("abc2" + "0".repeat(60), [])];
  assert.throws(() => matchImage(images, "abc", DOCKER, "S"), /abc is the start of 2 image ids/);
  assert.equal(matchImage(images, "abc2", DOCKER, "S").name, images[1].imageId);
  assert.equal(matchImage(images, "abc1", DOCKER, "S").name, X);
  assert.equal(matchImage(images, "x", DOCKER, "S").imageId, images[0].imageId);
  // A name that is also hex is looked up as a name first.
  const named = [
    fake("abc1" + "0".repeat(60), []),
    fake("f".repeat(64), ["docker.io/library/abc:latest"]),
  ];
  assert.equal(matchImage(named, "abc", DOCKER, "S").imageId, named[1].imageId);
  assert.throws(() => matchImage(images, "def", DOCKER, "S"), /"def" is not in the store S/);
});

Deno.test("tag adds names; rmi untags, then removes the image and only its own blobs", () =>
  withDirs(async (dir, store) => {
    const [a, b] = await twoImages(dir);
    await storeCopy(store, a.location, [X]);
    await storeCopy(store, b.location, ["docker.io/library/b:latest"]);
    const before = await blobNames(store);
    await tagImage(store, "x", "localhost:5000/x:v1", DOCKER);
    assert.deepEqual((await findImage(store, "x", DOCKER)).names, [X, "localhost:5000/x:v1"]);

    const [untag] = await removeImages(store, ["x"], { resolution: DOCKER });
    assert.deepEqual(untag, { untagged: [X], usedBy: [] });
    assert.deepEqual(await blobNames(store), before);

    const [del] = await removeImages(store, ["localhost:5000/x:v1"], { resolution: DOCKER });
    assert.equal(del.deleted, a.configDigest);
    const left = await blobNames(store);
    // b shares LAYER_A with a: that blob stays; a's own layer, config and manifest go.
    assert.ok(left.includes(a.layerDigests[0]));
    assert.ok(!left.includes(a.layerDigests[1]));
    assert.ok(!left.includes(a.configDigest));
    assert.deepEqual((await listImages(store)).map((i) => i.names), [[
      "docker.io/library/b:latest",
    ]]);
    await assert.rejects(removeImages(store, ["x"], { resolution: DOCKER }), NotFoundError);
  }));

Deno.test("rmi by id removes every name; several arguments go in one step or not at all", () =>
  withDirs(async (dir, store) => {
    const [a, b] = await twoImages(dir);
    await storeCopy(store, a.location, [X, "docker.io/library/x:v2"]);
    await storeCopy(store, b.location, ["docker.io/library/b:latest"]);
    await assert.rejects(removeImages(store, ["b", "nope"], { resolution: DOCKER }), NotFoundError);
    assert.equal((await listImages(store)).length, 2);
    const [r] = await removeImages(store, [a.configDigest.slice(7, 19)], { resolution: DOCKER });
    assert.deepEqual(r.untagged, [X, "docker.io/library/x:v2"]);
    assert.equal(r.deleted, a.configDigest);
  }));

Deno.test("rmi refuses an image a container uses, unless forced", () =>
  withDirs(async (dir, store) => {
    const [a, b] = await twoImages(dir);
    await storeCopy(store, a.location, [X, "docker.io/library/x:v2"]);
    await storeCopy(store, b.location, ["docker.io/library/b:latest"]);
    await writeContainer(store, record("c", "web", a.configDigest));
    // Taking one of two names off is fine; removing the image is not.
    await removeImages(store, ["x:v2"], { resolution: DOCKER });
    await assert.rejects(
      removeImages(store, ["x"], { resolution: DOCKER }),
      (e) => e instanceof ImageInUseError && /container web/.test(e.message),
    );
    await assert.rejects(
      removeImages(store, [a.configDigest], { resolution: DOCKER }),
      ImageInUseError,
    );
    const [r] = await removeImages(store, ["x"], { resolution: DOCKER, force: true });
    assert.deepEqual(r.usedBy, ["web"]);
    assert.equal((await listImages(store)).length, 1);
  }));

Deno.test("a name moved to another image leaves a dangling image that prune removes", () =>
  withDirs(async (dir, store) => {
    const [a, b] = await twoImages(dir);
    await storeCopy(store, a.location, [X]);
    await storeCopy(store, b.location, [X]); // "pulled again": x now names b
    const images = await listImages(store);
    assert.deepEqual(
      images.map((i) => [i.imageId, i.names.join()]).sort(),
      [
        [a.configDigest, ""],
        [b.configDigest, X],
      ].sort(),
    );
    const r = await pruneImages(store);
    assert.deepEqual(r.images, [a.configDigest]);
    assert.equal(r.blobs, 3); // a's manifest, config and second layer
    assert.deepEqual((await listImages(store)).map((i) => i.imageId), [b.configDigest]);
  }));

Deno.test("prune -a removes every image no container uses", () =>
  withDirs(async (dir, store) => {
    const [a, b] = await twoImages(dir);
    await storeCopy(store, a.location, [X]);
    await storeCopy(store, b.location, ["docker.io/library/b:latest"]);
    await writeContainer(store, record("c", "web", b.configDigest));
    assert.deepEqual((await pruneImages(store)).images, []);
    assert.deepEqual((await pruneImages(store, { all: true })).images, [a.configDigest]);
    assert.deepEqual((await listImages(store)).map((i) => i.imageId), [b.configDigest]);
    assert.deepEqual((await blobNames(store)).length, 3);
  }));

Deno.test("stale staging directories of dead work are removed, fresh ones kept", () =>
  withDirs(async (_dir, store) => {
    await Deno.mkdir(`${store}/tmp/pull-old`, { recursive: true });
    await Deno.mkdir(`${store}/tmp/pull-new`);
    await Deno.mkdir(`${store}/tmp/layer-of-someone-else`);
    const old = new Date(Date.now() - 2 * 86400_000);
    await Deno.utime(`${store}/tmp/pull-old`, old, old);
    await Deno.utime(`${store}/tmp/layer-of-someone-else`, old, old);
    assert.equal(await removeStaleStaging(store), 1);
    assert.deepEqual((await tmpEntries(store)).sort(), ["layer-of-someone-else", "pull-new"]);
  }));

Deno.test("a store source reads a snapshot that an rmi cannot take away", () =>
  withDirs(async (dir, store) => {
    const [a] = await twoImages(dir);
    await storeCopy(store, a.location, [X]);
    const src = await openStoreSource("store:x", store, "x");
    try {
      await removeImages(store, ["x"], { resolution: DOCKER });
      assert.deepEqual(await blobNames(store), []);
      for (const digest of a.layerDigests) {
        const bytes = new Uint8Array(
          await new Response(await src.getBlob({ digest, size: 0 })).arrayBuffer(),
        );
        assert.equal(digestOf(bytes), digest);
      }
      // And it copies whole into the store again.
      const dst = await StoreDestination.open("store:x", store, [X]);
      await copyImage(src, dst, { reporter: quietReporter(() => {}) });
      await dst.close();
    } finally {
      await src.close();
    }
    assert.deepEqual((await listImages(store)).map((i) => i.names), [[X]]);
    assert.deepEqual(await tmpEntries(store), []);
  }));

Deno.test("blobs the store had when a copy began survive an rmi before its commit", () =>
  withDirs(async (dir, store) => {
    const [a, b] = await twoImages(dir);
    await storeCopy(store, b.location, ["docker.io/library/b:latest"]); // has LAYER_A's blob
    const src = await openSource(a.location);
    const dst = await StoreDestination.open("store:x", store, [X]);
    try {
      assert.equal(await dst.hasBlob({ digest: a.layerDigests[0], size: 0 }), true);
      await removeImages(store, ["b"], { resolution: DOCKER });
      assert.deepEqual(await blobNames(store), []);
      await copyImage(src, dst, { reporter: quietReporter(() => {}) });
    } finally {
      await dst.close();
      await src.close();
    }
    const [img] = await listImages(store);
    assert.deepEqual(img.layers.map((l) => l.digest), a.layerDigests);
    assert.ok((await blobNames(store)).includes(a.layerDigests[0]));
  }));

Deno.test("copies committing at once keep every image and a valid index", () =>
  withDirs(async (dir, store) => {
    const [a, b] = await twoImages(dir);
    const names = ["p", "q", "r", "s", "t", "u"].map((n) => `docker.io/library/${n}:latest`);
    await Promise.all(names.map((n, i) => storeCopy(store, (i % 2 ? b : a).location, [n])));
    const images = await listImages(store);
    assert.equal(images.length, 2);
    assert.deepEqual(images.flatMap((i) => i.names).sort(), names);
    assert.deepEqual(await tmpEntries(store), []);
  }));

Deno.test("a copy that fails leaves nothing in the store", () =>
  withDirs(async (dir, store) => {
    const [a] = await twoImages(dir);
    await tamperGzipBlob(a.layout, a.layerDigests[1]);
    await assert.rejects(storeCopy(store, a.location, [X]), DigestMismatchError);
    assert.deepEqual(await listImages(store), []);
    assert.deepEqual(await blobNames(store), []);
    assert.deepEqual(await tmpEntries(store), []);
  }));

Deno.test("rmi of a name that looks like an id prefix takes only that name off", () =>
  withDirs(async (dir, store) => {
    const [a] = await twoImages(dir);
    await storeCopy(store, a.location, ["docker.io/library/abc:latest", X]);
    const [r] = await removeImages(store, ["abc"], { resolution: DOCKER });
    assert.deepEqual(r, { untagged: ["docker.io/library/abc:latest"], usedBy: [] });
    assert.deepEqual((await listImages(store))[0].names, [X]);
  }));

Deno.test("hasImageId: index.json answers for the entry found; else every image is read", () =>
  withDirs(async (dir, store) => {
    const [a, b] = await twoImages(dir);
    await storeCopy(store, a.location, [X]);
    await storeCopy(store, b.location, ["docker.io/library/b:latest"]);
    const found = await findImage(store, "x", DOCKER);
    assert.equal(await hasImageId(store, found.imageId, found.manifestDigest), true);
    // A stale entry digest falls back to reading the images.
    assert.equal(await hasImageId(store, found.imageId, `sha256:${"0".repeat(64)}`), true);
    await removeImages(store, ["x"], { resolution: DOCKER });
    assert.equal(await hasImageId(store, found.imageId, found.manifestDigest), false);
    assert.equal(await hasImageId(store, found.imageId), false);
    assert.equal(await hasImageId(store, b.configDigest), true);
  }));
