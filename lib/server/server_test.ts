/**
 * The server on a real socket (127.0.0.1:0): raw request targets (dot segments reach the router
 * as sent), huge headers, a client that disconnects mid-upload, and a graceful stop that lets a
 * request in flight finish.
 */
import assert from "node:assert/strict";
import { digestOf } from "../digest/digester.ts";
import { defaultConfig, type ServerConfig } from "./config.ts";
import { startServer } from "./server.ts";
import { openRegistryStore } from "./storage/registry_store.ts";

const enc = new TextEncoder();

async function rawRequest(port: number, head: string, body?: Uint8Array): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(enc.encode(head));
    if (body) await conn.write(body);
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(65536);
    for (;;) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
    }
    return new TextDecoder().decode(
      chunks.reduce((a, c) => {
        const o = new Uint8Array(a.length + c.length);
        o.set(a);
        o.set(c, a.length);
        return o;
      }, new Uint8Array(0)),
    );
  } finally {
    try {
      conn.close();
    } catch { /* closed */ }
  }
}

async function withServer(
  fn: (s: { port: number; url: string; root: string; logs: string[] }) => Promise<void>,
  config: Partial<ServerConfig> = {},
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "ocibox-serve-" });
  const store = await openRegistryStore(root);
  const logs: string[] = [];
  const server = await startServer({
    config: { ...defaultConfig(root), addr: "127.0.0.1:0", bodyIdleTimeoutMs: 500, ...config },
    store,
    log: (l) => logs.push(l),
  });
  try {
    await fn({ port: server.addr.port, url: server.url, root, logs });
  } finally {
    await server.shutdown();
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("dot segments and %2e%2e reach the router as sent: NAME_INVALID", async () => {
  await withServer(async ({ port, root }) => {
    for (
      const path of ["/v2/a/../b/tags/list", "/v2/a/%2e%2e/b/tags/list", "/v2/a/./b/tags/list"]
    ) {
      const res = await rawRequest(
        port,
        `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
      );
      assert.match(res, /^HTTP\/1\.1 400/, path);
      assert.match(res, /"NAME_INVALID"/, path);
    }
    const d = digestOf(enc.encode("x"));
    const res = await rawRequest(
      port,
      `POST /v2/a/../../../tmp/blobs/uploads/?digest=${d} HTTP/1.1\r\nHost: x\r\n` +
        "Content-Length: 1\r\nConnection: close\r\n\r\nx",
    );
    assert.match(res, /NAME_INVALID/);
    assert.deepEqual([...Deno.readDirSync(`${root}/repositories`)], []);
  });
});

Deno.test("huge headers are refused and the server keeps serving", async () => {
  await withServer(async ({ port, url }) => {
    const res = await rawRequest(
      port,
      `GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(1 << 20)}\r\nConnection: close\r\n\r\n`,
    ).catch((e) => String(e));
    assert.doesNotMatch(res, /^HTTP\/1\.1 200/);
    const ok = await fetch(`${url}/v2/`);
    assert.equal(ok.status, 200);
    await ok.body?.cancel();
  });
});

Deno.test("a client that disconnects mid-upload leaves no blob; the session stays resumable", async () => {
  await withServer(async ({ port, url, root }) => {
    const start = await fetch(`${url}/v2/up/blobs/uploads/`, { method: "POST" });
    const location = start.headers.get("location")!;
    await start.body?.cancel();
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(enc.encode(
      `PATCH ${location} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n` + "a".repeat(1000),
    ));
    await new Promise((r) => setTimeout(r, 200));
    conn.close();
    await new Promise((r) => setTimeout(r, 300));
    const status = await fetch(`${url}${location}`);
    assert.equal(status.status, 204);
    await status.body?.cancel();
    const blobs = [...Deno.readDirSync(`${root}/blobs`)].flatMap((d) =>
      d.isDirectory ? [...Deno.readDirSync(`${root}/blobs/${d.name}`)] : []
    );
    assert.deepEqual(blobs, []);
  });
});

Deno.test("a client gone mid-PATCH ends the store write at once, not after the idle timeout", async () => {
  await withServer(async ({ port, url, logs }) => {
    const start = await fetch(`${url}/v2/gone/blobs/uploads/`, { method: "POST" });
    const location = start.headers.get("location")!;
    await start.body?.cancel();
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(enc.encode(
      `PATCH ${location} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n` +
        "a".repeat(1000),
    ));
    await new Promise((r) => setTimeout(r, 200));
    conn.close();
    // The session is serialised: this PATCH waits for the first one's write to end. With the
    // idle timeout at 30 s, answering within seconds means the disconnect ended that write.
    const began = performance.now();
    const rest = enc.encode("b".repeat(10));
    const next = await fetch(`${url}${location}`, {
      method: "PATCH",
      body: rest,
      headers: { "content-range": "1000-1009", "content-type": "application/octet-stream" },
    });
    assert.equal(next.status, 202, await next.text());
    assert.equal(next.headers.get("range"), "0-1009");
    assert.ok(performance.now() - began < 5000, `took ${performance.now() - began} ms`);
    const done = await fetch(
      `${url}${location}?digest=${digestOf(enc.encode("a".repeat(1000) + "b".repeat(10)))}`,
      {
        method: "PUT",
      },
    );
    assert.equal(done.status, 201, await done.text());
    assert.ok(logs.some((l) => /method=PATCH/.test(l)), logs.join("\n"));
  }, { bodyIdleTimeoutMs: 30_000 });
});

Deno.test("shutdown lets a request in flight finish", async () => {
  const root = await Deno.makeTempDir({ prefix: "ocibox-serve-" });
  try {
    const store = await openRegistryStore(root);
    const server = await startServer({
      config: { ...defaultConfig(root), addr: "127.0.0.1:0" },
      store,
      log: () => {},
    });
    const bytes = enc.encode("slow body");
    const digest = digestOf(bytes);
    let feed!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        feed = c;
      },
    });
    const put = fetch(`${server.url}/v2/s/blobs/uploads/?digest=${digest}`, {
      method: "POST",
      body,
      headers: { "content-length": String(bytes.length) },
    });
    feed.enqueue(bytes.slice(0, 4));
    await new Promise((r) => setTimeout(r, 200));
    const stopping = server.shutdown();
    feed.enqueue(bytes.slice(4));
    feed.close();
    const res = await put;
    assert.equal(res.status, 201, await res.clone().text());
    await res.body?.cancel();
    await stopping;
    assert.equal((await store.statBlob(digest))?.size, bytes.length);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

/** Reads what the server sends on `conn` until it closes or `ms` pass. */
async function readFor(conn: Deno.Conn, ms: number): Promise<{ text: string; closed: boolean }> {
  const chunks: string[] = [];
  const dec = new TextDecoder();
  const buf = new Uint8Array(65536);
  const deadline = Date.now() + ms;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) return { text: chunks.join(""), closed: false };
    let timer: ReturnType<typeof setTimeout> | undefined;
    const n = await Promise.race([
      conn.read(buf).catch(() => null),
      new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), left)),
    ]);
    clearTimeout(timer);
    if (n === "timeout") return { text: chunks.join(""), closed: false };
    if (n === null) return { text: chunks.join(""), closed: true };
    chunks.push(dec.decode(buf.subarray(0, n), { stream: true }));
  }
}

Deno.test("slow clients: headers trickling in and a body at a few bytes a second do not hold up others; the slow body is dropped", async () => {
  await withServer(async ({ port, url, root }) => {
    // Header slowloris: Deno.serve has no header read timeout, but each connection is its
    // own task, so held connections cost a socket each and block nobody.
    const slowHeads = await Promise.all(
      Array.from({ length: 20 }, () => Deno.connect({ hostname: "127.0.0.1", port })),
    );
    for (const c of slowHeads) await c.write(enc.encode("GET /v2/ HTTP/1.1\r\nHost: x\r\nX-A: "));
    const start = await fetch(`${url}/v2/slow/blobs/uploads/`, { method: "POST" });
    const location = start.headers.get("location")!;
    await start.body?.cancel();
    const slowBody = await Deno.connect({ hostname: "127.0.0.1", port });
    await slowBody.write(enc.encode(
      `PATCH ${location} HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n`,
    ));
    const trickle = (async () => {
      for (let i = 0; i < 40; i++) {
        await new Promise((r) => setTimeout(r, 100));
        if (!await slowBody.write(enc.encode("ab")).then(() => true, () => false)) return;
      }
    })();
    for (let i = 0; i < 5; i++) {
      const r = await fetch(`${url}/v2/`);
      assert.equal(r.status, 200);
      await r.body?.cancel();
      for (const c of slowHeads) await c.write(enc.encode("a")).catch(() => {});
    }
    // 20 bytes a second is under the minimum rate: dropped within a window or two.
    const answer = await readFor(slowBody, 4000);
    assert.match(answer.text, /^HTTP\/1\.1 408/, answer.text);
    await trickle;
    slowBody.close();
    for (const c of slowHeads) c.close();
    // What came stays in the session (resumable); no blob.
    const status = await fetch(`${url}${location}`);
    assert.equal(status.status, 204);
    await status.body?.cancel();
    assert.deepEqual([...Deno.readDirSync(`${root}/blobs`)], []);
  }, { bodyIdleTimeoutMs: 1000, bodyMinRate: 1024 });
});

Deno.test("a PATCH whose body stops short of its Content-Length gets 408; the bytes sent stay in the session", async () => {
  await withServer(async ({ port, url }) => {
    const start = await fetch(`${url}/v2/short/blobs/uploads/`, { method: "POST" });
    const location = start.headers.get("location")!;
    await start.body?.cancel();
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(enc.encode(
      `PATCH ${location} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789`,
    ));
    const answer = await readFor(conn, 3000);
    conn.close();
    assert.match(answer.text, /^HTTP\/1\.1 408/, answer.text);
    const status = await fetch(`${url}${location}`);
    assert.equal(status.headers.get("range"), "0-9");
    await status.body?.cancel();
  });
});

Deno.test("a chunked manifest PUT over the limit gets 413 before the client has sent it all", async () => {
  await withServer(async ({ port, root }) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(enc.encode(
      "PUT /v2/big/manifests/v1 HTTP/1.1\r\nHost: x\r\n" +
        "Content-Type: application/vnd.oci.image.manifest.v1+json\r\n" +
        "Transfer-Encoding: chunked\r\n\r\n",
    ));
    // The first bytes of the answer end the sending.
    let firstBytes = "";
    const reply = (async () => {
      const buf = new Uint8Array(4096);
      const n = await conn.read(buf).catch(() => null);
      if (n !== null) firstBytes = new TextDecoder().decode(buf.subarray(0, n));
    })();
    const chunk = enc.encode(`10000\r\n${"x".repeat(0x10000)}\r\n`);
    let sent = 0;
    let answered = false;
    reply.then(() => answered = true);
    // Up to 256 MiB; the server must answer long before.
    while (!answered && sent < 256 << 20) {
      const ok = await conn.write(chunk).then(() => true, () => false);
      if (!ok) break;
      sent += 0x10000;
      await new Promise((r) => setTimeout(r, 0));
    }
    await reply;
    conn.close();
    assert.match(firstBytes, /^HTTP\/1\.1 413/, firstBytes);
    assert.ok(sent < 64 << 20, `sent ${sent} bytes before the 413`);
    assert.deepEqual([...Deno.readDirSync(`${root}/repositories`)], []);
  }, { maxManifestBytes: 1 << 20 });
});
