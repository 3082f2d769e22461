import { ok, strictEqual } from "node:assert/strict";
import { RegistryError } from "../errors.ts";
import { registryErrorFrom } from "./response_error.ts";
import { hasUnsafeText } from "../report/safe_text.ts";

function answer(status: number, body: string) {
  return {
    status,
    headers: new Headers(),
    body: new Blob([body]).stream(),
    url: new URL("http://r/"),
  };
}

Deno.test("registryErrorFrom: the spec's error JSON becomes one line", async () => {
  const e = await registryErrorFrom(
    "r",
    "GET",
    "/v2/x/manifests/y",
    answer(404, '{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}'),
  );
  ok(e instanceof RegistryError);
  strictEqual(
    e.message,
    "registry r: GET /v2/x/manifests/y: 404 MANIFEST_UNKNOWN: manifest unknown",
  );
  strictEqual(e.registryCode, "MANIFEST_UNKNOWN");
});

Deno.test("registryErrorFrom: escape sequences a registry sends are quoted, not passed on", async () => {
  const json = JSON.stringify({
    errors: [
      { code: "DENIED\x1b[0m", message: "\x1b[2J\x1b[Hpwned\r\nerror: fake second line" },
      { code: "UNKNOWN", message: "harmless, but \u202eright-to-left\u202c and \x9bCSI" },
    ],
  });
  const e = await registryErrorFrom("r", "GET", "/v2/x/manifests/y", answer(403, json));
  strictEqual(
    e.message,
    'registry r: GET /v2/x/manifests/y: 403 "DENIED\\x1b[0m": ' +
      '"\\x1b[2J\\x1b[Hpwned\\r\\nerror: fake second line"; ' +
      'UNKNOWN: "harmless, but \\u202eright-to-left\\u202c and \\x9bCSI"',
  );
  ok(!hasUnsafeText(e.message));
  // A body that is not the spec's JSON: its first line, quoted the same way.
  const text = await registryErrorFrom(
    "r",
    "GET",
    "/v2/",
    answer(502, "bad gateway\r\x1b[1A\x1b[2Kerror: all fine\nsecond line"),
  );
  strictEqual(
    text.message,
    'registry r: GET /v2/: 502 Bad Gateway: "bad gateway\\r\\x1b[1A\\x1b[2Kerror: all fine"',
  );
});
