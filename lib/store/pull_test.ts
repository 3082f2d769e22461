import assert from "node:assert/strict";
import { NotFoundError } from "../errors.ts";
import { hostPlatform, type Platform } from "../image/platform.ts";
import type { NameResolution } from "../image/short_names.ts";
import { quietReporter } from "../report/reporter.ts";
import { LAYER_A, makeLayout } from "../transport/archive_test_util.ts";
import { copyImage } from "../transport/copy.ts";
import { openSource } from "../transport/open.ts";
import { StoreDestination } from "../transport/store.ts";
import { ensureImage } from "./pull.ts";

// A registry nobody listens on: a pull attempt fails at once, without the network.
const NAME = "127.0.0.1:1/x:latest";
const LOCAL: NameResolution = { registries: ["127.0.0.1:1"], mirrors: {} };

async function withStoredImage(fn: (store: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "ocibox-pull-test-" });
  try {
    const img = await makeLayout(`${dir}/layout`, [LAYER_A]);
    const src = await openSource(img.location);
    const store = `${dir}/store`;
    try {
      const dst = await StoreDestination.open(`store:${NAME}`, store, [NAME]);
      try {
        await copyImage(src, dst, { reporter: quietReporter(() => {}) });
      } finally {
        await dst.close();
      }
    } finally {
      await src.close();
    }
    await fn(store);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function otherPlatform(): Platform {
  const host = hostPlatform();
  return { os: "linux", architecture: host.architecture === "arm64" ? "amd64" : "arm64" };
}

Deno.test("ensureImage: a stored image of the platform asked for is used", async () => {
  await withStoredImage(async (store) => {
    const found = await ensureImage(store, NAME, "never", {
      platform: hostPlatform(),
      resolution: LOCAL,
    });
    assert.equal(found.name, NAME);
  });
});

Deno.test("ensureImage: a stored image of another platform is missing (never: an error)", async () => {
  await withStoredImage(async (store) => {
    const want = otherPlatform();
    await assert.rejects(
      ensureImage(store, NAME, "never", { platform: want, resolution: LOCAL }),
      (e: unknown) =>
        e instanceof NotFoundError &&
        e.message.includes(`not linux/${want.architecture}`) && !e.message.includes("\n"),
    );
    // missing: pulled (here the registry is unreachable, so the pull fails, not the lookup).
    await assert.rejects(
      ensureImage(store, NAME, "missing", { platform: want, resolution: LOCAL }),
      (e: unknown) => e instanceof Error && e.message.includes("127.0.0.1:1"),
    );
    // No platform asked: whatever is stored.
    assert.equal((await ensureImage(store, NAME, "never", { resolution: LOCAL })).name, NAME);
  });
});
