/**
 * `deno task bench`: the benchmarks. Builds (or reuses) the fixture images, then, on a tmpfs:
 *
 * - suite `unpack`: times `ocibox unpack` against `umoci unpack` and GNU tar, checks ocibox's
 *   rootfs against umoci's and writes .bench/unpack.md;
 * - suite `registry`: times `ocibox copy` against `skopeo copy` pushing each fixture to and
 *   pulling it from a local docker-registry, checks that every push uploaded every blob and that
 *   the pulled layouts are identical, and writes .bench/registry.md;
 * - suite `archive`: times `ocibox copy docker-archive:X.tar oci:` against `skopeo copy` for a
 *   busybox image, debian-like and host-usr (real files of this machine: host_fixture.ts)
 *   (archives written by skopeo; every layer must be compressed),
 *   and checks the outputs (scripts/bench/archive_bench.ts);
 * - suite `inspect`: `--version`, `inspect oci:` and `inspect docker://` (docker-registry on
 *   127.0.0.1) against skopeo, and against a bare `deno run` of an empty script + curl of the
 *   manifest (scripts/bench/inspect_bench.ts);
 * - suite `runtime`: times `ocibox run` of a busybox bundle running `true` against `runc run`
 *   and a bare Deno start, measures the CLI's peak RSS, and writes .bench/runtime.md.
 * - suite `run-image`: times `ocibox run IMAGE` against podman, runc and skopeo + umoci + runc
 *   (scripts/bench/run_image.ts) and writes .bench/run-image.md.
 * - suite `serve`: `ocibox serve` against docker-registry: manifest GETs/s with wrk, blob GET
 *   throughput, skopeo push and pull of each fixture, server RSS (scripts/bench/serve_bench.ts);
 *   writes .bench/serve.md.
 *
 * Each prints a table with the goals marked PASS/FAIL; the run ends with ONE table of every
 * case's ratio to its peer against the issue's goals (scripts/bench/summary.ts), also written to
 * .bench/summary.md. The registry suite also moves a busybox-sized image (built from the host's
 * busybox-static: scripts/bench/busybox_fixture.ts).
 *
 * Usage: `deno task bench [--suite unpack|registry|archive|inspect|runtime|run-image|serve|all] [--runs N] [--warmup N]
 * [--only many-files,debian-like,big-file] [--work DIR] [--cache DIR] [--variants cli,bundle,bin]
 * [--ocibox DIR] [--profile]`
 *
 * Without --work, as root, a tmpfs is mounted at .bench/tmpfs for the run and unmounted at the
 * end; fixtures are cached in .bench/fixtures. With --work DIR everything (fixtures included,
 * unless --cache says otherwise) goes under DIR, which should be a tmpfs.
 * @module
 */
import { parseArgs } from "node:util";
import { ensureFixture, type Fixture, FIXTURE_NAMES, type FixtureName } from "./bench/fixtures.ts";
import { measure, median, rssMethod, type Sample } from "./bench/measure.ts";
import { type BenchImage, ensureBusyboxFixture } from "./bench/busybox_fixture.ts";
import { archiveSuite } from "./bench/archive_bench.ts";
import { ensureHostFixture } from "./bench/host_fixture.ts";
import { inspectSuite } from "./bench/inspect_bench.ts";
import {
  recordRatio,
  renderSummaryMarkdown,
  renderSummaryText,
  summaryRows,
} from "./bench/summary.ts";
import { type FixtureResult, renderMarkdown, renderText, rowOf } from "./bench/report.ts";
import {
  benchFixture,
  binVariant,
  bundleVariant,
  cliVariant,
  profileFixture,
  type Variant,
} from "./bench/unpack_bench.ts";
import { type CpuProfile, profileMarkdown, summarizeProfile } from "./bench/cpu_profile.ts";
import {
  benchRegistryFixture,
  DIRECTIONS,
  profileRegistryFixture,
  type RegistryResult,
} from "./bench/registry_bench.ts";
import { runtimeSuite } from "./bench/runtime.ts";
import { runImageSuite } from "./bench/run_image.ts";
import { serveSuite } from "./bench/serve_bench.ts";
import {
  registryRows,
  renderRegistryMarkdown,
  renderRegistryText,
  rowPasses,
} from "./bench/registry_report.ts";

const SUITES = [
  "unpack",
  "registry",
  "archive",
  "inspect",
  "runtime",
  "run-image",
  "serve",
] as const;
type Suite = typeof SUITES[number];

const HELP = `Usage: deno task bench [flags]

Times ocibox on generated fixture images: unpack against umoci unpack and GNU tar (the
floor); copy to and from a local docker-registry against skopeo copy; docker-archive to
oci: conversion and inspect against skopeo; run of a busybox bundle against runc run. Ends
with one table of every case's ratio to its peer (.bench/summary.md).

Flags:
  --suite S[,S..]   unpack, registry, archive, inspect, runtime, run-image, serve or all
                    (default all)
  --runs N          timed runs per tool and fixture; the median is reported (default 3;
                    runtime: 20)
  --warmup N        untimed runs per tool before timing (default 1; runtime: 3)
  --first-runs N    run-image: timed first runs from the registry (default 5)
  --only LIST       comma-separated fixtures (${FIXTURE_NAMES.join(",")})
  --work DIR        run (and cache fixtures) under DIR, which should be a tmpfs; default:
                    mount a 6g tmpfs at .bench/tmpfs (root) and cache in .bench/fixtures
  --cache DIR       where fixture layouts are cached (default .bench/fixtures, or DIR/fixtures
                    with --work)
  --variants LIST   ocibox variants for unpack: cli (deno run main.ts), bundle
                    (dist/ocibox.js), bin (dist/ocibox-bin); default: cli plus those that
                    exist (the registry suite runs the cli)
  --ocibox DIR      the ocibox checkout to measure (a directory with main.ts; default: this
                    repository), e.g. a snapshot taken while others edit the tree
  --ocibox-insecure registry suite: give ocibox --{dest,src}-tls-verify=false as skopeo gets
                    (its node:http transport); default plain copy (http fallback on
                    127.0.0.1, its fetch transport)
  --profile         also run ocibox once per fixture (and direction) under --cpu-prof and
                    summarise the top self-time functions into .bench/unpack-profile.md and
                    .bench/registry-profile.md
  -h, --help        this help`;

const repo = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const log = (line: string) => console.error(line);

async function output(cmd: string[]): Promise<string> {
  try {
    const out = await new Deno.Command(cmd[0], { args: cmd.slice(1), stderr: "piped" }).output();
    return new TextDecoder().decode(out.success ? out.stdout : out.stderr).trim();
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function isMountpoint(dir: string): Promise<boolean> {
  const out = await new Deno.Command("mountpoint", { args: ["-q", dir] }).output();
  return out.success;
}

async function newestSourceMtime(src: string): Promise<number> {
  let newest = 0;
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(dir)) {
      const p = `${dir}/${e.name}`;
      if (e.isDirectory) await walk(p);
      else if (e.name.endsWith(".ts")) {
        newest = Math.max(newest, (await Deno.stat(p)).mtime?.getTime() ?? 0);
      }
    }
  };
  for (const d of ["lib", "ffi"]) if (await exists(`${src}/${d}`)) await walk(`${src}/${d}`);
  newest = Math.max(newest, (await Deno.stat(`${src}/main.ts`)).mtime?.getTime() ?? 0);
  return newest;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      suite: { type: "string", default: "all" },
      runs: { type: "string" },
      warmup: { type: "string" },
      "first-runs": { type: "string" },
      only: { type: "string" },
      work: { type: "string" },
      cache: { type: "string" },
      variants: { type: "string" },
      profile: { type: "boolean", default: false },
      "ocibox-insecure": { type: "boolean", default: false },
      ocibox: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const suites: Suite[] = values.suite === "all"
    ? [...SUITES]
    : values.suite.split(",").map((x) => x.trim() as Suite);
  for (const x of suites) {
    if (!(SUITES as readonly string[]).includes(x)) {
      throw new Error(`unknown --suite ${x}; known: ${SUITES.join(", ")}, all`);
    }
  }
  const unpack = suites.includes("unpack");
  const registry = suites.includes("registry");
  const runs = Number(values.runs ?? "3");
  const warmup = Number(values.warmup ?? "1");
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer`);
  if (!Number.isInteger(warmup) || warmup < 0) throw new Error(`--warmup must be >= 0`);
  const runtimeOpts = async () => ({
    src: values.ocibox ? await Deno.realPath(values.ocibox) : repo,
    repo,
    runs: values.runs ? runs : 20,
    warmup: values.warmup ? warmup : 3,
    work: values.work,
    log,
  });
  if (suites.length === 1 && suites[0] === "runtime") {
    return await finish(await runtimeSuite(await runtimeOpts()));
  }
  const runImageOpts = async () => ({
    ...await runtimeOpts(),
    firstRuns: Number(values["first-runs"] ?? "5"),
  });
  if (suites.length === 1 && suites[0] === "run-image") {
    return await finish(await runImageSuite(await runImageOpts()));
  }
  const serveOpts = async () => ({
    ...await runtimeOpts(),
    runs: values.runs ? runs : 3,
    warmup: values.warmup ? warmup : 1,
    only: values.only?.split(",").map((n) => n.trim()),
    cacheDir: values.cache,
    profile: values.profile,
  });
  if (suites.length === 1 && suites[0] === "serve") {
    return await finish(await serveSuite(await serveOpts()));
  }
  const archive = suites.includes("archive");
  const inspect = suites.includes("inspect");
  const names = (values.only ? values.only.split(",") : [...FIXTURE_NAMES]).map((n) => n.trim());
  for (const n of names) {
    if (!(FIXTURE_NAMES as readonly string[]).includes(n)) {
      throw new Error(`unknown fixture ${n}; known: ${FIXTURE_NAMES.join(", ")}`);
    }
  }
  const tools = ["tar", "gzip", "sha256sum", "cp", "mountpoint"];
  if (unpack) tools.push("umoci");
  if (registry || archive || inspect) tools.push("skopeo", "docker-registry", "busybox");
  for (const tool of tools) {
    if ((await output(["which", tool])) === "") throw new Error(`${tool} is not on PATH`);
  }

  // Variants of ocibox.
  const notes: string[] = [];
  const src = values.ocibox ? await Deno.realPath(values.ocibox) : repo;
  if (!(await exists(`${src}/main.ts`))) {
    throw new Error(`${src}/main.ts does not exist (--ocibox)`);
  }
  if (src !== repo) notes.push(`ocibox measured from ${src}.`);
  const newest = await newestSourceMtime(src);
  const available: Record<string, { variant: Variant; file?: string }> = {
    cli: { variant: cliVariant(src) },
    bundle: { variant: bundleVariant(src), file: `${src}/dist/ocibox.js` },
    bin: { variant: binVariant(src), file: `${src}/dist/ocibox-bin` },
  };
  const wanted = !unpack
    ? ["cli"]
    : values.variants
    ? values.variants.split(",")
    : Object.keys(available);
  const variants: Variant[] = [];
  for (const name of wanted) {
    const v = available[name];
    if (!v) throw new Error(`unknown variant ${name}; known: ${Object.keys(available).join(", ")}`);
    if (v.file) {
      let st: Deno.FileInfo;
      try {
        st = await Deno.stat(v.file);
      } catch {
        if (values.variants) throw new Error(`variant ${name} needs ${v.file}; build it first`);
        continue;
      }
      const probe = v.variant.command("", "").slice(0, -3);
      const says = await output([...probe, "--version"]);
      if (!says.startsWith("ocibox version")) {
        const msg = `${v.file} does not run as ocibox (\`${
          probe.map((a) => a.slice(a.lastIndexOf("/") + 1)).join(" ")
        } --version\` said: ${says.split("\n")[0]}); skipping the ${name} variant`;
        if (values.variants) throw new Error(msg);
        log(`warning: ${msg}`);
        notes.push(`Note: ${msg}.`);
        continue;
      }
      if ((st.mtime?.getTime() ?? 0) < newest) {
        const msg = `${v.file.slice(src.length + 1)} is older than the newest source file; ` +
          `its row measures older code (rebuild with deno task ${
            name === "bin" ? "compile" : name
          })`;
        notes.push(`Note: ${msg}.`);
        log(`warning: ${msg}`);
      }
    }
    variants.push(v.variant);
  }
  if (unpack && variants[0]?.name !== "cli" && !wanted.includes("cli")) {
    log("note: the first variant is the one verified against umoci");
  }

  // Work directories.
  const root = Deno.uid() === 0;
  let workDir: string;
  let mounted = false;
  let cacheDir: string;
  if (values.work) {
    workDir = values.work.replace(/\/$/, "");
    await Deno.mkdir(workDir, { recursive: true });
    cacheDir = values.cache ?? `${workDir}/fixtures`;
  } else {
    cacheDir = values.cache ?? `${repo}/.bench/fixtures`;
    if (root) {
      workDir = `${repo}/.bench/tmpfs`;
      await Deno.mkdir(workDir, { recursive: true });
      if (await isMountpoint(workDir)) {
        log(`using the file system already mounted at ${workDir}`);
      } else {
        const out = await output(["mount", "-t", "tmpfs", "-o", "size=6g", "tmpfs", workDir]);
        if (!(await isMountpoint(workDir))) throw new Error(`mounting a tmpfs failed: ${out}`);
        mounted = true;
        log(`mounted a 6g tmpfs at ${workDir}`);
      }
    } else {
      workDir = `/dev/shm/ocibox-bench-${Deno.pid}`;
      await Deno.mkdir(workDir, { recursive: true });
    }
  }
  const fsType = await output(["stat", "-f", "-c", "%T", workDir]);
  if (fsType !== "tmpfs") {
    log(`warning: ${workDir} is ${fsType}, not tmpfs: times will be noisy (see --work)`);
    notes.push(`Note: run directory on ${fsType}, not tmpfs.`);
  }
  await Deno.mkdir(cacheDir, { recursive: true });
  const runDir = `${workDir}/run`;
  const scratchDir = `${workDir}/scratch`;
  log(`fixtures are cached in ${cacheDir}; runs happen in ${runDir} (${fsType})`);

  let interrupted = false;
  const onInt = () => {
    interrupted = true;
    log("interrupted; cleaning up after the current step ...");
  };
  Deno.addSignalListener("SIGINT", onInt);
  const checkpoint = () => {
    if (interrupted) throw new Error("interrupted");
  };

  const loadBefore = (await Deno.readTextFile("/proc/loadavg").catch(() => "?")).split(" ")[0];
  const method = await rssMethod();
  const results: FixtureResult[] = [];
  const profiles: string[] = [];
  const registryResults: RegistryResult[] = [];
  const registryProfiles: string[] = [];
  let archiveFailed = false;
  try {
    log(`warming Deno's module cache: deno cache main.ts`);
    await output([Deno.execPath(), "cache", `${src}/main.ts`]);
    const startup: Sample[] = [];
    for (let i = 0; i < 5; i++) {
      startup.push(
        await measure([Deno.execPath(), "run", "-A", `${src}/main.ts`, "--version"], {
          method,
          statsFile: `${workDir}/startup-stats`,
          cwd: src,
        }),
      );
    }
    await Deno.remove(`${workDir}/startup-stats`).catch(() => {});
    const startRss = Math.max(...startup.map((x) => x.peakRssKb ?? 0)) / 1024;
    notes.push(
      `For scale: starting ocibox (\`deno run -A main.ts --version\`) takes ${
        median(startup.map((x) => x.wallS)).toFixed(2)
      } s and ${startRss.toFixed(0)} MB peak RSS.`,
    );
    const fixtures: Fixture[] = [];
    for (const name of names as FixtureName[]) {
      checkpoint();
      const f = await ensureFixture(name, { cacheDir, scratchDir, chown: root, log });
      await Deno.remove(scratchDir, { recursive: true }).catch(() => {});
      if (!f.generated) log(`fixture ${name}: cached at ${f.layout}`);
      fixtures.push(f);
    }
    for (const f of unpack ? fixtures : []) {
      log(`benchmarking unpack of ${f.name} (${runs} runs, ${warmup} warm-up) ...`);
      results.push(
        ...await benchFixture(f, {
          runs,
          warmup,
          runDir,
          variants,
          rootless: !root,
          rssMethod: method,
          log,
          checkpoint,
        }),
      );
    }
    if (values.profile && unpack) {
      for (const f of fixtures) {
        checkpoint();
        log(`profiling ocibox on ${f.name} ...`);
        try {
          const file = await profileFixture(f, src, runDir, `${repo}/.bench/profiles/${f.name}`);
          const p = JSON.parse(await Deno.readTextFile(file)) as CpuProfile;
          const s = summarizeProfile(p, { top: 15, root: `file://${src}/` });
          profiles.push(profileMarkdown(`${f.name}: ${file.slice(repo.length + 1)}`, s));
        } catch (e) {
          log(`profiling ${f.name} failed: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
    }
    let busybox: BenchImage | undefined;
    if (registry || archive || inspect) {
      busybox = await ensureBusyboxFixture(cacheDir, scratchDir, log);
      await Deno.remove(scratchDir, { recursive: true }).catch(() => {});
    }
    for (const f of registry ? [busybox!, ...fixtures] : []) {
      checkpoint();
      log(`benchmarking push and pull of ${f.name} (${runs} runs, ${warmup} warm-up) ...`);
      registryResults.push(
        await benchRegistryFixture(f, {
          runs,
          warmup,
          runDir,
          ocibox: src,
          ociboxInsecure: values["ocibox-insecure"],
          rssMethod: method,
          log,
          checkpoint,
        }),
      );
    }
    if (archive) {
      log(`benchmarking docker-archive -> oci: conversion (${runs} runs, ${warmup} warm-up) ...`);
      const large: BenchImage[] = fixtures.filter((f) => f.name === "debian-like");
      // Real files too: debian-like is half random bytes, which hides what a gzip level gives.
      large.push(await ensureHostFixture(cacheDir, scratchDir, log));
      await Deno.remove(scratchDir, { recursive: true }).catch(() => {});
      const results = await archiveSuite([busybox!, ...large], {
        runs,
        warmup,
        runDir,
        ocibox: src,
        rssMethod: method,
        log,
        checkpoint,
      });
      const bad = results.filter((r) => r.error || r.verified !== "ok");
      for (const r of bad) log(`archive ${r.image}: ${r.error ?? r.verified}`);
      if (bad.length) archiveFailed = true;
    }
    if (inspect) {
      log(`benchmarking start-up and inspect ...`);
      await inspectSuite(busybox!, {
        runs: Math.max(runs * 3, 9),
        runDir,
        ocibox: src,
        rssMethod: method,
        log,
        checkpoint,
      });
    }
    if (values.profile && registry) {
      for (const f of fixtures) {
        checkpoint();
        log(`profiling ocibox push and pull of ${f.name} ...`);
        try {
          const files = await profileRegistryFixture(
            f,
            src,
            runDir,
            `${repo}/.bench/profiles/registry-${f.name}`,
            values["ocibox-insecure"],
          );
          for (const d of DIRECTIONS) {
            const p = JSON.parse(await Deno.readTextFile(files[d])) as CpuProfile;
            const s = summarizeProfile(p, { top: 15, root: `file://${src}/` });
            registryProfiles.push(
              profileMarkdown(`${f.name} ${d}: ${files[d].slice(repo.length + 1)}`, s),
            );
          }
        } catch (e) {
          log(`profiling ${f.name} failed: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
    }
  } finally {
    Deno.removeSignalListener("SIGINT", onInt);
    await Deno.remove(runDir, { recursive: true }).catch(() => {});
    await Deno.remove(scratchDir, { recursive: true }).catch(() => {});
    if (mounted) {
      const out = await output(["umount", workDir]);
      if (await isMountpoint(workDir)) log(`warning: could not unmount ${workDir}: ${out}`);
      else log(`unmounted ${workDir}`);
    } else if (!values.work && !root) {
      await Deno.remove(workDir, { recursive: true }).catch(() => {});
    }
  }

  const cpu = (await output(["bash", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"]))
    .trim();
  const machine = `Machine: ${
    cpu || Deno.build.arch
  }, ${navigator.hardwareConcurrency} CPUs, Linux ${Deno.osRelease()}; deno ${Deno.version.deno}`;
  const loadAfter = (await Deno.readTextFile("/proc/loadavg").catch(() => "?")).split(" ")[0];
  const load = `Load average (1 min) ${loadBefore} at the start, ${loadAfter} at the end: other ` +
    `work on the machine makes the medians noisy`;
  const date = new Date().toISOString().slice(0, 10);
  await Deno.mkdir(`${repo}/.bench`, { recursive: true });
  let status = archiveFailed ? 1 : 0;
  if (unpack) status = Math.max(status, await reportUnpack());
  if (registry) status = Math.max(status, await reportRegistry());
  summaryRowsOf(results, registryResults);
  notes.push(`${machine}.`, `${load}.`);
  if (suites.includes("runtime")) {
    status = Math.max(status, await runtimeSuite(await runtimeOpts()));
  }
  if (suites.includes("run-image")) {
    status = Math.max(status, await runImageSuite(await runImageOpts()));
  }
  if (suites.includes("serve")) status = Math.max(status, await serveSuite(await serveOpts()));
  return await finish(status, notes);

  async function reportUnpack(): Promise<number> {
    const ctx = {
      runs,
      rssMethod: method,
      date,
      notes: [
        ...notes,
        `${machine}; ${(await output(["umoci", "--version"])).trim()}; ${
          (await output(["tar", "--version"])).split("\n")[0]
        }.`,
        `${load} (tar's gzip child needs a second core).`,
      ],
    };
    console.log("");
    console.log(renderText(results, ctx));
    await Deno.writeTextFile(`${repo}/.bench/unpack.md`, renderMarkdown(results, ctx));
    console.log(`\nwrote ${repo}/.bench/unpack.md`);
    if (profiles.length) {
      const md = `## ocibox unpack CPU profiles (self time)\n\n${profiles.join("\n")}`;
      await Deno.writeTextFile(`${repo}/.bench/unpack-profile.md`, md);
      console.log(`\n${md}\nwrote ${repo}/.bench/unpack-profile.md`);
    }
    const failed = results.filter((r) => r.verified.startsWith("FAILED") || r.error);
    if (failed.length) {
      console.error(
        `\nFAILED: ocibox failed or its rootfs differs from umoci's on ${
          [
            ...new Set(
              failed.map((r) => r.variant === "cli" ? r.fixture : `${r.fixture} [${r.variant}]`),
            ),
          ]
            .join(", ")
        } (details above)`,
      );
      return 1;
    }
    return 0;
  }

  async function reportRegistry(): Promise<number> {
    const registryVersion = (await output(["docker-registry", "--version"])).split(" ").slice(1)
      .join(" ");
    const ctx = {
      runs,
      rssMethod: method,
      date,
      ociboxInsecure: values["ocibox-insecure"],
      notes: [
        ...notes,
        `${machine}; ${(await output(["skopeo", "--version"])).trim()}; docker-registry ${
          registryVersion || "(unknown version)"
        }.`,
        `${load} (the registry, Go, takes a core of its own while blobs move).`,
      ],
    };
    console.log("");
    console.log(renderRegistryText(registryResults, ctx));
    await Deno.writeTextFile(
      `${repo}/.bench/registry.md`,
      renderRegistryMarkdown(registryResults, ctx),
    );
    console.log(`\nwrote ${repo}/.bench/registry.md`);
    if (registryProfiles.length) {
      const md = `## ocibox copy (registry) CPU profiles (self time)\n\n${
        registryProfiles.join("\n")
      }`;
      await Deno.writeTextFile(`${repo}/.bench/registry-profile.md`, md);
      console.log(`\n${md}\nwrote ${repo}/.bench/registry-profile.md`);
    }
    const broken = registryResults.filter((r) =>
      r.verified.startsWith("FAILED") || r.uploads.startsWith("FAILED") ||
      Object.keys(r.errors).length > 0
    );
    if (broken.length) {
      console.error(
        `\nFAILED: ocibox failed, a push skipped an upload, or the pulled layouts differ on ${
          broken.map((r) => r.fixture).join(", ")
        } (details above)`,
      );
      return 1;
    }
    const slow = registryRows(registryResults).filter((row) => !rowPasses(row));
    if (slow.length) {
      console.error(
        `\nregistry goals missed: ${
          slow.map((r) => `${r.fixture} ${r.direction}`).join(", ")
        } (a benchmark result, not an error)`,
      );
    }
    return 0;
  }
}

/** Adds the unpack and registry suites' cases to the summary, with the issue's goals. */
function summaryRowsOf(unpackResults: readonly FixtureResult[], reg: readonly RegistryResult[]) {
  for (const r of unpackResults) {
    const row = rowOf(r);
    const ocibox = row.failed || r.verified.startsWith("FAILED") ? NaN : row.ocibox;
    const label = row.label;
    recordRatio({
      suite: "unpack",
      case: `unpack ${label}`,
      ocibox,
      peer: "umoci",
      peerS: row.umoci,
      goal: 1,
    });
    recordRatio({
      suite: "unpack",
      case: `unpack ${label}`,
      ocibox,
      peer: "tar -xzf",
      peerS: row.tar,
      // The issue's goal for many small files; the other fixtures are reported against it too.
      goal: 1.1,
    });
  }
  for (const row of registryRows(reg)) {
    const large = row.fixture !== BUSYBOX_NAME;
    recordRatio({
      suite: "registry",
      case: `${row.direction} ${row.fixture}`,
      ocibox: row.error ? NaN : row.ocibox,
      peer: "skopeo",
      peerS: row.skopeo,
      goal: large && row.direction === "pull" ? 0.5 : 1,
      note: row.error,
    });
  }
}

const BUSYBOX_NAME = "busybox";

/** Prints the one summary table of the run and writes .bench/summary.md; returns `status`. */
async function finish(status: number, notes: readonly string[] = []): Promise<number> {
  const rows = summaryRows();
  if (rows.length === 0) return status;
  const all = [
    ...notes,
    "Ratios are medians of ocibox over its peer measured in the same run; numbers taken on a " +
    "loaded machine are indicative only.",
  ];
  console.log("");
  console.log(renderSummaryText(rows, all));
  await Deno.mkdir(`${repo}/.bench`, { recursive: true });
  await Deno.writeTextFile(`${repo}/.bench/summary.md`, renderSummaryMarkdown(rows, all));
  console.log(`\nwrote ${repo}/.bench/summary.md`);
  return status;
}

if (import.meta.main) {
  try {
    Deno.exit(await main());
  } catch (e) {
    console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
    Deno.exit(1);
  }
}
