/**
 * `ocibox serve --gc-interval 1s --gc-min-age 5s` while skopeo keeps pushing new images (new
 * layers every time) into several repositories at once and deletes older ones: every push
 * succeeds, every image still tagged afterwards pulls completely with the digests it was pushed
 * with, and the deleted images' own blobs are gone once older than the grace period.
 * @module
 */
import assert from "node:assert/strict";
import { buildTar, writeImage, type WrittenImage } from "./support/images.ts";
import { startServe } from "./support/ocibox_serve.ts";
import { peerTest, runPeer } from "./support/peers.ts";

const PLAIN = ["--src-tls-verify=false", "--dest-tls-verify=false"];

async function skopeo(args: string[]): Promise<string> {
  const r = await runPeer("skopeo", ["--insecure-policy", ...args], { timeoutSeconds: 180 });
  assert.equal(r.code, 0, `skopeo ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** An image of two layers unique to `seed`. */
async function image(dir: string, seed: string): Promise<WrittenImage> {
  const layers = [0, 1].map((i) => {
    const data = new Uint8Array(150_000);
    crypto.getRandomValues(data.subarray(0, 65536));
    data.set(new TextEncoder().encode(`${seed}-${i}`), 70_000);
    return {
      tar: buildTar([{ name: `f${i}`, type: "file" as const, data }]),
      compression: "gzip" as const,
    };
  });
  return await writeImage(`${dir}/${seed}`, "t", { layers });
}

function blobExists(root: string, digest: string): boolean {
  try {
    Deno.statSync(`${root}/blobs/sha256/${digest.slice(7)}`);
    return true;
  } catch {
    return false;
  }
}

peerTest(
  "serve --gc-interval during pushes and deletes: tagged images stay whole, deleted ones go",
  { peers: ["skopeo"] },
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "ocibox-gc-e2e-" });
    const root = `${dir}/root`;
    const serve = await startServe([
      "--root",
      root,
      "--gc-interval",
      "1s",
      "--gc-min-age",
      "5s",
    ]);
    try {
      const repos = ["gc/a", "gc/b", "gc/c"];
      const rounds = 4;
      const kept: Array<{ ref: string; img: WrittenImage }> = [];
      const deleted: WrittenImage[] = [];
      await Promise.all(repos.map(async (repo) => {
        const pushed: WrittenImage[] = [];
        for (let k = 0; k < rounds; k++) {
          const img = await image(dir, `${repo.replace("/", "-")}-${k}`);
          await skopeo(["copy", ...PLAIN, img.ref, `docker://${serve.host}/${repo}:r${k}`]);
          pushed.push(img);
          if (k >= 2) {
            // Deleted by digest (skopeo delete): the manifest and its blobs lose every root.
            await skopeo([
              "delete",
              "--tls-verify=false",
              `docker://${serve.host}/${repo}:r${k - 2}`,
            ]);
            deleted.push(pushed[k - 2]);
          }
          // Let gc run between rounds.
          await new Promise((r) => setTimeout(r, 700));
        }
        for (let k = rounds - 2; k < rounds; k++) {
          kept.push({ ref: `${serve.host}/${repo}:r${k}`, img: pushed[k] });
        }
      }));
      assert.match(serve.stderr(), /gc removed/);

      // The deleted images' own blobs go once older than the grace period.
      const gone = (img: WrittenImage) =>
        [img.configDigest, ...img.layerDigests].every((d) => !blobExists(root, d));
      const deadline = Date.now() + 30_000;
      while (!deleted.every(gone) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 500));
      }
      assert.ok(deleted.every(gone), "blobs of deleted images are still there after 30 s");
      assert.ok(/gc removed [1-9]/.test(serve.stderr()), serve.stderr().slice(-3000));

      // Everything still tagged pulls whole (skopeo checks every blob's digest).
      for (const [i, { ref, img }] of kept.entries()) {
        await skopeo(["copy", ...PLAIN, `docker://${ref}`, `oci:${dir}/pulled${i}:t`]);
        const index = JSON.parse(await Deno.readTextFile(`${dir}/pulled${i}/index.json`));
        assert.equal(index.manifests[0].digest, img.manifestDigest, ref);
        for (const d of [img.configDigest, ...img.layerDigests]) {
          assert.ok(blobExists(root, d), `${ref}: ${d} missing`);
        }
      }
      assert.doesNotMatch(serve.stderr(), /legacy behavior/);
    } catch (e) {
      console.error(
        serve.stderr().split("\n").filter((l) => !/status=2/.test(l)).slice(-40).join("\n"),
      );
      throw e;
    } finally {
      await serve.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
);
