/**
 * Start-up cost of short ocibox commands against a bare `deno run` of an empty script and the
 * peers' (skopeo --version / inspect, curl of the manifest), all in one run: every round runs
 * each command once, in turn, so that a loaded machine slows them all alike. Reports the
 * minimum (the least disturbed run; start-up is CPU-bound) and the median wall time, and both
 * as ratios to bare Deno.
 *
 * The image is a tiny layer-less one (`umoci new`), in an OCI layout and pushed to a
 * docker-registry on 127.0.0.1 that this module starts and stops.
 *
 * Run alone: `deno run -A scripts/bench/startup_bench.ts [--runs N] [--work DIR]
 * [--bundle dist/ocibox.js]`.
 *
 * @example
 * ```ts
 * import { renderStartup, startupSuite } from "./startup_bench.ts";
 * const rows = await startupSuite({ repo: Deno.cwd(), workDir: "/tmp/startup", runs: 20 });
 * console.log(renderStartup(rows));
 * ```
 * @module
 */
import { parseArgs } from "node:util";

/** One measured command. */
export interface StartupRow {
  name: string;
  command: string[];
  minMs: number;
  medianMs: number;
}

/** Options of {@linkcode startupSuite}. */
export interface StartupOptions {
  /** The ocibox checkout (a directory with main.ts). */
  repo: string;
  /** A scratch directory (removed and re-made). */
  workDir: string;
  runs: number;
  /** Also time this bundle (`deno task bundle`'s dist/ocibox.js). */
  bundle?: string;
  log?: (line: string) => void;
}

async function run(cmd: string[], opts: { cwd?: string; quiet?: boolean } = {}): Promise<void> {
  const out = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    cwd: opts.cwd,
    stdout: "null",
    stderr: opts.quiet ? "null" : "piped",
  }).output();
  if (!out.success) {
    const err = opts.quiet ? "" : new TextDecoder().decode(out.stderr);
    throw new Error(`${cmd.join(" ")} failed: ${err}`);
  }
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function waitForRegistry(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      const r = await fetch(`${url}/v2/`);
      await r.body?.cancel();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`docker-registry at ${url} did not answer`);
}

/** Runs the start-up cases; see the module doc. */
export async function startupSuite(options: StartupOptions): Promise<StartupRow[]> {
  const log = options.log ?? (() => {});
  const w = options.workDir;
  await Deno.remove(w, { recursive: true }).catch(() => {});
  await Deno.mkdir(w, { recursive: true });
  await Deno.writeTextFile(`${w}/empty.ts`, "");
  const layout = `${w}/tiny`;
  await run(["umoci", "init", "--layout", layout]);
  await run(["umoci", "new", "--image", `${layout}:t`]);
  const port = freePort();
  await Deno.writeTextFile(
    `${w}/registry.yml`,
    `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${w}/registry\n` +
      `http:\n  addr: 127.0.0.1:${port}\nlog:\n  level: error\n`,
  );
  const registry = new Deno.Command("docker-registry", {
    args: ["serve", `${w}/registry.yml`],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await waitForRegistry(`http://127.0.0.1:${port}`);
    const deno = Deno.execPath();
    const main = `${options.repo}/main.ts`;
    const ref = `docker://127.0.0.1:${port}/tiny:t`;
    await run([deno, "run", "-A", main, "copy", `oci:${layout}:t`, ref]);
    const ocibox = (...args: string[]) => [deno, "run", "-A", main, ...args];
    const bundle = (...args: string[]) =>
      options.bundle ? [[deno, "run", "-A", "--no-config", options.bundle, ...args]] : [];
    const cases: [string, string[]][] = [
      ["bare deno run (empty script)", [deno, "run", `${w}/empty.ts`]],
      ["ocibox --version", ocibox("--version")],
      ["ocibox inspect oci:", ocibox("inspect", `oci:${layout}:t`)],
      ["ocibox inspect docker://", ocibox("inspect", ref)],
      ...bundle("--version").map((c): [string, string[]] => ["bundle --version", c]),
      ...bundle("inspect", `oci:${layout}:t`).map((c): [string, string[]] => [
        "bundle inspect oci:",
        c,
      ]),
      ...bundle("inspect", ref).map((c): [string, string[]] => ["bundle inspect docker://", c]),
      ["skopeo --version", ["skopeo", "--version"]],
      ["skopeo inspect docker://", ["skopeo", "inspect", "--tls-verify=false", ref]],
      ["curl of the manifest", [
        "curl",
        "-sf",
        "-H",
        "Accept: application/vnd.oci.image.manifest.v1+json",
        `http://127.0.0.1:${port}/v2/tiny/manifests/t`,
      ]],
    ];
    const times = cases.map(() => [] as number[]);
    // One warm-up round (code cache, page cache), then the timed rounds.
    for (let r = -1; r < options.runs; r++) {
      for (const [i, [, cmd]] of cases.entries()) {
        const t0 = performance.now();
        await run(cmd, { cwd: options.repo });
        if (r >= 0) times[i].push(performance.now() - t0);
      }
      if (r >= 0) log(`  start-up round ${r + 1}/${options.runs}`);
    }
    return cases.map(([name, command], i) => {
      const sorted = [...times[i]].sort((a, b) => a - b);
      return {
        name,
        command,
        minMs: sorted[0],
        medianMs: sorted[Math.floor((sorted.length - 1) / 2)],
      };
    });
  } finally {
    registry.kill("SIGTERM");
    await registry.status;
  }
}

/** The rows as a markdown table (ms and ratio to bare Deno). */
export function renderStartup(rows: readonly StartupRow[]): string {
  const bare = rows[0];
  const lines = [
    "| command | min ms | x bare deno | median ms | x bare deno |",
    "|---|---:|---:|---:|---:|",
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.name} | ${r.minMs.toFixed(0)} | ${(r.minMs / bare.minMs).toFixed(2)} | ` +
        `${r.medianMs.toFixed(0)} | ${(r.medianMs / bare.medianMs).toFixed(2)} |`,
    );
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      runs: { type: "string", default: "20" },
      work: { type: "string" },
      bundle: { type: "string" },
    },
  });
  const repo = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
  const workDir = values.work ?? await Deno.makeTempDir({ prefix: "ocibox-startup-" });
  try {
    const rows = await startupSuite({
      repo,
      workDir,
      runs: Number(values.runs),
      bundle: values.bundle,
      log: (l) => console.error(l),
    });
    console.log(renderStartup(rows));
  } finally {
    await Deno.remove(workDir, { recursive: true }).catch(() => {});
  }
}
