import { strictEqual } from "node:assert/strict";
import { serve, testPki } from "../registry_test_util.ts";
import { defaultTransport, proxyConfigured } from "./default_transport.ts";

Deno.test("proxyConfigured: the proxy variables in either case, empty ones ignored", () => {
  const env = (vars: Record<string, string>) => (n: string) => vars[n];
  strictEqual(proxyConfigured(env({})), false);
  strictEqual(proxyConfigured(env({ HTTPS_PROXY: "" })), false);
  strictEqual(proxyConfigured(env({ https_proxy: "http://proxy:3128" })), true);
  strictEqual(proxyConfigured(env({ ALL_PROXY: "socks5://p" })), true);
  strictEqual(proxyConfigured(env({ NO_PROXY: "*" })), false);
});

Deno.test("defaultTransport: verify=false serves plain http and unverified https", async () => {
  const pki = await testPki();
  const plain = serve(() => new Response("plain"));
  const secure = serve(() => new Response("secure"), {
    cert: pki.server.certPem,
    key: pki.server.keyPem,
  });
  const t = defaultTransport({ verify: false }, () => undefined);
  try {
    for (const [srv, want] of [[plain, "plain"], [secure, "secure"]] as const) {
      const res = await t.send({ method: "GET", url: srv.url, headers: new Headers() });
      strictEqual(await new Response(res.body).text(), want);
    }
  } finally {
    t.close();
    await plain.close();
    await secure.close();
  }
});
