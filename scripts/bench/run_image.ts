/**
 * The `run-image` benchmark suite: `ocibox run IMAGE` against its peers in the same run, all on
 * a tmpfs (issue 12's "Performance" goals):
 *
 * - In the store: `ocibox run --rm IMAGE true` of a busybox image already pulled, against
 *   `podman run --rm IMAGE true` (runc, cgroupfs, file events, storage of its own) and `runc
 *   run` of the same image unpacked by umoci; ocibox's runtime on that bundle and a bare Deno
 *   start show where the time goes.
 * - First run: the debian-like fixture (plus a busybox layer for `true`) from docker-registry on
 *   127.0.0.1 into an empty store (pull, unpack into the layer cache, overlay, run) against
 *   `skopeo copy` + `umoci unpack` + `runc run` one after another and against `podman run
 *   --pull always`; then a second container of the same image (nothing unpacked again).
 * - Peak RSS of the foreground `ocibox run` process in both cases.
 *
 * Writes REPO/.bench/run-image.md and prints the table with each goal PASS or FAIL.
 *
 * @example
 * ```ts
 * import { runImageSuite } from "./run_image.ts";
 * const status = await runImageSuite({
 *   src: Deno.cwd(),
 *   repo: Deno.cwd(),
 *   runs: 20,
 *   warmup: 3,
 *   firstRuns: 5,
 *   log: console.error,
 * });
 * ```
 * @module
 */
import { startRegistry } from "../../tests/support/registry.ts";
import { ensureFixture } from "./fixtures.ts";
import { CommandFailed, measure, ownPeakRssKb, rssMethod } from "./measure.ts";
import {
  renderRunImageMarkdown,
  renderRunImageText,
  rssPeak,
  RUN_IMAGE_GOALS,
  runImagePasses,
  type RunImageResult,
  type SampleName,
} from "./run_image_report.ts";

/** Options of {@linkcode runImageSuite}. */
export interface RunImageSuiteOptions {
  /** The ocibox checkout measured (has main.ts). */
  src: string;
  /** This repository (report in REPO/.bench/run-image.md, fixtures in REPO/.bench/fixtures). */
  repo: string;
  /** Timed iterations of the in-store case. */
  runs: number;
  /** Untimed iterations of the in-store case first. */
  warmup: number;
  /** Timed iterations of the first-run case (one untimed before them). */
  firstRuns: number;
  /** Runs whose peak RSS is measured, per case (default 5 warm, 2 first). */
  rssRuns?: number;
  /** A tmpfs to work in; default: a tmpfs mounted at REPO/.bench/run-image-tmpfs. */
  work?: string;
  /** Where fixture layouts are cached (default REPO/.bench/fixtures). */
  cacheDir?: string;
  log?: (line: string) => void;
}

const decoder = new TextDecoder();

async function output(cmd: string[], opts: { cwd?: string; env?: Record<string, string> } = {}) {
  const out = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    cwd: opts.cwd,
    env: opts.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new CommandFailed(cmd, out.code, decoder.decode(out.stderr) + decoder.decode(out.stdout));
  }
  return decoder.decode(out.stdout).trim();
}

async function timeOnce(cmd: string[]): Promise<number> {
  const t = performance.now();
  await output(cmd);
  return performance.now() - t;
}

async function isMountpoint(dir: string): Promise<boolean> {
  try {
    return (await new Deno.Command("mountpoint", { args: ["-q", dir] }).output()).success;
  } catch {
    return false;
  }
}

/** Unmounts everything mounted below `dir` (deepest first). */
async function unmountBelow(dir: string): Promise<void> {
  await new Deno.Command("sh", {
    args: ["-c", `grep -o ' ${dir}/[^ ]*' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l`],
  }).output().catch(() => {});
}

/** A rootfs directory with busybox at `${dir}/${at}/busybox` and `true`, `sh` linked to it. */
async function busyboxTree(dir: string, at: string): Promise<void> {
  const busybox = await output(["which", "busybox"]);
  await Deno.mkdir(`${dir}/${at}`, { recursive: true });
  await Deno.copyFile(busybox, `${dir}/${at}/busybox`);
  await Deno.chmod(`${dir}/${at}/busybox`, 0o755);
  for (const name of ["true", "sh"]) await Deno.symlink("busybox", `${dir}/${at}/${name}`);
}

/** umoci's config.json made terminal-less, its process `true` (as the images' cmd). */
const PATCH_CONFIG = `s/"terminal": *true/"terminal": false/`;

/**
 * The whole suite; returns 1 when a command failed (a missed goal is reported, not an error).
 */
export async function runImageSuite(opts: RunImageSuiteOptions): Promise<number> {
  const log = opts.log ?? ((line: string) => console.error(line));
  if (Deno.uid() !== 0) throw new Error("the run-image suite needs root (containers, overlay)");
  if (!Number.isInteger(opts.firstRuns) || opts.firstRuns < 1) {
    throw new Error("--first-runs must be a positive integer");
  }
  for (const tool of ["runc", "podman", "skopeo", "umoci", "docker-registry", "busybox"]) {
    const which = await new Deno.Command("which", { args: [tool], stdout: "null" }).output();
    if (!which.success) throw new Error(`${tool} is not on PATH`);
  }
  const cacheDir = opts.cacheDir ?? `${opts.repo}/.bench/fixtures`;
  let work = opts.work?.replace(/\/$/, "");
  let mounted = false;
  if (!work) {
    work = `${opts.repo}/.bench/run-image-tmpfs`;
    await Deno.mkdir(work, { recursive: true });
    if (!(await isMountpoint(work))) {
      await output(["mount", "-t", "tmpfs", "-o", "size=6g", "tmpfs", work]);
      mounted = true;
    }
  }
  const dir = `${work}/run-image-${Deno.pid}`;
  await Deno.mkdir(dir, { recursive: true });
  const notes: string[] = [];
  const fsType = await output(["stat", "-f", "-c", "%T", dir]).catch(() => "?");
  log(`run-image suite: working in ${dir} (${fsType})`);
  if (fsType !== "tmpfs") notes.push(`Note: work directory on ${fsType}, not tmpfs.`);
  const loadBefore = (await Deno.readTextFile("/proc/loadavg").catch(() => "?")).split(" ")
    .slice(0, 3).join(" ");

  // podman refuses a runroot of more than 50 characters: a small tmpfs of its own.
  const podmanRunroot = `/run/ocibox-bench-podman-${Deno.pid}`;
  await Deno.mkdir(podmanRunroot, { recursive: true });
  await output(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", podmanRunroot]);
  const deno = Deno.execPath();
  const ocibox = [deno, "run", "-A", "--no-lock", `${opts.src}/main.ts`];
  const podmanBase = [
    "podman",
    "--root",
    `${dir}/podman/storage`,
    "--runroot",
    podmanRunroot,
    "--tmpdir",
    `${dir}/podman/tmp`,
    "--storage-driver",
    "overlay",
    "--cgroup-manager",
    "cgroupfs",
    "--events-backend",
    "file",
    "--runtime",
    "runc",
  ];
  // podman reads no containers.conf of the host's that could change its defaults.
  const podmanEnv = { CONTAINERS_CONF: `${dir}/podman/containers.conf` };
  const podman = (args: string[]) => [...podmanBase, ...args];
  const podmanOut = (args: string[]) => output(podman(args), { env: podmanEnv });
  const podmanTime = async (args: string[]) => {
    const t = performance.now();
    await podmanOut(args);
    return performance.now() - t;
  };

  const samples: Partial<Record<SampleName, number[]>> = {};
  const push = (n: SampleName, ms: number) => (samples[n] ??= []).push(ms);
  const rssMb: RunImageResult["rssMb"] = { warm: null, first: null };
  const treeRssMb: RunImageResult["treeRssMb"] = { warm: null, first: null };
  const method = await rssMethod();
  let registry: Awaited<ReturnType<typeof startRegistry>> | undefined;
  let n = 0;
  try {
    await Deno.mkdir(`${dir}/podman/tmp`, { recursive: true });
    await Deno.writeTextFile(podmanEnv.CONTAINERS_CONF, "[containers]\ndefault_ulimits = []\n");
    await Deno.writeTextFile(`${dir}/empty.js`, "0;\n");
    await output([deno, "cache", `${opts.src}/main.ts`], { cwd: opts.src });

    // Images: a busybox one, and debian-like with a busybox layer on top.
    log("building the images ...");
    await busyboxTree(`${dir}/bb-rootfs`, "bin");
    await output([
      ...ocibox,
      "append",
      "-q",
      "--layer",
      `${dir}/bb-rootfs`,
      "--cmd",
      "true",
      "--env",
      "PATH=/bin",
      `oci:${dir}/layout:small`,
    ]);
    const fixture = await ensureFixture("debian-like", {
      cacheDir,
      scratchDir: `${dir}/scratch`,
      chown: true,
      log,
    });
    await busyboxTree(`${dir}/bb-layer`, "usr/local/bin");
    await output([
      ...ocibox,
      "append",
      "-q",
      "--base",
      `oci:${fixture.layout}:${fixture.tag}`,
      "--layer",
      `${dir}/bb-layer`,
      "--cmd",
      "true",
      "--env",
      "PATH=/usr/local/bin:/usr/bin:/bin",
      `oci:${dir}/layout:debian`,
    ]);
    const gz = fixture.layers.reduce((a, l) => a + l.size, 0);
    notes.push(
      `debian-like: ${fixture.stats.files} files, ${
        (fixture.stats.bytes / 1e6).toFixed(0)
      } MB unpacked, ${(gz / 1e6).toFixed(0)} MB of gzip layers in ${fixture.layers.length} ` +
        `layers, plus a busybox layer.`,
    );

    registry = await startRegistry({ mode: "plain", storageDir: `${dir}/registry` });
    const small = `${registry.host}/bench/small:t`;
    const debian = `${registry.host}/bench/debian:t`;
    for (const [tag, ref] of [["small", small], ["debian", debian]]) {
      await output([
        "skopeo",
        "copy",
        "-q",
        "--dest-tls-verify=false",
        `oci:${dir}/layout:${tag}`,
        `docker://${ref}`,
      ]);
    }

    // ---- in the store ---------------------------------------------------------------------
    const warmStore = ["--store", `${dir}/store-warm`, "--root", `${dir}/state-warm`];
    await output([...ocibox, ...warmStore, "pull", "-q", small]);
    await podmanOut(["pull", "-q", "--tls-verify=false", small]);
    const bundle = `${dir}/bundle-small`;
    await output(["umoci", "unpack", "--image", `${dir}/layout:small`, bundle]);
    // umoci's config as it is, but without a terminal (stdin is /dev/null here).
    const config = JSON.parse(await Deno.readTextFile(`${bundle}/config.json`));
    config.process.terminal = false;
    await Deno.writeTextFile(`${bundle}/config.json`, JSON.stringify(config, null, 2) + "\n");
    const tools: { name: SampleName; cmd: (id: string) => string[]; podman?: boolean }[] = [
      {
        name: "ocibox warm",
        cmd: () => [...ocibox, ...warmStore, "run", "--rm", "--network", "none", small, "true"],
      },
      {
        name: "podman warm",
        cmd: () => podman(["run", "--rm", "--network", "none", small, "true"]),
        podman: true,
      },
      {
        name: "runc",
        cmd: (id) => ["runc", "--root", `${dir}/runc-state`, "run", "-b", bundle, id],
      },
      {
        name: "ocibox bundle",
        cmd: (id) => [...ocibox, "--root", `${dir}/state-bundle`, "run", "-b", bundle, id],
      },
      { name: "deno", cmd: () => [deno, "run", "-A", "--no-config", `${dir}/empty.js`] },
    ];
    log(`in the store: ${opts.runs} iterations after ${opts.warmup} warm-up ...`);
    for (let i = 0; i < opts.warmup + opts.runs; i++) {
      for (let k = 0; k < tools.length; k++) {
        const t = tools[(k + i) % tools.length];
        const cmd = t.cmd(`b${++n}`);
        const ms = t.podman ? await podmanTime(cmd.slice(podmanBase.length)) : await timeOnce(cmd);
        if (i >= opts.warmup) push(t.name, ms);
      }
      if (i >= opts.warmup && (i - opts.warmup + 1) % 5 === 0) {
        log(`  ${i - opts.warmup + 1}/${opts.runs}`);
      }
    }
    const rssRuns = opts.rssRuns ?? 5;
    const warmCmd = tools[0].cmd("");
    for (let i = 0; i < rssRuns; i++) {
      const kb = await ownPeakRssKb(warmCmd);
      if (kb !== null) rssMb.warm = Math.max(rssMb.warm ?? 0, kb / 1024);
      if (method === "gnu-time") {
        const s = await measure(warmCmd, { method, statsFile: `${dir}/time-stats` });
        if (s.peakRssKb !== null) {
          treeRssMb.warm = Math.max(treeRssMb.warm ?? 0, s.peakRssKb / 1024);
        }
      }
    }

    // ---- first run from the registry ------------------------------------------------------
    const firstStore = `${dir}/store-first`;
    const firstState = `${dir}/state-first`;
    const first = [...ocibox, "--store", firstStore, "--root", firstState];
    const firstRun = [...first, "run", "--rm", "--network", "none", debian, "true"];
    const chainDir = `${dir}/chain`;
    const chain = (id: string) => [
      "sh",
      "-ec",
      `skopeo copy -q --src-tls-verify=false docker://${debian} oci:${chainDir}/layout:t\n` +
      `umoci unpack --image ${chainDir}/layout:t ${chainDir}/bundle\n` +
      `sed -i '${PATCH_CONFIG}' ${chainDir}/bundle/config.json\n` +
      `runc --root ${dir}/runc-state run -b ${chainDir}/bundle ${id}`,
    ];
    const clean = async () => {
      await unmountBelow(firstStore);
      await Deno.remove(firstStore, { recursive: true }).catch(() => {});
      await Deno.remove(chainDir, { recursive: true }).catch(() => {});
      await Deno.mkdir(chainDir); // skopeo wants the layout's parent to exist
      await podmanOut(["rmi", "-af"]).catch(() => "");
    };
    // Each tool's first run, then a second container of the same image; kept when `timed`.
    const keep = (timed: boolean, name: SampleName, ms: number) => {
      if (timed) push(name, ms);
    };
    const podmanRun = ["run", "--rm", "--network", "none"];
    const firstTools: ((id: string, timed: boolean) => Promise<void>)[] = [
      async (_id, timed) => {
        keep(timed, "ocibox first", await timeOnce(firstRun));
        keep(timed, "ocibox second", await timeOnce(firstRun));
      },
      async (id, timed) => keep(timed, "chain first", await timeOnce(chain(id))),
      async (_id, timed) => {
        const always = ["--pull", "always", "--tls-verify=false"];
        keep(timed, "podman first", await podmanTime([...podmanRun, ...always, debian, "true"]));
        keep(timed, "podman second", await podmanTime([...podmanRun, debian, "true"]));
      },
    ];
    log(`first run of debian-like: ${opts.firstRuns} iterations after 1 warm-up ...`);
    for (let i = 0; i < 1 + opts.firstRuns; i++) {
      for (let k = 0; k < firstTools.length; k++) {
        await clean();
        await firstTools[(k + i) % firstTools.length](`f${++n}`, i >= 1);
      }
      log(`  ${i === 0 ? "warm-up" : `${i}/${opts.firstRuns}`} done`);
    }
    for (let i = 0; i < Math.min(rssRuns, 2); i++) {
      await clean();
      const kb = await ownPeakRssKb(firstRun);
      if (kb !== null) rssMb.first = Math.max(rssMb.first ?? 0, kb / 1024);
      if (method === "gnu-time") {
        await clean();
        const s = await measure(firstRun, { method, statsFile: `${dir}/time-stats` });
        if (s.peakRssKb !== null) {
          treeRssMb.first = Math.max(treeRssMb.first ?? 0, s.peakRssKb / 1024);
        }
      }
    }
    await clean();
  } catch (e) {
    log(`run-image suite failed: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  } finally {
    await registry?.stop().catch(() => {});
    await podmanOut(["rm", "-af"]).catch(() => "");
    await podmanOut(["rmi", "-af"]).catch(() => "");
    await unmountBelow(dir);
    await unmountBelow(podmanRunroot);
    await output(["umount", "-l", podmanRunroot]).catch(() => "");
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    await Deno.remove(podmanRunroot, { recursive: true }).catch(() => {});
    if (mounted) await output(["umount", work]).catch(() => "");
  }

  const loadAfter = (await Deno.readTextFile("/proc/loadavg").catch(() => "?")).split(" ")
    .slice(0, 3).join(" ");
  const cpu = (await Deno.readTextFile("/proc/cpuinfo").catch(() => "")).match(
    /^model name\s*:\s*(.*)$/m,
  )?.[1];
  const versions = [];
  for (const cmd of [["runc", "--version"], ["podman", "--version"], ["skopeo", "--version"]]) {
    versions.push((await output(cmd).catch(() => `${cmd[0]} ?`)).split("\n")[0]);
  }
  notes.push(
    `Machine: ${
      cpu ?? Deno.build.arch
    }, ${navigator.hardwareConcurrency} CPUs, Linux ${Deno.osRelease()}; deno ${Deno.version.deno}; ${
      versions.join("; ")
    }.`,
    `Load average (1, 5, 15 min) ${loadBefore} at the start, ${loadAfter} at the end: other ` +
      `work shares this machine, so the numbers are indicative.`,
  );
  const result: RunImageResult = { samples, rssMb, treeRssMb };
  const ctx = {
    runs: opts.runs,
    firstRuns: opts.firstRuns,
    warmup: opts.warmup,
    date: new Date().toISOString().slice(0, 10),
    notes,
  };
  console.log("");
  console.log(renderRunImageText(result, ctx));
  await Deno.mkdir(`${opts.repo}/.bench`, { recursive: true });
  await Deno.writeTextFile(`${opts.repo}/.bench/run-image.md`, renderRunImageMarkdown(result, ctx));
  await Deno.writeTextFile(
    `${opts.repo}/.bench/run-image.json`,
    JSON.stringify(result, null, 1) + "\n",
  );
  console.log(`\nwrote ${opts.repo}/.bench/run-image.md`);
  if (!runImagePasses(result)) {
    const rss = rssPeak(result);
    console.error(
      `\nrun-image goals missed${
        rss !== null && rss >= RUN_IMAGE_GOALS.rssMb ? " (peak RSS included)" : ""
      } (a benchmark result, not an error)`,
    );
  }
  return 0;
}
