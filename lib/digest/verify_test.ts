import assert from "node:assert/strict";
import { DigestMismatchError, SizeMismatchError, UnsupportedError } from "../errors.ts";
import { digestOf } from "./digester.ts";
import { ContentCheck, countingDigestStream, verifyBytes, verifyingStream } from "./verify.ts";

const enc = new TextEncoder();
const DATA = enc.encode("0123456789abcdef");
const GOOD = { digest: digestOf(DATA), size: DATA.length };

function chunks(...parts: Uint8Array[]): ReadableStream<Uint8Array> {
  return ReadableStream.from(parts);
}

async function readAll(s: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(s).arrayBuffer());
}

Deno.test("verifyBytes accepts matching content", () => {
  verifyBytes(DATA, GOOD, "blob");
  verifyBytes(DATA, { digest: digestOf(DATA, "sha512"), size: DATA.length }, "blob");
});

Deno.test("verifyBytes checks size before digest", () => {
  assert.throws(() => verifyBytes(DATA, { digest: "sha256:" + "0".repeat(64), size: 3 }, "blob"), {
    name: "SizeMismatchError",
    message: "blob: size mismatch: expected 3 bytes, got 16",
  });
  assert.throws(
    () => verifyBytes(DATA, { digest: "sha256:" + "0".repeat(64), size: DATA.length }, "blob x"),
    (e: unknown) =>
      e instanceof DigestMismatchError && e.actual === GOOD.digest && e.what === "blob x",
  );
});

Deno.test("verifyBytes refuses digests it cannot check", () => {
  assert.throws(
    () => verifyBytes(DATA, { digest: "blake3:" + "0".repeat(64), size: 16 }, "b"),
    UnsupportedError,
  );
  assert.throws(() => verifyBytes(DATA, { digest: "sha256:zz", size: 16 }, "b"), {
    code: "DIGEST_INVALID",
  });
});

Deno.test("verifyingStream passes verified content through", async () => {
  const out = await readAll(
    chunks(DATA.subarray(0, 4), DATA.subarray(4)).pipeThrough(verifyingStream(GOOD, "blob")),
  );
  assert.deepEqual(out, DATA);
});

Deno.test("verifyingStream errors as soon as the size is exceeded", async () => {
  const seen: number[] = [];
  const stream = chunks(DATA, enc.encode("x"), enc.encode("never read")).pipeThrough(
    verifyingStream(GOOD, "blob"),
  );
  await assert.rejects(
    stream.pipeTo(new WritableStream({ write: (c) => void seen.push(c.length) })),
    { name: "SizeMismatchError", message: "blob: size mismatch: expected 16 bytes, got 17" },
  );
  assert.deepEqual(seen, [16]);
});

Deno.test("verifyingStream errors at the end on short content", async () => {
  await assert.rejects(
    readAll(chunks(DATA.subarray(0, 10)).pipeThrough(verifyingStream(GOOD, "blob"))),
    SizeMismatchError,
  );
});

Deno.test("verifyingStream errors instead of ending on a digest mismatch", async () => {
  const tampered = DATA.slice();
  tampered[3] ^= 1;
  const reader = chunks(tampered).pipeThrough(verifyingStream(GOOD, "layer")).getReader();
  const first = await reader.read();
  assert.equal(first.done, false);
  await assert.rejects(reader.read(), DigestMismatchError);
});

Deno.test("verifyingStream refuses an unhashable algorithm up front", () => {
  assert.throws(
    () => verifyingStream({ digest: "blake3:" + "0".repeat(64), size: 1 }, "b"),
    UnsupportedError,
  );
});

Deno.test("countingDigestStream measures content whose digest is unknown", async () => {
  const counter = countingDigestStream();
  assert.equal(counter.result, undefined);
  const out = await readAll(
    chunks(DATA.subarray(0, 7), DATA.subarray(7)).pipeThrough(counter.stream),
  );
  assert.deepEqual(out, DATA);
  assert.equal(counter.size, 16);
  assert.deepEqual(counter.result, GOOD);
});

Deno.test("countingDigestStream with sha512", async () => {
  const counter = countingDigestStream("sha512");
  await readAll(chunks(DATA).pipeThrough(counter.stream));
  assert.deepEqual(counter.result, { digest: digestOf(DATA, "sha512"), size: 16 });
});

Deno.test("ContentCheck: early size failure, late digest failure, measurement without expectations", () => {
  const enc = new TextEncoder();
  const two = new ContentCheck({ size: 2 }, "x");
  two.update(enc.encode("{"));
  assert.throws(() => two.update(enc.encode("}}")), SizeMismatchError);
  const short = new ContentCheck({ size: 3 }, "x");
  short.update(enc.encode("{}"));
  assert.throws(() => short.finish(), SizeMismatchError);
  const wrong = new ContentCheck({ digest: `sha256:${"0".repeat(64)}`, size: 2 }, "x");
  wrong.update(enc.encode("{}"));
  assert.throws(() => wrong.finish(), DigestMismatchError);
  const free = new ContentCheck({}, "x", "sha512");
  free.update(enc.encode("{}"));
  const r = free.finish();
  assert.equal(r.size, 2);
  assert.match(r.digest, /^sha512:[0-9a-f]{128}$/);
});
