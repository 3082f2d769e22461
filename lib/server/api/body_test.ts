import assert from "node:assert/strict";
import { SizeMismatchError } from "../../errors.ts";
import {
  BodyTimeoutError,
  BodyTooLargeError,
  contentLength,
  guardedBody,
  readCapped,
} from "./body.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const streamOf = (...parts: string[]) =>
  new ReadableStream<Uint8Array>({
    start(c) {
      for (const p of parts) c.enqueue(bytes(p));
      c.close();
    },
  });

Deno.test("guardedBody passes bytes through and holds the declared length", async () => {
  const ok = guardedBody(streamOf("ab", "c"), { idleMs: 1000, length: 3 });
  assert.equal(await new Response(ok).text(), "abc");
  await assert.rejects(
    () => new Response(guardedBody(streamOf("abcd"), { idleMs: 0, length: 3 })).text(),
    SizeMismatchError,
  );
  await assert.rejects(
    () => new Response(guardedBody(streamOf("ab"), { idleMs: 0, length: 3 })).text(),
    SizeMismatchError,
  );
});

Deno.test("guardedBody fails a body that goes quiet", async () => {
  let cancelled = false;
  const stalled = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(bytes("x"));
    },
    cancel() {
      cancelled = true;
    },
  });
  await assert.rejects(
    () => new Response(guardedBody(stalled, { idleMs: 50 })).text(),
    BodyTimeoutError,
  );
  assert.equal(cancelled, true);
});

Deno.test("guardedBody fails when the signal fires", async () => {
  const ac = new AbortController();
  const never = new ReadableStream<Uint8Array>({});
  const read = new Response(guardedBody(never, { idleMs: 0, signal: ac.signal })).text();
  ac.abort(new Error("gone"));
  await assert.rejects(() => read, /gone/);
});

Deno.test("readCapped reads whole bodies up to the limit", async () => {
  assert.deepEqual(await readCapped(streamOf("{", "}"), 2), bytes("{}"));
  assert.deepEqual(await readCapped(null, 2), new Uint8Array(0));
  await assert.rejects(() => readCapped(streamOf("abc"), 2), BodyTooLargeError);
  assert.equal(contentLength(new Headers({ "content-length": "5" })), 5);
  assert.ok(Number.isNaN(contentLength(new Headers({ "content-length": "5x" }))!));
  assert.equal(contentLength(new Headers()), undefined);
});

Deno.test("guardedBody drops a body under the minimum rate, counting only time spent waiting for it", async () => {
  const trickle = (gapMs: number, n: number) =>
    new ReadableStream<Uint8Array>({
      async pull(c) {
        if (n-- === 0) return c.close();
        await new Promise((r) => setTimeout(r, gapMs));
        c.enqueue(bytes("ab"));
      },
    });
  await assert.rejects(
    () =>
      new Response(guardedBody(trickle(20, 100), { idleMs: 200, minBytesPerSecond: 1000 }))
        .text(),
    (e) => e instanceof BodyTimeoutError && /under the minimum of 1000/.test(e.message),
  );
  // A slow consumer does not make a fast body look slow.
  const reader = guardedBody(streamOf(...Array(20).fill("abcd")), {
    idleMs: 50,
    minBytesPerSecond: 1000,
  }).getReader();
  let got = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    got += value.length;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(got, 80);
});
