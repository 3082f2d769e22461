import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { UsageError } from "../../errors.ts";
import { defaultConfig, serverConfigFromJson } from "../config.ts";
import { applyProxyFlags, buildProxyHooks, PROXY_FLAG_HELP, PROXY_FLAGS } from "./plugin.ts";
import { MemoryStore } from "./proxy_test_util.ts";

Deno.test("applyProxyFlags: --proxy entries replace the file's of the same NAME; ttl applies to all", () => {
  const config = serverConfigFromJson({
    proxy: [
      { name: "docker.io", upstream: "https://mirror.example" },
      { name: "ghcr.io", upstream: "https://ghcr.io", username: "u", password: "p" },
    ],
  }, "/r");
  applyProxyFlags({
    proxy: ["docker.io=https://registry-1.docker.io", "quay.io=quay.io"],
    "proxy-tag-ttl": "30s",
  }, config);
  deepStrictEqual(config.proxy, [
    { name: "ghcr.io", upstream: "https://ghcr.io", username: "u", password: "p", tagTtl: "30s" },
    { name: "docker.io", upstream: "https://registry-1.docker.io", tagTtl: "30s" },
    { name: "quay.io", upstream: "quay.io", tagTtl: "30s" },
  ]);
});

Deno.test("applyProxyFlags: nothing given leaves the config alone; bad values are usage errors", () => {
  const config = defaultConfig("/r");
  applyProxyFlags({}, config);
  strictEqual(config.proxy, undefined);
  throws(() => applyProxyFlags({ proxy: ["docker.io"] }, config), UsageError);
  throws(() => applyProxyFlags({ proxy: ["a=ftp://x"] }, config), UsageError);
  throws(
    () => applyProxyFlags({ proxy: ["a=https://x"], "proxy-tag-ttl": "soon" }, config),
    UsageError,
  );
  throws(() => applyProxyFlags({ "proxy-tag-ttl": "1m" }, config), /need at least one --proxy/);
  throws(
    () =>
      applyProxyFlags(
        { proxy: ["a=https://x"] },
        serverConfigFromJson({ proxy: [{ name: "B", upstream: "x" }] }),
      ),
    /config: proxy\[0\]/,
  );
});

Deno.test("PROXY_FLAGS and their help", () => {
  deepStrictEqual(Object.keys(PROXY_FLAGS), ["proxy", "proxy-tag-ttl", "proxy-authfile"]);
  for (const flag of Object.keys(PROXY_FLAGS)) ok(PROXY_FLAG_HELP.includes(`--${flag} `), flag);
  for (const line of PROXY_FLAG_HELP.trimEnd().split("\n")) ok(line.startsWith("  "), line);
});

Deno.test("buildProxyHooks: a fallback for the configured names only; none without upstreams", async () => {
  deepStrictEqual(await buildProxyHooks(defaultConfig("/r"), new MemoryStore()), {});
  const config = defaultConfig("/r");
  applyProxyFlags({ proxy: ["docker.io=https://registry-1.docker.io"] }, config);
  const hooks = await buildProxyHooks(config, new MemoryStore(), () => {});
  ok(hooks.fallback?.handles("docker.io/busybox"));
  ok(!hooks.fallback?.handles("mine/app"));
  await hooks.close?.();
});
