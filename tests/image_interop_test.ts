/**
 * Image-level interop with the real tools, all through ocibox's command line:
 *
 * - images built by umoci (init, new, insert, config) and copied by skopeo into `oci-archive:`,
 *   `docker-archive:` and `dir:` are inspected by ocibox and by skopeo 1.9.3, and the JSON must
 *   agree field by field (skopeo 1.9.3 prints no `LayersData`: ours must have it and it must
 *   agree with `Layers` and the manifest), `--raw` and `--config --raw` byte for byte;
 * - a multi-platform index written by hand: `--platform` picks like skopeo's `--override-*`,
 *   `copy --all` keeps the index digest, a plain copy takes the host's image;
 * - images written by `ocibox append` (scratch and a umoci base; directory, .tar.gz and .tar
 *   layers; gzip and zstd) pass `oci-image-tool validate`, are read and copied by skopeo and
 *   unpack to the same tree with umoci as with ocibox; `SOURCE_DATE_EPOCH` makes them
 *   reproducible.
 * @module
 */
import assert from "node:assert/strict";
import { buildTar, compressBytes, hostArchitecture, sha256Digest } from "./support/images.ts";
import { writeMultiPlatformImage } from "./support/index_images.ts";
import { ocibox, ociboxOk } from "./support/ocibox_cli.ts";
import { peerTest, run, runRaw } from "./support/peers.ts";
import { diffSnapshots, snapshotTree } from "./support/tree_snapshot.ts";

/** A descriptor as manifests write it. */
interface DescriptorJson {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { os: string; architecture: string; variant?: string };
}

/** An image manifest or index, as far as these tests read it. */
interface ManifestJson {
  schemaVersion: number;
  mediaType?: string;
  config: DescriptorJson;
  layers: DescriptorJson[];
  manifests: DescriptorJson[];
}

/** One `LayersData` entry of ocibox inspect. */
interface LayerData {
  MIMEType: string;
  Digest: string;
  Size: number;
  Annotations: Record<string, string> | null;
}

/** The inspect JSON of skopeo and ocibox. */
interface InspectJson {
  Name?: string;
  Digest: string;
  RepoTags: string[];
  Architecture: string;
  Os: string;
  Layers: string[];
  LayersData?: LayerData[];
  [field: string]: unknown;
}

/** An image config, as far as these tests read it. */
interface ConfigJson {
  created?: string;
  architecture: string;
  os: string;
  config?: {
    Entrypoint?: string[];
    Cmd?: string[];
    Env?: string[];
    Labels?: Record<string, string>;
    User?: string;
    WorkingDir?: string;
  };
  rootfs: { type: string; diff_ids: string[] };
  history?: { created?: string; created_by?: string; empty_layer?: boolean }[];
}

const SKOPEO = { peers: ["skopeo"] };
const UMOCI_SKOPEO = { peers: ["umoci", "skopeo"] };
const UMOCI_SKOPEO_TAR = { peers: ["umoci", "skopeo", "tar"] };
const APPEND_PEERS = { peers: ["umoci", "skopeo", "oci-image-tool", "python3"], root: true };
const LABELS = { "org.opencontainers.image.title": "demo", "odd": "a<b>&c" };
const REF_NAME = "org.opencontainers.image.ref.name";

const decoder = new TextDecoder();

function skopeo(args: string[]): Promise<string> {
  return run("skopeo", args);
}

/** stdout of `skopeo ARGS` as bytes (for byte-for-byte comparisons). */
async function skopeoBytes(args: string[]): Promise<Uint8Array> {
  const out = await new Deno.Command("skopeo", { args, stdout: "piped", stderr: "piped" })
    .output();
  if (!out.success) throw new Error(`skopeo ${args.join(" ")}: ${decoder.decode(out.stderr)}`);
  return out.stdout;
}

/** stdout of `ocibox ARGS` as bytes; throws unless it exits 0. */
async function ociboxBytes(args: string[]): Promise<Uint8Array> {
  const r = await ocibox(args);
  if (r.code !== 0) throw new Error(`ocibox ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdoutBytes;
}

async function readJson<T>(path: string): Promise<T> {
  return JSON.parse(await Deno.readTextFile(path)) as T;
}

function blobFile(layout: string, digest: string): string {
  return `${layout}/blobs/${digest.replace(":", "/")}`;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/**
 * Checks what ocibox prints beyond skopeo 1.9.3 and removes it, so the rest can be compared
 * with skopeo's output: `LayersData` (against `Layers` and the manifest's layer descriptors)
 * and `Variant` (newer skopeo prints the config's variant; 1.9.3 does not), which must be the
 * config's `variant` and is absent when the config has none.
 */
function takeExtras(
  info: InspectJson,
  manifest: ManifestJson,
  config: { variant?: string },
): Omit<InspectJson, "LayersData" | "Variant"> {
  const { LayersData, Variant, ...rest } = info;
  assert.equal(Variant, config.variant, "Variant is the config's variant");
  assert.ok(Array.isArray(LayersData), "ocibox inspect prints LayersData");
  assert.deepEqual(LayersData.map((l) => l.Digest), info.Layers, "LayersData agrees with Layers");
  assert.deepEqual(
    LayersData,
    manifest.layers.map((l) => ({
      MIMEType: l.mediaType,
      Digest: l.digest,
      Size: l.size,
      Annotations: l.annotations ?? null,
    })),
    "LayersData agrees with the manifest's layer descriptors",
  );
  return rest;
}

/** Asserts equal objects including key order (skopeo's order is part of its output). */
function assertSameFields(ours: object, theirs: object, what: string): void {
  assert.deepEqual(Object.keys(ours), Object.keys(theirs), `${what}: the same fields in order`);
  assert.deepEqual(ours, theirs, what);
}

/**
 * Compares `ocibox inspect` and `skopeo inspect` of `location` (all fields, LayersData
 * checked against `manifest` and left out), plus `--config` as parsed JSON and `--config
 * --raw` byte for byte.
 */
async function compareInspect(
  location: string,
  manifest: ManifestJson,
  flags: { ours?: string[]; skopeo?: string[] } = {},
): Promise<void> {
  const ourFlags = flags.ours ?? [], theirFlags = flags.skopeo ?? [];
  const ours = JSON.parse(await ociboxOk(["inspect", ...ourFlags, location])) as InspectJson;
  const theirs = JSON.parse(await skopeo(["inspect", ...theirFlags, location])) as InspectJson;
  const config = JSON.parse(await skopeo(["inspect", "--config", ...theirFlags, location]));
  assertSameFields(takeExtras(ours, manifest, config), theirs, `inspect ${location}`);
  assert.deepEqual(
    JSON.parse(await ociboxOk(["inspect", "--config", ...ourFlags, location])),
    config,
    `inspect --config ${location}`,
  );
  assert.deepEqual(
    await ociboxBytes(["inspect", "--config", "--raw", ...ourFlags, location]),
    await skopeoBytes(["inspect", "--config", "--raw", ...theirFlags, location]),
    `inspect --config --raw ${location}`,
  );
}

/** Writes a directory tree: path -> content (a string for a file, `->target` for a symlink). */
async function writeTree(root: string, files: Record<string, string>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    const full = `${root}/${path}`;
    await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
    if (content.startsWith("->")) await Deno.symlink(content.slice(2), full);
    else await Deno.writeTextFile(full, content);
  }
}

/**
 * Builds an image with umoci: `init`, `new`, three `insert`s (a tree at /, one at /app, one at
 * /opt/tools) and a `config` with entrypoint, cmd, env, labels, user, workdir, author, ports,
 * volumes and stop signal. Returns the layout directory; the image is tagged `base`.
 */
async function umociImage(dir: string): Promise<string> {
  const layout = `${dir}/umoci-layout`;
  const image = `${layout}:base`;
  await writeTree(`${dir}/in1`, {
    "etc/passwd": "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/app:/bin/sh\n",
    "etc/group": "root:x:0:\napp:x:1000:\n",
    "bin/tool": "#!/bin/sh\necho tool\n",
    "bin/tool-link": "->tool",
  });
  await Deno.chmod(`${dir}/in1/bin/tool`, 0o755);
  await writeTree(`${dir}/in2`, { "main.sh": "echo main\n", "sub/data.txt": "data\n" });
  await writeTree(`${dir}/in3`, { "readme": "tools\n" });
  await run("umoci", ["init", "--layout", layout]);
  await run("umoci", ["new", "--image", image]);
  await run("umoci", ["insert", "--image", image, `${dir}/in1`, "/"]);
  await run("umoci", ["insert", "--image", image, `${dir}/in2`, "/app"]);
  await run("umoci", ["insert", "--image", image, `${dir}/in3`, "/opt/tools"]);
  await run("umoci", [
    "config",
    "--image",
    image,
    "--config.entrypoint=/bin/sh",
    "--config.entrypoint=-c",
    "--config.cmd=echo hello",
    "--config.env=PATH=/usr/bin:/bin",
    "--config.env=GREETING=hello world",
    ...Object.entries(LABELS).map(([k, v]) => `--config.label=${k}=${v}`),
    "--config.user=app:app",
    "--config.workingdir=/app",
    "--config.exposedports=8080/tcp",
    "--config.volume=/data",
    "--config.stopsignal=SIGTERM",
    "--author=Jane Doe <jane@example.com>",
  ]);
  return layout;
}

peerTest(
  "inspect matches skopeo: a umoci image in oci:, oci-archive: and dir:",
  UMOCI_SKOPEO,
  async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "ocibox-interop-" });
    try {
      const layout = await umociImage(dir);
      const src = `oci:${layout}:base`;
      await skopeo(["copy", "--quiet", src, `oci-archive:${dir}/image.tar:base`]);
      await skopeo(["copy", "--quiet", src, `dir:${dir}/dir-image`]);
      for (
        const location of [
          src,
          `oci-archive:${dir}/image.tar:base`,
          `oci-archive:${dir}/image.tar`,
          `dir:${dir}/dir-image`,
        ]
      ) {
        await t.step(
          location.slice(dir.length + location.indexOf(":") + 1) || location,
          async () => {
            // skopeo copied without changes, so the manifest bytes are umoci's everywhere.
            const raw = await skopeoBytes(["inspect", "--raw", location]);
            assert.deepEqual(await ociboxBytes(["inspect", "--raw", location]), raw, "--raw");
            const manifest = JSON.parse(decoder.decode(raw)) as ManifestJson;
            assert.equal(manifest.config.mediaType, "application/vnd.oci.image.config.v1+json");
            await compareInspect(location, manifest);
            const ours = JSON.parse(await ociboxOk(["inspect", location])) as InspectJson;
            assert.equal(ours.Digest, sha256Digest(raw));
            assert.equal(ours.Layers.length, 3);
            assert.deepEqual(ours.Labels, LABELS);
          },
        );
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

peerTest(
  "inspect matches skopeo: a umoci image saved by skopeo as docker-archive:",
  UMOCI_SKOPEO_TAR,
  async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "ocibox-interop-" });
    try {
      const layout = await umociImage(dir);
      const archive = `${dir}/docker.tar`;
      await skopeo([
        "copy",
        "--quiet",
        `oci:${layout}:base`,
        `docker-archive:${archive}:ex/app:v1`,
      ]);
      for (const suffix of ["", ":ex/app:v1", ":@0"]) {
        const location = `docker-archive:${archive}${suffix}`;
        await t.step(`docker-archive${suffix}`, async () => {
          // A docker save archive stores no manifest: skopeo and ocibox each synthesise one from
          // manifest.json and the config. They agree on the config and on every layer's digest
          // and size, but skopeo 1.9.3 labels every layer `...rootfs.diff.tar.gzip` (its tarfile
          // source hard-codes DockerV2Schema2LayerMediaType) although the files it wrote are
          // plain tars, while ocibox labels them by their actual compression
          // (`...rootfs.diff.tar`). So the raw manifests, and with them `Digest`, differ; each
          // tool's Digest is checked against its own raw manifest instead.
          const ourRaw = await ociboxBytes(["inspect", "--raw", location]);
          const theirRaw = await skopeoBytes(["inspect", "--raw", location]);
          const ourManifest = JSON.parse(decoder.decode(ourRaw)) as ManifestJson;
          const theirManifest = JSON.parse(decoder.decode(theirRaw)) as ManifestJson;
          assert.equal(ourManifest.mediaType, theirManifest.mediaType);
          assert.deepEqual(ourManifest.config, theirManifest.config, "the same config descriptor");
          const digestsAndSizes = (m: ManifestJson) => m.layers.map((l) => [l.digest, l.size]);
          assert.deepEqual(digestsAndSizes(ourManifest), digestsAndSizes(theirManifest));
          for (const [i, l] of ourManifest.layers.entries()) {
            assert.equal(l.mediaType, "application/vnd.docker.image.rootfs.diff.tar");
            assert.equal(
              theirManifest.layers[i].mediaType,
              "application/vnd.docker.image.rootfs.diff.tar.gzip",
            );
          }
          // The layer files really are uncompressed tars: ocibox's media type is the true one.
          const members = await run("tar", ["-tf", archive]);
          for (const l of ourManifest.layers) {
            const name = `${l.digest.slice(7)}.tar`;
            assert.ok(members.split("\n").includes(name), name);
            const out = await new Deno.Command("tar", {
              args: ["-xOf", archive, name],
              stdout: "piped",
            }).output();
            assert.ok(out.success, `tar -xOf ${name}`);
            assert.notDeepEqual([...out.stdout.subarray(0, 2)], [0x1f, 0x8b], `${name}: not gzip`);
            assert.equal(decoder.decode(out.stdout.subarray(257, 262)), "ustar", `${name}: a tar`);
          }

          const ours = JSON.parse(await ociboxOk(["inspect", location])) as InspectJson;
          const theirs = JSON.parse(await skopeo(["inspect", location])) as InspectJson;
          assert.equal(ours.Digest, sha256Digest(ourRaw), "ocibox's Digest is of its manifest");
          assert.equal(theirs.Digest, sha256Digest(theirRaw), "skopeo's Digest is of its manifest");
          // RepoTags and Name are compared in their own test below.
          const strip = ({ Digest: _d, RepoTags: _r, Name: _n, ...rest }: InspectJson) => rest;
          assertSameFields(
            strip(takeExtras(ours, ourManifest, {}) as InspectJson),
            strip(theirs),
            `inspect ${location}`,
          );
          assert.deepEqual(
            await ociboxBytes(["inspect", "--config", "--raw", location]),
            await skopeoBytes(["inspect", "--config", "--raw", location]),
            "--config --raw",
          );
          assert.deepEqual(
            JSON.parse(await ociboxOk(["inspect", "--config", location])),
            JSON.parse(await skopeo(["inspect", "--config", location])),
            "--config",
          );
        });
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

peerTest("inspect matches skopeo: docker-archive: RepoTags and Name", UMOCI_SKOPEO, async () => {
  // skopeo prints `RepoTags: []` for every local transport (it lists tags only for registry
  // images) and `Name` (the repository) when the location names a reference. ocibox returns
  // the archive's RepoTags from manifest.json (lib/transport/docker_archive.ts,
  // DockerArchiveSource.repoTags) and never prints Name for docker-archive:.
  const dir = await Deno.makeTempDir({ prefix: "ocibox-interop-" });
  try {
    const layout = await umociImage(dir);
    const archive = `${dir}/docker.tar`;
    await skopeo(["copy", "--quiet", `oci:${layout}:base`, `docker-archive:${archive}:ex/app:v1`]);
    const pick = (s: string) => {
      const { Name, RepoTags } = JSON.parse(s) as InspectJson;
      return { Name, RepoTags };
    };
    const got = [], want = [];
    for (const suffix of ["", ":ex/app:v1", ":@0"]) {
      const location = `docker-archive:${archive}${suffix}`;
      got.push({ location, ...pick(await ociboxOk(["inspect", location])) });
      want.push({ location, ...pick(await skopeo(["inspect", location])) });
    }
    assert.deepEqual(got, want);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Two images, linux/amd64 and linux/arm64, with different configs, in one index. */
function twoPlatforms(layout: string) {
  return writeMultiPlatformImage(layout, "multi", [
    {
      os: "linux",
      architecture: "amd64",
      files: { "arch.txt": "amd64\n" },
      config: { Env: ["ARCH=amd64"], Labels: { arch: "amd64" }, Cmd: ["/amd64"] },
    },
    {
      os: "linux",
      architecture: "arm64",
      variant: "v8",
      files: { "arch.txt": "arm64\n", "extra.txt": "only on arm\n" },
      config: { Env: ["ARCH=arm64", "X=1"], Labels: { arch: "arm64" }, Cmd: ["/arm64"] },
    },
  ]);
}

peerTest("multi-platform index: --platform picks like skopeo --override-*", SKOPEO, async () => {
  const dir = await Deno.makeTempDir({ prefix: "ocibox-interop-" });
  try {
    const layout = `${dir}/multi`;
    const multi = await twoPlatforms(layout);
    const [amd, arm] = multi.images;
    const manifestOf = (digest: string) => readJson<ManifestJson>(blobFile(layout, digest));

    // --raw is the index itself, as skopeo prints it.
    const raw = await ociboxBytes(["inspect", "--raw", multi.ref]);
    assert.deepEqual(raw, multi.indexBytes);
    assert.deepEqual(raw, await skopeoBytes(["inspect", "--raw", multi.ref]));

    // --platform linux/arm64 = skopeo --override-arch arm64 --override-os linux.
    await compareInspect(multi.ref, await manifestOf(arm.manifestDigest), {
      ours: ["--platform", "linux/arm64"],
      skopeo: ["--override-arch", "arm64", "--override-os", "linux"],
    });
    const armInfo = JSON.parse(
      await ociboxOk(["inspect", "--platform", "linux/arm64", multi.ref]),
    ) as InspectJson;
    assert.equal(armInfo.Digest, multi.indexDigest, "Digest is the index's, as in skopeo");
    assert.equal(armInfo.Architecture, "arm64");
    assert.equal(armInfo.Variant, "v8");
    assert.deepEqual(armInfo.Layers, [arm.layerDigest]);
    const armConfig = await ociboxBytes([
      "inspect",
      "--config",
      "--raw",
      "--platform",
      "linux/arm64",
      multi.ref,
    ]);
    assert.equal(sha256Digest(armConfig), arm.configDigest);
    // linux/arm64/v8 and the alias linux/aarch64 name the same image.
    for (const p of ["linux/arm64/v8", "linux/aarch64"]) {
      const info = JSON.parse(
        await ociboxOk(["inspect", "--platform", p, multi.ref]),
      ) as InspectJson;
      assert.deepEqual(info.Layers, [arm.layerDigest], p);
    }
    await compareInspect(multi.ref, await manifestOf(amd.manifestDigest), {
      ours: ["--platform", "linux/amd64"],
      skopeo: ["--override-arch", "amd64", "--override-os", "linux"],
    });

    // No --platform: the host's image, as skopeo picks it.
    const host = multi.images.find((i) => i.platform.split("/")[1] === hostArchitecture());
    assert.ok(host, `this test needs an amd64 or arm64 host, not ${hostArchitecture()}`);
    await compareInspect(multi.ref, await manifestOf(host.manifestDigest));
    const hostInfo = JSON.parse(await ociboxOk(["inspect", multi.ref])) as InspectJson;
    assert.equal(hostInfo.Architecture, hostArchitecture());
    assert.deepEqual(hostInfo.Layers, [host.layerDigest]);

    // A platform the index does not have: exit 1, one error line naming those it has.
    for (const p of ["linux/s390x", "windows/amd64", "linux/arm/v7"]) {
      for (const args of [["inspect"], ["inspect", "--config"], ["unpack"]]) {
        const r = await ocibox([
          ...args,
          "--platform",
          p,
          multi.ref,
          ...(args[0] === "unpack" ? [`${dir}/bundle`] : []),
        ]);
        const what = `${args.join(" ")} --platform ${p}: ${r.stderr}`;
        assert.equal(r.code, 1, what);
        assert.equal(r.stdout, "", what);
        assert.match(r.stderr, /^error: [^\n]*\n$/, what);
        assert.match(r.stderr, /linux\/amd64/, what);
        assert.match(r.stderr, /linux\/arm64/, what);
      }
    }
    assert.equal(await exists(`${dir}/bundle`), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

peerTest(
  "multi-platform index: copy --all keeps the index, copy takes the host's image",
  SKOPEO,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "ocibox-interop-" });
    try {
      const layout = `${dir}/multi`;
      const multi = await twoPlatforms(layout);
      const allBlobs = multi.images.flatMap((
        i,
      ) => [i.manifestDigest, i.configDigest, i.layerDigest]);

      // copy --all into another layout: the same index digest, every blob.
      const other = `${dir}/other`;
      await ociboxOk(["copy", "-q", "--all", multi.ref, `oci:${other}:copied`]);
      const index = await readJson<ManifestJson>(`${other}/index.json`);
      const tagged = index.manifests.filter((m) => m.annotations?.[REF_NAME] === "copied");
      assert.equal(tagged.length, 1);
      assert.equal(tagged[0].digest, multi.indexDigest);
      assert.equal(tagged[0].mediaType, "application/vnd.oci.image.index.v1+json");
      for (const d of [multi.indexDigest, ...allBlobs]) {
        assert.ok(await exists(blobFile(other, d)), `${d} copied`);
      }
      assert.deepEqual(
        await skopeoBytes(["inspect", "--raw", `oci:${other}:copied`]),
        multi.indexBytes,
      );
      await skopeo(["inspect", "--override-arch", "arm64", `oci:${other}:copied`]);

      // copy --all into dir:: manifest.json is the index, byte for byte.
      await ociboxOk(["copy", "-q", "--all", multi.ref, `dir:${dir}/dir-multi`]);
      assert.deepEqual(await Deno.readFile(`${dir}/dir-multi/manifest.json`), multi.indexBytes);
      assert.deepEqual(
        await skopeoBytes(["inspect", "--raw", `dir:${dir}/dir-multi`]),
        multi.indexBytes,
      );
      const armFromDir = JSON.parse(
        await skopeo(["inspect", "--override-arch", "arm64", `dir:${dir}/dir-multi`]),
      ) as InspectJson;
      assert.deepEqual(armFromDir.Layers, [multi.images[1].layerDigest]);
      assert.equal(armFromDir.Digest, multi.indexDigest);

      // copy without --all: only the host's image, tagged by its manifest digest.
      const host = multi.images.find((i) => i.platform.split("/")[1] === hostArchitecture());
      assert.ok(host, `this test needs an amd64 or arm64 host, not ${hostArchitecture()}`);
      const single = `${dir}/single`;
      await ociboxOk(["copy", "-q", multi.ref, `oci:${single}:one`]);
      const singleIndex = await readJson<ManifestJson>(`${single}/index.json`);
      assert.deepEqual(singleIndex.manifests.map((m) => [m.digest, m.annotations?.[REF_NAME]]), [
        [host.manifestDigest, "one"],
      ]);
      for (const img of multi.images) {
        const present: boolean = img.manifestDigest === host.manifestDigest;
        for (const d of [img.manifestDigest, img.configDigest, img.layerDigest]) {
          assert.equal(await exists(blobFile(single, d)), present, `${img.platform} ${d}`);
        }
      }
      assert.equal(await exists(blobFile(single, multi.indexDigest)), false, "no index blob");

      // copy --platform picks the other one.
      await ociboxOk(["copy", "-q", "--platform", "linux/arm64", multi.ref, `oci:${single}:arm`]);
      const armTop = JSON.parse(await skopeo(["inspect", `oci:${single}:arm`])) as InspectJson;
      assert.deepEqual(armTop.Layers, [multi.images[1].layerDigest]);
      assert.equal(armTop.Architecture, "arm64");

      // --all into docker-archive: (one image only) fails with one clear line, writes nothing.
      const r = await ocibox([
        "copy",
        "-q",
        "--all",
        multi.ref,
        `docker-archive:${dir}/d.tar:x/y:z`,
      ]);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stdout, "");
      assert.match(r.stderr, /^error: [^\n]*\n$/);
      assert.match(r.stderr, /--all|one image|index/);
      assert.equal(await exists(`${dir}/d.tar`), false);
      for await (const e of Deno.readDir(dir)) {
        assert.ok(!e.name.startsWith(".tmp-"), `leftover ${e.name}`);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

/** The content every appended directory layer holds. */
const APP_TREE: Record<string, string> = {
  "app/run.sh": "#!/bin/sh\necho run\n",
  "app/config/settings.ini": "[main]\nkey=value\n",
  "app/config/deeper/nested.txt": "nested\n",
  "app/current": "->config/settings.ini",
  "app/absolute": "->/etc/hostname",
  "top.txt": "top level\n",
};

/** A directory with files, a symlink, a hardlink and subdirectories (with modes). */
async function appDir(dir: string): Promise<string> {
  const root = `${dir}/app-dir`;
  await writeTree(root, APP_TREE);
  await Deno.link(`${root}/app/run.sh`, `${root}/app/run-hardlink.sh`);
  await Deno.chmod(`${root}/app/run.sh`, 0o755);
  await Deno.chmod(`${root}/app/config`, 0o750);
  return root;
}

/** A layer tar with a directory, files, a symlink and a hardlink, written by hand. */
function extraTar(): Uint8Array {
  return buildTar([
    { name: "extra/", type: "dir", mode: 0o755, mtime: 1_700_000_000 },
    { name: "extra/one.txt", type: "file", data: "one\n", mtime: 1_700_000_001 },
    { name: "extra/two.txt", type: "file", data: "two\n", mode: 0o600, mtime: 1_700_000_002 },
    { name: "extra/link", type: "symlink", linkname: "one.txt", mtime: 1_700_000_003 },
    { name: "extra/hard", type: "hardlink", linkname: "extra/one.txt", mtime: 1_700_000_001 },
  ]);
}

/** What an appended image's config must say. */
interface ExpectedConfig {
  entrypoint: string[];
  cmd: string[];
  env: string[];
  labels: Record<string, string>;
  user: string;
  workdir: string;
  /** History entries of the base. */
  baseHistory: number;
  /** Layers the base had. */
  baseLayers: number;
  /** Layers append added. */
  newLayers: number;
}

const APPEND_FLAGS = [
  "--entrypoint",
  '["/app/run.sh","--verbose"]',
  "--cmd",
  "serve",
  // A value starting with "-" must be attached with "=" (node:util parseArgs refuses it as a
  // separate argument).
  "--cmd=--port=8080",
  "--env",
  "MODE=prod",
  "--env",
  "EMPTY=",
  "--label",
  "version=1.0",
  "--label",
  "org.opencontainers.image.title=appended",
  "--user",
  "1000:1000",
  "--workdir",
  "/app",
];

/** Checks an appended image's config against `want`. */
async function checkConfig(layout: string, tag: string, want: ExpectedConfig): Promise<void> {
  const config = JSON.parse(
    await ociboxOk(["inspect", "--config", `oci:${layout}:${tag}`]),
  ) as ConfigJson;
  assert.deepEqual(config.config?.Entrypoint, want.entrypoint);
  assert.deepEqual(config.config?.Cmd, want.cmd);
  assert.deepEqual(config.config?.Env, want.env);
  assert.deepEqual(config.config?.Labels, want.labels);
  assert.equal(config.config?.User, want.user);
  assert.equal(config.config?.WorkingDir, want.workdir);
  assert.equal(config.rootfs.diff_ids.length, want.baseLayers + want.newLayers);
  const history = config.history ?? [];
  assert.equal(history.length, want.baseHistory + want.newLayers, "one history entry per layer");
  for (const h of history.slice(want.baseHistory)) {
    assert.ok(!h.empty_layer, "a new layer's history entry is not empty_layer");
    assert.equal(h.created, config.created);
  }
}

/**
 * The checks every appended image gets: oci-image-tool validates it (a zstd image only up to
 * its layer media type, see below), skopeo inspects it like ocibox and copies it.
 */
async function checkWithPeers(layout: string, tag: string, zstd = false): Promise<void> {
  const location = `oci:${layout}:${tag}`;
  const v = await runRaw("oci-image-tool", [
    "validate",
    "--type",
    "image",
    "--ref",
    `name=${tag}`,
    layout,
  ]);
  if (!zstd || v.code === 0) {
    assert.equal(v.code, 0, `oci-image-tool validate ${tag}: ${v.stdout}${v.stderr}`);
  } else {
    // oci-image-tool 1.0.0-rc1 predates the tar+zstd media type (image-spec 1.1) and refuses
    // it; that must be its only complaint, and the manifest and config validate alone.
    assert.match(
      v.stderr,
      /invalid descriptor MediaType \\?"application\/vnd\.oci\.image\.layer\.v1\.tar\+zstd/,
    );
    assert.match(v.stderr, /1 errors detected/);
    const m = JSON.parse(
      decoder.decode(await ociboxBytes(["inspect", "--raw", location])),
    ) as ManifestJson;
    const top = (await readJson<ManifestJson>(`${layout}/index.json`)).manifests
      .find((d) => d.annotations?.[REF_NAME] === tag)!;
    await run("oci-image-tool", ["validate", "--type", "manifest", blobFile(layout, top.digest)]);
    await run("oci-image-tool", [
      "validate",
      "--type",
      "config",
      blobFile(layout, m.config.digest),
    ]);
  }
  const raw = await ociboxBytes(["inspect", "--raw", location]);
  assert.deepEqual(await skopeoBytes(["inspect", "--raw", location]), raw);
  await compareInspect(location, JSON.parse(decoder.decode(raw)) as ManifestJson);
  const copy = `${layout}-skopeo-copy`;
  await skopeo(["copy", "--quiet", location, `oci:${copy}:t`]);
  assert.deepEqual(
    await skopeoBytes(["inspect", "--raw", `oci:${copy}:t`]),
    raw,
    "unchanged by skopeo copy",
  );
}

/** Unpacks with umoci and ocibox and asserts the same trees (non-directory mtimes included). */
async function assertSameUnpack(dir: string, layout: string, tag: string): Promise<void> {
  const ours = `${dir}/ocibox-${tag}`, theirs = `${dir}/umoci-${tag}`;
  await ociboxOk(["unpack", "-q", `oci:${layout}:${tag}`, ours]);
  await run("umoci", ["unpack", "--image", `${layout}:${tag}`, theirs]);
  const [a, b] = await Promise.all([
    snapshotTree(`${ours}/rootfs`, { mtimes: "nondir" }),
    snapshotTree(`${theirs}/rootfs`, { mtimes: "nondir" }),
  ]);
  assert.deepEqual(diffSnapshots(a, b, ["ocibox", "umoci"]), [], `${tag}: ocibox vs umoci`);
}

/** The stored layer blob's descriptors of `tag`. */
async function layersOf(layout: string, tag: string): Promise<DescriptorJson[]> {
  const raw = await ociboxBytes(["inspect", "--raw", `oci:${layout}:${tag}`]);
  return (JSON.parse(decoder.decode(raw)) as ManifestJson).layers;
}

peerTest(
  "append onto scratch: validates, skopeo reads and copies it, umoci unpacks the same",
  APPEND_PEERS,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "ocibox-interop-" });
    try {
      const src = await appDir(dir);
      const layout = `${dir}/layout`;
      await ociboxOk(["append", "-q", "--layer", src, ...APPEND_FLAGS, `oci:${layout}:scratch`]);
      await checkConfig(layout, "scratch", {
        entrypoint: ["/app/run.sh", "--verbose"],
        cmd: ["serve", "--port=8080"],
        env: ["MODE=prod", "EMPTY="],
        labels: { "version": "1.0", "org.opencontainers.image.title": "appended" },
        user: "1000:1000",
        workdir: "/app",
        baseHistory: 0,
        baseLayers: 0,
        newLayers: 1,
      });
      const layers = await layersOf(layout, "scratch");
      assert.deepEqual(layers.map((l) => l.mediaType), [
        "application/vnd.oci.image.layer.v1.tar+gzip",
      ]);
      await checkWithPeers(layout, "scratch");
      await assertSameUnpack(dir, layout, "scratch");
      // The tree is what the directory held: a hardlink stays one, symlinks stay symlinks.
      const snap = await snapshotTree(`${dir}/ocibox-scratch/rootfs`);
      assert.deepEqual(snap.hardlinks, [["app/run-hardlink.sh", "app/run.sh"]]);
      assert.equal(snap.nodes["app/current"].target, "config/settings.ini");
      assert.equal(snap.nodes["app/absolute"].target, "/etc/hostname");
      assert.equal(snap.nodes["app/run.sh"].mode, 0o755);
      assert.equal(snap.nodes["app/config"].mode, 0o750);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

peerTest(
  "append onto a umoci base (dir, .tar.gz, .tar): validates, skopeo and umoci agree",
  APPEND_PEERS,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "ocibox-interop-" });
    try {
      const layout = await umociImage(dir);
      const src = await appDir(dir);
      const tar = extraTar();
      const tarGz = compressBytes(tar, "gzip");
      await Deno.writeFile(`${dir}/extra.tar`, tar);
      await Deno.writeFile(`${dir}/extra.tar.gz`, tarGz);
      const second = buildTar([{ name: "second/file.txt", type: "file", data: "second\n" }]);
      await Deno.writeFile(`${dir}/second.tar`, second);
      const baseConfig = JSON.parse(
        await skopeo(["inspect", "--config", `oci:${layout}:base`]),
      ) as ConfigJson;
      await ociboxOk([
        "append",
        "-q",
        "--base",
        `oci:${layout}:base`,
        "--layer",
        src,
        "--layer",
        `${dir}/extra.tar.gz`,
        "--layer",
        `${dir}/second.tar`,
        ...APPEND_FLAGS,
        `oci:${layout}:app`,
      ]);
      await checkConfig(layout, "app", {
        entrypoint: ["/app/run.sh", "--verbose"],
        cmd: ["serve", "--port=8080"],
        env: [...(baseConfig.config?.Env ?? []), "MODE=prod", "EMPTY="],
        labels: { ...LABELS, "version": "1.0", "org.opencontainers.image.title": "appended" },
        user: "1000:1000",
        workdir: "/app",
        baseHistory: baseConfig.history?.length ?? 0,
        baseLayers: 3,
        newLayers: 3,
      });
      const config = JSON.parse(
        await ociboxOk(["inspect", "--config", `oci:${layout}:app`]),
      ) as ConfigJson;
      assert.deepEqual(config.rootfs.diff_ids.slice(0, 3), baseConfig.rootfs.diff_ids, "base kept");
      assert.equal(config.rootfs.diff_ids[4], sha256Digest(tar), "the .tar.gz layer's diff_id");
      assert.equal(config.rootfs.diff_ids[5], sha256Digest(second), "the .tar layer's diff_id");
      const layers = await layersOf(layout, "app");
      const baseLayers = await layersOf(layout, "base");
      assert.deepEqual(layers.slice(0, 3), baseLayers, "the base's layers are reused as they are");
      assert.equal(layers[4].digest, sha256Digest(tarGz), "a .tar.gz is stored unchanged");
      assert.ok(layers.every((l) => l.mediaType === "application/vnd.oci.image.layer.v1.tar+gzip"));
      // The base tag is untouched.
      const index = await readJson<ManifestJson>(`${layout}/index.json`);
      assert.deepEqual(index.manifests.map((m) => m.annotations?.[REF_NAME]).sort(), [
        "app",
        "base",
      ]);
      await checkWithPeers(layout, "app");
      await assertSameUnpack(dir, layout, "app");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

peerTest(
  "append with --compression zstd: skopeo reads it, unpacks like the gzip twin",
  APPEND_PEERS,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "ocibox-interop-" });
    try {
      const src = await appDir(dir);
      const tar = extraTar();
      await Deno.writeFile(`${dir}/extra.tar`, tar);
      const layout = `${dir}/layout`;
      const env = { SOURCE_DATE_EPOCH: "1700000000" };
      for (const compression of ["zstd", "gzip"]) {
        await ociboxOk([
          "append",
          "-q",
          "--compression",
          compression,
          "--layer",
          src,
          "--layer",
          `${dir}/extra.tar`,
          ...APPEND_FLAGS,
          `oci:${layout}:${compression}`,
        ], { env });
      }
      const zstdLayers = await layersOf(layout, "zstd");
      assert.deepEqual(
        zstdLayers.map((l) => l.mediaType),
        [
          "application/vnd.oci.image.layer.v1.tar+zstd",
          "application/vnd.oci.image.layer.v1.tar+zstd",
        ],
      );
      for (const l of zstdLayers) {
        const head = (await Deno.readFile(blobFile(layout, l.digest))).slice(0, 4);
        assert.deepEqual([...head], [0x28, 0xb5, 0x2f, 0xfd], "zstd magic");
      }
      // Same content, same diff_ids: only the compression differs.
      const diffIds = async (tag: string) =>
        (JSON.parse(await ociboxOk(["inspect", "--config", `oci:${layout}:${tag}`])) as ConfigJson)
          .rootfs.diff_ids;
      assert.deepEqual(await diffIds("zstd"), await diffIds("gzip"));
      assert.equal((await diffIds("zstd"))[1], sha256Digest(tar));
      await checkConfig(layout, "zstd", {
        entrypoint: ["/app/run.sh", "--verbose"],
        cmd: ["serve", "--port=8080"],
        env: ["MODE=prod", "EMPTY="],
        labels: { "version": "1.0", "org.opencontainers.image.title": "appended" },
        user: "1000:1000",
        workdir: "/app",
        baseHistory: 0,
        baseLayers: 0,
        newLayers: 2,
      });
      await checkWithPeers(layout, "zstd", true);
      await checkWithPeers(layout, "gzip");
      // umoci 0.4.7 cannot read zstd: it unpacks the gzip twin, ocibox unpacks both.
      await assertSameUnpack(dir, layout, "gzip");
      await ociboxOk(["unpack", "-q", `oci:${layout}:zstd`, `${dir}/ocibox-zstd`]);
      const [a, b] = await Promise.all([
        snapshotTree(`${dir}/ocibox-zstd/rootfs`, { mtimes: "nondir" }),
        snapshotTree(`${dir}/ocibox-gzip/rootfs`, { mtimes: "nondir" }),
      ]);
      assert.deepEqual(diffSnapshots(a, b, ["zstd", "gzip"]), []);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

peerTest("copy of a skopeo docker-archive into oci: validates with oci-image-tool", {
  peers: ["umoci", "skopeo", "oci-image-tool"],
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "ocibox-interop-" });
  try {
    const layout = await umociImage(dir);
    const archive = `${dir}/docker.tar`;
    await skopeo(["copy", "--quiet", `oci:${layout}:base`, `docker-archive:${archive}:ex/app:v1`]);
    const out = `${dir}/from-docker`;
    await ociboxOk(["copy", "-q", `docker-archive:${archive}`, `oci:${out}:converted`]);
    const v = await runRaw("oci-image-tool", [
      "validate",
      "--type",
      "image",
      "--ref",
      "name=converted",
      out,
    ]);
    assert.equal(v.code, 0, `${v.stdout}${v.stderr}`);
    // The image's identity (config, so diff_ids) is unchanged; layers are gzip in the layout.
    const config = await skopeoBytes(["inspect", "--config", "--raw", `oci:${out}:converted`]);
    assert.deepEqual(
      config,
      await skopeoBytes(["inspect", "--config", "--raw", `oci:${layout}:base`]),
    );
    const m = JSON.parse(
      await skopeo(["inspect", "--raw", `oci:${out}:converted`]),
    ) as ManifestJson;
    assert.equal(m.mediaType, "application/vnd.oci.image.manifest.v1+json");
    assert.equal(m.config.mediaType, "application/vnd.oci.image.config.v1+json");
    assert.ok(m.layers.every((l) => l.mediaType === "application/vnd.oci.image.layer.v1.tar+gzip"));
    await compareInspect(`oci:${out}:converted`, m);
    // And skopeo's own conversion of the same archive validates too (a sanity check of the tool).
    await skopeo(["copy", "--quiet", `docker-archive:${archive}`, `oci:${dir}/by-skopeo:s`]);
    await run("oci-image-tool", [
      "validate",
      "--type",
      "image",
      "--ref",
      "name=s",
      `${dir}/by-skopeo`,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

peerTest("SOURCE_DATE_EPOCH makes two appends of the same directory byte-identical", {
  peers: ["oci-image-tool", "tar"],
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "ocibox-interop-" });
  try {
    const src = await appDir(dir);
    const env = { SOURCE_DATE_EPOCH: "1700000000" };
    const args = (dest: string) => ["append", "-q", "--layer", src, ...APPEND_FLAGS, dest];
    await ociboxOk(args(`oci:${dir}/one:t`), { env });
    // Newer mtimes and another second on the clock change nothing.
    const later = new Date(Date.now() + 3_600_000);
    for (const p of ["top.txt", "app/run.sh", "app/config"]) {
      await Deno.utime(`${src}/${p}`, later, later);
    }
    await new Promise((r) => setTimeout(r, 1100));
    await ociboxOk(args(`oci:${dir}/two:t`), { env });
    const [one, two] = await Promise.all(
      ["one", "two"].map((d) => ociboxBytes(["inspect", "--raw", `oci:${dir}/${d}:t`])),
    );
    assert.deepEqual(one, two, "the same manifest bytes");
    assert.deepEqual(
      await Deno.readFile(`${dir}/one/index.json`),
      await Deno.readFile(`${dir}/two/index.json`),
    );
    const m = JSON.parse(decoder.decode(one)) as ManifestJson;
    for (const d of [m.config.digest, ...m.layers.map((l) => l.digest)]) {
      assert.deepEqual(
        await Deno.readFile(blobFile(`${dir}/one`, d)),
        await Deno.readFile(blobFile(`${dir}/two`, d)),
      );
    }
    const config = JSON.parse(
      await ociboxOk(["inspect", "--config", `oci:${dir}/one:t`]),
    ) as ConfigJson;
    assert.equal(Date.parse(config.created!), 1_700_000_000_000);
    // Every mtime in the layer is clamped to SOURCE_DATE_EPOCH.
    const listing = await run("tar", [
      "--full-time",
      "-tvzf",
      blobFile(`${dir}/one`, m.layers[0].digest),
    ], {
      env: { TZ: "UTC" },
    });
    for (const line of listing.trim().split("\n")) assert.match(line, /2023-11-14 22:13:20/, line);
    await run("oci-image-tool", ["validate", "--type", "image", "--ref", "name=t", `${dir}/one`]);

    // Without SOURCE_DATE_EPOCH the creation time is now, so the digests differ.
    await ociboxOk(args(`oci:${dir}/three:t`));
    assert.notDeepEqual(await ociboxBytes(["inspect", "--raw", `oci:${dir}/three:t`]), one);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
