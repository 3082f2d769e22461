import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import { libdeflateAvailable } from "../../ffi/libdeflate.ts";
import { compress, decompress } from "./compression.ts";
import { parallelGzip } from "./parallel_gzip.ts";

/** Half text, half noise, so blocks compress but not to nothing. */
function sample(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = (i >> 12) & 1 ? x >>> 24 : 97 + (i % 26);
  }
  return out;
}

/** `data` cut into chunks of varying sizes, as a file or socket delivers them. */
async function* chunked(data: Uint8Array, sizes = [1, 4096, 70000, 300001]) {
  let at = 0;
  for (let i = 0; at < data.length; i++) {
    const n = sizes[i % sizes.length];
    yield data.subarray(at, at + n);
    at += n;
  }
}

async function collect(it: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const parts: Uint8Array[] = [];
  for await (const p of it) parts.push(p);
  return parts;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

// libdeflate is a system library (Debian's libdeflate0); CI has it, a bare machine may not,
// and then compress() falls back to node:zlib (the last test still runs).
const HAVE = libdeflateAvailable();
const IN_CI = Deno.env.get("CI") === "true";
const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name, ignore: !HAVE && !IN_CI, fn });

test("libdeflate is available where CI runs", () => {
  assert.equal(HAVE, true);
  return Promise.resolve();
});

test("parallelGzip: one member per block, read back whole by zlib", async () => {
  const blockSize = 64 << 10;
  for (const n of [1, blockSize - 1, blockSize, blockSize + 1, 10 * blockSize + 17]) {
    const data = sample(n, n);
    const parts = await collect(parallelGzip(chunked(data), { blockSize })!);
    assert.equal(parts.length, Math.ceil(n / blockSize), `${n} bytes`);
    for (const p of parts) assert.deepEqual([...p.subarray(0, 3)], [0x1f, 0x8b, 8]);
    assert.deepEqual(gunzipSync(concat(parts)), Buffer.from(data), `${n} bytes`);
  }
});

test("parallelGzip: an empty source is one member of nothing", async () => {
  const parts = await collect(parallelGzip(chunked(new Uint8Array(0)))!);
  assert.equal(parts.length, 1);
  assert.equal(gunzipSync(parts[0]).length, 0);
});

test("parallelGzip: levels change the size, not the content", async () => {
  const data = sample(3 << 20);
  const sizes: number[] = [];
  for (const level of [1, 2, 9]) {
    const out = concat(await collect(parallelGzip(chunked(data), { level })!));
    assert.deepEqual(gunzipSync(out), Buffer.from(data));
    sizes.push(out.length);
  }
  assert.ok(sizes[2] <= sizes[0], `level 9 ${sizes[2]} <= level 1 ${sizes[0]}`);
  assert.throws(() => parallelGzip(chunked(data), { level: 13 }), RangeError);
});

test("parallelGzip: same input, same bytes (digests are reproducible)", async () => {
  const data = sample(5 << 20);
  const a = concat(await collect(parallelGzip(chunked(data, [65536]))!));
  const b = concat(await collect(parallelGzip(chunked(data, [1000, 3 << 20]))!));
  assert.deepEqual(a, b);
});

test("parallelGzip: a failing source fails the stream after running blocks settle", async () => {
  async function* broken() {
    yield sample(4 << 20);
    throw new Error("disk gone");
  }
  await assert.rejects(collect(parallelGzip(broken())!), /disk gone/);
});

test("parallelGzip: stopping early leaves nothing running", async () => {
  const gz = parallelGzip(chunked(sample(8 << 20)))!;
  const first = await gz.next();
  assert.equal(first.done, false);
  await gz.return(undefined);
});

Deno.test("compress gzip round-trips through decompress, concurrent streams share the pool", async () => {
  const inputs = [sample(3 << 20, 7), sample(1 << 20, 8), sample(5000, 9)];
  const outs = await Promise.all(inputs.map(async (data) => {
    const gz = await collect(compress(chunked(data), "gzip"));
    return concat(await collect(decompress(chunked(concat(gz)), "gzip")));
  }));
  outs.forEach((o, i) => assert.deepEqual(o, inputs[i]));
});
