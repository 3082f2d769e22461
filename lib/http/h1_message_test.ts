import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import {
  bodyFraming,
  ChunkedDecoder,
  encodeRequestHead,
  HttpFramingError,
  MAX_HEAD_BYTES,
  parseResponseHead,
} from "./h1_message.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

Deno.test("encodeRequestHead: request line, host first, headers, blank line", () => {
  const head = encodeRequestHead(
    "PUT",
    "/v2/a/blobs/uploads/x?digest=sha256%3Aab",
    "127.0.0.1:5000",
    new Headers({ "Content-Length": "3", Host: "ignored" }),
  );
  strictEqual(
    dec.decode(head),
    "PUT /v2/a/blobs/uploads/x?digest=sha256%3Aab HTTP/1.1\r\nhost: 127.0.0.1:5000\r\n" +
      "content-length: 3\r\n\r\n",
  );
});

Deno.test("parseResponseHead: incomplete, complete, folded and repeated headers", () => {
  strictEqual(parseResponseHead(enc.encode("HTTP/1.1 200 OK\r\nA: 1\r\n")), null);
  const raw = 'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm="x"\r\n' +
    "X-Fold: a\r\n b\r\nSet: 1\r\nSet: 2\r\nConnection: close\r\n\r\nbody";
  const h = parseResponseHead(enc.encode(raw));
  ok(h);
  strictEqual(h.status, 401);
  strictEqual(h.headers.get("www-authenticate"), 'Bearer realm="x"');
  strictEqual(h.headers.get("x-fold"), "a b");
  strictEqual(h.headers.get("set"), "1, 2");
  strictEqual(h.close, true);
  strictEqual(dec.decode(enc.encode(raw).subarray(h.length)), "body");
  strictEqual(parseResponseHead(enc.encode("HTTP/1.0 200 OK\r\n\r\n"))?.close, true);
  strictEqual(
    parseResponseHead(enc.encode("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n"))?.close,
    false,
  );
  strictEqual(parseResponseHead(enc.encode("HTTP/1.1 204\r\n\r\n"))?.status, 204);
});

Deno.test("parseResponseHead: malformed or oversized heads are framing errors", () => {
  for (
    const bad of [
      "SSH-2.0-OpenSSH\r\n\r\n",
      "HTTP/1.1 20 OK\r\n\r\n",
      "HTTP/1.1 200 OK\r\nnocolon\r\n\r\n",
    ]
  ) {
    throws(() => parseResponseHead(enc.encode(bad)), HttpFramingError, bad);
  }
  const huge = enc.encode("HTTP/1.1 200 OK\r\nX: " + "a".repeat(MAX_HEAD_BYTES) + "\r\n");
  throws(() => parseResponseHead(huge), HttpFramingError);
});

Deno.test("bodyFraming: RFC 9112 6.3 order", () => {
  const head = (s: string) => parseResponseHead(enc.encode(`HTTP/1.1 ${s}\r\n\r\n`))!;
  deepStrictEqual(bodyFraming("HEAD", head("200 OK\r\nContent-Length: 9")), { kind: "none" });
  deepStrictEqual(bodyFraming("GET", head("204 No Content")), { kind: "none" });
  deepStrictEqual(bodyFraming("GET", head("304 Not Modified")), { kind: "none" });
  deepStrictEqual(bodyFraming("GET", head("200 OK\r\nContent-Length: 9")), {
    kind: "length",
    length: 9,
  });
  deepStrictEqual(
    bodyFraming("GET", head("200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 9")),
    { kind: "chunked" },
  );
  deepStrictEqual(bodyFraming("GET", head("200 OK\r\nTransfer-Encoding: gzip")), {
    kind: "close",
  });
  deepStrictEqual(bodyFraming("GET", head("200 OK")), { kind: "close" });
  deepStrictEqual(bodyFraming("GET", head("200 OK\r\nContent-Length: 5\r\nContent-Length: 5")), {
    kind: "length",
    length: 5,
  });
  throws(() => bodyFraming("GET", head("200 OK\r\nContent-Length: 5, 6")), HttpFramingError);
  throws(() => bodyFraming("GET", head("200 OK\r\nContent-Length: -1")), HttpFramingError);
});

function decodeAll(pieces: Uint8Array[]): { body: string; rest: string; done: boolean } {
  const d = new ChunkedDecoder();
  let body = "";
  let rest = "";
  for (const p of pieces) {
    if (d.done) {
      rest += dec.decode(p);
      continue;
    }
    const out = d.push(p);
    for (const b of out.data) body += dec.decode(b);
    if (out.done) rest = dec.decode(out.rest);
  }
  return { body, rest, done: d.done };
}

Deno.test("ChunkedDecoder: every split of a body with extensions and trailers", () => {
  const wire = enc.encode(
    "5;name=val\r\nhello\r\n1\r\n \r\nB\r\nchunked wor\r\n2\r\nld\r\n0\r\nX-T: 1\r\n\r\nNEXT",
  );
  for (let a = 0; a <= wire.length; a++) {
    for (let b = a; b <= wire.length; b += 7) {
      const r = decodeAll([wire.subarray(0, a), wire.subarray(a, b), wire.subarray(b)]);
      strictEqual(r.body, "hello chunked world", `split ${a}/${b}`);
      ok(r.done);
      if (b < wire.length - 4) strictEqual(r.rest, "NEXT", `split ${a}/${b}`);
    }
  }
  // One byte at a time.
  const bytes = [...wire.subarray(0, wire.length - 4)].map((x) => new Uint8Array([x]));
  strictEqual(decodeAll(bytes).body, "hello chunked world");
});

Deno.test("ChunkedDecoder: data pieces are views of the input, not copies", () => {
  const input = enc.encode("3\r\nabc\r\n0\r\n\r\n");
  const out = new ChunkedDecoder().push(input);
  strictEqual(out.data[0].buffer, input.buffer);
  strictEqual(out.data[0].byteOffset, 3);
});

Deno.test("ChunkedDecoder: bad sizes, missing CRLF and endless lines are framing errors", () => {
  throws(() => new ChunkedDecoder().push(enc.encode("zz\r\n")), HttpFramingError);
  throws(() => new ChunkedDecoder().push(enc.encode("3\r\nabcX\r\n")), HttpFramingError);
  throws(() => new ChunkedDecoder().push(enc.encode("1".repeat(5000))), HttpFramingError);
  const d = new ChunkedDecoder();
  d.push(enc.encode("0\r\n"));
  throws(() => {
    for (let i = 0; i < 100; i++) d.push(enc.encode("X-T: " + "a".repeat(1000) + "\r\n"));
  }, HttpFramingError);
});

Deno.test("parseResponseHead: what a server sent is quoted with escapes in the error", () => {
  const latin1 = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
  const cases: [string, string][] = [
    ["\x1b[2J\x9b31mHTTP\r\n\r\n", 'not an HTTP/1.x status line: "\\x1b[2J\\x9b31mHTTP"'],
    ["HTTP/1.1 200 OK\r\n\x1b]0;x\x07\r\n\r\n", 'malformed header line "\\x1b]0;x\\x07"'],
  ];
  for (const [head, message] of cases) {
    throws(
      () => parseResponseHead(latin1(head)),
      (e) => e instanceof HttpFramingError && e.message === message,
    );
  }
  throws(
    () => new ChunkedDecoder().push(latin1("\x9bz\r\n")),
    (e) => e instanceof HttpFramingError && e.message.endsWith('bad chunk size "\\x9bz"'),
  );
});
