/**
 * The `runtime` benchmark suite, everything in the same run as runc and crun:
 * - `run` of a busybox bundle whose process is `true`, spawn to exit, against `runc run` and
 *   `crun run`, plus a bare Deno start (the floor of any Deno program). Tools alternate within
 *   each iteration (the order rotates); medians, means, ratios to runc, and the peak RSS of the
 *   ocibox CLI during `run` (goal < 60 MB).
 * - create → start → wait → delete as separate commands, as podman and containerd drive a
 *   runtime (runtime_cases.ts), per verb and in total;
 * - `state`, `list` and `kill 0` start-up, and each verb's module count;
 * - `podman run --rm IMAGE true` with `--runtime ocibox` and `--runtime runc`;
 * - 50 containers created and waiting: the memory (Pss) of their inits.
 * crun refuses this hybrid cgroup host unless /sys/fs/cgroup/unified is hidden: it runs through
 * a wrapper that unshares a mount namespace and unmounts it (a few ms of its time).
 *
 * The ocibox rows: `cli` = `deno run -A --no-lock main.ts`; `bundle` = the single file
 * `deno task bundle` writes to dist/ocibox.js, built afresh into the work directory (so it
 * measures the same sources as the cli row and dist/ is left alone).
 *
 * @example
 * ```ts
 * import { runtimeSuite } from "./runtime.ts";
 * const status = await runtimeSuite({
 *   src: Deno.cwd(),
 *   repo: Deno.cwd(),
 *   runs: 20,
 *   warmup: 3,
 *   log: console.error,
 * });
 * ```
 * @module
 */
import {
  CommandFailed,
  measure,
  median,
  ownPeakRssKb,
  type RssMethod,
  rssMethod,
} from "./measure.ts";
import {
  type CycleResult,
  emptyCycle,
  lifecycleCycle,
  moduleCount,
  podmanRuns,
  run as runCommand,
  type RuntimeCli,
  verbTimes,
  waitingInitsMemory,
} from "./runtime_cases.ts";

/** The goal: peak RSS of the ocibox CLI process during `run`. */
export const RUNTIME_GOALS = { cliRssMb: 60 } as const;

/** Options of {@linkcode runtimeSuite}. */
export interface RuntimeSuiteOptions {
  /** The ocibox checkout measured (has main.ts). */
  src: string;
  /** This repository (the report goes to REPO/.bench/runtime.md). */
  repo: string;
  /** Timed iterations per tool. */
  runs: number;
  /** Untimed iterations per tool first. */
  warmup: number;
  /** Runs per ocibox variant whose peak RSS is measured (default 5). */
  rssRuns?: number;
  /** Base directory for the scratch files (default /mnt/bench when a mount point, else REPO/.bench). */
  work?: string;
  log?: (line: string) => void;
}

/** A timed tool. */
export interface RuntimeTool {
  /** Row label. */
  name: string;
  /** Whether this is an ocibox variant (its CLI's peak RSS is measured against the goal). */
  ocibox: boolean;
  /** The argv for iteration `id` (a fresh container id). */
  command: (id: string) => string[];
  env?: Record<string, string>;
}

/** Everything measured. */
export interface RuntimeResult {
  /** Wall times in ms per tool name, in tool order. */
  samples: Record<string, number[]>;
  tools: RuntimeTool[];
  /** Peak RSS of the tool's own process (VmHWM polled every ms), MB, the max over the runs. */
  rssMb: Record<string, number | null>;
  /** GNU time's %M (the process and the children it waited for), MB, the max over the runs. */
  treeRssMb: Record<string, number | null>;
  rssRuns: number;
  rssMethod: RssMethod;
}

/** Context printed with the tables. */
export interface RuntimeReportContext {
  runs: number;
  warmup: number;
  date: string;
  notes?: string[];
}

const decoder = new TextDecoder();

async function output(cmd: string[], cwd?: string): Promise<string> {
  const out = await new Deno.Command(cmd[0], { args: cmd.slice(1), cwd, stderr: "piped" })
    .output();
  if (!out.success) throw new CommandFailed(cmd, out.code, decoder.decode(out.stderr));
  return decoder.decode(out.stdout).trim();
}

async function isMountpoint(dir: string): Promise<boolean> {
  try {
    return (await new Deno.Command("mountpoint", { args: ["-q", dir] }).output()).success;
  } catch {
    return false;
  }
}

/**
 * Builds the bundle in `dir`: rootfs/bin/busybox (a copy of the host's busybox) with `true`
 * and `sh` linked to it, and config.json from `ocibox spec` with `process.args = ["true"]` and
 * no terminal.
 */
export async function buildBusyboxBundle(dir: string, src: string): Promise<void> {
  const busybox = await output(["which", "busybox"]);
  if (!busybox) throw new Error("busybox is not on PATH");
  await Deno.mkdir(`${dir}/rootfs/bin`, { recursive: true });
  await Deno.copyFile(busybox, `${dir}/rootfs/bin/busybox`);
  await Deno.chmod(`${dir}/rootfs/bin/busybox`, 0o755);
  for (const name of ["true", "sh"]) await Deno.symlink("busybox", `${dir}/rootfs/bin/${name}`);
  await Deno.remove(`${dir}/config.json`).catch(() => {});
  await output([Deno.execPath(), "run", "-A", "--no-lock", `${src}/main.ts`, "spec"], dir);
  const config = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
  config.process.terminal = false;
  config.process.args = ["true"];
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(config, null, 2) + "\n");
}

/** Spawns `cmd` in `cwd` (stdin null, output piped), requires exit 0; returns ms to exit. */
async function timeOnce(cmd: string[], cwd: string, env?: Record<string, string>) {
  const started = performance.now();
  const out = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    cwd,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const ms = performance.now() - started;
  if (!out.success) {
    throw new CommandFailed(cmd, out.code, decoder.decode(out.stderr) + decoder.decode(out.stdout));
  }
  return ms;
}

/** Times `tools` in `bundle`, alternating them per iteration, then measures peak RSS. */
export async function benchRuntime(
  tools: readonly RuntimeTool[],
  opts: {
    bundle: string;
    runs: number;
    warmup: number;
    rssRuns: number;
    statsFile: string;
    log: (line: string) => void;
  },
): Promise<RuntimeResult> {
  const samples: Record<string, number[]> = Object.fromEntries(tools.map((t) => [t.name, []]));
  let n = 0;
  for (let i = 0; i < opts.warmup + opts.runs; i++) {
    const timed = i >= opts.warmup;
    // Rotate the order so that no tool always follows the same one.
    const order = tools.map((_, k) => tools[(k + i) % tools.length]);
    for (const t of order) {
      const ms = await timeOnce(t.command(`bench-${++n}`), opts.bundle, t.env);
      if (timed) samples[t.name].push(ms);
    }
    if (timed && (i - opts.warmup + 1) % 5 === 0) {
      opts.log(`  ${i - opts.warmup + 1}/${opts.runs} iterations`);
    }
  }
  const method = await rssMethod();
  const rssMb: Record<string, number | null> = {};
  const treeRssMb: Record<string, number | null> = {};
  opts.log(`measuring peak RSS (${opts.rssRuns} runs per tool) ...`);
  for (const t of tools) {
    let own: number | null = null, tree: number | null = null;
    for (let i = 0; i < opts.rssRuns; i++) {
      const kb = await ownPeakRssKb(t.command(`bench-${++n}`), { cwd: opts.bundle, env: t.env });
      if (kb !== null) own = Math.max(own ?? 0, kb);
      if (method === "gnu-time") {
        // measure() takes no environment: pass it through env(1), which execs the tool.
        const envArgs = Object.entries(t.env ?? {}).map(([k, v]) => `${k}=${v}`);
        const cmd = t.command(`bench-${++n}`);
        const s = await measure(envArgs.length ? ["env", ...envArgs, ...cmd] : cmd, {
          method,
          statsFile: opts.statsFile,
          cwd: opts.bundle,
        });
        if (s.peakRssKb !== null) tree = Math.max(tree ?? 0, s.peakRssKb);
      }
    }
    rssMb[t.name] = own === null ? null : own / 1024;
    treeRssMb[t.name] = tree === null ? null : tree / 1024;
  }
  return { samples, tools: [...tools], rssMb, treeRssMb, rssRuns: opts.rssRuns, rssMethod: method };
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const f1 = (x: number | null | undefined) =>
  x === null || x === undefined || !Number.isFinite(x) ? "n/a" : x.toFixed(1);
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : "n/a");

const HEADER = [
  "tool",
  "median ms",
  "mean ms",
  "min ms",
  "max ms",
  "x runc (median)",
  `peak RSS MB (ocibox CLI < ${RUNTIME_GOALS.cliRssMb})`,
  "peak RSS MB incl. children",
];

/** The rows of the table: one per tool. */
export function runtimeRows(r: RuntimeResult): string[][] {
  const runc = median(r.samples["runc"] ?? []);
  return r.tools.map((t) => {
    const s = r.samples[t.name];
    const rss = r.rssMb[t.name];
    const rssCell = rss === null || rss === undefined
      ? "n/a"
      : t.ocibox
      ? `${f1(rss)} ${rss < RUNTIME_GOALS.cliRssMb ? "PASS" : "FAIL"}`
      : f1(rss);
    return [
      t.name,
      f1(median(s)),
      f1(mean(s)),
      f1(Math.min(...s)),
      f1(Math.max(...s)),
      t.name === "runc" ? "1.00" : f2(median(s) / runc),
      rssCell,
      f1(r.treeRssMb[t.name]),
    ];
  });
}

/** Whether every ocibox variant's CLI stayed under the RSS goal. */
export function runtimePasses(r: RuntimeResult): boolean {
  return r.tools.filter((t) => t.ocibox).every((t) => {
    const v = r.rssMb[t.name];
    return v !== null && v !== undefined && v < RUNTIME_GOALS.cliRssMb;
  });
}

function textTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r.map((c, i) => (i < 1 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

function mdTable(header: string[], rows: string[][]): string {
  return [
    `| ${header.join(" | ")} |`,
    `|${header.map((_, i) => (i < 1 ? "---" : "---:")).join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ].join("\n");
}

function footnotes(r: RuntimeResult, ctx: RuntimeReportContext): string[] {
  const lines = [
    `Start to exit of \`run\` of a busybox bundle whose process is \`true\` (no terminal), ` +
    `wall ms, ${ctx.runs} timed iteration(s) after ${ctx.warmup} warm-up, the tools ` +
    `alternating within each iteration (order rotated), a fresh container id each time; ` +
    `stdin null, output piped, exit 0 checked. runc = \`runc --root STATE run ID\`; crun = ` +
    `\`crun --root STATE run ID\` in a mount namespace of its own without ` +
    `/sys/fs/cgroup/unified (unshare + sh + umount included); ocibox = \`deno run -A ` +
    `--no-lock main.ts --root STATE run ID\`; deno = \`deno run -A --no-config empty.js\`, a ` +
    `bare Deno start; ocibox --version = Deno plus ocibox's entry module and dispatch.`,
    `Peak RSS: the process's own VmHWM (/proc/PID/status polled every ms; for ocibox the CLI ` +
    `alone), the largest over ${r.rssRuns} run(s); "incl. children": ${
      r.rssMethod === "gnu-time"
        ? "GNU time's %M (ru_maxrss of the process and every child it waited for), the " +
          "largest over as many more runs"
        : "n/a (no GNU time)"
    }.`,
  ];
  const deno = r.samples["deno"];
  const runc = r.samples["runc"];
  const cli = r.samples["ocibox"];
  if (deno?.length && runc?.length && cli?.length) {
    const start = median(deno), m = median(cli);
    lines.push(
      `ocibox: one Deno start (${start.toFixed(1)} ms) is ${(100 * start / m).toFixed(0)}% of ` +
        `its median ${m.toFixed(1)} ms; the rest, ${(m - start).toFixed(1)} ms, compares with ` +
        `runc's whole ${median(runc).toFixed(1)} ms (${
          ((m - start) / median(runc)).toFixed(2)
        } x).`,
    );
  }
  return [...lines, ...(ctx.notes ?? [])];
}

/** The report as terminal text. */
export function renderRuntimeText(r: RuntimeResult, ctx: RuntimeReportContext): string {
  return [textTable(HEADER, runtimeRows(r)), "", ...footnotes(r, ctx)].join("\n");
}

/** The report as markdown. */
export function renderRuntimeMarkdown(r: RuntimeResult, ctx: RuntimeReportContext): string {
  return [
    `## Runtime benchmark (${ctx.date})`,
    "",
    mdTable(HEADER, runtimeRows(r)),
    "",
    ...footnotes(r, ctx).map((l) => `- ${l}`),
    "",
  ].join("\n");
}

/** What the suite measures besides `run`. */
interface Extras {
  cycles: Record<string, CycleResult>;
  verbs: Record<string, { state: number; list: number; kill: number }>;
  modules: Record<string, number>;
  podman?: Record<string, number[]>;
  podmanNote?: string;
  waiting: Record<string, { totalMb: number; perInitKb: number }>;
  waitingCount: number;
}

function extrasText(x: Extras, md: boolean): string {
  const table = md ? mdTable : textTable;
  const names = Object.keys(x.cycles);
  const rc = x.cycles["runc"] ? median(x.cycles["runc"].total) : NaN;
  const out: string[] = [];
  out.push(
    md
      ? "### create, start, wait, delete (separate commands)"
      : "create -> start -> wait -> delete",
    "",
    table(
      ["runtime", "create ms", "start ms", "wait ms", "delete ms", "total ms", "x runc"],
      names.map((n) => {
        const c = x.cycles[n];
        return [
          n,
          f1(median(c.create)),
          f1(median(c.start)),
          f1(median(c.wait)),
          f1(median(c.delete)),
          f1(median(c.total)),
          f2(median(c.total) / rc),
        ];
      }),
    ),
    "",
  );
  out.push(
    md ? "### Verb start-up (median ms) and module counts" : "verbs (median ms)",
    "",
    table(
      ["runtime", "state", "list", "kill ID 0"],
      Object.entries(x.verbs).map(([n, v]) => [n, f1(v.state), f1(v.list), f1(v.kill)]),
    ),
    "",
    `Modules each ocibox verb can load (deno info, dynamic imports included): ${
      Object.entries(x.modules).map(([v, n]) => `${v} ${n}`).join(", ")
    }.`,
    "",
  );
  if (x.podman) {
    const pr = median(x.podman["runc"] ?? []);
    out.push(
      md ? "### podman run --rm IMAGE true" : "podman run --rm IMAGE true",
      "",
      table(
        ["runtime", "median ms", "x runc"],
        Object.entries(x.podman).map(([n, s]) => [n, f1(median(s)), f2(median(s) / pr)]),
      ),
      "",
    );
  } else if (x.podmanNote) out.push(x.podmanNote, "");
  out.push(
    md
      ? `### ${x.waitingCount} containers created, waiting for start`
      : `${x.waitingCount} waiting inits`,
    "",
    table(
      ["runtime", "inits' Pss MB in all", "per init KB"],
      Object.entries(x.waiting).map(([n, w]) => [n, f1(w.totalMb), f1(w.perInitKb)]),
    ),
    "",
  );
  return out.join("\n");
}

/**
 * A `podman` with its own storage and the README's containers.conf lines for ocibox: `time`
 * runs it and gives the ms it took, `out` gives its output.
 */
async function podmanFor(dir: string, ocibox: string) {
  const conf = `${dir}/containers.conf`;
  await Deno.writeTextFile(
    conf,
    `[containers]\nnetns = "none"\ndefault_ulimits = []\n\n[engine]\ncgroup_manager = "cgroupfs"\n` +
      `events_logger = "file"\nruntime_supports_json = ["crun", "runc", "ocibox"]\n\n` +
      `[engine.runtimes]\nocibox = ["${ocibox}"]\n`,
  );
  const base = ["--root", `${dir}/storage`, "--runroot", `${dir}/run`, "--tmpdir", `${dir}/tmp`];
  const out = (args: string[]) =>
    runCommand(["podman", ...base, ...args], undefined, { CONTAINERS_CONF: conf });
  const time = async (args: string[]) => {
    const t = performance.now();
    await out(args);
    return performance.now() - t;
  };
  return { out, time };
}

/**
 * The whole suite: builds the bundle in a scratch directory, times the tools, prints the tables
 * and writes REPO/.bench/runtime.md. Returns the exit status (1 when a command failed; a missed
 * goal is reported, not an error).
 */
export async function runtimeSuite(opts: RuntimeSuiteOptions): Promise<number> {
  const log = opts.log ?? ((line: string) => console.error(line));
  for (const tool of ["runc", "busybox"]) {
    const which = await new Deno.Command("which", { args: [tool], stdout: "null" }).output();
    if (!which.success) throw new Error(`${tool} is not on PATH`);
  }
  const has = async (tool: string) =>
    (await new Deno.Command("which", { args: [tool], stdout: "null" }).output()).success;
  const base = opts.work?.replace(/\/$/, "") ??
    ((await isMountpoint("/mnt/bench")) ? "/mnt/bench" : `${opts.repo}/.bench`);
  const dir = `${base}/runtime-${Deno.pid}`;
  await Deno.mkdir(dir, { recursive: true });
  const notes: string[] = [];
  const fsType = await output(["stat", "-f", "-c", "%T", dir]).catch(() => "?");
  log(`runtime suite: working in ${dir} (${fsType})`);
  if (fsType !== "tmpfs") notes.push(`Note: work directory on ${fsType}, not tmpfs.`);
  const loadBefore = (await Deno.readTextFile("/proc/loadavg").catch(() => "?")).split(" ")[0];
  let result: RuntimeResult;
  let extras: Extras;
  try {
    const bundle = `${dir}/bundle`;
    await buildBusyboxBundle(bundle, opts.src);
    await Deno.writeTextFile(`${dir}/empty.js`, "0;\n");
    await output([Deno.execPath(), "cache", `${opts.src}/main.ts`], opts.src);
    const deno = Deno.execPath();
    const ocibox = `${dir}/ocibox`;
    await Deno.writeTextFile(
      ocibox,
      `#!/bin/sh\nexec ${deno} run -A --no-lock ${opts.src}/main.ts "$@"\n`,
    );
    await Deno.chmod(ocibox, 0o755);
    const crunAvailable = await has("crun");
    const crun = `${dir}/crun`;
    await Deno.writeTextFile(
      crun,
      `#!/bin/sh\nexec unshare -m sh -c 'umount /sys/fs/cgroup/unified 2>/dev/null; ` +
        `exec crun "$@"' sh "$@"\n`,
    );
    await Deno.chmod(crun, 0o755);
    if (!crunAvailable) notes.push("Note: crun is not installed: its rows are left out.");
    const runtimes: RuntimeCli[] = [
      { name: "runc", argv: ["runc"], state: `${dir}/runc-state` },
      ...(crunAvailable ? [{ name: "crun", argv: [crun], state: `${dir}/crun-state` }] : []),
      {
        name: "ocibox",
        argv: [deno, "run", "-A", "--no-lock", `${opts.src}/main.ts`],
        state: `${dir}/ocibox-state`,
      },
    ];
    const tools: RuntimeTool[] = [
      ...runtimes.map((rt): RuntimeTool => ({
        name: rt.name,
        ocibox: rt.name === "ocibox",
        command: (id) => [...rt.argv, "--root", rt.state, "run", id],
      })),
      {
        name: "deno",
        ocibox: false,
        command: () => [deno, "run", "-A", "--no-config", `${dir}/empty.js`],
      },
      {
        name: "ocibox --version",
        ocibox: false,
        command: () => [deno, "run", "-A", "--no-lock", `${opts.src}/main.ts`, "--version"],
      },
    ];
    log(`timing run (${opts.runs} iterations, ${opts.warmup} warm-up) ...`);
    result = await benchRuntime(tools, {
      bundle,
      runs: opts.runs,
      warmup: opts.warmup,
      rssRuns: opts.rssRuns ?? 5,
      statsFile: `${dir}/time-stats`,
      log,
    });

    log("timing create, start, wait, delete ...");
    const cycles: Record<string, CycleResult> = {};
    for (const rt of runtimes) cycles[rt.name] = emptyCycle();
    let n = 0;
    for (let i = 0; i < opts.warmup + opts.runs; i++) {
      for (let k = 0; k < runtimes.length; k++) {
        const rt = runtimes[(k + i) % runtimes.length];
        const into = i >= opts.warmup ? cycles[rt.name] : emptyCycle();
        await lifecycleCycle(rt, bundle, `cycle-${++n}`, into);
      }
    }
    log("timing state, list, kill ...");
    const verbs: Extras["verbs"] = {};
    for (const rt of runtimes) verbs[rt.name] = await verbTimes(rt, bundle, opts.runs);
    const modules: Record<string, number> = {};
    for (const v of ["state", "kill", "start", "delete", "list", "create", "exec"]) {
      modules[v] = await moduleCount(`${opts.src}/lib/cli/container/${v}.ts`);
    }
    const waitingCount = 50;
    log(`creating ${waitingCount} containers per runtime ...`);
    const waiting: Extras["waiting"] = {};
    for (const rt of runtimes) {
      waiting[rt.name] = await waitingInitsMemory(rt, bundle, waitingCount);
    }

    extras = { cycles, verbs, modules, waiting, waitingCount };
    if (await has("podman")) {
      log("timing podman run --rm ...");
      // podman names the image after the layout's path, where ".bench" is no valid name.
      const podmanDir = `${dir}/podman`;
      await Deno.mkdir(podmanDir, { recursive: true });
      const layoutDir = await Deno.makeTempDir({ prefix: "ocibox-bench-img-" });
      const podman = await podmanFor(podmanDir, ocibox);
      await output([
        deno,
        "run",
        "-A",
        "--no-lock",
        `${opts.src}/main.ts`,
        "append",
        "-q",
        "--layer",
        `${bundle}/rootfs`,
        "--cmd",
        "true",
        "--env",
        "PATH=/bin",
        `oci:${layoutDir}/img:bb`,
      ]);
      const image = (await podman.out(["pull", "-q", `oci:${layoutDir}/img:bb`])).trim();
      await Deno.remove(layoutDir, { recursive: true });
      try {
        extras.podman = await podmanRuns(
          podman.time,
          image,
          ["runc", "ocibox"],
          Math.min(opts.runs, 10),
          1,
        );
      } finally {
        await podman.out(["rm", "-af"]).catch(() => "");
        await podman.out(["rmi", "-af"]).catch(() => "");
      }
    } else extras.podmanNote = "podman is not installed: its row is left out.";
    for (const rt of runtimes) {
      const left = await runCommand([...rt.argv, "--root", rt.state, "list", "-q"]).catch(() => "");
      if (left.trim()) notes.push(`Note: ${rt.name} containers left behind: ${left.trim()}.`);
    }
  } catch (e) {
    log(`runtime suite failed: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  } finally {
    await new Deno.Command("sh", {
      args: [
        "-c",
        `grep -o ' ${dir}[^ ]*' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l`,
      ],
    }).output().catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  const loadAfter = (await Deno.readTextFile("/proc/loadavg").catch(() => "?")).split(" ")[0];
  const cpu = (await Deno.readTextFile("/proc/cpuinfo").catch(() => "")).match(
    /^model name\s*:\s*(.*)$/m,
  )?.[1];
  const runcVersion = (await output(["runc", "--version"]).catch(() => "runc ?")).split("\n")[0];
  notes.push(
    `Machine: ${
      cpu ?? Deno.build.arch
    }, ${navigator.hardwareConcurrency} CPUs, Linux ${Deno.osRelease()}; deno ${Deno.version.deno}; ${runcVersion}.`,
    `Load average (1 min) ${loadBefore} at the start, ${loadAfter} at the end.`,
  );
  const ctx: RuntimeReportContext = {
    runs: opts.runs,
    warmup: opts.warmup,
    date: new Date().toISOString().slice(0, 10),
    notes,
  };
  console.log("");
  console.log(renderRuntimeText(result, ctx));
  console.log("");
  console.log(extrasText(extras, false));
  await Deno.mkdir(`${opts.repo}/.bench`, { recursive: true });
  await Deno.writeTextFile(
    `${opts.repo}/.bench/runtime.md`,
    renderRuntimeMarkdown(result, ctx) + "\n" + extrasText(extras, true),
  );
  console.log(`\nwrote ${opts.repo}/.bench/runtime.md`);
  if (!runtimePasses(result)) {
    console.error(
      `\nruntime goal missed: ocibox CLI peak RSS >= ${RUNTIME_GOALS.cliRssMb} MB ` +
        `(a benchmark result, not an error)`,
    );
  }
  return 0;
}
