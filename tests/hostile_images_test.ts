/**
 * Hostile images through the real command line: layouts, archives and a registry built to make
 * a reader loop, wait, read outside what it was given, print what it read, or take memory in
 * proportion to a member count. Every case runs `ocibox` under a time limit (a hang fails the
 * test instead of stalling it) in its own temporary directory T, with TMPDIR inside T, and
 * checks:
 * - one line on stderr, `error: <what, where, why>`, and a non-zero exit;
 * - T unchanged afterwards but for what the case names (the copy's target never appears, no
 *   temporary file is left), and secrets planted in T never printed;
 * - where skopeo has an answer, what it does with the same input (noted where it differs).
 *
 * | case                                                    | ocibox             | skopeo 1.9
 * |---------------------------------------------------------|--------------------|---------------
 * | 40 nested indexes, each listing the next twice (layout) | LIMIT_EXCEEDED     | refuses nesting
 * | the same chain served by a registry                     | LIMIT_EXCEEDED     | -
 * | 3 nested indexes, 50-fold fan-out each                  | copied, once each  | refuses nesting
 * | docker-archive:DIR with layer.tar -> host .gz file      | UNSAFE_PATH        | no DIR form
 * | docker-archive tar with layer.tar -> /host path         | NOT_FOUND          | not found
 * | oci: index.json -> host file                            | UNSAFE_PATH        | echoes a byte
 * | oci: layer blob -> same bytes outside the layout        | UNSAFE_PATH        | copies it
 * | oci: destination blobs/ -> elsewhere                    | UNSAFE_PATH        | writes there
 * | dir: manifest.json -> host file                         | UNSAFE_PATH        | -
 * | oci: index.json is a FIFO                               | NOT_A_FILE         | hangs
 * | docker-archive:/dev/zero                                | NOT_A_FILE         | no manifest
 * | dir: destination whose version is a FIFO                | NOT_A_FILE         | -
 * | index.json / config that is not JSON                    | no bytes echoed    | echoes a byte
 * | manifest with layers and Layers                         | IMAGE_INVALID      | reads Layers
 * | index.json entry with Annotations (a hidden tag)        | IMAGE_INVALID      | finds the tag
 * | two layer files with one diff_id, the first tampered    | DIGEST_MISMATCH    | DIGEST_MISMATCH
 * | oci-archive with 250000 members, 64 MiB heap            | LIMIT_EXCEEDED     | -
 * @module
 */
import assert from "node:assert/strict";
import zlib from "node:zlib";
import { makeEntry } from "../lib/archive/tar/entry.ts";
import { encodeEntryHeader, END_OF_ARCHIVE } from "../lib/archive/tar/writer.ts";
import { buildTar, hostArchitecture, sha256Digest, writeImage } from "./support/images.ts";
import { MAIN_TS, type OciboxResult, toResult } from "./support/ocibox_cli.ts";
import { peerTest, runPeer } from "./support/peers.ts";
import { diffSnapshots, snapshotTree } from "./support/tree_snapshot.ts";

const enc = new TextEncoder();
const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const REF_NAME = "org.opencontainers.image.ref.name";
/** Planted in every case's T: no output may ever contain it. */
const SECRET = "root:$6$SECRETSALT$SECRETHASH:19000:0:99999:7:::\n";

/** What one time-limited run gave. */
interface Run extends OciboxResult {
  /** Wall time in milliseconds. */
  ms: number;
}

/**
 * Runs `ocibox ARGS...` with TMPDIR in `tmp`, killed after `seconds`: the test then fails with
 * what it printed so far. `heapMiB` caps V8's heap, making a run that needs more memory fail.
 */
async function ocibox(
  tmp: string,
  args: string[],
  options: { seconds?: number; heapMiB?: number } = {},
): Promise<Run> {
  const v8 = options.heapMiB ? [`--v8-flags=--max-old-space-size=${options.heapMiB}`] : [];
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-lock", ...v8, MAIN_TS, ...args],
    env: { NO_COLOR: "1", TMPDIR: `${tmp}/tmp` },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const started = performance.now();
  const seconds = options.seconds ?? 30;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, seconds * 1000);
  const out = toResult(await child.output());
  clearTimeout(timer);
  const ms = performance.now() - started;
  if (timedOut) {
    throw new Error(
      `ocibox ${args.join(" ")} still ran after ${seconds} s; stderr: ${out.stderr.slice(0, 2000)}`,
    );
  }
  return { ...out, ms };
}

/** Asserts a refusal: non-zero exit, one `error:` line matching `message`, no secret shown. */
function assertRefused(r: Run, message: RegExp): void {
  const shown = `exit ${r.code}, stdout ${JSON.stringify(r.stdout.slice(0, 500))}, stderr ${
    JSON.stringify(r.stderr.slice(0, 2000))
  }`;
  assert.notEqual(r.code, 0, shown);
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, shown);
  assert.match(lines[0], /^error: /, shown);
  assert.match(lines[0], message, shown);
  assert.doesNotMatch(r.stderr + r.stdout, /SECRET/, shown);
}

/**
 * Runs `fn` in a fresh T holding `T/tmp` (TMPDIR of the runs) and `T/secret`; afterwards T must
 * be as `fn` left it before its runs, except for the names in `changes`.
 */
async function hostileCase(
  fn: (tmp: string, settled: () => Promise<void>) => Promise<void>,
): Promise<void> {
  const tmp = await Deno.makeTempDir({ prefix: "ocibox-hostile-images-" });
  try {
    await Deno.mkdir(`${tmp}/tmp`);
    await Deno.writeTextFile(`${tmp}/secret`, SECRET);
    let before: Awaited<ReturnType<typeof snapshotTree>> | undefined;
    // The case calls settled() once its inputs are written; every run after must leave T so.
    const settled = async () => {
      before = await snapshotTree(tmp, { mtimes: "nondir" });
    };
    await fn(tmp, settled);
    if (before) {
      const after = await snapshotTree(tmp, { mtimes: "nondir" });
      assert.deepEqual(diffSnapshots(before, after, ["before", "after"]), []);
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

async function writeBlob(layout: string, bytes: Uint8Array): Promise<string> {
  const digest = sha256Digest(bytes);
  await Deno.mkdir(`${layout}/blobs/sha256`, { recursive: true });
  await Deno.writeFile(`${layout}/blobs/sha256/${digest.slice(7)}`, bytes);
  return digest;
}

/** A one-layer image tagged `v1` in the layout `layout`. */
async function plainImage(layout: string) {
  const tar = buildTar([{ name: "hello.txt", type: "file", data: "hi\n" }]);
  return await writeImage(layout, "v1", { layers: [{ tar, compression: "gzip" }] });
}

/** Sets index.json of `layout` to hold only `desc`, tagged `tag`. */
async function tagOnly(
  layout: string,
  desc: { mediaType: string; digest: string; size: number },
  tag: string,
): Promise<void> {
  await Deno.writeTextFile(
    `${layout}/index.json`,
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ ...desc, annotations: { [REF_NAME]: tag } }],
    }),
  );
}

/**
 * Adds `depth` image indexes in a row above the image `v1` of `layout`, each listing the next
 * `fan` times (for this platform), and tags the top one `nest`.
 */
async function nestedIndexes(layout: string, depth: number, fan: number): Promise<void> {
  const image = await plainImage(layout);
  let child = {
    mediaType: OCI_MANIFEST,
    digest: image.manifestDigest,
    size: (await Deno.stat(`${layout}/blobs/sha256/${image.manifestDigest.slice(7)}`)).size,
  };
  const platform = { architecture: hostArchitecture(), os: "linux" };
  for (let i = 0; i < depth; i++) {
    const bytes = enc.encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: Array.from({ length: fan }, () => ({ ...child, platform })),
    }));
    child = { mediaType: OCI_INDEX, digest: await writeBlob(layout, bytes), size: bytes.length };
  }
  await tagOnly(layout, child, "nest");
}

// --- 1. index graphs --------------------------------------------------------------------------

peerTest("40 nested indexes each listing the next twice: refused at once", {
  peers: ["skopeo"],
}, async () => {
  await hostileCase(async (tmp, settled) => {
    await nestedIndexes(`${tmp}/L`, 40, 2);
    await settled();
    for (
      const args of [
        ["copy", "-q", "--all", `oci:${tmp}/L:nest`, `oci:${tmp}/out`],
        ["copy", "-q", `oci:${tmp}/L:nest`, `oci:${tmp}/out`],
        ["inspect", `oci:${tmp}/L:nest`],
      ]
    ) {
      const r = await ocibox(tmp, args, { seconds: 20 });
      assertRefused(r, /: indexes nest more than 4 deep \(ocibox follows at most 4 indexes/);
      assert.ok(r.ms < 10_000, `${args[0]} took ${r.ms} ms`);
    }
    // skopeo copies no nested index at all; its inspect follows the chain to the end.
    const theirs = await runPeer("skopeo", [
      "copy",
      "--all",
      `oci:${tmp}/L:nest`,
      `oci:${tmp}/skopeo-out`,
    ], { timeoutSeconds: 60 });
    assert.notEqual(theirs.code, 0);
    assert.match(theirs.stderr, /Unexpectedly received a manifest list/);
    await Deno.remove(`${tmp}/skopeo-out`, { recursive: true }).catch(() => {});
  });
});

Deno.test("the nested chain served by a registry: a handful of manifest GETs, then refused", async () => {
  await hostileCase(async (tmp, settled) => {
    const layout = `${tmp}/L`;
    await nestedIndexes(layout, 40, 2);
    const index = JSON.parse(await Deno.readTextFile(`${layout}/index.json`));
    const top: string = index.manifests[0].digest;
    let manifestGets = 0;
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
      const path = new URL(req.url).pathname;
      if (path === "/v2/") return Response.json({});
      const m = /^\/v2\/nest\/(manifests|blobs)\/(.+)$/.exec(path);
      if (!m) return new Response("not found", { status: 404 });
      const digest = m[2] === "t" ? top : m[2];
      let bytes: Uint8Array<ArrayBuffer>;
      try {
        bytes = await Deno.readFile(`${layout}/blobs/sha256/${digest.replace("sha256:", "")}`);
      } catch {
        return new Response("not found", { status: 404 });
      }
      const headers: Record<string, string> = { "docker-content-digest": digest };
      if (m[1] === "manifests") {
        if (req.method === "GET") manifestGets++;
        headers["content-type"] = JSON.parse(new TextDecoder().decode(bytes)).mediaType;
      }
      return new Response(req.method === "HEAD" ? null : bytes, {
        headers: { ...headers, "content-length": String(bytes.length) },
      });
    });
    try {
      await settled();
      const host = `127.0.0.1:${server.addr.port}`;
      const r = await ocibox(tmp, [
        "copy",
        "-q",
        "--all",
        `docker://${host}/nest:t`,
        `oci:${tmp}/o`,
      ], {
        seconds: 30,
      });
      assertRefused(r, /indexes nest more than 4 deep/);
      assert.ok(manifestGets <= 10, `${manifestGets} manifest GETs`);
    } finally {
      await server.shutdown();
    }
  });
});

peerTest("3 nested indexes with 50-fold fan-out: each manifest copied once", {
  peers: ["skopeo"],
}, async () => {
  await hostileCase(async (tmp) => {
    await nestedIndexes(`${tmp}/L`, 3, 50);
    // 50^3 paths to one image, 6 blobs (3 indexes, manifest, config, layer).
    const r = await ocibox(tmp, ["copy", "-q", "--all", `oci:${tmp}/L:nest`, `oci:${tmp}/o:x`], {
      seconds: 30,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.ms < 15_000, `took ${r.ms} ms`);
    assert.equal([...Deno.readDirSync(`${tmp}/o/blobs/sha256`)].length, 6);
    // What ocibox wrote is a valid layout that skopeo reads (down the chain, as it does).
    const theirs = await runPeer("skopeo", ["inspect", `oci:${tmp}/o:x`]);
    assert.equal(theirs.code, 0, theirs.stderr);
  });
});

// --- 2. files out of the directory ------------------------------------------------------------

/** The files of a docker save of one image, its layer being `layerFile` (a path in the save). */
function dockerSave(layerFile: string, layerTar: Uint8Array) {
  const config = enc.encode(JSON.stringify({
    architecture: hostArchitecture(),
    os: "linux",
    rootfs: { type: "layers", diff_ids: [sha256Digest(layerTar)] },
  }));
  const configFile = `${sha256Digest(config).slice(7)}.json`;
  return {
    config: [configFile, config] as const,
    manifest: enc.encode(
      JSON.stringify([{ Config: configFile, RepoTags: ["x:v1"], Layers: [layerFile] }]),
    ),
  };
}

peerTest("docker-archive: a layer.tar linked to a host file is refused, DIR and tar alike", {
  peers: ["skopeo"],
}, async () => {
  await hostileCase(async (tmp, settled) => {
    // Any readable compressed host file: it used to be copied into the image unchecked.
    await Deno.writeFile(`${tmp}/host.gz`, zlib.gzipSync(enc.encode(SECRET)));
    const layer = buildTar([{ name: "a.txt", type: "file", data: "a\n" }]);
    const save = dockerSave("abc/layer.tar", layer);
    const dir = `${tmp}/save`;
    await Deno.mkdir(`${dir}/abc`, { recursive: true });
    await Deno.writeFile(`${dir}/${save.config[0]}`, save.config[1]);
    await Deno.writeFile(`${dir}/manifest.json`, save.manifest);
    await Deno.symlink(`${tmp}/host.gz`, `${dir}/abc/layer.tar`);
    // The tar form of the same save: the link resolves inside the archive, where nothing is.
    await Deno.writeFile(
      `${tmp}/save.tar`,
      buildTar([
        { name: save.config[0], type: "file", data: save.config[1] },
        { name: "abc/layer.tar", type: "symlink", linkname: `${tmp}/host.gz` },
        { name: "manifest.json", type: "file", data: save.manifest },
      ]),
    );
    await settled();
    const r = await ocibox(tmp, ["copy", "-q", `docker-archive:${dir}`, `oci:${tmp}/o:x`]);
    assertRefused(
      r,
      new RegExp(`^error: unsafe path "${dir}/abc/layer\\.tar": a symbolic link leads outside`),
    );
    const t = await ocibox(tmp, ["copy", "-q", `docker-archive:${tmp}/save.tar`, `oci:${tmp}/o:x`]);
    assertRefused(t, /abc\/layer\.tar does not exist/);
    // skopeo has no directory form; with the tar it finds nothing either (inspect does not read
    // layers, copy does).
    const theirs = await runPeer("skopeo", [
      "copy",
      `docker-archive:${tmp}/save.tar`,
      `oci:${tmp}/tmp/skopeo:x`,
    ]);
    assert.notEqual(theirs.code, 0);
    assert.match(theirs.stderr, /reading blob sha256:[0-9a-f]{64}: file does not exist/);
    await Deno.remove(`${tmp}/tmp/skopeo`, { recursive: true }).catch(() => {});
  });
});

peerTest("oci: index.json or a blob linked out of the layout is refused", {
  peers: ["skopeo"],
}, async () => {
  await hostileCase(async (tmp, settled) => {
    const img = await plainImage(`${tmp}/L`);
    await Deno.rename(`${tmp}/L/index.json`, `${tmp}/index.json.real`);
    await Deno.symlink(`${tmp}/secret`, `${tmp}/L/index.json`);
    const layer = `blobs/sha256/${img.layerDigests[0].slice(7)}`;
    await plainImage(`${tmp}/M`);
    await Deno.rename(`${tmp}/M/${layer}`, `${tmp}/layer-outside`);
    await Deno.symlink("../../../layer-outside", `${tmp}/M/${layer}`);
    await settled();
    const r = await ocibox(tmp, ["inspect", `oci:${tmp}/L:v1`]);
    assertRefused(r, /^error: unsafe path ".*\/L\/index\.json": a symbolic link leads outside/);
    // skopeo reads the host file and shows a byte of it.
    const theirs = await runPeer("skopeo", ["inspect", `oci:${tmp}/L:v1`]);
    assert.notEqual(theirs.code, 0);
    assert.match(theirs.stderr, /invalid character 'r'/);
    const c = await ocibox(tmp, ["copy", "-q", `oci:${tmp}/M:v1`, `oci:${tmp}/o:x`]);
    assertRefused(c, /M\/blobs\/sha256\/[0-9a-f]{64}": a symbolic link leads outside/);
    // skopeo copies the outside file: its bytes match the digest.
    const copied = await runPeer("skopeo", ["copy", `oci:${tmp}/M:v1`, `oci:${tmp}/skopeo:x`]);
    assert.equal(copied.code, 0, copied.stderr);
    await Deno.remove(`${tmp}/skopeo`, { recursive: true });
  });
});

peerTest("oci: a destination whose blobs lead elsewhere is refused; nothing is written there", {
  peers: ["skopeo"],
}, async () => {
  /** A layout S with an image of its own, and D whose blobs/ is a link to T/elsewhere. */
  const prepare = async (tmp: string) => {
    const tar = buildTar([{ name: "other.txt", type: "file", data: "other\n" }]);
    await writeImage(`${tmp}/S`, "v1", { layers: [{ tar, compression: "gzip" }] });
    await plainImage(`${tmp}/D`);
    await Deno.rename(`${tmp}/D/blobs`, `${tmp}/elsewhere`);
    await Deno.symlink(`${tmp}/elsewhere`, `${tmp}/D/blobs`);
  };
  await hostileCase(async (tmp, settled) => {
    await prepare(tmp);
    await settled();
    const r = await ocibox(tmp, ["copy", "-q", `oci:${tmp}/S:v1`, `oci:${tmp}/D:new`]);
    assertRefused(r, /D\/blobs": a symbolic link leads outside/);
  });
  // skopeo writes the new image's blobs through the link.
  await hostileCase(async (tmp) => {
    await prepare(tmp);
    const before = [...Deno.readDirSync(`${tmp}/elsewhere/sha256`)].length;
    const theirs = await runPeer("skopeo", ["copy", `oci:${tmp}/S:v1`, `oci:${tmp}/D:new`]);
    assert.equal(theirs.code, 0, theirs.stderr);
    assert.ok([...Deno.readDirSync(`${tmp}/elsewhere/sha256`)].length > before);
  });
});

Deno.test("dir: a manifest.json linked to a host file is refused without reading it", async () => {
  await hostileCase(async (tmp, settled) => {
    await plainImage(`${tmp}/L`);
    const made = await ocibox(tmp, ["copy", "-q", `oci:${tmp}/L:v1`, `dir:${tmp}/D`]);
    assert.equal(made.code, 0, made.stderr);
    await Deno.remove(`${tmp}/D/manifest.json`);
    await Deno.symlink(`${tmp}/secret`, `${tmp}/D/manifest.json`);
    await settled();
    const r = await ocibox(tmp, ["inspect", `dir:${tmp}/D`]);
    assertRefused(r, /D\/manifest\.json": a symbolic link leads outside/);
  });
});

// --- 3. FIFOs, sockets, devices ---------------------------------------------------------------

peerTest("oci: an index.json that is a FIFO is refused at once (skopeo waits for ever)", {
  peers: ["skopeo"],
}, async () => {
  await hostileCase(async (tmp, settled) => {
    await plainImage(`${tmp}/L`);
    await Deno.remove(`${tmp}/L/index.json`);
    await new Deno.Command("mkfifo", { args: [`${tmp}/L/index.json`] }).output();
    const layer = (await plainImage(`${tmp}/M`)).layerDigests[0].slice(7);
    await Deno.remove(`${tmp}/M/blobs/sha256/${layer}`);
    await new Deno.Command("mkfifo", { args: [`${tmp}/M/blobs/sha256/${layer}`] }).output();
    await settled();
    const r = await ocibox(tmp, ["inspect", `oci:${tmp}/L:v1`], { seconds: 20 });
    assertRefused(r, /L\/index\.json: is a FIFO, not a regular file$/);
    const c = await ocibox(tmp, ["copy", "-q", `oci:${tmp}/M:v1`, `oci:${tmp}/o:x`], {
      seconds: 20,
    });
    assertRefused(c, new RegExp(`M/blobs/sha256/${layer}: is a FIFO, not a regular file$`));
    const theirs = await runPeer("skopeo", ["inspect", `oci:${tmp}/L:v1`], { timeoutSeconds: 3 });
    assert.equal(theirs.code, 124, "skopeo was expected to wait on the FIFO until killed");
  });
});

peerTest("docker-archive:/dev/zero is refused, not copied into a temporary file for ever", {
  peers: ["skopeo"],
}, async () => {
  await hostileCase(async (tmp, settled) => {
    await settled();
    for (const dev of ["/dev/zero", "/dev/urandom"]) {
      for (const transport of ["docker-archive", "oci-archive"]) {
        // A short limit: a reader that does not refuse fills TMPDIR at disk speed.
        const r = await ocibox(tmp, ["inspect", `${transport}:${dev}`], { seconds: 5 });
        assertRefused(
          r,
          new RegExp(`^error: ${dev}: is a character device, not a tar archive \\(a regular file`),
        );
      }
    }
    // skopeo reads /dev/zero as an empty tar (zero blocks end an archive).
    const theirs = await runPeer("skopeo", ["inspect", "docker-archive:/dev/zero"]);
    assert.notEqual(theirs.code, 0);
    assert.match(theirs.stderr, /manifest\.json: file does not exist/);
  });
});

Deno.test("dir: a destination whose version file is a FIFO is refused, not waited on", async () => {
  await hostileCase(async (tmp, settled) => {
    await plainImage(`${tmp}/L`);
    await Deno.mkdir(`${tmp}/D`);
    await Deno.writeTextFile(`${tmp}/D/keep`, "not ours to replace\n");
    await new Deno.Command("mkfifo", { args: [`${tmp}/D/version`] }).output();
    await settled();
    const r = await ocibox(tmp, ["copy", "-q", `oci:${tmp}/L:v1`, `dir:${tmp}/D`], {
      seconds: 20,
    });
    assertRefused(r, /D\/version: is a FIFO, not a regular file$/);
  });
});

// --- 4. no bytes of what was not JSON ---------------------------------------------------------

peerTest("an index.json or config that is not JSON is refused without showing its bytes", {
  peers: ["skopeo"],
}, async () => {
  await hostileCase(async (tmp, settled) => {
    await plainImage(`${tmp}/L`);
    await Deno.writeTextFile(`${tmp}/L/index.json`, SECRET);
    // A config with the right digest whose bytes are not JSON.
    const img = await plainImage(`${tmp}/M`);
    const config = enc.encode(SECRET);
    const configDigest = await writeBlob(`${tmp}/M`, config);
    const manifestPath = `${tmp}/M/blobs/sha256/${img.manifestDigest.slice(7)}`;
    const manifest = JSON.parse(await Deno.readTextFile(manifestPath));
    manifest.config = { ...manifest.config, digest: configDigest, size: config.length };
    const bytes = enc.encode(JSON.stringify(manifest));
    await tagOnly(`${tmp}/M`, {
      mediaType: OCI_MANIFEST,
      digest: await writeBlob(`${tmp}/M`, bytes),
      size: bytes.length,
    }, "v1");
    await settled();
    assertRefused(
      await ocibox(tmp, ["inspect", `oci:${tmp}/L:v1`]),
      /^error: index\.json: is not valid JSON$/,
    );
    assertRefused(
      await ocibox(tmp, ["inspect", `oci:${tmp}/M:v1`]),
      /^error: oci:.*\/M:v1: config: is not valid JSON$/,
    );
    // skopeo shows the first byte ("invalid character 'r' looking for beginning of value").
    const theirs = await runPeer("skopeo", ["inspect", `oci:${tmp}/L:v1`]);
    assert.match(theirs.stderr, /invalid character 'r'/);
  });
});

// --- 5. keys Go reads case-insensitively ------------------------------------------------------

peerTest("a manifest with layers and Layers is refused; skopeo reads the other key", {
  peers: ["skopeo"],
}, async () => {
  await hostileCase(async (tmp, settled) => {
    const img = await plainImage(`${tmp}/L`);
    const manifestPath = `${tmp}/L/blobs/sha256/${img.manifestDigest.slice(7)}`;
    const manifest = JSON.parse(await Deno.readTextFile(manifestPath));
    const other = buildTar([{ name: "evil.txt", type: "file", data: "evil\n" }]);
    const otherGz = zlib.gzipSync(other);
    const otherLayer = {
      mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
      digest: await writeBlob(`${tmp}/L`, otherGz),
      size: otherGz.length,
    };
    const bytes = enc.encode(JSON.stringify({ ...manifest, Layers: [otherLayer] }));
    await tagOnly(`${tmp}/L`, {
      mediaType: OCI_MANIFEST,
      digest: await writeBlob(`${tmp}/L`, bytes),
      size: bytes.length,
    }, "v1");
    // index.json hiding a tag in a case variant: Go tools find "hidden", ocibox would not.
    await plainImage(`${tmp}/M`);
    const index = JSON.parse(await Deno.readTextFile(`${tmp}/M/index.json`));
    index.manifests[0].Annotations = { [REF_NAME]: "hidden" };
    delete index.manifests[0].annotations;
    await Deno.writeTextFile(`${tmp}/M/index.json`, JSON.stringify(index));
    await settled();
    for (
      const args of [["inspect", `oci:${tmp}/L:v1`], [
        "copy",
        "-q",
        `oci:${tmp}/L:v1`,
        `oci:${tmp}/o:x`,
      ]]
    ) {
      assertRefused(
        await ocibox(tmp, args),
        /: "Layers" and "layers" both fill the field layers for Go's case-insensitive JSON decoding .*ambiguous document$/,
      );
    }
    const theirs = JSON.parse((await runPeer("skopeo", ["inspect", `oci:${tmp}/L:v1`])).stdout);
    assert.deepEqual(theirs.Layers, [otherLayer.digest]);
    assertRefused(
      await ocibox(tmp, ["inspect", `oci:${tmp}/M:hidden`]),
      /index\.json: manifests\[0\]: "Annotations" fills the field annotations/,
    );
    const found = await runPeer("skopeo", ["inspect", `oci:${tmp}/M:hidden`]);
    assert.equal(found.code, 0, found.stderr);
  });
});

// --- 2b. docker-archive diff_ids --------------------------------------------------------------

peerTest("docker-archive: two layer files with one diff_id, the first tampered: refused", {
  peers: ["skopeo"],
}, async () => {
  await hostileCase(async (tmp, settled) => {
    const tar = buildTar([{ name: "a.txt", type: "file", data: "aaaa\n" }]);
    const tampered = buildTar([{ name: "a.txt", type: "file", data: "evil\n" }]);
    const diffId = sha256Digest(tar);
    const config = enc.encode(JSON.stringify({
      architecture: hostArchitecture(),
      os: "linux",
      rootfs: { type: "layers", diff_ids: [diffId, diffId] },
    }));
    const configFile = `${sha256Digest(config).slice(7)}.json`;
    await Deno.writeFile(
      `${tmp}/save.tar`,
      buildTar([
        { name: configFile, type: "file", data: config },
        { name: "first/layer.tar", type: "file", data: tampered },
        { name: "second/layer.tar", type: "file", data: tar },
        {
          name: "manifest.json",
          type: "file",
          data: JSON.stringify([{
            Config: configFile,
            RepoTags: ["x:v1"],
            Layers: ["first/layer.tar", "second/layer.tar"],
          }]),
        },
      ]),
    );
    await settled();
    const r = await ocibox(tmp, ["copy", "-q", `docker-archive:${tmp}/save.tar`, `oci:${tmp}/o:x`]);
    assertRefused(
      r,
      new RegExp(`digest mismatch: expected ${diffId}, got ${sha256Digest(tampered)}`),
    );
    const theirs = await runPeer("skopeo", [
      "copy",
      `docker-archive:${tmp}/save.tar`,
      `oci:${tmp}/tmp/skopeo:x`,
    ]);
    assert.notEqual(theirs.code, 0);
    assert.match(theirs.stderr, /[Dd]igest/);
    await Deno.remove(`${tmp}/tmp/skopeo`, { recursive: true }).catch(() => {});
  });
});

// --- 6. a million members ---------------------------------------------------------------------

Deno.test("oci-archive with 250000 members: refused within a 64 MiB heap", async () => {
  await hostileCase(async (tmp, settled) => {
    // Directory headers only: 512 bytes each, nothing for a reader to keep but the header.
    const count = 250_000;
    {
      using file = await Deno.open(`${tmp}/many.tar`, { write: true, createNew: true });
      const batch = 4096;
      for (let i = 0; i < count; i += batch) {
        const n = Math.min(batch, count - i);
        const out = new Uint8Array(n * 512);
        for (let j = 0; j < n; j++) {
          out.set(encodeEntryHeader(makeEntry({ name: `d${i + j}/`, type: "dir" })), j * 512);
        }
        await file.write(out);
      }
      await file.write(END_OF_ARCHIVE);
    }
    await settled();
    const r = await ocibox(tmp, ["inspect", `oci-archive:${tmp}/many.tar`], {
      seconds: 60,
      heapMiB: 64,
    });
    assertRefused(
      r,
      /many\.tar: has more than 100000 members; an image archive has a few per blob$/,
    );
  });
});
