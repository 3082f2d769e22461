import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { digestOf } from "../../digest/digester.ts";
import { RegistryError } from "../../errors.ts";
import type { ManifestLookup } from "../hooks.ts";
import { checkUpstreams } from "./proxy_settings.ts";
import { PullThroughCache, type PullThroughOptions } from "./pull_through.ts";
import { type FakeUpstream, fakeUpstream, MemoryStore } from "./proxy_test_util.ts";
import type { ProxySettings } from "../config.ts";

const enc = new TextEncoder();
const noEnv = () => undefined;

interface Fixture {
  up: FakeUpstream;
  store: MemoryStore;
  cache: PullThroughCache;
  clock: { now: number };
  logs: string[];
}

async function withCache(
  fn: (f: Fixture) => Promise<void>,
  entry: Partial<ProxySettings> = {},
  options: PullThroughOptions = {},
): Promise<void> {
  const up = fakeUpstream();
  const store = new MemoryStore();
  const clock = { now: 1_000_000 };
  const logs: string[] = [];
  const upstreams = checkUpstreams([{ name: "up", upstream: up.url, tagTtl: "1m", ...entry }]);
  const cache = new PullThroughCache(upstreams, store, {
    now: () => clock.now,
    log: (l) => logs.push(l),
    upstream: { env: noEnv, attempts: 1 },
    ...options,
  });
  try {
    await fn({ up, store, cache, clock, logs });
  } finally {
    cache.close();
    await up.close();
  }
}

function lookup(
  repository: string,
  reference: string,
  stored?: ManifestLookup["stored"],
  method: "GET" | "HEAD" = "GET",
): ManifestLookup {
  return {
    repository,
    reference,
    method,
    accept: [],
    stored,
    signal: new AbortController().signal,
  };
}

async function storedLookup(store: MemoryStore, repository: string, reference: string) {
  return lookup(repository, reference, await store.getManifest(repository, reference));
}

Deno.test("PullThroughCache: handles names under NAME/ only", async () => {
  await withCache(({ cache }) => {
    ok(cache.handles("up/app"));
    ok(!cache.handles("up"));
    ok(!cache.handles("mine/app"));
    return Promise.resolve();
  });
});

Deno.test("PullThroughCache: a tag that misses is fetched, stored (allowMissing) and served", async () => {
  await withCache(async ({ up, store, cache }) => {
    const img = await up.push("team/app", "v1", [enc.encode("layer")]);
    const served = await cache.manifest(lookup("up/team/app", "v1"));
    strictEqual(served?.digest, img.manifest);
    deepStrictEqual(served?.bytes, img.manifestBytes);
    strictEqual(store.tags.get("up/team/app:v1"), img.manifest);
    deepStrictEqual(store.manifestPuts, [
      { repository: "up/team/app", reference: "v1", allowMissing: true },
    ]);
    deepStrictEqual(up.requests, ["GET /v2/team/app/manifests/v1"]);
    // Fresh: served from the store without asking upstream.
    strictEqual(await cache.manifest(await storedLookup(store, "up/team/app", "v1")), undefined);
    strictEqual(up.requests.length, 1);
  });
});

Deno.test("PullThroughCache: a missing manifest upstream is a miss here", async () => {
  await withCache(async ({ up, cache }) => {
    strictEqual(await cache.manifest(lookup("up/nothing", "v1")), undefined);
    strictEqual(
      await cache.blob({
        repository: "up/nothing",
        digest: digestOf(enc.encode("x")),
        method: "GET",
        signal: new AbortController().signal,
      }),
      undefined,
    );
    strictEqual(up.requests.length, 2);
  });
});

Deno.test("PullThroughCache: after the TTL a tag is rechecked with a HEAD; a moved tag is fetched", async () => {
  await withCache(async ({ up, store, cache, clock }) => {
    const v1 = await up.push("app", "latest", [enc.encode("one")]);
    await cache.manifest(lookup("up/app", "latest"));
    up.requests.length = 0;
    clock.now += 59_000;
    strictEqual(await cache.manifest(await storedLookup(store, "up/app", "latest")), undefined);
    deepStrictEqual(up.requests, []);
    clock.now += 2_000;
    strictEqual(await cache.manifest(await storedLookup(store, "up/app", "latest")), undefined);
    deepStrictEqual(up.requests, ["HEAD /v2/app/manifests/latest"]);
    // Renewed: no question for another minute.
    strictEqual(await cache.manifest(await storedLookup(store, "up/app", "latest")), undefined);
    strictEqual(up.requests.length, 1);

    const v2 = await up.push("app", "latest", [enc.encode("two")]);
    clock.now += 61_000;
    up.requests.length = 0;
    const served = await cache.manifest(await storedLookup(store, "up/app", "latest"));
    strictEqual(served?.digest, v2.manifest);
    deepStrictEqual(up.requests, [
      "HEAD /v2/app/manifests/latest",
      `GET /v2/app/manifests/${v2.manifest}`,
    ]);
    strictEqual(store.tags.get("up/app:latest"), v2.manifest);
    ok(store.manifests.has(v1.manifest));
  });
});

Deno.test("PullThroughCache: digests are never rechecked; a digest miss is fetched and verified", async () => {
  await withCache(async ({ up, store, cache, clock }) => {
    const img = await up.push("app", "v1", [enc.encode("one")]);
    const served = await cache.manifest(lookup("up/app", img.manifest));
    strictEqual(served?.digest, img.manifest);
    strictEqual(store.tags.size, 0);
    clock.now += 86_400_000;
    up.requests.length = 0;
    strictEqual(await cache.manifest(await storedLookup(store, "up/app", img.manifest)), undefined);
    deepStrictEqual(up.requests, []);

    // An upstream that answers a digest with other bytes is refused, and nothing is stored.
    const other = await up.push("app", "v2", [enc.encode("two")]);
    const wrong = digestOf(enc.encode("not this"));
    up.manifests.set(wrong, up.manifests.get(other.manifest)!);
    await rejects(() => cache.manifest(lookup("up/app", wrong)), (e) => {
      ok(e instanceof RegistryError);
      strictEqual(e.status, 502);
      return true;
    });
    ok(!store.manifests.has(wrong));
  });
});

Deno.test("PullThroughCache: upstream down -> the stored copy (stale); nothing stored -> 502", async () => {
  await withCache(async ({ up, store, cache, clock, logs }) => {
    const img = await up.push("app", "v1", [enc.encode("one")]);
    await cache.manifest(lookup("up/app", "v1"));
    up.failWith = 503;
    clock.now += 120_000;
    strictEqual(await cache.manifest(await storedLookup(store, "up/app", "v1")), undefined);
    ok(logs.some((l) => l.includes("up/app:v1: serving the stored copy")), logs.join("\n"));
    strictEqual(store.tags.get("up/app:v1"), img.manifest);
    await rejects(() => cache.manifest(lookup("up/app", "v2")), (e) => {
      ok(e instanceof RegistryError);
      strictEqual(e.status, 502);
      return true;
    });
    up.failWith = 429;
    await rejects(() => cache.manifest(lookup("up/app", "v3")), (e) => {
      ok(e instanceof RegistryError);
      strictEqual(e.status, 429);
      strictEqual(e.registryCode, "TOOMANYREQUESTS");
      return true;
    });
  });
});

Deno.test("PullThroughCache: an upstream that is gone entirely still leaves the stored copy", async () => {
  await withCache(async ({ up, store, cache, clock }) => {
    await up.push("app", "v1", [enc.encode("one")]);
    await cache.manifest(lookup("up/app", "v1"));
    await up.close();
    clock.now += 120_000;
    strictEqual(await cache.manifest(await storedLookup(store, "up/app", "v1")), undefined);
    await rejects(() => cache.manifest(lookup("up/app", "v9")), (e) => {
      ok(e instanceof RegistryError);
      strictEqual(e.status, 502);
      ok(e.message.includes("unreachable"), e.message);
      return true;
    });
  });
});

Deno.test("PullThroughCache: a locally pushed tag under NAME/ stays when upstream lacks it", async () => {
  await withCache(async ({ up, store, cache }) => {
    const bytes = enc.encode(JSON.stringify({ schemaVersion: 2, layers: [] }));
    await store.putManifest("up/app", "local", bytes, "application/vnd.oci.image.manifest.v1+json");
    strictEqual(await cache.manifest(await storedLookup(store, "up/app", "local")), undefined);
    deepStrictEqual(up.requests, ["HEAD /v2/app/manifests/local"]);
    strictEqual(store.tags.get("up/app:local"), digestOf(bytes));
  });
});

Deno.test("PullThroughCache: concurrent pulls of one tag ask upstream once", async () => {
  await withCache(async ({ up, cache }) => {
    await up.push("app", "v1", [enc.encode("one")]);
    const all = await Promise.all([1, 2, 3, 4].map(() => cache.manifest(lookup("up/app", "v1"))));
    ok(all.every((m) => m?.digest === all[0]?.digest));
    deepStrictEqual(up.requests, ["GET /v2/app/manifests/v1"]);
  });
});

Deno.test("PullThroughCache: a blob streams to the client while stored; HEAD knows its size", async () => {
  await withCache(async ({ up, store, cache }) => {
    const layer = new Uint8Array(3 << 20).map((_, i) => i * 7);
    const img = await up.push("app", "v1", [layer]);
    await cache.manifest(lookup("up/app", "v1"));
    const signal = new AbortController().signal;
    const d = img.layers[0];
    deepStrictEqual(await cache.blob({ repository: "up/app", digest: d, method: "HEAD", signal }), {
      digest: d,
      size: layer.length,
    });
    up.requests.length = 0;
    const served = await cache.blob({ repository: "up/app", digest: d, method: "GET", signal });
    strictEqual(served?.size, layer.length);
    const got = new Uint8Array(await new Response(served!.body).arrayBuffer());
    deepStrictEqual(got, layer);
    // Stored by the time the client has the last byte.
    deepStrictEqual(store.blobs.get(d), layer);
    // The size came from the manifest: one GET, no HEAD.
    deepStrictEqual(up.requests, [`GET /v2/app/blobs/${d}`]);
  });
});

Deno.test("PullThroughCache: a blob without a manifest seen asks its size first", async () => {
  await withCache(async ({ up, store, cache }) => {
    const img = await up.push("app", "v1", [enc.encode("abc")]);
    const signal = new AbortController().signal;
    const served = await cache.blob({
      repository: "up/app",
      digest: img.config,
      method: "GET",
      signal,
    });
    await new Response(served!.body).arrayBuffer();
    ok(store.blobs.has(img.config));
    deepStrictEqual(up.requests, [
      `HEAD /v2/app/blobs/${img.config}`,
      `GET /v2/app/blobs/${img.config}`,
    ]);
  });
});

Deno.test("PullThroughCache: wrong bytes upstream fail the client and store nothing", async () => {
  await withCache(async ({ up, store, cache, logs }) => {
    const layer = new Uint8Array(1 << 20).fill(1);
    const img = await up.push("app", "v1", [layer]);
    await cache.manifest(lookup("up/app", "v1"));
    const d = img.layers[0];
    up.corrupt.set(d, new Uint8Array(1 << 20).fill(2));
    const served = await cache.blob({
      repository: "up/app",
      digest: d,
      method: "GET",
      signal: new AbortController().signal,
    });
    let received = 0;
    await rejects(async () => {
      for await (const c of served!.body!) received += c.length;
    });
    ok(received < layer.length, `the client got ${received} bytes`);
    ok(!store.blobs.has(d));
    ok(logs.some((l) => l.includes("not stored")), logs.join("\n"));
  });
});

Deno.test("PullThroughCache: a client that disconnects still leaves the blob stored", async () => {
  await withCache(
    async ({ up, store, cache }) => {
      const layer = new Uint8Array(8 << 20).map((_, i) => i);
      const img = await up.push("app", "v1", [layer]);
      await cache.manifest(lookup("up/app", "v1"));
      const d = img.layers[0];
      const served = await cache.blob({
        repository: "up/app",
        digest: d,
        method: "GET",
        signal: new AbortController().signal,
      });
      const reader = served!.body!.getReader();
      await reader.read();
      await reader.cancel();
      for (let i = 0; i < 100 && !store.blobs.has(d); i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      deepStrictEqual(store.blobs.get(d), layer);
    },
    {},
    { clientBufferBytes: 1 << 20 },
  );
});

Deno.test("PullThroughCache: credentials from the config; refused credentials are DENIED", async () => {
  await withCache(async ({ up, cache }) => {
    up.basic = "me:secret";
    await up.push("app", "v1", [enc.encode("one")]);
    ok(await cache.manifest(lookup("up/app", "v1")));
  }, { username: "me", password: "secret" });
  await withCache(async ({ up, cache }) => {
    up.basic = "me:secret";
    await up.push("app", "v1", [enc.encode("one")]);
    await rejects(() => cache.manifest(lookup("up/app", "v1")), (e) => {
      ok(e instanceof RegistryError);
      strictEqual(e.status, 403);
      strictEqual(e.registryCode, "DENIED");
      return true;
    });
  }, { username: "me", password: "wrong" });
});

Deno.test("PullThroughCache: NAME docker.io puts library/ in front of single names", async () => {
  await withCache(async ({ up, cache }) => {
    const img = await up.push("library/busybox", "latest", [enc.encode("bb")]);
    strictEqual(
      (await cache.manifest(lookup("docker.io/busybox", "latest")))?.digest,
      img.manifest,
    );
    deepStrictEqual(up.requests, ["GET /v2/library/busybox/manifests/latest"]);
  }, { name: "docker.io" });
});

Deno.test("PullThroughCache: a blob HEAD with the upstream down is unknown (pushes go on)", async () => {
  await withCache(async ({ up, cache, logs }) => {
    up.failWith = 503;
    const signal = new AbortController().signal;
    const digest = digestOf(enc.encode("new layer"));
    strictEqual(
      await cache.blob({ repository: "up/app", digest, method: "HEAD", signal }),
      undefined,
    );
    ok(logs.some((l) => l.includes("HEAD upstream failed")), logs.join("\n"));
    await rejects(
      () => cache.blob({ repository: "up/app", digest, method: "GET", signal }),
      (e) => {
        ok(e instanceof RegistryError);
        strictEqual(e.status, 502);
        return true;
      },
    );
  });
});
