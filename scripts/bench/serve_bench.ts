/**
 * The `serve` benchmark suite: `ocibox serve` against docker-registry (CNCF distribution), both
 * on 127.0.0.1 with their storage on a tmpfs, measured in the same run (issue 14's
 * "Performance" goals):
 *
 * - manifest GETs per second: `wrk -t2 -c8` on `/v2/bench/busybox/manifests/t` with an Accept
 *   header listing the OCI and Docker manifest types (a tiny Lua script sets it);
 * - blob GET throughput: `curl -o /dev/null` of the big-file fixture's layer (its 512 MiB
 *   file, gzipped: 344 MB);
 * - `skopeo copy` pushing each fixture (busybox, debian-like, many-files, big-file) and pulling
 *   it into a new OCI layout. Pulls come from a server per kind seeded once. Pushes go there
 *   too, into a new repository each time, with skopeo run in a private mount namespace whose
 *   blob info cache is an empty tmpfs (else it mounts blobs it pushed before instead of
 *   uploading them); without root, or with `freshPushServers`, into a fresh server each time
 *   (new port, empty storage), whose first requests run cold;
 * - the servers' peak RSS: VmHWM of every server process, read just before it is stopped.
 *
 * The servers take turns going first. Every push is checked (the tag names the fixture's
 * manifest), every GET for status and size, wrk for non-2xx answers. Writes
 * REPO/.bench/serve.md and prints the table with each goal PASS or FAIL; with `profile`, the
 * seeded ocibox server runs under `--cpu-prof` and its top functions go to
 * REPO/.bench/serve-profile.md.
 *
 * @example
 * ```ts
 * import { serveSuite } from "./serve_bench.ts";
 * const status = await serveSuite({ src: Deno.cwd(), repo: Deno.cwd(), runs: 3, warmup: 1 });
 * ```
 * @module
 */
import { type Registry, startRegistry } from "../../tests/support/registry.ts";
import { type CpuProfile, profileMarkdown, summarizeProfile } from "./cpu_profile.ts";
import { ensureFixture, FIXTURE_NAMES, type FixtureName } from "./fixtures.ts";
import { CommandFailed } from "./measure.ts";
import {
  type CopySamples,
  parseCurl,
  parseWrk,
  renderServeMarkdown,
  renderServeText,
  servePasses,
  type ServeResult,
} from "./serve_report.ts";

/** The fixtures of the suite: a busybox image built here, then the shared ones. */
export const SERVE_FIXTURES = ["busybox", ...FIXTURE_NAMES] as const;
type ServeFixture = typeof SERVE_FIXTURES[number];

/** Options of {@linkcode serveSuite}. */
export interface ServeSuiteOptions {
  /** The ocibox checkout measured (has main.ts). */
  src: string;
  /** This repository (report in REPO/.bench/serve.md). */
  repo: string;
  /** Timed runs per server of every measurement. */
  runs: number;
  /** Untimed runs per server before them. */
  warmup: number;
  /** Seconds of each wrk run (default 10). */
  wrkSeconds?: number;
  /** Fixtures to copy (default all of {@linkcode SERVE_FIXTURES}; big-file is always built). */
  only?: string[];
  /** A tmpfs to work in; default: a tmpfs mounted at REPO/.bench/serve-tmpfs. */
  work?: string;
  /** Where fixture layouts are cached (default REPO/.bench/fixtures). */
  cacheDir?: string;
  /**
   * Push into a fresh server each time (its first requests are cold: JIT, lazily loaded
   * modules) instead of into the seeded one.
   */
  freshPushServers?: boolean;
  /** Run the seeded ocibox server under --cpu-prof and summarise it. */
  profile?: boolean;
  log?: (line: string) => void;
}

const decoder = new TextDecoder();
const TAG = "t";
const ACCEPT = [
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
].join(", ");

async function output(cmd: string[], cwd?: string): Promise<string> {
  const out = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new CommandFailed(cmd, out.code, decoder.decode(out.stderr) + decoder.decode(out.stdout));
  }
  return decoder.decode(out.stdout).trim();
}

/**
 * `cmd` (a skopeo command) in a private mount namespace with an empty tmpfs over skopeo's blob
 * info cache, which would otherwise make it mount blobs it pushed before instead of uploading.
 */
function withoutBlobInfoCache(cmd: string[]): string[] {
  return [
    "unshare",
    "-m",
    "sh",
    "-c",
    'mount -t tmpfs tmpfs /var/lib/containers/cache && exec "$@"',
    "sh",
    ...cmd,
  ];
}

async function timed(cmd: string[]): Promise<number> {
  const t = performance.now();
  await output(cmd);
  return (performance.now() - t) / 1000;
}

async function isMountpoint(dir: string): Promise<boolean> {
  try {
    return (await new Deno.Command("mountpoint", { args: ["-q", dir] }).output()).success;
  } catch {
    return false;
  }
}

/** VmHWM of `pid` in KiB, or null when it is gone. */
function hwmKb(pid: number): number | null {
  try {
    const m = Deno.readTextFileSync(`/proc/${pid}/status`).match(/^VmHWM:\s+(\d+) kB/m);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** A server under test: where it listens, its process, and a stop that reports VmHWM. */
interface Server {
  kind: "ocibox" | "registry";
  host: string;
  url: string;
  pid: number;
  /** Stops it; resolves to its peak RSS in KiB (read just before the signal). */
  stop(): Promise<number | null>;
}

/**
 * `deno run -A SRC/main.ts serve --root ROOT --addr 127.0.0.1:0`, its access log (stderr) to
 * `logFile` through the shell (exec: the pid is the server's), ready when it prints
 * "listening on URL".
 */
async function startOcibox(
  src: string,
  root: string,
  logFile: string,
  denoFlags: string[] = [],
): Promise<Server> {
  const child = new Deno.Command("sh", {
    args: [
      "-c",
      'log="$1"; shift; exec "$@" 2>>"$log"',
      "sh",
      logFile,
      Deno.execPath(),
      "run",
      "-A",
      "--no-lock",
      ...denoFlags,
      `${src}/main.ts`,
      "serve",
      "--root",
      root,
      "--addr",
      "127.0.0.1:0",
    ],
    cwd: src,
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.getReader();
  let out = "";
  let match: RegExpExecArray | null = null;
  const deadline = Date.now() + 60_000;
  while (!match) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((r) => {
      timer = setTimeout(() => r("timeout"), Math.max(0, deadline - Date.now()));
    });
    const r = await Promise.race([reader.read(), timeout]);
    clearTimeout(timer);
    if (r === "timeout" || r.done) {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      await child.status;
      const log = await Deno.readTextFile(logFile).catch(() => "");
      throw new Error(`ocibox serve did not start: ${out}\n${log.slice(-2000)}`);
    }
    out += decoder.decode(r.value, { stream: true });
    match = /listening on (http:\/\/([^\s/]+))/.exec(out);
  }
  const drained = (async () => {
    for (;;) if ((await reader.read()).done) break;
  })();
  return {
    kind: "ocibox",
    host: match[2],
    url: match[1],
    pid: child.pid,
    async stop() {
      const kb = hwmKb(child.pid);
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      await child.status;
      await drained;
      return kb;
    },
  };
}

/** The pid of the docker-registry serving `reg` (the child whose command line names its config). */
async function registryPid(reg: Registry): Promise<number> {
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const cmdline = await Deno.readTextFile(`/proc/${e.name}/cmdline`);
      if (cmdline.includes(reg.configPath) && cmdline.includes("docker-registry")) {
        return Number(e.name);
      }
    } catch { /* gone */ }
  }
  throw new Error(`no docker-registry process for ${reg.configPath}`);
}

async function startDockerRegistry(storageDir: string): Promise<Server> {
  const reg = await startRegistry({ mode: "plain", storageDir });
  const pid = await registryPid(reg);
  return {
    kind: "registry",
    host: reg.host,
    url: reg.url,
    pid,
    async stop() {
      const kb = hwmKb(pid);
      await reg.stop();
      return kb;
    },
  };
}

/** The tag's manifest digest as `server` announces it (HEAD with the Accept list). */
async function manifestDigest(server: Server, repo: string): Promise<string> {
  const res = await fetch(`${server.url}/v2/${repo}/manifests/${TAG}`, {
    method: "HEAD",
    headers: { accept: ACCEPT },
  });
  await res.body?.cancel();
  if (res.status !== 200) return `HTTP ${res.status}`;
  return res.headers.get("docker-content-digest") ?? "(no Docker-Content-Digest)";
}

interface Image {
  name: ServeFixture;
  /** OCI layout on the tmpfs and the tag of the image in it. */
  layout: string;
  tag: string;
  manifestDigest: string;
  /** The largest layer: digest and size. */
  biggest: { digest: string; size: number };
}

/** A busybox image (the binary and `true`, `sh` links) built with `ocibox append`. */
async function busyboxImage(src: string, dir: string): Promise<Image> {
  const rootfs = `${dir}/busybox-rootfs`;
  await Deno.mkdir(`${rootfs}/bin`, { recursive: true });
  const busybox = await output(["which", "busybox"]);
  await Deno.copyFile(busybox, `${rootfs}/bin/busybox`);
  await Deno.chmod(`${rootfs}/bin/busybox`, 0o755);
  for (const n of ["true", "sh"]) await Deno.symlink("busybox", `${rootfs}/bin/${n}`);
  const layout = `${dir}/layouts/busybox`;
  await output([
    Deno.execPath(),
    "run",
    "-A",
    "--no-lock",
    `${src}/main.ts`,
    "append",
    "-q",
    "--layer",
    rootfs,
    "--cmd",
    "true",
    "--env",
    "PATH=/bin",
    `oci:${layout}:bench`,
  ], src);
  return await imageOf("busybox", layout, "bench");
}

async function imageOf(name: ServeFixture, layout: string, tag: string): Promise<Image> {
  const index = JSON.parse(await Deno.readTextFile(`${layout}/index.json`)) as {
    manifests: { digest: string; annotations?: Record<string, string> }[];
  };
  const desc = index.manifests.find((m) =>
    m.annotations?.["org.opencontainers.image.ref.name"] === tag
  );
  if (!desc) throw new Error(`${layout} has no tag ${tag}`);
  const [alg, hex] = desc.digest.split(":");
  const manifest = JSON.parse(await Deno.readTextFile(`${layout}/blobs/${alg}/${hex}`)) as {
    layers: { digest: string; size: number }[];
  };
  const biggest = manifest.layers.reduce((a, b) => (b.size > a.size ? b : a));
  return { name, layout, tag, manifestDigest: desc.digest, biggest };
}

/**
 * The whole suite; returns 1 when a command or a check failed (a missed goal is reported, not
 * an error).
 */
export async function serveSuite(opts: ServeSuiteOptions): Promise<number> {
  const log = opts.log ?? ((line: string) => console.error(line));
  const wrkSeconds = opts.wrkSeconds ?? 10;
  for (const tool of ["wrk", "curl", "skopeo", "docker-registry", "busybox", "mountpoint"]) {
    const which = await new Deno.Command("which", { args: [tool], stdout: "null" }).output();
    if (!which.success) throw new Error(`${tool} is not on PATH`);
  }
  const wanted = (opts.only?.length ? opts.only : [...SERVE_FIXTURES]) as ServeFixture[];
  for (const n of wanted) {
    if (!(SERVE_FIXTURES as readonly string[]).includes(n)) {
      throw new Error(`unknown fixture ${n}; known: ${SERVE_FIXTURES.join(", ")}`);
    }
  }
  const cacheDir = opts.cacheDir ?? `${opts.repo}/.bench/fixtures`;
  let work = opts.work?.replace(/\/$/, "");
  let mounted = false;
  if (!work) {
    if (Deno.uid() !== 0) {
      throw new Error("without --work DIR (a tmpfs) the serve suite needs root");
    }
    work = `${opts.repo}/.bench/serve-tmpfs`;
    await Deno.mkdir(work, { recursive: true });
    if (!(await isMountpoint(work))) {
      await output(["mount", "-t", "tmpfs", "-o", "size=8g", "tmpfs", work]);
      mounted = true;
    }
  }
  const dir = `${work}/serve-${Deno.pid}`;
  await Deno.mkdir(`${dir}/layouts`, { recursive: true });
  const notes: string[] = [];
  const fsType = await output(["stat", "-f", "-c", "%T", dir]).catch(() => "?");
  log(`serve suite: working in ${dir} (${fsType})`);
  if (fsType !== "tmpfs") notes.push(`Note: work directory on ${fsType}, not tmpfs.`);
  const loadavg = async () =>
    (await Deno.readTextFile("/proc/loadavg").catch(() => "?")).split(" ").slice(0, 3).join(" ");
  const loadBefore = await loadavg();

  const result: ServeResult = {
    manifestRps: { ocibox: [], registry: [] },
    blobMBps: { ocibox: [], registry: [] },
    copies: [],
    rssMb: { ocibox: null, registry: null },
    problems: [],
  };
  const peak = (kind: Server["kind"], kb: number | null) => {
    if (kb === null) return;
    result.rssMb[kind] = Math.max(result.rssMb[kind] ?? 0, kb / 1024);
  };
  const servers: Server[] = [];
  const storage = new Map<Server, string>();
  let n = 0;
  const start = async (kind: Server["kind"], denoFlags: string[] = []) => {
    const id = `${kind}-${++n}`;
    const s = kind === "ocibox"
      ? await startOcibox(opts.src, `${dir}/${id}`, `${dir}/${id}.log`, denoFlags)
      : await startDockerRegistry(`${dir}/${id}`);
    servers.push(s);
    storage.set(s, `${dir}/${id}`);
    return s;
  };
  const stop = async (s: Server) => {
    servers.splice(servers.indexOf(s), 1);
    peak(s.kind, await s.stop());
    await Deno.remove(storage.get(s)!, { recursive: true }).catch(() => {});
  };
  const profileDir = `${opts.repo}/.bench/profiles/serve`;
  let status = 0;
  try {
    await output([Deno.execPath(), "cache", `${opts.src}/main.ts`], opts.src);
    log("preparing the images ...");
    const images: Image[] = [];
    for (const name of SERVE_FIXTURES) {
      if (!wanted.includes(name) && name !== "big-file") continue;
      if (name === "busybox") {
        images.push(await busyboxImage(opts.src, dir));
        continue;
      }
      const f = await ensureFixture(name as FixtureName, {
        cacheDir,
        scratchDir: `${dir}/scratch`,
        chown: Deno.uid() === 0,
        log,
      });
      const layout = `${dir}/layouts/${name}`;
      await output(["cp", "-a", "--", f.layout, layout]);
      images.push(await imageOf(name, layout, f.tag));
    }
    await Deno.remove(`${dir}/scratch`, { recursive: true }).catch(() => {});
    const image = (name: ServeFixture) => images.find((i) => i.name === name)!;
    const big = image("big-file");
    const small = images.find((i) => i.name === "busybox") ?? images[0];

    // Two long-lived servers, seeded with every image, for the GETs and the pulls.
    if (opts.profile) {
      await Deno.remove(profileDir, { recursive: true }).catch(() => {});
      await Deno.mkdir(profileDir, { recursive: true });
    }
    const seeded = {
      ocibox: await start(
        "ocibox",
        opts.profile ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : [],
      ),
      registry: await start("registry"),
    };
    const both = (turn: number): Server[] =>
      turn % 2 ? [seeded.registry, seeded.ocibox] : [seeded.ocibox, seeded.registry];
    log(`seeding ocibox serve (${seeded.ocibox.url}) and docker-registry (${seeded.registry.url})`);
    for (const img of images) {
      for (const s of both(0)) {
        await output([
          "skopeo",
          "copy",
          "-q",
          "--dest-tls-verify=false",
          `oci:${img.layout}:${img.tag}`,
          `docker://${s.host}/bench/${img.name}:${TAG}`,
        ]);
        const got = await manifestDigest(s, `bench/${img.name}`);
        if (got !== img.manifestDigest) {
          result.problems.push(`seeding ${s.kind} with ${img.name}: tag names ${got}`);
        }
      }
    }

    // (a) manifest GETs per second.
    const lua = `${dir}/accept.lua`;
    await Deno.writeTextFile(lua, `wrk.headers["Accept"] = "${ACCEPT}"\n`);
    const wrk = async (s: Server, seconds: number) => {
      const out = await output([
        "wrk",
        "-t2",
        "-c8",
        `-d${seconds}s`,
        "-s",
        lua,
        `${s.url}/v2/bench/${small.name}/manifests/${TAG}`,
      ]);
      const w = parseWrk(out);
      if (w.non2xx > 0) result.problems.push(`wrk on ${s.kind}: ${w.non2xx} non-2xx answers`);
      if (w.socketErrors > 0) log(`  wrk on ${s.kind}: ${w.socketErrors} socket errors`);
      return w.rps;
    };
    log(`manifest GETs: wrk -t2 -c8 -d${wrkSeconds}s, ${opts.runs} runs after ${opts.warmup} ...`);
    for (let i = -opts.warmup; i < opts.runs; i++) {
      for (const s of both(i + opts.warmup)) {
        const rps = await wrk(s, i < 0 ? Math.min(3, wrkSeconds) : wrkSeconds);
        if (i >= 0) result.manifestRps[s.kind].push(rps);
        log(`  ${i < 0 ? "warm-up" : `run ${i + 1}`} ${s.kind}: ${rps.toFixed(0)} req/s`);
      }
    }

    // (b) blob GET throughput.
    result.blobMB = big.biggest.size / 1e6;
    log(`blob GET of ${result.blobMB.toFixed(0)} MB with curl ...`);
    for (let i = -opts.warmup; i < opts.runs; i++) {
      for (const s of both(i + opts.warmup)) {
        const c = parseCurl(
          await output([
            "curl",
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{size_download} %{time_total}",
            `${s.url}/v2/bench/big-file/blobs/${big.biggest.digest}`,
          ]),
        );
        if (c.status !== 200 || c.bytes !== big.biggest.size) {
          result.problems.push(`blob GET on ${s.kind}: ${c.status}, ${c.bytes} bytes`);
        }
        const mbps = c.bytes / 1e6 / c.seconds;
        if (i >= 0) result.blobMBps[s.kind].push(mbps);
        log(`  ${i < 0 ? "warm-up" : `run ${i + 1}`} ${s.kind}: ${mbps.toFixed(0)} MB/s`);
      }
    }

    // (c) skopeo copy: pulls from the seeded servers; pushes into them too (a new repository
    // each time) as root, with skopeo's blob info cache hidden so that it uploads every blob
    // instead of mounting it from where it saw it before; else into a fresh server each.
    const warmPushes = Deno.uid() === 0 && opts.freshPushServers !== true;
    if (!warmPushes) notes.push("Pushes went into a fresh server each (not root: no unshare).");
    for (const img of images.filter((i) => wanted.includes(i.name))) {
      const pull: CopySamples = { fixture: img.name, direction: "pull", ocibox: [], registry: [] };
      const push: CopySamples = { fixture: img.name, direction: "push", ocibox: [], registry: [] };
      log(`skopeo copy of ${img.name}: ${opts.runs} runs after ${opts.warmup} ...`);
      for (let i = -opts.warmup; i < opts.runs; i++) {
        const label = i < 0 ? "warm-up" : `run ${i + 1}`;
        for (const s of both(i + opts.warmup)) {
          const out = `${dir}/pulled-${s.kind}`;
          await Deno.remove(out, { recursive: true }).catch(() => {});
          const secs = await timed([
            "skopeo",
            "copy",
            "-q",
            "--src-tls-verify=false",
            `docker://${s.host}/bench/${img.name}:${TAG}`,
            `oci:${out}:${TAG}`,
          ]);
          if (i >= 0) pull[s.kind].push(secs);
          await Deno.remove(out, { recursive: true }).catch(() => {});
          log(`  ${label} pull ${s.kind}: ${secs.toFixed(2)} s`);
        }
        for (
          const kind of (i + opts.warmup) % 2
            ? ["registry", "ocibox"] as const
            : ["ocibox", "registry"] as const
        ) {
          const s = warmPushes ? seeded[kind] : await start(kind);
          try {
            const repo = `bench/${img.name}-push${i + opts.warmup}`;
            const copy = [
              "skopeo",
              "copy",
              "-q",
              "--dest-tls-verify=false",
              `oci:${img.layout}:${img.tag}`,
              `docker://${s.host}/${repo}:${TAG}`,
            ];
            const secs = await timed(warmPushes ? withoutBlobInfoCache(copy) : copy);
            const got = await manifestDigest(s, repo);
            if (got !== img.manifestDigest) {
              result.problems.push(`push of ${img.name} into ${kind}: tag names ${got}`);
            }
            if (i >= 0) push[kind].push(secs);
            log(`  ${label} push ${kind}: ${secs.toFixed(2)} s`);
          } finally {
            if (!warmPushes) await stop(s);
          }
        }
      }
      result.copies.push(push, pull);
    }
    log(
      `seeded servers' VmHWM: ocibox ${((hwmKb(seeded.ocibox.pid) ?? 0) / 1024).toFixed(0)} MB, ` +
        `docker-registry ${((hwmKb(seeded.registry.pid) ?? 0) / 1024).toFixed(0)} MB`,
    );
  } catch (e) {
    log(`serve suite failed: ${e instanceof Error ? e.message : String(e)}`);
    status = 1;
  } finally {
    for (const s of [...servers]) await stop(s).catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    if (mounted) await output(["umount", work]).catch(() => "");
  }
  if (status !== 0) return status;

  const loadAfter = await loadavg();
  const cpu = (await Deno.readTextFile("/proc/cpuinfo").catch(() => "")).match(
    /^model name\s*:\s*(.*)$/m,
  )?.[1];
  const registryVersion = await output(["docker-registry", "--version"]).catch(() => "?");
  const skopeoVersion = await output(["skopeo", "--version"]).catch(() => "?");
  const wrkVersion =
    (await new Deno.Command("wrk", { args: ["-v"], stdout: "piped", stderr: "piped" })
      .output().then((o) => decoder.decode(o.stdout).split("\n")[0]).catch(() => "wrk ?")).trim();
  notes.push(
    `Machine: ${cpu ?? Deno.build.arch}, ${navigator.hardwareConcurrency} CPUs, Linux ` +
      `${Deno.osRelease()}; deno ${Deno.version.deno}; ${registryVersion}; ${skopeoVersion}; ` +
      `${wrkVersion}.`,
    `Load average (1, 5, 15 min) ${loadBefore} at the start, ${loadAfter} at the end: other ` +
      `work on the machine makes these numbers indicative only (wrk, curl and skopeo share the ` +
      `CPUs with the server they measure).`,
    ...(opts.profile ? ["The seeded ocibox server ran under --cpu-prof (slower)."] : []),
    `Both servers write an access log line per request (docker-registry at log level info). ` +
      `Pulls and pushes go to one server per kind, seeded once; each push goes into a new ` +
      `repository with skopeo's blob info cache hidden (a tmpfs in a private mount namespace), ` +
      `so every blob is uploaded. RSS: VmHWM of every server process, read before it stopped.`,
  );
  const ctx = {
    runs: opts.runs,
    wrkSeconds,
    date: new Date().toISOString().slice(0, 10),
    notes,
  };
  console.log("");
  console.log(renderServeText(result, ctx));
  await Deno.mkdir(`${opts.repo}/.bench`, { recursive: true });
  await Deno.writeTextFile(`${opts.repo}/.bench/serve.md`, renderServeMarkdown(result, ctx));
  console.log(`\nwrote ${opts.repo}/.bench/serve.md`);
  if (opts.profile) {
    const root = `file://${opts.src}/`;
    const parts: string[] = [];
    for await (const e of Deno.readDir(profileDir)) {
      if (!e.name.endsWith(".cpuprofile")) continue;
      const p = JSON.parse(await Deno.readTextFile(`${profileDir}/${e.name}`)) as CpuProfile;
      parts.push(
        profileMarkdown(`ocibox serve: ${e.name}`, summarizeProfile(p, { top: 20, root })),
      );
    }
    const md = `## ocibox serve CPU profile (self time)\n\n${
      parts.join("\n") || "no profile written\n"
    }`;
    await Deno.writeTextFile(`${opts.repo}/.bench/serve-profile.md`, md);
    console.log(`\n${md}\nwrote ${opts.repo}/.bench/serve-profile.md`);
  }
  if (result.problems.length) return 1;
  if (!servePasses(result)) {
    console.error("\nserve goals missed (a benchmark result, not an error)");
  }
  return 0;
}
