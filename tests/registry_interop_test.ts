/**
 * The registry client against a real docker-registry (CNCF distribution 2.8) and skopeo/umoci:
 * images pushed by one tool and pulled by the other keep their digests and unpack the same,
 * `copy docker://... oci:...` gives the same bytes as skopeo's, registry-to-registry copies
 * mount blobs across repositories, and the protocol points (tags pagination, `_catalog`,
 * referrers through the tag schema, DELETE, `--all`, `--dest-compress-format`,
 * `--preserve-digests`, `--jobs`, chunked uploads honouring `OCI-Chunk-Min-Length`, monolithic
 * uploads of small blobs).
 *
 * One registry (plain HTTP) and one fault proxy in front of it serve every step; the steps run
 * in order and later ones reuse what earlier ones pushed. distribution 2.8 ignores `n` and
 * `last` on tags lists and has no referrers API, so tags pagination is checked against a small
 * server written here that pages as the spec says, and referrers through the tag schema
 * fallback. Redirects to another host (no Authorization) are covered in
 * lib/registry/session_test.ts.
 * @module
 */
import assert from "node:assert/strict";
import zlib from "node:zlib";
import { digestOf } from "../lib/digest/digester.ts";
import { catalog, RepositoryClient } from "../lib/registry/client.ts";
import { RegistrySession } from "../lib/registry/session.ts";
import { sha256Digest } from "./support/images.ts";
import { writeMultiPlatformImage } from "./support/index_images.ts";
import { type FaultProxy, startFaultProxy, uploadPost } from "./support/fault_proxy.ts";
import { ocibox, ociboxOk, type OciboxResult } from "./support/ocibox_cli.ts";
import { peerTest, run } from "./support/peers.ts";
import { type Registry, withRegistry } from "./support/registry.ts";
import { diffSnapshots, snapshotTree, type TreeSnapshot } from "./support/tree_snapshot.ts";

const PEERS = { peers: ["docker-registry", "skopeo", "umoci", "python3"], root: true };
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
const REF_NAME = "org.opencontainers.image.ref.name";
const encoder = new TextEncoder();

interface IndexJson {
  manifests: { digest: string; mediaType: string; annotations?: Record<string, string> }[];
}

interface ManifestJson {
  mediaType?: string;
  config: { digest: string; size: number; mediaType: string };
  layers: { digest: string; size: number; mediaType: string }[];
}

/** Writes a small directory tree worth unpacking: files, modes, a symlink, a hardlink. */
async function makeRootfs(dir: string, flavour: string): Promise<void> {
  await Deno.mkdir(`${dir}/etc`, { recursive: true });
  await Deno.mkdir(`${dir}/usr/bin`, { recursive: true });
  await Deno.writeTextFile(`${dir}/etc/os-release`, `NAME=ocibox-${flavour}\n`);
  await Deno.writeTextFile(`${dir}/usr/bin/tool`, `#!/bin/sh\necho ${flavour}\n`);
  await Deno.chmod(`${dir}/usr/bin/tool`, 0o755);
  await Deno.writeFile(`${dir}/data.bin`, crypto.getRandomValues(new Uint8Array(40_000)));
  await Deno.symlink("usr/bin/tool", `${dir}/tool-link`);
  await Deno.link(`${dir}/etc/os-release`, `${dir}/etc/os-release.hl`);
}

/** The digest `tag` names in the layout's index.json. */
async function tagDigest(layout: string, tag: string): Promise<string> {
  const index = JSON.parse(await Deno.readTextFile(`${layout}/index.json`)) as IndexJson;
  const found = index.manifests.find((m) => m.annotations?.[REF_NAME] === tag);
  assert.ok(found, `${layout}: no tag ${tag}`);
  return found.digest;
}

/** The bytes of a blob of a layout. */
function layoutBlob(layout: string, digest: string): Promise<Uint8Array> {
  return Deno.readFile(`${layout}/blobs/${digest.replace(":", "/")}`);
}

/** Every blob of a layout (`sha256:<hex>`), each checked to hash to its name. */
async function layoutBlobs(layout: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(`${layout}/blobs/sha256`)) {
    const digest = `sha256:${e.name}`;
    assert.equal(sha256Digest(await layoutBlob(layout, digest)), digest, `${layout}: ${e.name}`);
    out.push(digest);
  }
  return out.sort();
}

/** Asserts two layouts hold the same blobs (names and so bytes, since names are verified). */
async function assertSameBlobs(a: string, b: string): Promise<void> {
  assert.deepEqual(await layoutBlobs(a), await layoutBlobs(b), `${a} vs ${b}: blobs differ`);
}

/** The blobs a manifest names, config first. */
function manifestBlobs(manifest: ManifestJson): string[] {
  return [manifest.config.digest, ...manifest.layers.map((l) => l.digest)];
}

function skopeo(args: string[]): Promise<string> {
  return run("skopeo", args);
}

/** `skopeo inspect` of a registry image (plain HTTP). */
async function skopeoInspect(ref: string, extra: string[] = []): Promise<Record<string, unknown>> {
  return JSON.parse(await skopeo(["inspect", "--tls-verify=false", ...extra, `docker://${ref}`]));
}

/** Unpacks with ocibox and umoci and returns both rootfs snapshots. */
async function unpackBoth(
  dir: string,
  ociboxImage: string,
  umociImage: string,
): Promise<[TreeSnapshot, TreeSnapshot]> {
  const ours = `${dir}/${crypto.randomUUID()}`;
  const theirs = `${dir}/${crypto.randomUUID()}`;
  await ociboxOk(["unpack", ociboxImage, ours]);
  await run("umoci", ["unpack", "--image", umociImage, theirs]);
  return await Promise.all([
    snapshotTree(`${ours}/rootfs`, { mtimes: "nondir" }),
    snapshotTree(`${theirs}/rootfs`, { mtimes: "nondir" }),
  ]);
}

function assertSameTree(a: TreeSnapshot, b: TreeSnapshot, labels: [string, string]): void {
  const diffs = diffSnapshots(a, b, labels);
  assert.deepEqual(diffs, [], `rootfs trees differ:\n${diffs.join("\n")}`);
}

/** The registry's log once `pattern` shows up in it (the log is written asynchronously). */
async function waitForLog(reg: Registry, pattern: RegExp): Promise<string> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const log = await reg.readLog();
    if (pattern.test(log)) return log;
    if (Date.now() > deadline) assert.fail(`${pattern} not in the registry log:\n${log}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Asserts that a failed copy left no image at an oci: destination (no tag, no blob). */
async function assertNoImage(layout: string): Promise<void> {
  try {
    const index = JSON.parse(await Deno.readTextFile(`${layout}/index.json`)) as IndexJson;
    assert.deepEqual(index.manifests, [], `${layout}: index.json lists images`);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(`${layout}/blobs/sha256`)) names.push(e.name);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  assert.deepEqual(names, [], `${layout}: blobs left behind`);
}

/** A GET of the registry's manifest for `repo:ref` (plain fetch, nothing under test). */
async function registryManifest(
  reg: Registry,
  repo: string,
  ref: string,
): Promise<{ status: number; bytes: Uint8Array; mediaType: string }> {
  const res = await reg.fetch(`/v2/${repo}/manifests/${ref}`, {
    headers: { accept: [OCI_MANIFEST, OCI_INDEX].join(", ") },
  });
  const bytes = new Uint8Array(await res.arrayBuffer());
  return { status: res.status, bytes, mediaType: res.headers.get("content-type") ?? "" };
}

/** A blob of `repo` as the registry serves it. */
async function registryBlob(reg: Registry, repo: string, digest: string): Promise<Uint8Array> {
  const res = await reg.fetch(`/v2/${repo}/blobs/${digest}`);
  assert.equal(res.status, 200, `${repo}@${digest}`);
  return new Uint8Array(await res.arrayBuffer());
}

function decompress(bytes: Uint8Array, mediaType: string): Uint8Array {
  if (mediaType.endsWith("+gzip")) return new Uint8Array(zlib.gunzipSync(bytes));
  if (mediaType.endsWith("+zstd")) return new Uint8Array(zlib.zstdDecompressSync(bytes));
  return bytes;
}

/** One line on stderr starting `error: `, nothing on stdout, the given exit code. */
function assertOneLineError(r: OciboxResult, code: number, message: RegExp): void {
  const shown = `exit ${r.code}, stdout ${JSON.stringify(r.stdout)}, stderr ${
    JSON.stringify(r.stderr)
  }`;
  assert.equal(r.code, code, shown);
  assert.equal(r.stdout, "", shown);
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, shown);
  assert.match(lines[0], /^error: /, shown);
  assert.match(lines[0], message, shown);
}

/** A session and repository client for `repo` on `host` (plain HTTP over the loopback). */
function clientFor(host: string, repo: string): RepositoryClient {
  return new RepositoryClient(new RegistrySession({ host }), repo);
}

/** A tiny registry that pages `tags` of `repo` as the spec says (sorted, `n`, `last`, Link). */
function startTagPager(
  repo: string,
  tags: readonly string[],
  defaultPage: number,
): { host: string; requests: string[]; close(): Promise<void> } {
  const requests: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const url = new URL(req.url);
    if (url.pathname === "/v2/") return Response.json({});
    if (url.pathname !== `/v2/${repo}/tags/list`) return new Response(null, { status: 404 });
    requests.push(url.pathname + url.search);
    const n = Number(url.searchParams.get("n") ?? defaultPage);
    const last = url.searchParams.get("last");
    const rest = tags.toSorted().filter((t) => last === null || t > last);
    const page = rest.slice(0, n);
    const headers = new Headers();
    if (rest.length > n) {
      const next = new URLSearchParams({ n: String(n), last: page[page.length - 1] });
      headers.set("link", `</v2/${repo}/tags/list?${next}>; rel="next"`);
    }
    return Response.json({ name: repo, tags: page }, { headers });
  });
  return {
    host: `127.0.0.1:${server.addr.port}`,
    requests,
    close: () => server.shutdown(),
  };
}

/** A stream of `bytes` in `piece`-sized chunks. */
function streamOf(bytes: Uint8Array, piece = 65536): ReadableStream<Uint8Array> {
  let off = 0;
  return new ReadableStream({
    pull(controller) {
      if (off >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(off, off + piece));
      off += piece;
    },
  });
}

peerTest("registry interop: skopeo, umoci and ocibox against docker-registry", PEERS, async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "ocibox-reg-interop-" });
  try {
    await withRegistry("plain", async (reg) => {
      const proxy = await startFaultProxy(reg);
      try {
        await interopSteps(t, dir, reg, proxy);
      } finally {
        await proxy.stop();
      }
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

async function interopSteps(
  t: Deno.TestContext,
  dir: string,
  reg: Registry,
  proxy: FaultProxy,
): Promise<void> {
  // The source image: two layers and a config, written by ocibox append.
  const src = `${dir}/src`;
  await makeRootfs(`${dir}/root1`, "one");
  await makeRootfs(`${dir}/root2`, "two");
  await ociboxOk([
    "append",
    "-q",
    "--layer",
    `${dir}/root1`,
    "--layer",
    `${dir}/root2`,
    "--cmd",
    "/usr/bin/tool",
    "--label",
    "org.example=interop",
    `oci:${src}:v1`,
  ]);
  const srcDigest = await tagDigest(src, "v1");
  const srcManifestBytes = await layoutBlob(src, srcDigest);
  const srcManifest = JSON.parse(new TextDecoder().decode(srcManifestBytes)) as ManifestJson;
  const srcConfig = JSON.parse(
    new TextDecoder().decode(await layoutBlob(src, srcManifest.config.digest)),
  ) as { rootfs: { diff_ids: string[] } };
  const diffIds = srcConfig.rootfs.diff_ids;
  const host = reg.host;
  let ociboxPulled: TreeSnapshot | undefined;

  await t.step(
    "skopeo pushes, ocibox pulls: same digests, same bytes as skopeo's pull, same tree",
    async () => {
      await skopeo([
        "copy",
        "--dest-tls-verify=false",
        `oci:${src}:v1`,
        `docker://${host}/sk/app:v1`,
      ]);
      const theirs = await skopeoInspect(`${host}/sk/app:v1`);
      const ours = JSON.parse(await ociboxOk(["inspect", `docker://${host}/sk/app:v1`]));
      assert.equal(theirs.Digest, srcDigest);
      assert.equal(ours.Digest, theirs.Digest);
      assert.deepEqual(ours.Layers, theirs.Layers);
      assert.deepEqual(ours.RepoTags, ["v1"]);
      assert.deepEqual(ours.Labels, theirs.Labels);
      const raw = await ocibox(["inspect", "--raw", `docker://${host}/sk/app:v1`]);
      assert.deepEqual(raw.stdoutBytes, srcManifestBytes);

      // copy docker:// oci: by both tools: byte-identical blobs and manifests.
      await ociboxOk(["copy", "-q", `docker://${host}/sk/app:v1`, `oci:${dir}/pull-ocibox:v1`]);
      await skopeo([
        "copy",
        "--src-tls-verify=false",
        `docker://${host}/sk/app:v1`,
        `oci:${dir}/pull-skopeo:v1`,
      ]);
      assert.equal(await tagDigest(`${dir}/pull-ocibox`, "v1"), srcDigest);
      assert.equal(await tagDigest(`${dir}/pull-skopeo`, "v1"), srcDigest);
      await assertSameBlobs(`${dir}/pull-ocibox`, `${dir}/pull-skopeo`);
      await assertSameBlobs(`${dir}/pull-ocibox`, src);

      const [a, b] = await unpackBoth(dir, `oci:${dir}/pull-ocibox:v1`, `${dir}/pull-skopeo:v1`);
      assertSameTree(a, b, ["ocibox", "umoci"]);
      assert.equal(a.nodes["usr/bin/tool"]?.mode, 0o755);
      assert.equal(a.nodes["tool-link"]?.target, "usr/bin/tool");
      ociboxPulled = a;
    },
  );

  await t.step(
    "a Docker schema 2 image skopeo pushed: both tools convert it to the same OCI bytes",
    async () => {
      await skopeo([
        "copy",
        "--dest-tls-verify=false",
        "--format",
        "v2s2",
        `oci:${src}:v1`,
        `docker://${host}/sk/docker:v1`,
      ]);
      const theirs = await skopeoInspect(`${host}/sk/docker:v1`);
      const ours = JSON.parse(await ociboxOk(["inspect", `docker://${host}/sk/docker:v1`]));
      assert.equal(ours.Digest, theirs.Digest);
      await ociboxOk(["copy", "-q", `docker://${host}/sk/docker:v1`, `oci:${dir}/v2s2-ocibox:v1`]);
      await skopeo([
        "copy",
        "--src-tls-verify=false",
        `docker://${host}/sk/docker:v1`,
        `oci:${dir}/v2s2-skopeo:v1`,
      ]);
      const oursDigest = await tagDigest(`${dir}/v2s2-ocibox`, "v1");
      const theirsDigest = await tagDigest(`${dir}/v2s2-skopeo`, "v1");
      const show = async (layout: string, d: string) =>
        new TextDecoder().decode(await layoutBlob(layout, d));
      assert.equal(
        await show(`${dir}/v2s2-ocibox`, oursDigest),
        await show(`${dir}/v2s2-skopeo`, theirsDigest),
      );
      await assertSameBlobs(`${dir}/v2s2-ocibox`, `${dir}/v2s2-skopeo`);
    },
  );

  await t.step("ocibox pushes, skopeo pulls and inspects", async () => {
    await ociboxOk(["copy", "-q", `oci:${src}:v1`, `docker://${host}/ob/app:v1`]);
    const info = await skopeoInspect(`${host}/ob/app:v1`);
    assert.equal(info.Digest, srcDigest);
    assert.deepEqual(info.Layers, srcManifest.layers.map((l) => l.digest));
    assert.deepEqual((info.Labels as Record<string, string>)["org.example"], "interop");
    const raw = await skopeo([
      "inspect",
      "--raw",
      "--tls-verify=false",
      `docker://${host}/ob/app:v1`,
    ]);
    assert.deepEqual(encoder.encode(raw), srcManifestBytes);
    const config = JSON.parse(
      await skopeo([
        "inspect",
        "--config",
        "--raw",
        "--tls-verify=false",
        `docker://${host}/ob/app:v1`,
      ]),
    );
    assert.deepEqual(config.rootfs.diff_ids, diffIds);
    await skopeo([
      "copy",
      "--src-tls-verify=false",
      `docker://${host}/ob/app:v1`,
      `oci:${dir}/ob-skopeo:v1`,
    ]);
    assert.equal(await tagDigest(`${dir}/ob-skopeo`, "v1"), srcDigest);
    await assertSameBlobs(`${dir}/ob-skopeo`, src);
    // What the registry stores is exactly what the layout held.
    for (const d of manifestBlobs(srcManifest)) {
      assert.deepEqual(await registryBlob(reg, "ob/app", d), await layoutBlob(src, d));
    }
  });

  await t.step(
    "registry-to-registry copy mounts every blob from the source repository",
    async () => {
      await ociboxOk([
        "copy",
        "-q",
        `docker://${host}/ob/app:v1`,
        `docker://${host}/mounted/app:v1`,
      ]);
      // The registry's access log, ocibox's requests only (the log is written as they finish).
      const done = /"PUT \/v2\/mounted\/app\/manifests\/v1 HTTP\/1.1" 201/;
      const log = await waitForLog(reg, done);
      const ours = log.split("\n").filter((l) => l.endsWith('"ocibox/0.1.0"'));
      const start = ours.findIndex((l) => l.includes("/v2/ob/app/manifests/v1"));
      const copy = ours.slice(start).join("\n");
      const mounts = ours.slice(start).filter((l) =>
        /"POST \/v2\/mounted\/app\/blobs\/uploads\/\?[^"]*mount=/.test(l) && /" 201 /.test(l)
      );
      assert.equal(mounts.length, manifestBlobs(srcManifest).length, copy);
      for (const d of manifestBlobs(srcManifest)) {
        assert.ok(
          mounts.some((l) => l.includes(encodeURIComponent(d))),
          `${d} not mounted:\n${copy}`,
        );
      }
      // No blob bytes moved: no PATCH, no PUT of an upload, no GET of a blob.
      assert.doesNotMatch(copy, /"PATCH /);
      assert.doesNotMatch(copy, /"PUT \/v2\/mounted\/app\/blobs\/uploads/);
      assert.doesNotMatch(copy, /"GET \/v2\/ob\/app\/blobs\//);
      const info = await skopeoInspect(`${host}/mounted/app:v1`);
      assert.equal(info.Digest, srcDigest);
    },
  );

  await t.step("unknown repository and tag fail in one line, exit 1", async () => {
    assertOneLineError(
      await ocibox(["inspect", `docker://${host}/no/such:v1`]),
      1,
      /NAME_UNKNOWN|MANIFEST_UNKNOWN|not found|unknown/i,
    );
    assertOneLineError(
      await ocibox(["copy", "-q", `docker://${host}/ob/app:nope`, `oci:${dir}/nope:v1`]),
      1,
      /MANIFEST_UNKNOWN|manifest unknown/i,
    );
    await assertNoImage(`${dir}/nope`);
  });

  await t.step("copy --all of a multi-platform index to the registry and back", async () => {
    const multi = await writeMultiPlatformImage(`${dir}/multi`, "multi", [
      { os: "linux", architecture: "amd64", files: { "hello.txt": "amd64\n" } },
      { os: "linux", architecture: "arm64", variant: "v8", files: { "hello.txt": "arm64\n" } },
      { os: "linux", architecture: "s390x", files: { "hello.txt": "s390x\n" } },
    ]);
    await ociboxOk(["copy", "-q", "--all", multi.ref, `docker://${host}/multi/app:all`]);
    const raw = await skopeo([
      "inspect",
      "--raw",
      "--tls-verify=false",
      `docker://${host}/multi/app:all`,
    ]);
    assert.deepEqual(encoder.encode(raw), multi.indexBytes);
    for (const img of multi.images) {
      const m = await registryManifest(reg, "multi/app", img.manifestDigest);
      assert.equal(m.status, 200, img.platform);
      assert.equal(digestOf(m.bytes), img.manifestDigest);
    }
    const arm = await skopeoInspect(`${host}/multi/app:all`, ["--override-arch", "arm64"]);
    assert.equal(arm.Digest, multi.indexDigest);
    assert.deepEqual(arm.Layers, [multi.images[1].layerDigest]);

    await ociboxOk([
      "copy",
      "-q",
      "--all",
      `docker://${host}/multi/app:all`,
      `oci:${dir}/multi-back:all`,
    ]);
    await skopeo([
      "copy",
      "--all",
      "--src-tls-verify=false",
      `docker://${host}/multi/app:all`,
      `oci:${dir}/multi-skopeo:all`,
    ]);
    assert.equal(await tagDigest(`${dir}/multi-back`, "all"), multi.indexDigest);
    assert.equal(await tagDigest(`${dir}/multi-skopeo`, "all"), multi.indexDigest);
    await assertSameBlobs(`${dir}/multi-back`, `${dir}/multi`);
    await assertSameBlobs(`${dir}/multi-back`, `${dir}/multi-skopeo`);

    // Without --all only this machine's image crosses, and the index is not copied.
    await ociboxOk([
      "copy",
      "-q",
      "--platform",
      "linux/s390x",
      `docker://${host}/multi/app:all`,
      `oci:${dir}/multi-one:s390x`,
    ]);
    assert.equal(await tagDigest(`${dir}/multi-one`, "s390x"), multi.images[2].manifestDigest);
  });

  await t.step("--dest-compress-format zstd, none and gzip to the registry", async () => {
    const check = async (repo: string, suffix: string) => {
      const { status, bytes } = await registryManifest(reg, repo, "v1");
      assert.equal(status, 200, repo);
      const m = JSON.parse(new TextDecoder().decode(bytes)) as ManifestJson;
      assert.equal(m.config.digest, srcManifest.config.digest, `${repo}: config unchanged`);
      assert.deepEqual(
        m.layers.map((l) => l.mediaType),
        m.layers.map(() => `application/vnd.oci.image.layer.v1.tar${suffix}`),
      );
      const ids = [];
      for (const l of m.layers) {
        const blob = await registryBlob(reg, repo, l.digest);
        assert.equal(blob.length, l.size);
        assert.equal(sha256Digest(blob), l.digest);
        ids.push(sha256Digest(decompress(blob, l.mediaType)));
      }
      assert.deepEqual(ids, diffIds, `${repo}: layers decompress to the diff_ids`);
      const info = await skopeoInspect(`${host}/${repo}:v1`);
      assert.equal(info.Digest, digestOf(bytes));
      return m;
    };
    await ociboxOk([
      "copy",
      "-q",
      "--dest-compress-format",
      "zstd",
      `oci:${src}:v1`,
      `docker://${host}/zstd/app:v1`,
    ]);
    await check("zstd/app", "+zstd");
    await ociboxOk([
      "copy",
      "-q",
      "--dest-compress-format",
      "none",
      `docker://${host}/zstd/app:v1`,
      `docker://${host}/plain/app:v1`,
    ]);
    await check("plain/app", "");
    await ociboxOk([
      "copy",
      "-q",
      "--dest-compress-format",
      "gzip",
      `docker://${host}/zstd/app:v1`,
      `docker://${host}/gzip/app:v1`,
    ]);
    await check("gzip/app", "+gzip");
    // The zstd image pulled back unpacks to the same tree as the original.
    await ociboxOk(["copy", "-q", `docker://${host}/zstd/app:v1`, `oci:${dir}/zstd-back:v1`]);
    const back = `${dir}/${crypto.randomUUID()}`;
    await ociboxOk(["unpack", `oci:${dir}/zstd-back:v1`, back]);
    const tree = await snapshotTree(`${back}/rootfs`, { mtimes: "nondir" });
    assert.ok(ociboxPulled, "the first step pulled the original");
    assertSameTree(tree, ociboxPulled, ["zstd", "original"]);
  });

  await t.step(
    "--preserve-digests: an unchanged copy passes, a recompression is refused",
    async () => {
      await ociboxOk([
        "copy",
        "-q",
        "--preserve-digests",
        `oci:${src}:v1`,
        `docker://${host}/pd/app:v1`,
      ]);
      assert.equal((await skopeoInspect(`${host}/pd/app:v1`)).Digest, srcDigest);
      const r = await ocibox([
        "copy",
        "-q",
        "--preserve-digests",
        "--dest-compress-format",
        "zstd",
        `oci:${src}:v1`,
        `docker://${host}/pd/app:v2`,
      ]);
      assertOneLineError(r, 1, /--preserve-digests/);
      assert.equal((await registryManifest(reg, "pd/app", "v2")).status, 404);
      const tags = await (await reg.fetch("/v2/pd/app/tags/list")).json();
      assert.deepEqual(tags.tags, ["v1"]);
    },
  );

  await t.step(
    "--jobs: 1 moves one blob at a time, 4 overlap; both give the same image",
    async () => {
      // Four layers; every blob GET through the proxy is held 250 ms.
      const layers = [];
      for (let i = 0; i < 4; i++) {
        const d = `${dir}/jobs-layer${i}`;
        await Deno.mkdir(d);
        await Deno.writeFile(`${d}/f${i}`, crypto.getRandomValues(new Uint8Array(10_000)));
        layers.push("--layer", d);
      }
      await ociboxOk(["append", "-q", ...layers, `oci:${dir}/jobs:v1`]);
      await ociboxOk(["copy", "-q", `oci:${dir}/jobs:v1`, `docker://${host}/jobs/app:v1`]);
      const m = JSON.parse(
        new TextDecoder().decode(
          await layoutBlob(`${dir}/jobs`, await tagDigest(`${dir}/jobs`, "v1")),
        ),
      ) as ManifestJson;
      const hold = 250;
      const fault = proxy.addFault({
        match: { method: "GET", path: /\/v2\/jobs\/app\/blobs\// },
        fault: { kind: "delay", ms: hold },
      });
      const arrivals = async (jobs: string, to: string) => {
        const start = proxy.log.length;
        await ociboxOk(["copy", "-q", "--jobs", jobs, `docker://${proxy.host}/jobs/app:v1`, to]);
        const layerGets = proxy.log.slice(start).filter((e) =>
          e.method === "GET" && m.layers.some((l) => e.path.endsWith(l.digest))
        );
        assert.equal(layerGets.length, 4, `jobs ${jobs}`);
        return layerGets.map((e) => e.time).sort((a, b) => a - b);
      };
      try {
        const serial = await arrivals("1", `oci:${dir}/jobs1:v1`);
        for (let i = 1; i < serial.length; i++) {
          assert.ok(serial[i] - serial[i - 1] >= hold, `--jobs 1 overlapped: ${serial}`);
        }
        const parallel = await arrivals("4", `oci:${dir}/jobs4:v1`);
        assert.ok(parallel[3] - parallel[0] < hold, `--jobs 4 did not overlap: ${parallel}`);
      } finally {
        fault.remove();
      }
      await assertSameBlobs(`${dir}/jobs1`, `${dir}/jobs4`);
      assert.equal(await tagDigest(`${dir}/jobs1`, "v1"), await tagDigest(`${dir}/jobs`, "v1"));
      assertOneLineError(
        await ocibox(["copy", "-q", "--jobs", "0", `oci:${dir}/jobs:v1`, `oci:${dir}/jobs0:v1`]),
        2,
        /--jobs/,
      );
    },
  );

  await t.step("tags list on docker-registry: every tag once, as skopeo lists them", async () => {
    const c = clientFor(proxy.host, "ob/app");
    try {
      const names = ["a1", "b2", "c3", "d4", "e5"];
      for (const n of names) await c.putManifest(n, srcManifestBytes, OCI_MANIFEST);
      // distribution 2.8 ignores n and last for tags (pagination is tested below with a
      // registry that does it) and lists in its storage's order.
      const tags: string[] = [];
      for await (const tag of c.listTags({ n: 2 })) tags.push(tag);
      assert.deepEqual(tags.toSorted(), [...names, "v1"]);
    } finally {
      c.session.close();
    }
    const listed = JSON.parse(await ociboxOk(["list-tags", `docker://${host}/ob/app`]));
    assert.equal(listed.Repository, `${host}/ob/app`);
    assert.deepEqual(listed.Tags.toSorted(), ["a1", "b2", "c3", "d4", "e5", "v1"]);
    const theirs = JSON.parse(
      await skopeo(["list-tags", "--tls-verify=false", `docker://${host}/ob/app`]),
    );
    assert.deepEqual(listed.Tags, theirs.Tags);
  });

  await t.step("tags list pagination: n, last and Link followed to the end", async () => {
    const all = ["1.0", "1.1", "2.0", "2.1", "latest", "v3"];
    const pager = startTagPager("pg/app", all, 2);
    const c = clientFor(pager.host, "pg/app");
    try {
      const tags: string[] = [];
      for await (const tag of c.listTags({ n: 2 })) tags.push(tag);
      assert.deepEqual(tags, all);
      assert.deepEqual(pager.requests, [
        "/v2/pg/app/tags/list?n=2",
        "/v2/pg/app/tags/list?n=2&last=1.1",
        "/v2/pg/app/tags/list?n=2&last=2.1",
      ]);
      pager.requests.length = 0;
      const three: string[] = [];
      for await (const tag of c.listTags({ n: 4 })) three.push(tag);
      assert.deepEqual(three, all);
      assert.deepEqual(pager.requests, [
        "/v2/pg/app/tags/list?n=4",
        "/v2/pg/app/tags/list?n=4&last=2.1",
      ]);
      // Without n the registry's own page size applies and list-tags follows Link.
      pager.requests.length = 0;
      const listed = JSON.parse(await ociboxOk(["list-tags", `docker://${pager.host}/pg/app`]));
      assert.deepEqual(listed.Tags, all);
      assert.equal(pager.requests.length, 3);
    } finally {
      c.session.close();
      await pager.close();
    }
  });

  await t.step("_catalog with pagination", async () => {
    const session = new RegistrySession({ host: proxy.host });
    try {
      const start = proxy.log.length;
      const repos: string[] = [];
      for await (const r of catalog(session, { n: 3 })) repos.push(r);
      const all = (await (await reg.fetch("/v2/_catalog")).json()).repositories as string[];
      assert.deepEqual(repos, all);
      assert.ok(all.length > 3 && all.includes("mounted/app") && all.includes("multi/app"));
      const pages = proxy.log.slice(start).filter((e) => e.path.startsWith("/v2/_catalog"));
      assert.ok(pages.length >= Math.ceil(all.length / 3), `${pages.length} pages`);
      assert.ok(pages.slice(1).every((p) => /[?&]last=/.test(p.path) && /[?&]n=3/.test(p.path)));
    } finally {
      session.close();
    }
  });

  await t.step("referrers: the sha256-<hex> tag schema where the registry has no API", async () => {
    const c = clientFor(proxy.host, "ob/app");
    try {
      const artifactType = "application/vnd.example.sbom.v1+json";
      const emptyConfig = encoder.encode("{}");
      const sbom = encoder.encode('{"sbom":true}');
      const put = async (bytes: Uint8Array) =>
        await c.uploadBlob(streamOf(bytes), { digest: sha256Digest(bytes), size: bytes.length });
      await put(emptyConfig);
      await put(sbom);
      const artifact = encoder.encode(JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        artifactType,
        config: {
          mediaType: "application/vnd.oci.empty.v1+json",
          digest: sha256Digest(emptyConfig),
          size: emptyConfig.length,
        },
        layers: [{ mediaType: "application/json", digest: sha256Digest(sbom), size: sbom.length }],
        subject: { mediaType: OCI_MANIFEST, digest: srcDigest, size: srcManifestBytes.length },
      }));
      const artifactDigest = await c.putManifest(sha256Digest(artifact), artifact, OCI_MANIFEST);
      const descriptor = {
        mediaType: OCI_MANIFEST,
        digest: artifactDigest,
        size: artifact.length,
        artifactType,
        annotations: { "org.example.kind": "sbom" },
      };
      const index = encoder.encode(JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [descriptor],
      }));
      await c.putManifest(`sha256-${srcDigest.slice(7)}`, index, OCI_INDEX);

      const start = proxy.log.length;
      const found = await c.referrers(srcDigest);
      assert.equal(found.length, 1);
      assert.equal(found[0].digest, artifactDigest);
      assert.equal(found[0].artifactType, artifactType);
      assert.equal(found[0].size, artifact.length);
      assert.deepEqual(found[0].annotations, { "org.example.kind": "sbom" });
      const calls = proxy.log.slice(start).map((e) => `${e.method} ${e.path} ${e.status}`);
      assert.deepEqual(calls, [
        `GET /v2/ob/app/referrers/${srcDigest} 404`,
        `GET /v2/ob/app/manifests/sha256-${srcDigest.slice(7)} 200`,
      ]);
      assert.equal((await c.referrers(srcDigest, artifactType)).length, 1);
      assert.deepEqual(await c.referrers(srcDigest, "application/vnd.example.other"), []);
      // Nothing refers to the config: no tag, no referrers.
      assert.deepEqual(await c.referrers(srcManifest.config.digest), []);
    } finally {
      c.session.close();
    }
  });

  await t.step(
    "chunked uploads honour OCI-Chunk-Min-Length; small blobs go in one PUT",
    async () => {
      const c = clientFor(proxy.host, "chunks/app");
      const min = 2 << 20;
      const data = crypto.getRandomValues(new Uint8Array(65536)); // getRandomValues' limit
      const big = new Uint8Array(5 * (1 << 20) + 12345);
      for (let off = 0; off < big.length; off += data.length) {
        big.set(data.subarray(0, Math.min(data.length, big.length - off)), off);
        crypto.getRandomValues(data);
      }
      const bigDigest = sha256Digest(big);
      const patches = (start: number) =>
        proxy.log.slice(start).filter((e) => e.method === "PATCH").map((e) => e.requestBytes);
      try {
        // Without the header, the chunk size asked for.
        let start = proxy.log.length;
        await c.uploadBlob(streamOf(big), { digest: bigDigest }, { chunkSize: 512 << 10 });
        let sizes = patches(start);
        assert.equal(sizes.length, Math.ceil(big.length / (512 << 10)));
        assert.ok(sizes.slice(0, -1).every((n) => n === 512 << 10), `${sizes}`);

        // With OCI-Chunk-Min-Length on the POST's answer: no PATCH but the last is shorter.
        const header = proxy.addFault({
          match: uploadPost(),
          fault: { kind: "header", name: "OCI-Chunk-Min-Length", value: String(min) },
        });
        start = proxy.log.length;
        try {
          const stored = await c.uploadBlob(streamOf(big), { digest: bigDigest }, {
            chunkSize: 512 << 10,
          });
          assert.deepEqual(stored, { digest: bigDigest, size: big.length });
        } finally {
          header.remove();
        }
        sizes = patches(start);
        assert.ok(sizes.length >= 2, `${sizes}`);
        assert.ok(sizes.slice(0, -1).every((n) => n >= min), `PATCH bodies ${sizes} < ${min}`);
        assert.equal(sizes.reduce((a, b) => a + b, 0), big.length);
        const closing = proxy.log.slice(start).filter((e) => e.method === "PUT");
        assert.equal(closing.length, 1);
        assert.equal(closing[0].status, 201);
        assert.deepEqual(await registryBlob(reg, "chunks/app", bigDigest), big);

        // A small blob of known size: POST, then one PUT carrying all of it.
        const small = crypto.getRandomValues(new Uint8Array(10_000));
        start = proxy.log.length;
        await c.uploadBlob(streamOf(small, 1000), {
          digest: sha256Digest(small),
          size: small.length,
        });
        const calls = proxy.log.slice(start).map((e) =>
          `${e.method} ${e.status} ${e.requestBytes}`
        );
        assert.deepEqual(calls, ["POST 202 0", `PUT 201 ${small.length}`]);

        // The same through the CLI: an image of small blobs is pushed without any PATCH.
        start = proxy.log.length;
        await ociboxOk(["copy", "-q", `oci:${src}:v1`, `docker://${proxy.host}/chunks/small:v1`]);
        const pushed = proxy.log.slice(start);
        assert.equal(pushed.filter((e) => e.method === "PATCH").length, 0);
        const blobPuts = pushed.filter((e) => e.method === "PUT" && e.path.includes("/blobs/"));
        assert.equal(blobPuts.length, manifestBlobs(srcManifest).length);
        assert.ok(blobPuts.every((e) => e.requestBytes > 0 && e.status === 201));
      } finally {
        c.session.close();
      }
    },
  );

  await t.step("ocibox delete removes the manifest; skopeo no longer finds it", async () => {
    await ociboxOk(["copy", "-q", `oci:${src}:v1`, `docker://${host}/del/app:v1`]);
    await ociboxOk(["copy", "-q", `oci:${dir}/jobs:v1`, `docker://${host}/del/app:v2`]);
    const r = await ocibox(["delete", `docker://${host}/del/app:v1`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`Deleted .*del/app@${srcDigest}`));
    assert.equal((await registryManifest(reg, "del/app", srcDigest)).status, 404);
    assert.equal((await registryManifest(reg, "del/app", "v1")).status, 404);
    const gone = await new Deno.Command("skopeo", {
      args: ["inspect", "--tls-verify=false", `docker://${host}/del/app:v1`],
      stdout: "null",
      stderr: "null",
    }).output();
    assert.notEqual(gone.code, 0);
    // By digest, too.
    const v2 = await tagDigest(`${dir}/jobs`, "v1");
    await ociboxOk(["delete", `docker://${host}/del/app@${v2}`]);
    assert.equal((await registryManifest(reg, "del/app", "v2")).status, 404);
    // Other repositories holding the same image are untouched.
    assert.equal((await registryManifest(reg, "ob/app", "v1")).status, 200);
  });
}
