import { deepStrictEqual } from "node:assert/strict";
import { type Challenge, parseChallenges, pickChallenge } from "./challenge.ts";

const TABLE: [string, string, Challenge[]][] = [
  [
    "auth-token.md's example: a comma inside the quoted scope",
    'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",' +
    'scope="repository:samalba/my-app:pull,push"',
    [{
      scheme: "bearer",
      params: {
        realm: "https://auth.docker.io/token",
        service: "registry.docker.io",
        scope: "repository:samalba/my-app:pull,push",
      },
    }],
  ],
  [
    "distribution's htpasswd Basic challenge",
    'Basic realm="Registry Realm"',
    [{ scheme: "basic", params: { realm: "Registry Realm" } }],
  ],
  [
    "RFC 7235 section 4.1: two challenges, escapes, token values, spaces after commas",
    'Newauth realm="apps", type=1, title="Login to \\"apps\\"", Basic realm="simple"',
    [
      { scheme: "newauth", params: { realm: "apps", type: "1", title: 'Login to "apps"' } },
      { scheme: "basic", params: { realm: "simple" } },
    ],
  ],
  [
    "two header lines joined by Headers.get",
    'Basic realm="a", Bearer realm="https://t/token",service="s"',
    [
      { scheme: "basic", params: { realm: "a" } },
      { scheme: "bearer", params: { realm: "https://t/token", service: "s" } },
    ],
  ],
  [
    "insufficient_scope with several space-separated scopes",
    'Bearer realm="https://auth/token",service="reg",' +
    'scope="repository:a:pull repository:b:pull,push",error="insufficient_scope"',
    [{
      scheme: "bearer",
      params: {
        realm: "https://auth/token",
        service: "reg",
        scope: "repository:a:pull repository:b:pull,push",
        error: "insufficient_scope",
      },
    }],
  ],
  [
    "token68 then another challenge",
    'Negotiate YIIFzQYGKwYBBQUCoII==, Basic realm="x"',
    [
      { scheme: "negotiate", params: {}, token68: "YIIFzQYGKwYBBQUCoII==" },
      { scheme: "basic", params: { realm: "x" } },
    ],
  ],
  [
    "case-insensitive scheme and parameter names, spaces around =",
    'BEARER Realm = "x" , Service=y',
    [{ scheme: "bearer", params: { realm: "x", service: "y" } }],
  ],
  [
    "a bare scheme, empty list elements",
    ", Basic, , Bearer realm=x,",
    [{ scheme: "basic", params: {} }, { scheme: "bearer", params: { realm: "x" } }],
  ],
  [
    "an unterminated quoted string keeps what it has",
    'Bearer realm="https://auth/tok',
    [{ scheme: "bearer", params: { realm: "https://auth/tok" } }],
  ],
  ["nothing", "", []],
];

for (const [name, header, want] of TABLE) {
  Deno.test(`parseChallenges: ${name}`, () => {
    deepStrictEqual(parseChallenges(header), want);
  });
}

Deno.test("parseChallenges: garbage does not loop or throw", () => {
  for (const s of ['"""', "=,=,=", "Bearer ===", "\u0000\u0001", 'a="\\', "@@ Basic realm=x"]) {
    parseChallenges(s);
  }
  deepStrictEqual(parseChallenges(null), []);
});

Deno.test("pickChallenge: the first Bearer or Basic in the server's order", () => {
  const cs = parseChallenges('Negotiate abc, Basic realm="b", Bearer realm="t"');
  deepStrictEqual(pickChallenge(cs)?.scheme, "basic");
  deepStrictEqual(pickChallenge(parseChallenges("Negotiate abc")), undefined);
});
