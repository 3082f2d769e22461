import { rejects, strictEqual } from "node:assert/strict";
import { AbortedError, NetworkError } from "../errors.ts";
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
import { h1Transport } from "./h1_transport.ts";
import type { HttpRequest } from "./types.ts";

/** A raw server answering each request of each connection with `answer(head, index)`. */
function rawServer(answer: (head: string, conn: number, req: number) => string | null) {
  return listenTcp(async (conn, index) => {
    try {
      for (let req = 0;; req++) {
        const head = await readRequestHead(conn);
        if (!head) return;
        const reply = answer(head, index, req);
        if (reply === null) return conn.close();
        await writeAll(conn, reply);
      }
    } catch { /* the client went away */ }
  });
}

Deno.test("h1Transport: streams a body, leaves redirects, keeps connections alive", async () => {
  const conns = new Set<string>();
  const srv = pieceServer(100_000, (_req, port) => conns.add(`${port}`));
  const t = h1Transport();
  try {
    for (let i = 0; i < 3; i++) {
      const res = await t.send(getRequest(new URL("/blob", srv.url)));
      strictEqual(res.status, 200);
      strictEqual(res.headers.get("x-a"), "1");
      const bytes = new Uint8Array(await new Response(res.body).arrayBuffer());
      strictEqual(bytes.length, 400_000);
      strictEqual(bytes[399_999], 68);
    }
    const moved = await t.send(getRequest(new URL("/moved", srv.url)));
    strictEqual(moved.status, 307);
    strictEqual(moved.headers.get("location"), "https://elsewhere/x");
    await moved.body?.cancel();
    strictEqual(conns.size, 1, "one connection for all four requests");
  } finally {
    t.close();
    await srv.close();
  }
});

Deno.test("h1Transport: request bodies: bytes with their length, streams sized or chunked", async () => {
  const { server: srv, got } = framingRecorder();
  const t = h1Transport();
  const stream = (n: number) => new Blob([new Uint8Array(n).fill(7)]).stream();
  try {
    const sends: HttpRequest[] = [
      { method: "PUT", url: srv.url, headers: new Headers(), body: new Uint8Array(10) },
      { method: "PUT", url: srv.url, headers: new Headers(), body: new Uint8Array(300_000) },
      {
        method: "PATCH",
        url: srv.url,
        headers: new Headers({ "content-length": "200000" }),
        body: stream(200_000),
      },
      { method: "PATCH", url: srv.url, headers: new Headers(), body: stream(150_000) },
      { method: "POST", url: srv.url, headers: new Headers() },
    ];
    for (const r of sends) {
      const res = await t.send(r);
      strictEqual(res.status, 201);
      await res.body?.cancel();
    }
    strictEqual(
      JSON.stringify(got),
      JSON.stringify([
        { length: 10, te: null, cl: "10" },
        { length: 300_000, te: null, cl: "300000" },
        { length: 200_000, te: null, cl: "200000" },
        { length: 150_000, te: "chunked", cl: null },
        { length: 0, te: null, cl: "0" },
      ]),
    );
    // A stream shorter than its Content-Length is refused, not left hanging.
    await rejects(
      t.send({
        method: "PATCH",
        url: srv.url,
        headers: new Headers({ "content-length": "10" }),
        body: stream(4),
      }),
      (e) => e instanceof NetworkError && /4 of its 10 bytes/.test(e.message),
    );
  } finally {
    t.close();
    await srv.close();
  }
});

Deno.test("h1Transport: chunked and close-delimited answers, HEAD, 204 and 100 Continue", async () => {
  const tcp = rawServer((head) => {
    const path = head.split(" ")[1];
    if (path === "/chunked") {
      return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
        "3\r\nabc\r\n4;x=y\r\ndefg\r\n0\r\nX-Trailer: 1\r\n\r\n";
    }
    if (path === "/head") return "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";
    if (path === "/none") return "HTTP/1.1 204 No Content\r\n\r\n";
    if (path === "/continue") {
      return "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    }
    return "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end";
  });
  // The close-delimited answer: the server closes after writing (next read sees EOF).
  const t = h1Transport();
  const url = (p: string) => `http://127.0.0.1:${tcp.port}${p}`;
  try {
    strictEqual(await bodyText((await t.send(getRequest(url("/chunked")))).body), "abcdefg");
    const head = await t.send({
      method: "HEAD",
      url: new URL(url("/head")),
      headers: new Headers(),
    });
    strictEqual(head.headers.get("content-length"), "1000");
    strictEqual(head.body, null);
    strictEqual((await t.send(getRequest(url("/none")))).body, null);
    strictEqual(await bodyText((await t.send(getRequest(url("/continue")))).body), "ok");
  } finally {
    t.close();
    tcp.close();
  }
  const closing = listenTcp(async (conn) => {
    await readRequestHead(conn);
    await writeAll(conn, "HTTP/1.1 200 OK\r\n\r\nuntil the end");
    conn.close();
  });
  const t2 = h1Transport();
  try {
    const res = await t2.send(getRequest(`http://127.0.0.1:${closing.port}/`));
    strictEqual(await bodyText(res.body), "until the end");
  } finally {
    t2.close();
    closing.close();
  }
});

Deno.test("h1Transport: a kept-alive connection the server closed is replaced once for a GET", async () => {
  let connections = 0;
  const tcp = listenTcp(async (conn) => {
    connections++;
    await readRequestHead(conn);
    await writeAll(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi");
    // Keep-alive promised, but the server drops the connection after one answer.
    conn.close();
  });
  const t = h1Transport();
  try {
    for (let i = 0; i < 3; i++) {
      const res = await t.send(getRequest(`http://127.0.0.1:${tcp.port}/`));
      strictEqual(await bodyText(res.body), "hi");
      await new Promise((r) => setTimeout(r, 20));
    }
    strictEqual(connections, 3);
    // A POST is not sent twice: on the stale connection it fails, and no new one is opened.
    await rejects(
      t.send({
        method: "POST",
        url: new URL(`http://127.0.0.1:${tcp.port}/`),
        headers: new Headers(),
      }),
      (e) => e instanceof NetworkError && e.kind === "reset",
    );
    strictEqual(connections, 3);
  } finally {
    t.close();
    tcp.close();
  }
});

Deno.test("h1Transport: an answer that comes before the upload is sent is returned", async () => {
  const tcp = listenTcp(async (conn) => {
    await readRequestHead(conn);
    await writeAll(
      conn,
      "HTTP/1.1 401 Unauthorized\r\nContent-Length: 4\r\nConnection: close\r\n\r\ndeny",
    );
    conn.close();
  });
  const t = h1Transport();
  try {
    const big = new Blob([new Uint8Array(32 << 20)]).stream();
    const res = await t.send({
      method: "PATCH",
      url: new URL(`http://127.0.0.1:${tcp.port}/upload`),
      headers: new Headers({ "content-length": String(32 << 20) }),
      body: big,
    });
    strictEqual(res.status, 401);
    strictEqual(await bodyText(res.body), "deny");
  } finally {
    t.close();
    tcp.close();
  }
});

Deno.test("h1Transport: refused, cut-short, malformed and aborted requests are typed", async () => {
  const tcp = listenTcp(async (conn, i) => {
    await readRequestHead(conn);
    if (i === 0) await writeAll(conn, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc");
    else if (i === 1) await writeAll(conn, "SSH-2.0-OpenSSH_9.2\r\n\r\n");
    else if (i === 2) {
      await writeAll(
        conn,
        "HTTP/1.1 200 OK\r\nContent-Length: 10000000\r\n\r\n" + "x".repeat(1000),
      );
      await new Promise((r) => setTimeout(r, 2000));
    } else await new Promise((r) => setTimeout(r, 2000));
    conn.close();
  });
  const t = h1Transport();
  try {
    const res = await t.send(getRequest(`http://127.0.0.1:${tcp.port}/short`));
    await rejects(
      bodyText(res.body),
      (e) => e instanceof NetworkError && e.kind === "reset" && /97 of 100/.test(e.message),
    );
    await rejects(
      t.send(getRequest(`http://127.0.0.1:${tcp.port}/ssh`)),
      (e) => e instanceof NetworkError && /not an HTTP\/1\.x status line/.test(e.message),
    );
    const mid = new AbortController();
    const slow = await t.send(getRequest(`http://127.0.0.1:${tcp.port}/slow`), mid.signal);
    setTimeout(() => mid.abort(), 50);
    await rejects(bodyText(slow.body), AbortedError);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    await rejects(t.send(getRequest(`http://127.0.0.1:${tcp.port}/hang`), ac.signal), AbortedError);
    await assertRefusedIsTyped(t);
  } finally {
    t.close();
    tcp.close();
  }
});
