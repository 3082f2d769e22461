/**
 * `ocibox serve --proxy NAME=UPSTREAM` with real clients: docker-registry (CNCF distribution
 * 2.8) is the upstream, skopeo pushes to it and pulls through ocibox serve. Shows: a pull
 * through the cache gives the upstream's bytes and stores them as an OCI layout; a tag moved
 * upstream is seen after the TTL; the stored copy is served with the upstream stopped (by tag
 * and by digest); pushes to the proxy server work, under the proxied NAME too; an upstream
 * that serves wrong bytes for a digest fails the client and leaves nothing in the store.
 * @module
 */
import assert from "node:assert/strict";
import { buildTar, sha256Digest, writeImage, type WrittenImage } from "./support/images.ts";
import { type Serve, startServe } from "./support/ocibox_serve.ts";
import { peerTest, runPeer } from "./support/peers.ts";
import { type Registry, startRegistry } from "./support/registry.ts";

const PEERS = { peers: ["docker-registry", "skopeo"] };

function skopeo(args: string[], timeoutSeconds = 120) {
  return runPeer("skopeo", ["--insecure-policy", ...args], { timeoutSeconds });
}

async function skopeoOk(args: string[]): Promise<string> {
  const r = await skopeo(args);
  assert.equal(r.code, 0, `skopeo ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** `skopeo copy` from a registry into an OCI layout; returns the copied manifest's digest. */
async function pull(ref: string, layout: string): Promise<string> {
  await skopeoOk(["copy", "--src-tls-verify=false", `docker://${ref}`, `oci:${layout}:t`]);
  const index = JSON.parse(await Deno.readTextFile(`${layout}/index.json`));
  const entry = index.manifests.find((m: { annotations?: Record<string, string> }) =>
    m.annotations?.["org.opencontainers.image.ref.name"] === "t"
  );
  return entry.digest;
}

/**
 * `skopeo copy` of a layout image to a registry; returns the manifest digest the registry got
 * (the same as the layout's: the layers are gzip already, so skopeo sends them unchanged).
 */
async function push(image: WrittenImage, ref: string): Promise<string> {
  await skopeoOk(["copy", "--dest-tls-verify=false", image.ref, `docker://${ref}`]);
  const raw = await skopeoOk(["inspect", "--tls-verify=false", "--raw", `docker://${ref}`]);
  const digest = sha256Digest(new TextEncoder().encode(raw));
  assert.equal(digest, image.manifestDigest);
  return digest;
}

/** An image with `n` layers of `size` bytes each, made distinct by `seed`. */
async function makeImage(layout: string, tag: string, seed: string, n = 2, size = 300_000) {
  const layers = [];
  for (let i = 0; i < n; i++) {
    const data = new Uint8Array(size);
    const s = new TextEncoder().encode(`${seed}-${i}`);
    for (let j = 0; j < size; j++) data[j] = (s[j % s.length] * (j + 1)) & 0xff;
    layers.push({
      tar: buildTar([{ name: `f${i}`, type: "file", data }]),
      compression: "gzip" as const,
    });
  }
  return await writeImage(layout, tag, { layers });
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      const p = `${d}/${e.name}`;
      if (e.isDirectory) await walk(p);
      else out.push(p.slice(dir.length + 1));
    }
  };
  await walk(dir).catch(() => {});
  return out.sort();
}

peerTest(
  "serve --proxy: pull through docker-registry, tag TTL, upstream stopped, pushes, wrong bytes",
  PEERS,
  async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "ocibox-proxy-test-" });
    let upstream: Registry | undefined;
    let serve: Serve | undefined;
    try {
      upstream = await startRegistry({ mode: "plain" });
      const up = upstream.host;
      const v1 = await makeImage(`${dir}/src`, "v1", "one");
      const v2 = await makeImage(`${dir}/src`, "v2", "two");
      await push(v1, `${up}/team/app:v1`);
      const root = `${dir}/root`;
      serve = await startServe([
        "--root",
        root,
        "--proxy",
        `up=${upstream.url}`,
        "--proxy-tag-ttl",
        "2s",
      ]);
      const host = serve.host;

      await t.step("a pull through the cache gives the upstream's image and keeps it", async () => {
        const digest = await pull(`${host}/up/team/app:v1`, `${dir}/p1`);
        assert.equal(digest, v1.manifestDigest);
        // The repository is an OCI layout skopeo reads, with every blob in it.
        const inspected = JSON.parse(
          await skopeoOk(["inspect", "--raw", `oci:${root}/repositories/up/team/app:v1`]),
        );
        assert.equal(inspected.layers.length, 2);
        for (const d of [v1.configDigest, ...v1.layerDigests]) {
          await Deno.stat(`${root}/blobs/sha256/${d.slice(7)}`);
        }
      });

      await t.step("a tag moved upstream is seen after the TTL", async () => {
        await push(v2, `${up}/team/app:v1`);
        // Within the TTL the cached tag is served without asking upstream.
        assert.equal(await pull(`${host}/up/team/app:v1`, `${dir}/p2`), v1.manifestDigest);
        await new Promise((r) => setTimeout(r, 2500));
        assert.equal(await pull(`${host}/up/team/app:v1`, `${dir}/p3`), v2.manifestDigest);
      });

      const v3 = await makeImage(`${dir}/src`, "v3", "three");
      await t.step("pushes to the proxy server work, under the proxied NAME too", async () => {
        await push(v1, `${host}/mine/app:v1`);
        await push(v3, `${host}/up/team/local:v1`);
        assert.equal(await pull(`${host}/mine/app:v1`, `${dir}/p4`), v1.manifestDigest);
        assert.equal(await pull(`${host}/up/team/local:v1`, `${dir}/p5`), v3.manifestDigest);
      });

      // An image built on an upstream image that was never pulled through: skopeo asks for
      // the base layers under the proxied name, hears they exist (upstream), and skips them.
      const base = await makeImage(`${dir}/src`, "base", "base", 2);
      const derived = await makeImage(`${dir}/src`, "derived", "base", 3);
      await t.step("a push under the proxied NAME on top of upstream-only layers", async () => {
        await push(base, `${up}/team/base:v1`);
        assert.deepEqual(derived.layerDigests.slice(0, 2), base.layerDigests);
        for (const d of base.layerDigests) {
          await assert.rejects(() => Deno.stat(`${root}/blobs/sha256/${d.slice(7)}`));
        }
        await push(derived, `${host}/up/team/base:mine`);
        // The manifest PUT fetched the base layers from upstream: they are in the store now.
        for (const d of base.layerDigests) await Deno.stat(`${root}/blobs/sha256/${d.slice(7)}`);
        assert.equal(
          await pull(`${host}/up/team/base:mine`, `${dir}/p-derived`),
          derived.manifestDigest,
        );
      });

      await t.step("wrong bytes upstream: the client fails and nothing is stored", async () => {
        const bad = await makeImage(`${dir}/src`, "bad", "bad", 1, 400_000);
        await push(bad, `${up}/team/bad:v1`);
        // Same size, other bytes, in the upstream's own storage: it serves them unchecked.
        const hex = bad.layerDigests[0].slice(7);
        const data = `${upstream!.storageDir}/docker/registry/v2/blobs/sha256/${
          hex.slice(0, 2)
        }/${hex}/data`;
        const bytes = await Deno.readFile(data);
        bytes[bytes.length - 1000] ^= 0xff;
        await Deno.writeFile(data, bytes);
        const before = (await filesUnder(`${root}/blobs`)).join("\n");
        const r = await skopeo([
          "copy",
          "--src-tls-verify=false",
          `docker://${host}/up/team/bad:v1`,
          `oci:${dir}/p6:t`,
        ]);
        assert.notEqual(r.code, 0, "skopeo accepted a corrupt blob");
        // The last bytes are held back until the store verified them: skopeo sees a short body.
        assert.match(r.stderr, /EOF|digest/i);
        await new Promise((r) => setTimeout(r, 200));
        await assert.rejects(() => Deno.stat(`${root}/blobs/sha256/${hex}`));
        // Nothing of the blob anywhere under blobs/ (the manifest and config may be there).
        const after = (await filesUnder(`${root}/blobs`)).join("\n");
        assert.ok(!after.includes(hex));
        assert.ok(
          after.split("\n").every((f) => before.includes(f) || !f.includes(hex)),
          `${before}\n---\n${after}`,
        );
      });

      await upstream.stop();
      upstream = undefined;

      await t.step("with the upstream stopped, the stored copies are served", async () => {
        await new Promise((r) => setTimeout(r, 2500)); // past the TTL: a recheck fails
        assert.equal(await pull(`${host}/up/team/app:v1`, `${dir}/p7`), v2.manifestDigest);
        assert.equal(
          await pull(`${host}/up/team/app@${v1.manifestDigest}`, `${dir}/p8`),
          v1.manifestDigest,
        );
        assert.equal(await pull(`${host}/up/team/local:v1`, `${dir}/p9`), v3.manifestDigest);
        assert.equal(
          await pull(`${host}/up/team/base:mine`, `${dir}/p10`),
          derived.manifestDigest,
        );
        // What was never pulled cannot be served: the client gets an error, not a hang.
        const r = await skopeo([
          "inspect",
          "--tls-verify=false",
          `docker://${host}/up/team/never:v1`,
        ], 60);
        assert.notEqual(r.code, 0);
      });
    } catch (e) {
      if (serve) console.error(serve.stderr());
      throw e;
    } finally {
      await serve?.stop();
      await upstream?.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
);

peerTest(
  "serve --proxy: an upstream with token auth, credentials from an auth file or the config file",
  PEERS,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "ocibox-proxy-test-" });
    let upstream: Registry | undefined;
    let serve: Serve | undefined;
    try {
      upstream = await startRegistry({ mode: "token" });
      const image = await makeImage(`${dir}/src`, "v1", "private", 1);
      await skopeoOk([
        "copy",
        ...upstream.skopeoArgs("dest"),
        image.ref,
        `docker://${upstream.host}/alice/app:v1`,
      ]);
      const [alice] = upstream.users;
      const authFile = `${dir}/auth.json`;
      await Deno.writeTextFile(
        authFile,
        JSON.stringify({
          auths: { [upstream.host]: { auth: btoa(`${alice.name}:${alice.password}`) } },
        }),
      );
      const config = `${dir}/config.json`;
      await Deno.writeTextFile(
        config,
        JSON.stringify({
          proxy: [
            { name: "viafile", upstream: upstream.url, authFile },
            {
              name: "viaconfig",
              upstream: upstream.url,
              username: alice.name,
              password: alice.password,
            },
            { name: "anon", upstream: upstream.url },
          ],
        }),
      );
      serve = await startServe(["--root", `${dir}/root`, "--config", config]);
      const host = serve.host;
      assert.equal(await pull(`${host}/viafile/alice/app:v1`, `${dir}/p1`), image.manifestDigest);
      assert.equal(await pull(`${host}/viaconfig/alice/app:v1`, `${dir}/p2`), image.manifestDigest);
      // Without credentials the upstream refuses: the client is told DENIED, not asked to log in.
      const r = await skopeo([
        "inspect",
        "--tls-verify=false",
        `docker://${host}/anon/alice/app:v1`,
      ]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /denied/i);
    } catch (e) {
      if (serve) console.error(serve.stderr());
      throw e;
    } finally {
      await serve?.stop();
      await upstream?.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
);
