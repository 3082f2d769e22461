import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { DigestMismatchError, SizeMismatchError } from "../errors.ts";
import { blobPath, storeBlob } from "./blob_dir.ts";

function random(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(b.subarray(i, i + 65536));
  return b;
}

function sha256(b: Uint8Array): string {
  return `sha256:${createHash("sha256").update(b).digest("hex")}`;
}

/** `data` as a stream cut at `sizes` (repeated), each chunk a fresh copy. */
function chunked(data: Uint8Array, sizes: number[]): ReadableStream<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for (let off = 0, i = 0; off < data.length; i++) {
    const n = Math.min(sizes[i % sizes.length], data.length - off);
    chunks.push(data.slice(off, off + n));
    off += n;
  }
  return ReadableStream.from(chunks);
}

async function stored(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

Deno.test("storeBlob writes and verifies small, batch-crossing and large chunks", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const data = random((5 << 20) + 12345);
    const cuts = [[16384], [1000, 70000, 3], [1 << 20], [(1 << 20) + 1, 5], [3 << 20, 100]];
    for (const sizes of cuts) {
      const digest = sha256(data);
      const r = await storeBlob(dir, chunked(data, sizes), { digest, size: data.length });
      assert.deepEqual(r, { digest, size: data.length, mediaType: undefined });
      assert.deepEqual(await Deno.readFile(`${dir}/${blobPath(digest)}`), data);
      // Without expectations it computes the same.
      const again = await storeBlob(dir, chunked(data, sizes), {});
      assert.equal(again.digest, digest);
    }
    const empty = await storeBlob(dir, ReadableStream.from([]), {});
    assert.equal(empty.digest, sha256(new Uint8Array()));
    assert.deepEqual(await stored(dir), ["blobs"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("storeBlob rejects wrong digests and sizes and leaves nothing behind", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const data = random(3 << 20);
    const wrong = sha256(new Uint8Array(1));
    await assert.rejects(
      storeBlob(dir, chunked(data, [40000]), { digest: wrong }),
      DigestMismatchError,
    );
    await assert.rejects(
      storeBlob(dir, chunked(data, [1 << 20]), { size: data.length - 1 }),
      SizeMismatchError,
    );
    await assert.rejects(
      storeBlob(dir, chunked(data, [70000]), { size: data.length + 1 }),
      SizeMismatchError,
    );
    assert.deepEqual(await stored(dir), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("storeBlob stops cleanly when the stream fails mid-way", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const data = random(3 << 20);
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent >= 2 << 20) return c.error(new Error("connection reset"));
        c.enqueue(data.slice(sent, sent += 300_000));
      },
    });
    await assert.rejects(storeBlob(dir, stream, {}), /connection reset/);
    assert.deepEqual(await stored(dir), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
