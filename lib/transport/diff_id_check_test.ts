import assert from "node:assert/strict";
import { digestOf } from "../digest/digester.ts";
import { DigestMismatchError } from "../errors.ts";
import { compress, type Compression } from "../archive/compression.ts";
import { collect } from "./archive_test_util.ts";
import { diffIdChecked } from "./diff_id_check.ts";

const enc = new TextEncoder();

/** `bytes` as a stream of `size`-byte chunks. */
function chunked(bytes: Uint8Array, size: number): ReadableStream<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) parts.push(bytes.slice(i, i + size));
  return ReadableStream.from(parts);
}

async function packed(bytes: Uint8Array, c: Compression): Promise<Uint8Array> {
  return await collect(compress(ReadableStream.from([bytes]), c));
}

const TAR = enc.encode("pretend this is a layer tar\n".repeat(20_000));

Deno.test("diffIdChecked passes a layer whose content has the diff_id through unchanged", async () => {
  for (const c of ["none", "gzip", "zstd"] as const) {
    const blob = await packed(TAR, c);
    const out = await collect(diffIdChecked(chunked(blob, 4096), c, digestOf(TAR), "layer"));
    assert.deepEqual(out, blob, c);
  }
});

Deno.test("diffIdChecked errors instead of ending when the diff_id differs", async () => {
  const other = enc.encode("another layer");
  for (const c of ["none", "gzip", "zstd"] as const) {
    const blob = await packed(TAR, c);
    const got: number[] = [];
    const reader = diffIdChecked(chunked(blob, 4096), c, digestOf(other), "x.tar").getReader();
    await assert.rejects(
      (async () => {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          got.push(value.length);
        }
      })(),
      (e: unknown) => {
        assert.ok(e instanceof DigestMismatchError, c);
        assert.equal(
          e.message,
          `x.tar: uncompressed content (diff_id): digest mismatch: expected ${
            digestOf(other)
          }, got ${digestOf(TAR)}`,
        );
        return true;
      },
    );
    // Everything came through first: the verdict is the end of the stream.
    assert.equal(got.reduce((a, b) => a + b, 0), blob.length, c);
  }
});

Deno.test("diffIdChecked survives a consumer that recycles the chunks it was given", async () => {
  const blob = await packed(TAR, "gzip");
  const reader = diffIdChecked(chunked(blob, 1000), "gzip", digestOf(TAR), "layer").getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    value.fill(0); // as a slab pool reusing the buffer would
  }
});

Deno.test("diffIdChecked: a corrupt stream fails, a cancel reaches the source", async () => {
  const blob = await packed(TAR, "gzip");
  const broken = blob.slice(0, blob.length / 2);
  await assert.rejects(
    collect(diffIdChecked(chunked(broken, 4096), "gzip", digestOf(TAR), "layer")),
  );
  let cancelled: unknown;
  const source = new ReadableStream<Uint8Array>({
    pull: (controller) => controller.enqueue(blob.slice(0, 100)),
    cancel: (reason) => {
      cancelled = reason;
    },
  });
  const reader = diffIdChecked(source, "gzip", digestOf(TAR), "layer").getReader();
  await reader.read();
  await reader.cancel("stop");
  assert.equal(cancelled, "stop");
});
