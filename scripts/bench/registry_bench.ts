/**
 * Times `ocibox copy` against `skopeo copy` moving a fixture image to and from a local
 * `docker-registry` (plain HTTP on 127.0.0.1, storage on the benchmark's tmpfs):
 *
 * - push: `oci:LAYOUT:TAG` -> `docker://HOST/bench/NAME-TOOL-RUN:t`. Every push goes to a
 *   registry started for it alone (fresh storage, new port): skopeo remembers in its blob info
 *   cache (/var/lib/containers/cache) where it has seen each blob and mounts it from there
 *   instead of uploading, so a second skopeo push into a fresh repository of the same registry
 *   takes 0.1 s. A fresh registry (a new host:port scope, empty storage) leaves nothing to mount
 *   from; the registry's access log is checked after every push: every blob of the manifest must
 *   have been committed by an upload (`PUT .../blobs/uploads/...?digest=D` 201) into the new
 *   repository and no mount may have succeeded.
 * - pull: `docker://HOST/bench/NAME:t` -> `oci:FRESHDIR:t`, from one registry per fixture
 *   seeded (untimed) with skopeo; each pull writes into a new directory on the tmpfs.
 *
 * Each run times both tools in both directions, alternating which tool goes first. After the
 * last run the two pulled layouts are compared: the same blob files, each hashing to its name,
 * and the same manifest descriptor for the tag (the seeded manifest).
 *
 * @example
 * ```ts
 * import { benchRegistryFixture } from "./registry_bench.ts";
 * import { ensureFixture } from "./fixtures.ts";
 * const f = await ensureFixture("big-file", {
 *   cacheDir: ".bench/fixtures",
 *   scratchDir: "/mnt/tmpfs/scratch",
 *   chown: true,
 * });
 * const r = await benchRegistryFixture(f, {
 *   runs: 3,
 *   runDir: "/mnt/tmpfs/run",
 *   ocibox: Deno.cwd(),
 *   rssMethod: "gnu-time",
 * });
 * console.log(r.samples.push.ocibox.map((s) => s.wallS));
 * ```
 * @module
 */
import { type Registry, startRegistry } from "../../tests/support/registry.ts";
import type { BenchImage } from "./busybox_fixture.ts";
import { CommandFailed, measure, median, type RssMethod, type Sample } from "./measure.ts";

/** The two directions timed. */
export const DIRECTIONS = ["push", "pull"] as const;
/** A direction: push (`oci:` -> `docker://`) or pull (`docker://` -> `oci:`). */
export type Direction = typeof DIRECTIONS[number];
/**
 * The tools timed: ocibox, skopeo, and curl as the floor (the same HTTP requests with no
 * client-side work: one streamed PATCH per blob, blobs in parallel, nothing hashed or checked).
 */
export const PEERS = ["ocibox", "skopeo", "curl"] as const;
/** A tool. */
export type Peer = typeof PEERS[number];

/** Everything measured for one fixture. */
export interface RegistryResult {
  fixture: string;
  /** One line describing the fixture (blobs, sizes). */
  summary: string;
  samples: Record<Direction, Record<Peer, Sample[]>>;
  /** Per direction, set when ocibox failed (its samples stop there). */
  errors: Partial<Record<Direction, string>>;
  /** "ok ..." or "FAILED: ...": every push really uploaded every blob. */
  uploads: string;
  /** "ok ..." or "FAILED: ...": the pulled layouts are identical. */
  verified: string;
  /** Requests of the last timed push per tool, by method (from the registry's access log). */
  requests: Partial<Record<Peer, Record<string, number>>>;
  /**
   * Median seconds of `inspect docker://...` (ping, manifest, config: the fixed cost of one
   * invocation talking to the registry) per tool, when measured.
   */
  inspect?: { ocibox: number; skopeo: number };
}

/** Options of {@linkcode benchRegistryFixture}. */
export interface RegistryBenchOptions {
  runs: number;
  /** Untimed runs of every tool and direction before the timed ones (default 0). */
  warmup?: number;
  /** A directory on a tmpfs: layout copy, registry storage, pulled layouts. */
  runDir: string;
  /** The ocibox checkout (a directory with main.ts) to run with `deno run -A`. */
  ocibox: string;
  /**
   * Give ocibox `--{dest,src}-tls-verify=false` as skopeo gets; default false: plain `copy`,
   * which asks a loopback registry over http first.
   */
  ociboxInsecure?: boolean;
  rssMethod: RssMethod;
  log?: (line: string) => void;
  /** Checked before every command; throw to stop (e.g. after Ctrl-C). */
  checkpoint?: () => void;
}

/** The tag pushed and pulled. */
const TAG = "t";

/**
 * `deno run -A main.ts copy -q SRC DST`, with the registry side's TLS verification off when
 * `insecure`.
 */
export function ociboxCopy(
  repo: string,
  direction: Direction,
  src: string,
  dst: string,
  insecure = false,
): string[] {
  const flag = direction === "push" ? "--dest-tls-verify=false" : "--src-tls-verify=false";
  return [
    Deno.execPath(),
    "run",
    "-A",
    `${repo}/main.ts`,
    "copy",
    "-q",
    ...(insecure ? [flag] : []),
    src,
    dst,
  ];
}

/** A blob of the image: digest and file in the source layout. */
export interface BlobFile {
  digest: string;
  path: string;
}

const CURL_PUSH = `set -euo pipefail
base="$1"; manifest="$2"; mediatype="$3"; shift 3
loc() { tr -d '\r' | awk 'tolower($1) == "location:" { print $2 }'; }
one() {
  local l
  l=$(curl -sSf -D - -o /dev/null -X POST "$base/blobs/uploads/" | loc)
  l=$(curl -sSf -D - -o /dev/null -X PATCH -H 'Expect:' \
    -H 'Content-Type: application/octet-stream' -T "$2" "$l" | loc)
  curl -sSf -o /dev/null -X PUT "$l&digest=$1"
}
pids=()
while [ $# -gt 0 ]; do one "$1" "$2" & pids+=($!); shift 2; done
for p in "\${pids[@]}"; do wait "$p"; done
curl -sSf -o /dev/null -X PUT -H "Content-Type: $mediatype" --data-binary "@$manifest" \
  "$base/manifests/t"`;

const CURL_PULL = `set -euo pipefail
base="$1"; out="$2"; shift 2
mkdir -p "$out/blobs/sha256"
curl -sSf -o "$out/manifest.json" -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
  "$base/manifests/t"
pids=()
for d in "$@"; do curl -sSf -o "$out/blobs/sha256/\${d#sha256:}" "$base/blobs/$d" & pids+=($!); done
for p in "\${pids[@]}"; do wait "$p"; done`;

/**
 * The floor of a push: curl uploading every blob of `blobs` (in parallel, one streamed PATCH
 * each) to `base` (`http://HOST/v2/REPO`), then the manifest file as tag `t`.
 */
export function curlPush(
  base: string,
  blobs: readonly BlobFile[],
  manifest: BlobFile,
  mediaType: string,
) {
  return [
    "bash",
    "-c",
    CURL_PUSH,
    "curl-push",
    base,
    manifest.path,
    mediaType,
    ...blobs.flatMap((b) => [b.digest, b.path]),
  ];
}

/** The floor of a pull: curl fetching the manifest and `digests` (in parallel) into `out`. */
export function curlPull(base: string, out: string, digests: readonly string[]): string[] {
  return ["bash", "-c", CURL_PULL, "curl-pull", base, out, ...digests];
}

/** `skopeo copy -q ...` with the registry side's TLS verification off. */
export function skopeoCopy(direction: Direction, src: string, dst: string): string[] {
  const flag = direction === "push" ? "--dest-tls-verify=false" : "--src-tls-verify=false";
  return ["skopeo", "copy", "-q", flag, src, dst];
}

/** One request of the registry's access log (combined log format). */
export interface AccessLine {
  method: string;
  /** Path and query as requested. */
  uri: string;
  status: number;
  userAgent: string;
}

/** The access-log lines of `log` (the registry's mixed stdout/stderr). */
export function parseAccessLog(log: string): AccessLine[] {
  const out: AccessLine[] = [];
  const re = /"([A-Z]+) (\S+) HTTP\/[\d.]+" (\d{3}) \S+ "[^"]*" "([^"]*)"/;
  for (const line of log.split("\n")) {
    if (line.startsWith("time=")) continue; // logrus lines quote the URI too
    const m = re.exec(line);
    if (m) out.push({ method: m[1], uri: m[2], status: Number(m[3]), userAgent: m[4] });
  }
  return out;
}

/** What the access log says about one push into `repository`. */
export interface UploadCheck {
  /** Blobs (of `digests`) without a committed upload into the repository. */
  missing: string[];
  /** Blobs mounted (201) into the repository from elsewhere. */
  mounted: string[];
  /** Requests on the repository, by method. */
  requests: Record<string, number>;
  /** Bytes that arrived by PATCH before each committing PUT (from the upload state). */
  patchedBytes: Record<string, number>;
}

/**
 * Checks in `lines` that every blob of `digests` was uploaded into `repository` (a committing
 * `PUT /v2/REPO/blobs/uploads/...?digest=D` answered 201) and none was mounted.
 */
export function checkUploads(
  lines: readonly AccessLine[],
  repository: string,
  digests: readonly string[],
): UploadCheck {
  const prefix = `/v2/${repository}/`;
  const committed = new Set<string>();
  const mounted: string[] = [];
  const requests: Record<string, number> = {};
  const patchedBytes: Record<string, number> = {};
  for (const l of lines) {
    if (!l.uri.startsWith(prefix)) continue;
    requests[l.method] = (requests[l.method] ?? 0) + 1;
    const url = new URL(l.uri, "http://registry");
    if (!url.pathname.startsWith(`${prefix}blobs/uploads/`)) continue;
    const digest = url.searchParams.get("digest");
    const mount = url.searchParams.get("mount");
    if (l.method === "PUT" && digest && l.status === 201) {
      committed.add(digest);
      patchedBytes[digest] = uploadStateOffset(url.searchParams.get("_state"));
    }
    if (l.method === "POST" && mount && l.status === 201) mounted.push(mount);
  }
  return {
    missing: digests.filter((d) => !committed.has(d)),
    mounted,
    requests,
    patchedBytes,
  };
}

/** The `Offset` of distribution's upload `_state` token (base64url JSON after an HMAC). */
function uploadStateOffset(state: string | null): number {
  if (!state) return 0;
  try {
    const b64 = state.replace(/-/g, "+").replace(/_/g, "/");
    const raw = atob(b64 + "=".repeat((4 - b64.length % 4) % 4));
    const json = raw.slice(raw.indexOf('{"Name"')); // after the 32-byte HMAC
    return Number(JSON.parse(json).Offset ?? 0);
  } catch {
    return 0;
  }
}

async function removeTree(path: string): Promise<void> {
  await Deno.remove(path, { recursive: true }).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
}

async function run(cmd: string[], what: string): Promise<string> {
  const out = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  if (!out.success) {
    throw new Error(
      `${what} failed (exit ${out.code}): ${cmd.join(" ")}\n${dec.decode(out.stderr)}`,
    );
  }
  return dec.decode(out.stdout);
}

/** The config and layers of the manifest `manifestDigest` in `layout`, and its media type. */
async function imageBlobs(layout: string, manifestDigest: string) {
  const file = (digest: string): BlobFile => {
    const [alg, hex] = digest.split(":");
    return { digest, path: `${layout}/blobs/${alg}/${hex}` };
  };
  const manifest = file(manifestDigest);
  const m = JSON.parse(await Deno.readTextFile(manifest.path)) as {
    mediaType?: string;
    config: { digest: string };
    layers: { digest: string }[];
  };
  const blobs = [m.config.digest, ...m.layers.map((l) => l.digest)].map(file);
  return {
    manifest,
    blobs,
    mediaType: m.mediaType ?? "application/vnd.oci.image.manifest.v1+json",
  };
}

/** The manifest's digest the registry announces for `repository:tag`. */
async function registryManifestDigest(reg: Registry, repository: string, tag: string) {
  const res = await reg.fetch(`/v2/${repository}/manifests/${tag}`, {
    method: "HEAD",
    headers: {
      Accept: [
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.index.v1+json",
      ].join(", "),
    },
  });
  await res.body?.cancel();
  if (res.status !== 200) throw new Error(`HEAD ${repository}:${tag}: ${res.status}`);
  return res.headers.get("docker-content-digest") ?? "";
}

/** Reads the access log until `ok` holds for it (the log trails the responses a little). */
async function settledLog<T>(
  reg: Registry,
  parse: (lines: AccessLine[]) => T,
  ok: (t: T) => boolean,
) {
  let t = parse(parseAccessLog(await reg.readLog()));
  for (let i = 0; i < 20 && !ok(t); i++) {
    await new Promise((r) => setTimeout(r, 100));
    t = parse(parseAccessLog(await reg.readLog()));
  }
  return t;
}

/** A registry of its own for one push; storage under `storageDir` (removed by `stop`). */
async function pushRegistry(storageDir: string) {
  await removeTree(storageDir);
  const reg = await startRegistry({ mode: "plain", storageDir });
  return {
    reg,
    async stop() {
      await reg.stop();
      await removeTree(storageDir);
    },
  };
}

/** Compares two pulled OCI layouts: identical blob files and the same manifest for `tag`. */
export async function compareLayouts(
  a: string,
  b: string,
  tag: string,
  expectManifest: string,
): Promise<{ differences: string[]; blobs: number; bytes: number }> {
  const differences: string[] = [];
  const list = async (root: string) => {
    const files = new Map<string, number>();
    const walk = async (dir: string, rel: string) => {
      for await (const e of Deno.readDir(dir)) {
        const p = `${dir}/${e.name}`;
        if (e.isDirectory) await walk(p, `${rel}${e.name}/`);
        else files.set(`${rel}${e.name}`, (await Deno.lstat(p)).size);
      }
    };
    await walk(`${root}/blobs`, "");
    return files;
  };
  const [fa, fb] = [await list(a), await list(b)];
  for (const [name, size] of fa) {
    if (!fb.has(name)) differences.push(`blob ${name} only in ocibox's layout`);
    else if (fb.get(name) !== size) {
      differences.push(`blob ${name}: ${size} bytes (ocibox) vs ${fb.get(name)} (skopeo)`);
    }
  }
  for (const name of fb.keys()) {
    if (!fa.has(name)) differences.push(`blob ${name} only in skopeo's layout`);
  }
  // Each blob must hash to its name, in both layouts: then equal names mean equal bytes.
  const paths = [...fa.keys()].filter((n) => n.startsWith("sha256/")).flatMap((n) => [
    `${a}/blobs/${n}`,
    ...(fb.has(n) ? [`${b}/blobs/${n}`] : []),
  ]);
  for (const n of new Set([...fa.keys(), ...fb.keys()])) {
    if (!n.startsWith("sha256/")) differences.push(`blob ${n}: not a sha256 blob`);
  }
  if (paths.length) {
    const sums = await run(["sha256sum", "--", ...paths], "sha256sum");
    for (const line of sums.trim().split("\n")) {
      const [hex, path] = [line.slice(0, 64), line.slice(66)];
      if (!path.endsWith(`/sha256/${hex}`)) differences.push(`${path} hashes to sha256:${hex}`);
    }
  }
  const tagged = async (root: string, who: string) => {
    const idx = JSON.parse(await Deno.readTextFile(`${root}/index.json`)) as {
      manifests?: {
        digest: string;
        mediaType?: string;
        size: number;
        annotations?: Record<string, string>;
      }[];
    };
    const ms = (idx.manifests ?? []).filter((m) =>
      m.annotations?.["org.opencontainers.image.ref.name"] === tag
    );
    if (ms.length !== 1) {
      differences.push(`${who}'s index.json has ${ms.length} manifests tagged ${tag}`);
      return undefined;
    }
    if (ms[0].digest !== expectManifest) {
      differences.push(`${who}'s ${tag} is ${ms[0].digest}, not ${expectManifest}`);
    }
    return `${ms[0].mediaType} ${ms[0].digest} ${ms[0].size}`;
  };
  const [ta, tb] = [await tagged(a, "ocibox"), await tagged(b, "skopeo")];
  if (ta && tb && ta !== tb) differences.push(`manifest descriptors differ: ${ta} vs ${tb}`);
  for (const [root, who] of [[a, "ocibox"], [b, "skopeo"]]) {
    try {
      const l = JSON.parse(await Deno.readTextFile(`${root}/oci-layout`));
      if (l.imageLayoutVersion !== "1.0.0") differences.push(`${who}'s oci-layout: ${l}`);
    } catch (e) {
      differences.push(`${who}'s oci-layout: ${e instanceof Error ? e.message : e}`);
    }
  }
  let bytes = 0;
  for (const s of fa.values()) bytes += s;
  return { differences, blobs: fa.size, bytes };
}

/** Benchmarks pushing and pulling `fixture` with ocibox and skopeo. */
export async function benchRegistryFixture(
  fixture: BenchImage,
  options: RegistryBenchOptions,
): Promise<RegistryResult> {
  const log = options.log ?? (() => {});
  const base = `${options.runDir}/registry-${fixture.name}`;
  await removeTree(base);
  await Deno.mkdir(base, { recursive: true });
  const layout = `${base}/layout`;
  await run(["cp", "-a", "--", fixture.layout, layout], "cp -a");
  const image = await imageBlobs(layout, fixture.manifestDigest);
  const digests = image.blobs.map((b) => b.digest);
  const samples: RegistryResult["samples"] = {
    push: { ocibox: [], skopeo: [], curl: [] },
    pull: { ocibox: [], skopeo: [], curl: [] },
  };
  const errors: RegistryResult["errors"] = {};
  const uploadProblems: string[] = [];
  const requests: RegistryResult["requests"] = {};
  let pushesChecked = 0;
  const patched: Partial<Record<Peer, number>> = {};
  let inspect: RegistryResult["inspect"];

  const source = await startRegistry({ mode: "plain", storageDir: `${base}/source-storage` });
  const sourceRepo = `bench/${fixture.name}`;
  try {
    log(`  ${fixture.name}: seeding ${source.host}/${sourceRepo}:${TAG} with skopeo (untimed)`);
    await run(
      skopeoCopy(
        "push",
        `oci:${layout}:${fixture.tag}`,
        `docker://${source.host}/${sourceRepo}:${TAG}`,
      ),
      "seeding the pull registry",
    );
    const seeded = await registryManifestDigest(source, sourceRepo, TAG);
    if (seeded !== fixture.manifestDigest) {
      throw new Error(
        `the seeded manifest is ${seeded}, not the fixture's ${fixture.manifestDigest}`,
      );
    }

    // The fixed cost of an invocation: start, ping, fetch the manifest and config.
    const inspectTimes = { ocibox: [] as number[], skopeo: [] as number[] };
    for (let i = 0; i < 6; i++) {
      options.checkpoint?.();
      for (const tool of i % 2 ? ["skopeo", "ocibox"] as const : ["ocibox", "skopeo"] as const) {
        const ref = `docker://${source.host}/${sourceRepo}:${TAG}`;
        const cmd = tool === "ocibox"
          ? [
            Deno.execPath(),
            "run",
            "-A",
            `${options.ocibox}/main.ts`,
            "inspect",
            ...(options.ociboxInsecure ? ["--tls-verify=false"] : []),
            ref,
          ]
          : ["skopeo", "inspect", "--tls-verify=false", ref];
        const s = await timed(cmd, tool, options, `${base}/stats`);
        if (typeof s !== "string" && i > 0) inspectTimes[tool].push(s.wallS);
      }
    }
    if (inspectTimes.ocibox.length) {
      inspect = { ocibox: median(inspectTimes.ocibox), skopeo: median(inspectTimes.skopeo) };
      log(
        `  ${fixture.name}: inspect docker://: ocibox ${inspect.ocibox.toFixed(2)} s, ` +
          `skopeo ${inspect.skopeo.toFixed(2)} s`,
      );
    }

    const warmup = options.warmup ?? 0;
    for (let run = -warmup; run < options.runs; run++) {
      const label = run < 0 ? `w${-run}` : `${run + 1}`;
      const which = run < 0 ? "warm-up" : `run ${run + 1}/${options.runs}`;
      // Rotate which tool goes first (ocibox and skopeo swap places every run).
      const turn = (run + warmup) % 4;
      const order: Peer[] = [
        ["ocibox", "skopeo", "curl"],
        ["skopeo", "ocibox", "curl"],
        ["curl", "ocibox", "skopeo"],
        ["curl", "skopeo", "ocibox"],
      ][turn] as Peer[];
      const last = run === options.runs - 1;

      // Push: each tool into a registry of its own, a repository named for the tool and run.
      for (const tool of order) {
        if (tool === "ocibox" && errors.push) continue;
        options.checkpoint?.();
        const { reg, stop } = await pushRegistry(`${base}/push-storage-${tool}-${label}`);
        try {
          const repo = `bench/${fixture.name}-${tool}-${label}`;
          const src = `oci:${layout}:${fixture.tag}`;
          const dst = `docker://${reg.host}/${repo}:${TAG}`;
          const cmd = tool === "ocibox"
            ? ociboxCopy(options.ocibox, "push", src, dst, options.ociboxInsecure)
            : tool === "skopeo"
            ? skopeoCopy("push", src, dst)
            : curlPush(`${reg.url}/v2/${repo}`, image.blobs, image.manifest, image.mediaType);
          const s = await timed(cmd, tool, options, `${base}/stats`);
          if (typeof s === "string") {
            errors.push = s;
            log(`  ${fixture.name} push ocibox FAILED: ${s}`);
            continue;
          }
          if (run >= 0) samples.push[tool].push(s);
          log(`  ${fixture.name} ${which} push ${tool}: ${fmt(s)}`);
          const check = await settledLog(
            reg,
            (lines) => checkUploads(lines, repo, digests),
            (c) => c.missing.length === 0,
          );
          const pushed = await registryManifestDigest(reg, repo, TAG).catch((e) => String(e));
          const problems = [
            ...check.missing.map((d) => `${tool} ${label}: no upload of ${d}`),
            ...check.mounted.map((d) => `${tool} ${label}: mounted ${d} instead of uploading`),
            ...(pushed === fixture.manifestDigest
              ? []
              : [`${tool} ${label}: pushed manifest ${pushed}, not ${fixture.manifestDigest}`]),
          ];
          if (problems.length) {
            uploadProblems.push(...problems);
            for (const p of problems) log(`  UPLOAD CHECK FAILED: ${p}`);
          }
          pushesChecked++;
          if (last) {
            requests[tool] = check.requests;
            patched[tool] = Object.values(check.patchedBytes).reduce((a, b) => a + b, 0);
          }
        } finally {
          await stop();
        }
      }

      // Pull: each tool into a new layout directory.
      for (const tool of order) {
        if (tool === "ocibox" && errors.pull) continue;
        options.checkpoint?.();
        const out = `${base}/pulled-${tool}`;
        await removeTree(out);
        const src = `docker://${source.host}/${sourceRepo}:${TAG}`;
        const dst = `oci:${out}:${TAG}`;
        const cmd = tool === "ocibox"
          ? ociboxCopy(options.ocibox, "pull", src, dst, options.ociboxInsecure)
          : tool === "skopeo"
          ? skopeoCopy("pull", src, dst)
          : curlPull(`${source.url}/v2/${sourceRepo}`, out, digests);
        const s = await timed(cmd, tool, options, `${base}/stats`);
        if (typeof s === "string") {
          errors.pull = s;
          log(`  ${fixture.name} pull ocibox FAILED: ${s}`);
          await removeTree(out);
          continue;
        }
        if (run >= 0) samples.pull[tool].push(s);
        log(`  ${fixture.name} ${which} pull ${tool}: ${fmt(s)}`);
        if (!last || tool === "curl") await removeTree(out);
      }
    }
  } finally {
    await source.stop();
  }

  options.checkpoint?.();
  let verified: string;
  if (errors.pull) verified = `FAILED: ocibox pull failed: ${errors.pull}`;
  else {
    try {
      const cmp = await compareLayouts(
        `${base}/pulled-ocibox`,
        `${base}/pulled-skopeo`,
        TAG,
        fixture.manifestDigest,
      );
      if (cmp.differences.length === 0) {
        verified = `ok (${cmp.blobs} blobs, ${(cmp.bytes / 1e6).toFixed(0)} MB, each hashing ` +
          `to its name; same manifest ${fixture.manifestDigest.slice(0, 19)}… for the tag)`;
      } else {
        verified = `FAILED: ${cmp.differences.length} differences, first: ${
          cmp.differences.slice(0, 5).join("; ")
        }`;
        log(`VERIFY FAILED for ${fixture.name}: ocibox's pulled layout differs from skopeo's:`);
        for (const d of cmp.differences.slice(0, 30)) log(`    ${d}`);
      }
    } catch (e) {
      verified = `FAILED: ${e instanceof Error ? e.message : String(e)}`;
    }
  }
  await removeTree(base);

  const uploads = uploadProblems.length
    ? `FAILED: ${uploadProblems.slice(0, 5).join("; ")}`
    : `ok (${pushesChecked} pushes, each into a fresh registry: all ${digests.length} blobs ` +
      `uploaded, none mounted${
        PEERS.filter((p) => p in patched).map((p) =>
          `; ${p} sent ${((patched[p] ?? 0) / 1e6).toFixed(0)} MB by PATCH`
        ).join("")
      })`;
  const size = fixture.layers.reduce((a, l) => a + l.size, 0);
  const summary = `${digests.length} blobs (${fixture.layers.length} gzip layer(s), ` +
    `${(size / 1e6).toFixed(0)} MB; largest ${
      (Math.max(...fixture.layers.map((l) => l.size)) / 1e6).toFixed(0)
    } MB)`;
  return {
    fixture: fixture.name,
    summary,
    samples,
    errors,
    uploads,
    verified,
    requests,
    inspect,
  };
}

function fmt(s: Sample): string {
  const rss = s.peakRssKb === null ? "" : `, ${(s.peakRssKb / 1024).toFixed(0)} MB`;
  return `${s.wallS.toFixed(2)} s${rss}`;
}

/** Measures `cmd`; an ocibox failure is returned as its message, anything else thrown. */
async function timed(
  cmd: string[],
  tool: Peer,
  options: RegistryBenchOptions,
  statsFile: string,
): Promise<Sample | string> {
  try {
    return await measure(cmd, {
      method: options.rssMethod,
      statsFile,
      cwd: tool === "ocibox" ? options.ocibox : undefined,
    });
  } catch (e) {
    if (!(e instanceof CommandFailed) || tool !== "ocibox") throw e;
    const lines = e.message.split("\n");
    return lines.filter((l) => l.startsWith("error:")).at(-1) ?? lines[0];
  }
}

/**
 * Runs ocibox's push and pull of `fixture` once each under `--cpu-prof`; returns the profile
 * files (push first).
 */
export async function profileRegistryFixture(
  fixture: BenchImage,
  repo: string,
  runDir: string,
  profileDir: string,
  insecure = false,
): Promise<Record<Direction, string>> {
  const base = `${runDir}/registry-${fixture.name}-prof`;
  await removeTree(base);
  await Deno.mkdir(base, { recursive: true });
  await run(["cp", "-a", "--", fixture.layout, `${base}/layout`], "cp -a");
  const found = {} as Record<Direction, string>;
  const { reg, stop } = await pushRegistry(`${base}/storage`);
  try {
    for (const direction of DIRECTIONS) {
      const dir = `${profileDir}-${direction}`;
      await removeTree(dir);
      await Deno.mkdir(dir, { recursive: true });
      const remote = `docker://${reg.host}/bench/${fixture.name}-prof:${TAG}`;
      const [src, dst] = direction === "push"
        ? [`oci:${base}/layout:${fixture.tag}`, remote]
        : [remote, `oci:${base}/pulled:${TAG}`];
      const cmd = ociboxCopy(repo, direction, src, dst, insecure);
      cmd.splice(3, 0, "--cpu-prof", `--cpu-prof-dir=${dir}`);
      const out = await new Deno.Command(cmd[0], {
        args: cmd.slice(1),
        cwd: repo,
        stdout: "null",
        stderr: "piped",
      }).output();
      if (!out.success) {
        throw new Error(`profiling ${direction} failed: ${new TextDecoder().decode(out.stderr)}`);
      }
      for await (const e of Deno.readDir(dir)) {
        if (e.name.endsWith(".cpuprofile")) found[direction] = `${dir}/${e.name}`;
      }
      if (!found[direction]) throw new Error(`no .cpuprofile written in ${dir}`);
    }
  } finally {
    await stop();
    await removeTree(base);
  }
  return found;
}
