import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { AbortedError, NetworkError, UnsupportedError } from "../errors.ts";
import {
  assertRefusedIsTyped,
  bodyText,
  framingRecorder,
  getRequest,
  listenTcp,
  pieceServer,
  readRequestHead,
  writeAll,
} from "./http_test_util.ts";
import { fetchTransport } from "./fetch_transport.ts";

Deno.test("fetchTransport: streams a response, leaves redirects, asks for identity encoding", async () => {
  const seen: Record<string, string | null> = {};
  const srv = pieceServer(1000, (req) => {
    seen[new URL(req.url).pathname] = req.headers.get("accept-encoding");
  });
  const t = fetchTransport();
  try {
    const res = await t.send(getRequest(new URL("/blob", srv.url)));
    strictEqual(res.status, 200);
    strictEqual(res.headers.get("x-a"), "1");
    const bytes = new Uint8Array(await new Response(res.body).arrayBuffer());
    strictEqual(bytes.length, 4000);
    strictEqual(bytes[3999], 68);
    strictEqual(seen["/blob"], "identity");
    const moved = await t.send(getRequest(new URL("/moved", srv.url)));
    strictEqual(moved.status, 307);
    strictEqual(moved.headers.get("location"), "https://elsewhere/x");
    await moved.body?.cancel();
    const chosen = await t.send(
      getRequest(new URL("/blob", srv.url), { "accept-encoding": "gzip" }),
    );
    await chosen.body?.cancel();
    strictEqual(seen["/blob"], "gzip");
  } finally {
    t.close();
    await srv.close();
  }
});

Deno.test("fetchTransport: stream bodies go out chunked, or with Content-Length when given", async () => {
  const { server: srv, got } = framingRecorder();
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
    const res = await t.send(getRequest(`http://127.0.0.1:${tcp.port}/short`));
    await rejects(bodyText(res.body), (e) => e instanceof NetworkError && e.kind === "reset");
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    await rejects(t.send(getRequest(`http://127.0.0.1:${tcp.port}/hang`), ac.signal), AbortedError);
    await assertRefusedIsTyped(t);
  } finally {
    t.close();
    tcp.close();
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
