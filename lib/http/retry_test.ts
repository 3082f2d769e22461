import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { AbortedError, NetworkError } from "../errors.ts";
import { listenTcp, readRequestHead, serve, writeAll } from "./http_test_util.ts";
import { fetchTransport } from "./fetch_transport.ts";
import {
  backoffDelay,
  isRetryableError,
  isRetryableStatus,
  parseRetryAfter,
  retryDelay,
  sleep,
  withRetry,
} from "./retry.ts";

Deno.test("isRetryableStatus: 429 and 5xx except 501", () => {
  const yes = [429, 500, 502, 503, 504, 599];
  const no = [200, 201, 301, 400, 401, 403, 404, 416, 501];
  deepStrictEqual(yes.map(isRetryableStatus), yes.map(() => true));
  deepStrictEqual(no.map(isRetryableStatus), no.map(() => false));
});

Deno.test("isRetryableError: connection trouble yes, TLS and aborts no", () => {
  ok(isRetryableError(new NetworkError("connect", "u", "x")));
  ok(isRetryableError(new NetworkError("reset", "u", "x")));
  ok(isRetryableError(new NetworkError("timeout", "u", "x")));
  ok(isRetryableError(new NetworkError("dns", "u", "x", { temporary: true })));
  ok(!isRetryableError(new NetworkError("dns", "u", "x")));
  ok(!isRetryableError(new NetworkError("tls", "u", "x")));
  ok(!isRetryableError(new AbortedError()));
  ok(!isRetryableError(new Error("x")));
});

Deno.test("parseRetryAfter: seconds, HTTP dates, junk", () => {
  const now = Date.parse("Wed, 21 Oct 2015 07:28:00 GMT");
  strictEqual(parseRetryAfter("120", now), 120_000);
  strictEqual(parseRetryAfter(" 0 ", now), 0);
  strictEqual(parseRetryAfter("Wed, 21 Oct 2015 07:28:30 GMT", now), 30_000);
  strictEqual(parseRetryAfter("Wednesday, 21-Oct-15 07:28:05 GMT", now), 5_000);
  strictEqual(parseRetryAfter("Wed, 21 Oct 2015 07:00:00 GMT", now), 0);
  strictEqual(parseRetryAfter("-5", now), undefined);
  strictEqual(parseRetryAfter("soon", now), undefined);
  strictEqual(parseRetryAfter("1.5", now), undefined);
  strictEqual(parseRetryAfter(null, now), undefined);
});

Deno.test("backoffDelay: doubles, keeps at least half, is capped", () => {
  const opts = { baseDelayMs: 100, maxDelayMs: 1000 };
  deepStrictEqual([1, 2, 3, 4, 5, 9].map((n) => backoffDelay(n, opts, () => 0)), [
    50,
    100,
    200,
    400,
    500,
    500,
  ]);
  deepStrictEqual([1, 2, 3, 4, 5].map((n) => backoffDelay(n, opts, () => 1)), [
    100,
    200,
    400,
    800,
    1000,
  ]);
});

Deno.test("retryDelay: Retry-After wins, capped at maxDelayMs", () => {
  const opts = { baseDelayMs: 100, maxDelayMs: 5000 };
  strictEqual(retryDelay(1, opts, new Headers({ "retry-after": "2" })), 2000);
  strictEqual(retryDelay(1, opts, new Headers({ "retry-after": "3600" })), 5000);
  strictEqual(retryDelay(3, opts, new Headers(), 0, () => 0), 200);
});

Deno.test("sleep: stops early on abort", async () => {
  const ac = new AbortController();
  const t0 = performance.now();
  setTimeout(() => ac.abort(), 20);
  await rejects(sleep(5000, ac.signal), AbortedError);
  ok(performance.now() - t0 < 1000);
});

Deno.test("withRetry: 500 then 200 against a real server; 501 and 404 are final", async () => {
  let calls = 0;
  const srv = serve((req) => {
    const path = new URL(req.url).pathname;
    if (path === "/flaky") return new Response("x", { status: calls++ === 0 ? 500 : 200 });
    return new Response("no", { status: path === "/501" ? 501 : 404 });
  });
  const t = fetchTransport();
  const events: number[] = [];
  const opts = { baseDelayMs: 1, onRetry: (e: { attempt: number }) => events.push(e.attempt) };
  const send = (path: string) => () =>
    t.send({ method: "GET", url: new URL(path, srv.url), headers: new Headers() });
  try {
    const ok1 = await withRetry(send("/flaky"), opts);
    strictEqual(ok1.status, 200);
    await ok1.body?.cancel();
    strictEqual(calls, 2);
    deepStrictEqual(events, [1]);
    for (const path of ["/501", "/404"]) {
      const r = await withRetry(send(path), opts);
      strictEqual(await new Response(r.body).text(), "no");
    }
    deepStrictEqual(events, [1]);
  } finally {
    t.close();
    await srv.close();
  }
});

Deno.test("withRetry: honours Retry-After on 429, gives up after the attempts", async () => {
  let calls = 0;
  const srv = serve((req) => {
    calls++;
    if (new URL(req.url).pathname === "/always") {
      return new Response("no", { status: 429, headers: { "retry-after": "3600" } });
    }
    return calls === 1
      ? new Response("slow down", { status: 429, headers: { "retry-after": "1" } })
      : new Response("ok");
  });
  const t = fetchTransport();
  try {
    const t0 = performance.now();
    const res = await withRetry(
      () => t.send({ method: "GET", url: srv.url, headers: new Headers() }),
      { baseDelayMs: 1 },
    );
    const waited = performance.now() - t0;
    strictEqual(await new Response(res.body).text(), "ok");
    ok(waited >= 900 && waited < 5000, `waited ${waited} ms`);
    // Always 429 with a huge Retry-After: capped delay, three attempts, the last answer back.
    calls = 0;
    const t1 = performance.now();
    const capped = await withRetry(
      () => t.send({ method: "GET", url: new URL("/always", srv.url), headers: new Headers() }),
      { attempts: 3, maxDelayMs: 20 },
    );
    strictEqual(capped.status, 429);
    await capped.body?.cancel();
    strictEqual(calls, 3);
    ok(performance.now() - t1 < 2000);
  } finally {
    t.close();
    await srv.close();
  }
});

Deno.test("withRetry: a dropped connection is tried again", async () => {
  const tcp = listenTcp(async (conn, i) => {
    await readRequestHead(conn);
    if (i === 0) return; // closed without a word
    await writeAll(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
  });
  const t = fetchTransport();
  let calls = 0;
  try {
    const res = await withRetry(() => {
      calls++;
      return t.send({
        method: "GET",
        url: new URL(`http://127.0.0.1:${tcp.port}/`),
        headers: new Headers(),
      });
    }, { baseDelayMs: 1 });
    strictEqual(await new Response(res.body).text(), "ok");
    strictEqual(calls, 2);
  } finally {
    t.close();
    tcp.close();
  }
});
