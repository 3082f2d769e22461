import { deepStrictEqual as assertEquals, ok as assert, rejects } from "node:assert/strict";
import { DigestMismatchError } from "../../errors.ts";
import { ContentCheck } from "../../digest/verify.ts";
import { digestOf } from "../../digest/digester.ts";
import { storeWhileServing } from "./store_while_serving.ts";

function chunks(n: number, size: number): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => new Uint8Array(size).fill(i & 0xff));
}

function streamOf(parts: Uint8Array[]): { stream: ReadableStream<Uint8Array>; pulled(): number } {
  let i = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      if (i < parts.length) c.enqueue(parts[i++]);
      else c.close();
    },
  }, { highWaterMark: 0 });
  return { stream, pulled: () => i };
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** A store that verifies what it reads against `digest` and keeps it. */
function verifyingStore(digest: string, kept: Uint8Array[][]) {
  return async (s: ReadableStream<Uint8Array>) => {
    const check = new ContentCheck({ digest }, "blob");
    const got: Uint8Array[] = [];
    for await (const c of s) {
      check.update(c);
      got.push(c.slice());
    }
    const r = check.finish();
    kept.push(got);
    return r;
  };
}

Deno.test("storeWhileServing: client and store both get every byte; the store's result", async () => {
  const parts = chunks(10, 1000);
  const all = concat(parts);
  const kept: Uint8Array[][] = [];
  const { client, stored } = storeWhileServing(
    streamOf(parts).stream,
    verifyingStore(digestOf(all), kept),
  );
  const body = new Uint8Array(await new Response(client).arrayBuffer());
  assertEquals(body, all);
  assertEquals((await stored).size, all.length);
  assertEquals(concat(kept[0]), all);
});

Deno.test("storeWhileServing: wrong bytes -> the client's stream errors before its last chunk", async () => {
  const parts = chunks(4, 100);
  const kept: Uint8Array[][] = [];
  const { client, stored } = storeWhileServing(
    streamOf(parts).stream,
    verifyingStore(digestOf(new Uint8Array([1])), kept),
  );
  let received = 0;
  await rejects(async () => {
    for await (const c of client) received += c.length;
  }, DigestMismatchError);
  assert(received < 400, `the client got ${received} of 400 bytes`);
  await rejects(() => stored, DigestMismatchError);
  assertEquals(kept.length, 0);
});

Deno.test("storeWhileServing: a client that cancels does not stop the store", async () => {
  const parts = chunks(50, 64 << 10);
  const all = concat(parts);
  const kept: Uint8Array[][] = [];
  const { client, stored } = storeWhileServing(
    streamOf(parts).stream,
    verifyingStore(digestOf(all), kept),
    { clientBufferBytes: 128 << 10 },
  );
  const reader = client.getReader();
  await reader.read();
  await reader.cancel();
  assertEquals((await stored).size, all.length);
  assertEquals(concat(kept[0]).length, all.length);
});

Deno.test("storeWhileServing: a slow client paces the upstream (bounded queue)", async () => {
  const parts = chunks(64, 64 << 10);
  const all = concat(parts);
  const source = streamOf(parts);
  const { client, stored } = storeWhileServing(
    source.stream,
    verifyingStore(digestOf(all), []),
    { clientBufferBytes: 256 << 10 },
  );
  const reader = client.getReader();
  await reader.read();
  await new Promise((r) => setTimeout(r, 50));
  // 1 read + 4 queued + the one held back + one being handed over, give or take.
  assert(source.pulled() < 10, `read ${source.pulled()} chunks ahead of a stalled client`);
  let n = 1;
  for (;;) {
    const { done } = await reader.read();
    if (done) break;
    n++;
  }
  assertEquals(n, 64);
  await stored;
});

Deno.test("storeWhileServing: a stalled client is dropped after clientIdleMs; the store completes", async () => {
  const parts = chunks(40, 64 << 10);
  const all = concat(parts);
  const { client, stored } = storeWhileServing(
    streamOf(parts).stream,
    verifyingStore(digestOf(all), []),
    { clientBufferBytes: 64 << 10, clientIdleMs: 30 },
  );
  const reader = client.getReader();
  await reader.read();
  assertEquals((await stored).size, all.length);
  await rejects(async () => {
    for (;;) if ((await reader.read()).done) break;
  }, Error);
});

Deno.test("storeWhileServing: a store that fails early cancels the upstream", async () => {
  let cancelled = false;
  const source = new ReadableStream<Uint8Array>({
    pull(c) {
      c.enqueue(new Uint8Array(10));
    },
    cancel() {
      cancelled = true;
    },
  });
  const { client, stored } = storeWhileServing(source, async (s) => {
    const r = s.getReader();
    await r.read();
    r.releaseLock();
    throw new Error("disk full");
  });
  await rejects(() => stored, /disk full/);
  await rejects(() => new Response(client).arrayBuffer());
  await new Promise((r) => setTimeout(r, 0));
  assert(cancelled);
});

Deno.test("storeWhileServing: the store gets its own view of each chunk", async () => {
  const parts = chunks(3, 10);
  const seen: Uint8Array[] = [];
  const { client, stored } = storeWhileServing(streamOf(parts).stream, async (s) => {
    for await (const c of s) seen.push(c);
  });
  const sent: Uint8Array[] = [];
  for await (const c of client) sent.push(c);
  await stored;
  assertEquals(sent.length, 3);
  for (let i = 0; i < 3; i++) assert(seen[i] !== sent[i] && seen[i].buffer === sent[i].buffer);
});
