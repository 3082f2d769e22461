import { ok, rejects, strictEqual } from "node:assert/strict";
import { AbortedError, NetworkError } from "../../errors.ts";
import { listenTcp, readRequestHead, serve, testPki, writeAll } from "../registry_test_util.ts";
import { insecureTransport } from "./insecure_transport.ts";
import { nodeTransport } from "./node_transport.ts";

Deno.test("insecureTransport: talks to a server whose certificate nobody trusts", async () => {
  const pki = await testPki();
  const srv = serve(async (req) => {
    const body = new Uint8Array(await req.arrayBuffer());
    return new Response(
      JSON.stringify({ method: req.method, length: body.length, last: body.at(-1) ?? null }),
      { headers: { "x-one": "1", "www-authenticate": 'Bearer realm="x"' } },
    );
  }, { cert: pki.server.certPem, key: pki.server.keyPem });
  const t = insecureTransport();
  try {
    const res = await t.send({ method: "GET", url: srv.url, headers: new Headers() });
    strictEqual(res.status, 200);
    strictEqual(res.headers.get("www-authenticate"), 'Bearer realm="x"');
    strictEqual(await new Response(res.body).text(), '{"method":"GET","length":0,"last":null}');
    // A streamed upload, 3 MiB in 64 KiB pieces, with backpressure.
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent >= 3 << 20) return c.close();
        c.enqueue(new Uint8Array(65536).fill(sent / 65536 % 256));
        sent += 65536;
      },
    });
    const put = await t.send({ method: "PUT", url: srv.url, headers: new Headers(), body });
    strictEqual(
      await new Response(put.body).text(),
      JSON.stringify({ method: "PUT", length: 3 << 20, last: 47 }),
    );
    const head = await t.send({ method: "HEAD", url: srv.url, headers: new Headers() });
    strictEqual(head.body, null);
  } finally {
    t.close();
    await srv.close();
  }
});

Deno.test("insecureTransport: plain http works too, bodies stream in pieces", async () => {
  const srv = serve(() => {
    let n = 0;
    return new Response(
      new ReadableStream<Uint8Array>({
        pull(c) {
          if (n++ === 64) return c.close();
          c.enqueue(new Uint8Array(16384).fill(n));
        },
      }),
    );
  });
  const t = insecureTransport();
  try {
    const res = await t.send({ method: "GET", url: srv.url, headers: new Headers() });
    let total = 0;
    let chunks = 0;
    for await (const c of res.body!) {
      total += c.length;
      chunks++;
    }
    strictEqual(total, 64 * 16384);
    ok(chunks > 1);
  } finally {
    t.close();
    await srv.close();
  }
});

Deno.test("nodeTransport: failures are typed (refused, cut short, aborted, TLS)", async () => {
  const tcp = listenTcp(async (conn, i) => {
    await readRequestHead(conn);
    if (i === 0) await writeAll(conn, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc");
    else await new Promise((r) => setTimeout(r, 2000));
  });
  const pki = await testPki();
  const tls = serve(() => new Response("x"), { cert: pki.server.certPem, key: pki.server.keyPem });
  const t = nodeTransport();
  try {
    const res = await t.send({
      method: "GET",
      url: new URL(`http://127.0.0.1:${tcp.port}/`),
      headers: new Headers(),
    });
    await rejects(
      new Response(res.body).text(),
      (e) => e instanceof NetworkError && e.kind === "reset",
    );
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    await rejects(
      t.send(
        { method: "GET", url: new URL(`http://127.0.0.1:${tcp.port}/`), headers: new Headers() },
        ac.signal,
      ),
      AbortedError,
    );
    const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (probe.addr as Deno.NetAddr).port;
    probe.close();
    await rejects(
      t.send({ method: "GET", url: new URL(`http://127.0.0.1:${port}/`), headers: new Headers() }),
      (e) => e instanceof NetworkError && e.kind === "connect",
    );
    await rejects(
      t.send({ method: "GET", url: tls.url, headers: new Headers() }),
      (e) => e instanceof NetworkError && e.kind === "tls",
    );
  } finally {
    t.close();
    tcp.close();
    await tls.close();
  }
});
