import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { AbortedError, NetworkError, UnsupportedError } from "../../errors.ts";
import { listenTcp, readRequestHead, serve, testPki, writeAll } from "../registry_test_util.ts";
import { fetchTransport } from "./fetch_transport.ts";
import type { HttpRequest } from "./types.ts";

function get(url: string | URL, headers: HeadersInit = {}): HttpRequest {
  return { method: "GET", url: new URL(url), headers: new Headers(headers) };
}

async function text(body: ReadableStream<Uint8Array> | null): Promise<string> {
  return body ? await new Response(body).text() : "";
}

Deno.test("fetchTransport: streams a response, leaves redirects, asks for identity encoding", async () => {
  const seen: Record<string, string | null> = {};
  const srv = serve((req) => {
    const path = new URL(req.url).pathname;
    seen[path] = req.headers.get("accept-encoding");
    if (path === "/moved") {
      return new Response(null, { status: 307, headers: { location: "https://elsewhere/x" } });
    }
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < 4; i++) c.enqueue(new Uint8Array(1000).fill(65 + i));
        c.close();
      },
    });
    return new Response(body, { headers: { "x-a": "1" } });
  });
  const t = fetchTransport();
  try {
    const res = await t.send(get(new URL("/blob", srv.url)));
    strictEqual(res.status, 200);
    strictEqual(res.headers.get("x-a"), "1");
    const bytes = new Uint8Array(await new Response(res.body).arrayBuffer());
    strictEqual(bytes.length, 4000);
    strictEqual(bytes[3999], 68);
    strictEqual(seen["/blob"], "identity");
    const moved = await t.send(get(new URL("/moved", srv.url)));
    strictEqual(moved.status, 307);
    strictEqual(moved.headers.get("location"), "https://elsewhere/x");
    await moved.body?.cancel();
    const chosen = await t.send(get(new URL("/blob", srv.url), { "accept-encoding": "gzip" }));
    await chosen.body?.cancel();
    strictEqual(seen["/blob"], "gzip");
  } finally {
    t.close();
    await srv.close();
  }
});

Deno.test("fetchTransport: stream bodies go out chunked, or with Content-Length when given", async () => {
  const got: { length: number; te: string | null; cl: string | null }[] = [];
  const srv = serve(async (req) => {
    const b = new Uint8Array(await req.arrayBuffer());
    got.push({
      length: b.length,
      te: req.headers.get("transfer-encoding"),
      cl: req.headers.get("content-length"),
    });
    return new Response(null, { status: 201 });
  });
  const t = fetchTransport();
  const stream = () =>
    new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new Uint8Array(70000));
        c.enqueue(new Uint8Array(30000));
        c.close();
      },
    });
  try {
    const url = new URL("/up", srv.url);
    let res = await t.send({ method: "PUT", url, headers: new Headers(), body: stream() });
    strictEqual(res.status, 201);
    res = await t.send({
      method: "PUT",
      url,
      headers: new Headers({ "content-length": "100000" }),
      body: stream(),
    });
    strictEqual(res.status, 201);
    res = await t.send({ method: "PUT", url, headers: new Headers(), body: new Uint8Array(5) });
    deepStrictEqual(got, [
      { length: 100000, te: "chunked", cl: null },
      { length: 100000, te: null, cl: "100000" },
      { length: 5, te: null, cl: "5" },
    ]);
  } finally {
    t.close();
    await srv.close();
  }
});

Deno.test("fetchTransport: refused, cut-short and aborted requests are typed", async () => {
  const tcp = listenTcp(async (conn, i) => {
    await readRequestHead(conn);
    if (i === 0) {
      await writeAll(conn, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc");
    } else await new Promise((r) => setTimeout(r, 2000));
  });
  const t = fetchTransport();
  try {
    const res = await t.send(get(`http://127.0.0.1:${tcp.port}/short`));
    await rejects(text(res.body), (e) => e instanceof NetworkError && e.kind === "reset");
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    await rejects(t.send(get(`http://127.0.0.1:${tcp.port}/hang`), ac.signal), AbortedError);
    const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (closed.addr as Deno.NetAddr).port;
    closed.close();
    await rejects(
      t.send(get(`http://127.0.0.1:${port}/`)),
      (e) => e instanceof NetworkError && e.kind === "connect" && /refused/i.test(e.message),
    );
  } finally {
    t.close();
    tcp.close();
  }
});

Deno.test("fetchTransport: trusts the CA of certDir, refuses unknown issuers as TLS errors", async () => {
  const pki = await testPki();
  const srv = serve(() => new Response("secret"), {
    cert: pki.server.certPem,
    key: pki.server.keyPem,
  });
  const plain = fetchTransport();
  const trusting = fetchTransport({ certDir: pki.caOnlyDir });
  try {
    await rejects(
      plain.send(get(srv.url)),
      (e) =>
        e instanceof NetworkError && e.kind === "tls" && /UnknownIssuer/.test(e.message) &&
        /--cert-dir/.test(e.message),
    );
    for (const host of ["127.0.0.1", "localhost"]) {
      const res = await trusting.send(get(`https://${host}:${srv.port}/`));
      strictEqual(await text(res.body), "secret");
    }
    // The node path for sized streams trusts the same CA.
    const res = await trusting.send({
      method: "PUT",
      url: srv.url,
      headers: new Headers({ "content-length": "3" }),
      body: new Blob(["abc"]).stream(),
    });
    strictEqual(await text(res.body), "secret");
  } finally {
    plain.close();
    trusting.close();
    await srv.close();
  }
});

Deno.test("fetchTransport: refuses verify=false (fetch cannot skip verification)", () => {
  try {
    fetchTransport({ verify: false });
    ok(false, "should throw");
  } catch (e) {
    ok(e instanceof UnsupportedError);
  }
});

Deno.test("fetchTransport: presents the client certificate of certDir (mutual TLS)", async () => {
  const pki = await testPki();
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  // openssl's test server insists on a client certificate signed by the CA.
  const server = new Deno.Command("openssl", {
    args: [
      "s_server",
      "-accept",
      `127.0.0.1:${port}`,
      "-cert",
      pki.server.certPath,
      "-key",
      pki.server.keyPath,
      "-CAfile",
      pki.ca.certPath,
      "-Verify",
      "1",
      "-verify_return_error",
      "-www",
      "-quiet",
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const withClient = fetchTransport({ certDir: pki.certDir });
  const caOnly = fetchTransport({ certDir: pki.caOnlyDir });
  try {
    const url = new URL(`https://127.0.0.1:${port}/`);
    for (let i = 0; i < 50; i++) {
      try {
        const c = await Deno.connect({ hostname: "127.0.0.1", port });
        c.close();
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    const res = await withClient.send(get(url));
    strictEqual(res.status, 200);
    ok(/client certificate/i.test(await text(res.body)));
    await rejects(
      caOnly.send(get(url)),
      (e) => e instanceof NetworkError && e.kind === "tls" && /NAME\.cert/.test(e.message),
    );
  } finally {
    withClient.close();
    caOnly.close();
    server.kill();
    await server.status;
  }
});
