import { ok, strictEqual } from "node:assert/strict";
import { AbortedError, NetworkError } from "../errors.ts";
import { hasUnsafeText } from "../report/safe_text.ts";
import { toNetworkError } from "./network_error.ts";

function fetchError(detail: string, phase = "Connect"): Error {
  return new TypeError("fetch failed", {
    cause: new Error(
      `error sending request for url (https://r/v2/): client error (${phase}): ${detail}`,
    ),
  });
}

function nodeError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

const TABLE: [string, unknown, string, boolean?][] = [
  ["fetch refused", fetchError("tcp connect error: Connection refused (os error 111)"), "connect"],
  ["fetch unknown issuer", fetchError("invalid peer certificate: UnknownIssuer"), "tls"],
  ["fetch https to http", fetchError("received corrupt message of type InvalidContentType"), "tls"],
  [
    "fetch dns",
    fetchError("dns error: failed to lookup address information: Name or service not known"),
    "dns",
    false,
  ],
  [
    "fetch dns temporary",
    fetchError(
      "dns error: failed to lookup address information: Temporary failure in name resolution",
    ),
    "dns",
    true,
  ],
  [
    "fetch closed early",
    fetchError("connection closed before message completed", "SendRequest"),
    "reset",
  ],
  ["fetch body cut", new TypeError("error reading a body from connection"), "reset"],
  ["node refused", nodeError("connect ECONNREFUSED 127.0.0.1:9", "ECONNREFUSED"), "connect"],
  ["node reset", nodeError("socket hang up", "ECONNRESET"), "reset"],
  ["node self-signed", nodeError("self-signed certificate", "DEPTH_ZERO_SELF_SIGNED_CERT"), "tls"],
  ["node leaf", nodeError("unable to verify", "UNABLE_TO_VERIFY_LEAF_SIGNATURE"), "tls"],
  ["node ssl", nodeError("wrong version number", "ERR_SSL_WRONG_VERSION_NUMBER"), "tls"],
  ["node dns", nodeError("getaddrinfo ENOTFOUND x", "ENOTFOUND"), "dns", false],
  ["node dns again", nodeError("getaddrinfo EAI_AGAIN x", "EAI_AGAIN"), "dns", true],
];

for (const [name, error, kind, temporary] of TABLE) {
  Deno.test(`toNetworkError: ${name} is ${kind}`, () => {
    const e = toNetworkError(error, "https://r/v2/");
    ok(e instanceof NetworkError);
    strictEqual(e.kind, kind);
    if (temporary !== undefined) strictEqual(e.temporary, temporary);
    ok(e.message.startsWith("https://r/v2/: "));
    ok(!e.message.includes("error sending request"), e.message);
  });
}

Deno.test("toNetworkError: aborts stay aborts, typed errors pass through", () => {
  ok(toNetworkError(new DOMException("x", "AbortError"), "u") instanceof AbortedError);
  const typed = new AbortedError("interrupted");
  strictEqual(toNetworkError(typed, "u"), typed);
});

Deno.test("toNetworkError: text from the peer in the detail is quoted with escapes", () => {
  const e = toNetworkError(
    fetchError('invalid peer certificate: NotValidForName("\x1b[2J\u202eevil")', "Connect"),
    "https://r/v2/",
  );
  ok(e instanceof NetworkError);
  strictEqual(e.kind, "tls");
  ok(e.message.includes('"invalid peer certificate: NotValidForName(\\"\\x1b[2J\\u202eevil\\")"'));
  ok(!hasUnsafeText(e.message), e.message);
});
