import { strictEqual } from "node:assert/strict";
import { proxyConfigured } from "./default_transport.ts";

Deno.test("proxyConfigured: the proxy variables in either case, empty ones ignored", () => {
  const env = (vars: Record<string, string>) => (n: string) => vars[n];
  strictEqual(proxyConfigured(env({})), false);
  strictEqual(proxyConfigured(env({ HTTPS_PROXY: "" })), false);
  strictEqual(proxyConfigured(env({ https_proxy: "http://proxy:3128" })), true);
  strictEqual(proxyConfigured(env({ ALL_PROXY: "socks5://p" })), true);
  strictEqual(proxyConfigured(env({ NO_PROXY: "*" })), false);
});
