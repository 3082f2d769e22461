import assert from "node:assert/strict";
import { defaultConfig } from "./config.ts";
import { applyPluginFlags, buildHooks, PLUGIN_FLAG_HELP, PLUGIN_FLAGS } from "./plugins.ts";
import type { FallbackStore } from "./hooks.ts";

interface InfoModule {
  specifier: string;
  dependencies?: { code?: { specifier: string }; isDynamic?: boolean }[];
}

/** The modules `entry` loads statically (deno info, dynamic imports not followed). */
async function staticClosure(entry: string): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as { modules: InfoModule[] };
  const byName = new Map(info.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const walk = (spec: string) => {
    if (seen.has(spec)) return;
    seen.add(spec);
    for (const d of byName.get(spec)?.dependencies ?? []) {
      if (!d.isDynamic && d.code) walk(d.code.specifier);
    }
  };
  walk(entry);
  return [...seen];
}

Deno.test("serve loads only the auth and proxy flag tables statically", async () => {
  const entry = new URL("../cli/serve.ts", import.meta.url).href;
  const loaded = await staticClosure(entry);
  const plugin = loaded.filter((s) => /\/lib\/server\/(auth|proxy)\//.test(s));
  assert.deepEqual(plugin.map((s) => s.replace(/.*\/lib\/server\//, "")).sort(), [
    "auth/flags.ts",
    "proxy/flags.ts",
  ]);
  assert.ok(!loaded.some((s) => /\/lib\/(registry|http|transport)\//.test(s)), loaded.join("\n"));
});

const noStore = {} as FallbackStore;

Deno.test("applyPluginFlags / buildHooks: nothing asked, nothing set; flags reach each plugin", async () => {
  const plain = defaultConfig("/r");
  await applyPluginFlags({ "anonymous-read": false, proxy: [] }, plain);
  assert.equal(plain.auth, undefined);
  assert.equal(plain.proxy, undefined);
  assert.deepEqual(await buildHooks(plain, noStore), {});

  const c = defaultConfig("/r");
  await applyPluginFlags({ "anonymous-read": true, proxy: ["up=https://example.test"] }, c);
  assert.deepEqual(c.auth, { anonymousRead: true });
  assert.equal(c.proxy?.[0].name, "up");
  for (const flag of Object.keys(PLUGIN_FLAGS)) {
    assert.match(PLUGIN_FLAG_HELP, new RegExp(`--${flag}`));
  }
});
