import { ok, rejects, strictEqual } from "node:assert/strict";
import { AbortedError, NetworkError } from "../errors.ts";
import { listenTcp, readRequestHead, serve, writeAll } from "./http_test_util.ts";
import { insecureTransport } from "./insecure_transport.ts";
import { nodeTransport } from "./node_transport.ts";

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

Deno.test("nodeTransport: failures are typed (refused, cut short, aborted)", async () => {
  const tcp = listenTcp(async (conn, i) => {
    await readRequestHead(conn);
    if (i === 0) await writeAll(conn, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc");
    else await new Promise((r) => setTimeout(r, 2000));
  });
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
  } finally {
    t.close();
    tcp.close();
  }
});
