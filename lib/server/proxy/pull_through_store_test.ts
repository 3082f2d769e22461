// The pull-through cache on the real registry store (fs driver): what it keeps is what a push
// would have left, and wrong bytes leave nothing, not even a temporary file.
import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { openRegistryStore } from "../storage/registry_store.ts";
import { checkUpstreams } from "./proxy_settings.ts";
import { PullThroughCache } from "./pull_through.ts";
import { fakeUpstream } from "./proxy_test_util.ts";

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      const p = `${d}/${e.name}`;
      if (e.isDirectory) await walk(p);
      else if (e.isFile) out.push(p.slice(dir.length + 1));
    }
  };
  await walk(dir).catch(() => {});
  return out.sort();
}

Deno.test("PullThroughCache + registry store: a pulled image is stored as a push would be", async () => {
  const root = await Deno.makeTempDir({ prefix: "ocibox-proxy-store-" });
  const up = fakeUpstream();
  const store = await openRegistryStore(root);
  const cache = new PullThroughCache(checkUpstreams([{ name: "up", upstream: up.url }]), store, {
    upstream: { env: () => undefined, attempts: 1 },
  });
  try {
    const layer = new Uint8Array(2 << 20).map((_, i) => i % 251);
    const img = await up.push("team/app", "v1", [layer]);
    const signal = new AbortController().signal;
    const m = await cache.manifest({
      repository: "up/team/app",
      reference: "v1",
      method: "GET",
      accept: [],
      signal,
    });
    strictEqual(m?.digest, img.manifest);
    for (const d of [img.config, img.layers[0]]) {
      const b = await cache.blob({ repository: "up/team/app", digest: d, method: "GET", signal });
      await new Response(b!.body).arrayBuffer();
    }
    deepStrictEqual(await store.listTags("up/team/app"), ["v1"]);
    ok(await store.repositoryHasBlob("up/team/app", img.layers[0]));
    const read = await store.readBlob(img.layers[0]);
    deepStrictEqual(new Uint8Array(await new Response(read!.body).arrayBuffer()), layer);
    strictEqual((await store.getManifest("up/team/app", "v1"))?.digest, img.manifest);

    // Wrong bytes for a digest: the client fails, nothing of it is left anywhere.
    const bad = await up.push("team/app", "v2", [new Uint8Array(1 << 20).fill(7)]);
    up.corrupt.set(bad.layers[0], new Uint8Array(1 << 20).fill(8));
    await cache.manifest({
      repository: "up/team/app",
      reference: "v2",
      method: "GET",
      accept: [],
      signal,
    });
    const before = await filesUnder(root);
    const b = await cache.blob({
      repository: "up/team/app",
      digest: bad.layers[0],
      method: "GET",
      signal,
    });
    await rejects(() => new Response(b!.body).arrayBuffer());
    strictEqual(await store.statBlob(bad.layers[0]), undefined);
    await new Promise((r) => setTimeout(r, 50));
    deepStrictEqual(await filesUnder(root), before);
  } finally {
    cache.close();
    await up.close();
    await Deno.remove(root, { recursive: true });
  }
});
