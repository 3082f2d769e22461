import assert from "node:assert/strict";
import { copyImage, MAX_MANIFESTS_PER_COPY } from "./copy.ts";
import { openDestination, openSource } from "./open.ts";
import { appendImage } from "../mutate/append.ts";
import { recordingReporter } from "../report/reporter.ts";
import { MAX_INDEX_DEPTH, resolveImage } from "./resolve.ts";
import { LimitExceededError, SizeMismatchError, UnsupportedError } from "../errors.ts";
import { digestOf } from "../digest/digester.ts";
import type { Descriptor } from "../image/descriptor.ts";
import { hostPlatform } from "../image/platform.ts";
import type {
  BlobInfo,
  DestinationCapabilities,
  ImageDestination,
  ImageSource,
  RawManifest,
} from "./types.ts";

async function withTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ocibox-copy-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Writes a two-layer image (a base layer plus one on top) into `oci:DIR:TAG`. */
async function makeImage(dir: string, location: string): Promise<void> {
  for (const name of ["one", "two"]) {
    await Deno.mkdir(`${dir}/${name}`, { recursive: true });
    await Deno.writeTextFile(`${dir}/${name}/${name}.txt`, `${name}\n`.repeat(100));
  }
  let base: ImageSource | undefined;
  for (const [i, name] of ["one", "two"].entries()) {
    const image = await appendImage({
      base,
      layers: [{ kind: "dir", path: `${dir}/${name}` }],
      created: "2024-01-01T00:00:00Z",
    });
    const dst = await openDestination(i === 0 ? `${location}-base` : location);
    await copyImage(image, dst, { reporter: recordingReporter() });
    await dst.close();
    await image.close();
    await base?.close();
    base = await openSource(`${location}-base`);
  }
  await base?.close();
}

async function copy(from: string, to: string, options = {}): Promise<string[]> {
  const reporter = recordingReporter();
  const src = await openSource(from);
  const dst = await openDestination(to);
  try {
    await copyImage(src, dst, { reporter, ...options });
  } finally {
    await dst.close();
    await src.close();
  }
  return reporter.lines;
}

Deno.test("copy skips blobs the destination has and leaves them untouched", async () => {
  await withTemp(async (dir) => {
    await makeImage(dir, `oci:${dir}/src:app`);
    // The base first: its layer is then already at the destination.
    const first = await copy(`oci:${dir}/src:app-base`, `oci:${dir}/dst:base`);
    assert.equal(first.filter((l) => l.endsWith(" skipped")).length, 0, first.join("\n"));
    const blobs = `${dir}/dst/blobs/sha256`;
    const before = new Map(
      [...Deno.readDirSync(blobs)].map((e) => [e.name, Deno.statSync(`${blobs}/${e.name}`).ino]),
    );
    const second = await copy(`oci:${dir}/src:app`, `oci:${dir}/dst:app`);
    const skipped = second.filter((l) => l.endsWith(" skipped"));
    assert.equal(skipped.length, 1, second.join("\n")); // the shared base layer
    assert.ok(second.some((l) => l.startsWith("layer ") && !l.endsWith(" skipped")));
    for (const [name, ino] of before) {
      assert.equal(Deno.statSync(`${blobs}/${name}`).ino, ino, `${name} was rewritten`);
    }
    // Copying the same image again copies nothing.
    const third = await copy(`oci:${dir}/src:app`, `oci:${dir}/dst:again`);
    const moved = third.filter((l) => /^(config|layer) /.test(l) && !l.endsWith(" skipped"));
    assert.deepEqual(moved, []);
  });
});

Deno.test("copy recompresses layers on request and keeps the config's diff_ids", async () => {
  await withTemp(async (dir) => {
    await makeImage(dir, `oci:${dir}/src:app`);
    await copy(`oci:${dir}/src:app`, `oci:${dir}/z:app`, { compression: "zstd" });
    const read = async (loc: string) => {
      const src = await openSource(loc);
      try {
        return await resolveImage(src);
      } finally {
        await src.close();
      }
    };
    const [a, b] = [await read(`oci:${dir}/src:app`), await read(`oci:${dir}/z:app`)];
    assert.deepEqual(b.config.rootfs.diff_ids, a.config.rootfs.diff_ids);
    assert.deepEqual(
      b.manifest.manifest.layers.map((l) => l.mediaType),
      [
        "application/vnd.oci.image.layer.v1.tar+zstd",
        "application/vnd.oci.image.layer.v1.tar+zstd",
      ],
    );
    assert.notEqual(b.manifest.digest, a.manifest.digest);
    await assert.rejects(
      copy(`oci:${dir}/src:app`, `oci:${dir}/p:app`, {
        compression: "zstd",
        preserveDigests: true,
      }),
      UnsupportedError,
    );
    await assert.rejects(
      copy(`oci:${dir}/src:app`, `docker-archive:${dir}/p.tar:x/y:1`, { preserveDigests: true }),
      UnsupportedError,
    );
    // With nothing to change, --preserve-digests copies.
    await copy(`oci:${dir}/src:app`, `dir:${dir}/d`, { preserveDigests: true });
  });
});

const enc = new TextEncoder();
const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";

/** Blobs and manifests in memory, counting what copy asks for. */
class MemorySource implements ImageSource {
  readonly name = "mem:src";
  readonly docs = new Map<string, Uint8Array>();
  manifestReads = 0;
  top: Descriptor | undefined;

  add(bytes: Uint8Array, mediaType: string): Descriptor {
    const digest = digestOf(bytes);
    this.docs.set(digest, bytes);
    return { mediaType, digest, size: bytes.length };
  }

  addJson(doc: unknown, mediaType: string): Descriptor {
    return this.add(enc.encode(JSON.stringify(doc)), mediaType);
  }

  getManifest(digest?: string): Promise<RawManifest> {
    this.manifestReads++;
    const want = digest ?? this.top!.digest;
    return Promise.resolve({
      bytes: this.docs.get(want)!,
      mediaType: digest === undefined ? this.top!.mediaType : "",
    });
  }

  getBlob(info: BlobInfo): Promise<ReadableStream<Uint8Array>> {
    return Promise.resolve(ReadableStream.from([this.docs.get(info.digest)!]));
  }

  repoTags(): Promise<string[]> {
    return Promise.resolve([]);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Keeps what it is given in memory, counting writes. */
class MemoryDestination implements ImageDestination {
  readonly name = "mem:dst";
  readonly capabilities: DestinationCapabilities = {
    manifestTypes: [OCI_MANIFEST, OCI_INDEX],
    supportsIndex: true,
    layerCompression: "preserve",
  };
  readonly blobs = new Set<string>();
  blobWrites = 0;
  manifestWrites = 0;

  hasBlob(info: BlobInfo): Promise<boolean> {
    return Promise.resolve(this.blobs.has(info.digest));
  }

  async putBlob(stream: ReadableStream<Uint8Array>, info: Partial<BlobInfo>): Promise<BlobInfo> {
    const bytes = new Uint8Array(await new Response(stream).arrayBuffer());
    this.blobWrites++;
    this.blobs.add(digestOf(bytes));
    return { digest: digestOf(bytes), size: bytes.length, mediaType: info.mediaType };
  }

  putManifest(): Promise<void> {
    this.manifestWrites++;
    return Promise.resolve();
  }

  commit(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** An image manifest (config plus one layer) in `src`; `n` makes each one different. */
function imageIn(src: MemorySource, n = 0): Descriptor {
  const config = src.add(enc.encode('{"architecture":"amd64","os":"linux"}'), "x/config");
  const layer = src.add(enc.encode("layer"), "application/vnd.oci.image.layer.v1.tar");
  return src.addJson({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config,
    layers: [layer],
    annotations: { n: String(n) },
  }, OCI_MANIFEST);
}

function indexIn(src: MemorySource, entries: Descriptor[]): Descriptor {
  return src.addJson({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: entries }, OCI_INDEX);
}

/** `depth` indexes in a row above one image, each listing the next `fan` times. */
function chainIn(src: MemorySource, depth: number, fan: number): Descriptor {
  let d = imageIn(src);
  for (let i = 0; i < depth; i++) d = indexIn(src, Array.from({ length: fan }, () => d));
  return d;
}

async function copyAll(src: MemorySource, dst = new MemoryDestination()) {
  return await copyImage(src, dst, { all: true, reporter: recordingReporter() });
}

Deno.test("copy --all reads and writes each manifest and blob of an index graph once", async () => {
  const src = new MemorySource();
  // 50 x 50 x 50 paths to the one image: a tree walk would copy it 125000 times.
  src.top = chainIn(src, 3, 50);
  const dst = new MemoryDestination();
  const r = await copyAll(src, dst);
  assert.equal(r.digest, src.top.digest);
  assert.equal(src.manifestReads, 4);
  assert.equal(dst.manifestWrites, 4);
  assert.equal(dst.blobWrites, 2);
});

Deno.test("copy refuses indexes nested deeper than resolve follows them, at once", async () => {
  const src = new MemorySource();
  src.top = chainIn(src, 40, 2);
  await assert.rejects(copyAll(src), (e: unknown) => {
    assert.ok(e instanceof LimitExceededError);
    assert.equal(e.code, "LIMIT_EXCEEDED");
    assert.match(e.message, /^mem:src: indexes nest more than 4 deep/);
    return true;
  });
  assert.ok(src.manifestReads <= 5, `${src.manifestReads} manifests read`);
  // Without --all the chosen entry leads down the same chain.
  const one = new MemorySource();
  const image = imageIn(one);
  let d = image;
  for (let i = 0; i < 40; i++) {
    d = indexIn(one, [{ ...d, platform: hostPlatform() }, { ...d, platform: hostPlatform() }]);
  }
  one.top = d;
  await assert.rejects(
    copyImage(one, new MemoryDestination(), { reporter: recordingReporter() }),
    LimitExceededError,
  );
  // Four in a row is what resolve allows, and so does copy.
  const four = new MemorySource();
  four.top = chainIn(four, MAX_INDEX_DEPTH, 2);
  await copyAll(four);
});

Deno.test("an index listed again deeper down is checked at that depth too", async () => {
  const src = new MemorySource();
  const a = chainIn(src, 3, 1); // a -> index -> index -> image: 3 indexes in a row
  const deeper = indexIn(src, [indexIn(src, [a])]); // deeper -> x -> a
  // top -> a keeps a 4 in a row; top -> deeper -> x -> a -> ... makes 6.
  src.top = indexIn(src, [a, deeper]);
  await assert.rejects(copyAll(src), /indexes nest more than 4 deep/);
});

Deno.test("every entry naming an already copied manifest must give its size", async () => {
  const src = new MemorySource();
  const image = imageIn(src);
  src.top = indexIn(src, [image, { ...image, size: image.size + 1 }]);
  await assert.rejects(copyAll(src), SizeMismatchError);
});

Deno.test("copy reads at most MAX_MANIFESTS_PER_COPY manifests", async () => {
  const src = new MemorySource();
  const images = Array.from({ length: MAX_MANIFESTS_PER_COPY }, (_, i) => imageIn(src, i));
  src.top = indexIn(src, images);
  await assert.rejects(copyAll(src), (e: unknown) => {
    assert.ok(e instanceof LimitExceededError);
    assert.match(e.message, /more than 10000 different manifests/);
    return true;
  });
  assert.equal(src.manifestReads, MAX_MANIFESTS_PER_COPY);
  src.top = indexIn(src, images.slice(1));
  const dst = new MemoryDestination();
  await copyAll(src, dst);
  assert.equal(dst.manifestWrites, MAX_MANIFESTS_PER_COPY);
});
