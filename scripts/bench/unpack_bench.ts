/**
 * Times `ocibox unpack` against `umoci unpack` and GNU tar on one fixture: the fixture's layout
 * is copied into the run directory (a tmpfs), then each run unpacks with every tool into a
 * fresh directory, rotating which tool goes first; outputs are deleted between runs (untimed).
 * After the last run ocibox's rootfs is compared with umoci's (see verify_trees.ts).
 *
 * @example
 * ```ts
 * import { benchFixture, cliVariant } from "./unpack_bench.ts";
 * import { ensureFixture } from "./fixtures.ts";
 * const f = await ensureFixture("big-file", {
 *   cacheDir: ".bench/fixtures",
 *   scratchDir: "/mnt/tmpfs",
 *   chown: true,
 * });
 * const results = await benchFixture(f, {
 *   runs: 3,
 *   runDir: "/mnt/tmpfs/run",
 *   variants: [cliVariant(Deno.cwd())],
 *   rootless: false,
 *   rssMethod: "gnu-time",
 * });
 * ```
 * @module
 */
import type { Fixture } from "./fixtures.ts";
import { CommandFailed, measure, type RssMethod, type Sample } from "./measure.ts";
import type { FixtureResult, Tool } from "./report.ts";
import { compareTrees } from "./verify_trees.ts";

/** One way of running ocibox. */
export interface Variant {
  /** "cli", "bundle" or "bin". */
  name: string;
  /** The command line that unpacks `image` into `bundle`. */
  command(image: string, bundle: string): string[];
  /** Working directory for the command. */
  cwd: string;
}

/** `deno run -A main.ts unpack ...` from the repository root (uses its deno.json). */
export function cliVariant(repo: string): Variant {
  return {
    name: "cli",
    cwd: repo,
    command: (image, bundle) => [
      Deno.execPath(),
      "run",
      "-A",
      `${repo}/main.ts`,
      "unpack",
      image,
      bundle,
    ],
  };
}

/** `deno run -A --no-config dist/ocibox.js unpack ...` (the `deno task bundle` output). */
export function bundleVariant(repo: string): Variant {
  return {
    name: "bundle",
    cwd: repo,
    command: (image, bundle) => [
      Deno.execPath(),
      "run",
      "-A",
      "--no-config",
      `${repo}/dist/ocibox.js`,
      "unpack",
      image,
      bundle,
    ],
  };
}

/** `dist/ocibox-bin unpack ...` (the `deno task compile` output). */
export function binVariant(repo: string): Variant {
  return {
    name: "bin",
    cwd: repo,
    command: (image, bundle) => [`${repo}/dist/ocibox-bin`, "unpack", image, bundle],
  };
}

/** Options of {@linkcode benchFixture}. */
export interface BenchOptions {
  runs: number;
  /** Untimed runs of every tool before the timed ones (default 0). */
  warmup?: number;
  /** A directory on a tmpfs for the layout copy and the unpacked outputs. */
  runDir: string;
  /** ocibox variants; the first is the main one (compared with umoci for correctness). */
  variants: readonly Variant[];
  /** Unpack without root (ocibox decides by itself; umoci gets --rootless). */
  rootless: boolean;
  rssMethod: RssMethod;
  log?: (line: string) => void;
  /** Checked before every command; throw to stop (e.g. after Ctrl-C). */
  checkpoint?: () => void;
}

interface Job {
  key: string;
  tool: Tool;
  variant?: Variant;
  command(out: string): string[];
  cwd?: string;
}

async function removeTree(path: string): Promise<void> {
  await Deno.remove(path, { recursive: true }).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
}

/**
 * The `bash -c` line extracting `blobs` in order into `dir` with GNU tar. GNU tar cannot replace
 * a directory of an earlier layer by a non-directory (without --recursive-unlink, which would
 * also empty every directory a later layer mentions), so exactly those errors are tolerated.
 */
export function tarFloorCommand(
  blobs: readonly string[],
  dir: string,
  rootless: boolean,
): string[] {
  const owner = rootless ? "--no-same-owner" : "--numeric-owner";
  const script = [
    `mkdir -p -- "$0"; err="$0.tar-errors"; : > "$err"; rc=0`,
    `for b in "$@"; do tar ${owner} -xzf "$b" -C "$0" 2>>"$err" || rc=$?; done`,
    `if [ $rc -ne 0 ] && { [ $rc -ne 2 ] || grep -v -E ` +
    `': Cannot open: (File exists|Is a directory)$|^tar: Exiting with failure status' "$err"; }; ` +
    `then cat "$err" >&2; rm -f "$err"; exit 1; fi`,
    `rm -f "$err"`,
  ].join("\n");
  return ["bash", "-c", script, dir, ...blobs];
}

/** Benchmarks `fixture`; returns one result per ocibox variant (umoci and tar shared). */
export async function benchFixture(
  fixture: Fixture,
  options: BenchOptions,
): Promise<FixtureResult[]> {
  const log = options.log ?? (() => {});
  const base = `${options.runDir}/${fixture.name}`;
  await removeTree(base);
  await Deno.mkdir(`${base}/out`, { recursive: true });
  const layout = `${base}/layout`;
  await copyDir(fixture.layout, layout);
  const image = `${layout}:${fixture.tag}`;
  const blobs = fixture.layers.map((l) => `${layout}/${l.path}`);
  const jobs: Job[] = [
    ...options.variants.map((v): Job => ({
      key: `ocibox-${v.name}`,
      tool: "ocibox",
      variant: v,
      cwd: v.cwd,
      command: (out) => v.command(`oci:${image}`, out),
    })),
    {
      key: "umoci",
      tool: "umoci",
      command: (out) => [
        "umoci",
        "unpack",
        ...(options.rootless ? ["--rootless"] : []),
        "--image",
        image,
        out,
      ],
    },
    {
      key: "tar",
      tool: "tar",
      command: (out) => tarFloorCommand(blobs, out, options.rootless),
    },
  ];
  const samples = new Map<string, Sample[]>(jobs.map((j) => [j.key, []]));
  const failures = new Map<string, string>();
  const keep = new Set([jobs[0].key, "umoci"]);
  const warmup = options.warmup ?? 0;
  for (let run = -warmup; run < options.runs; run++) {
    const last = run === options.runs - 1;
    for (let k = 0; k < jobs.length; k++) {
      const job = jobs[(run + warmup + k) % jobs.length];
      if (failures.has(job.key)) continue;
      options.checkpoint?.();
      const out = `${base}/out/${job.key}`;
      await removeTree(out);
      let s: Sample;
      try {
        s = await measure(job.command(out), {
          method: options.rssMethod,
          statsFile: `${base}/stats`,
          cwd: job.cwd,
        });
      } catch (e) {
        // A failing ocibox is a result (reported, exit status 1); a failing peer is not.
        if (!(e instanceof CommandFailed) || job.tool !== "ocibox") throw e;
        const lines = e.message.split("\n");
        const msg = lines.filter((l) => l.startsWith("error:")).at(-1) ?? lines[0];
        failures.set(job.key, msg);
        log(`  ${fixture.name} ${job.key} FAILED: ${e.message}`);
        await removeTree(out);
        continue;
      }
      if (run >= 0) samples.get(job.key)!.push(s);
      const rss = s.peakRssKb === null ? "" : `, ${(s.peakRssKb / 1024).toFixed(0)} MB`;
      const which = run < 0 ? "warm-up" : `run ${run + 1}/${options.runs}`;
      log(`  ${fixture.name} ${which} ${job.key}: ${s.wallS.toFixed(2)} s${rss}`);
      if (!(last && keep.has(job.key))) await removeTree(out);
    }
  }

  let verified: string;
  options.checkpoint?.();
  const mainFailure = failures.get(jobs[0].key);
  if (mainFailure) verified = `FAILED: ocibox unpack failed: ${mainFailure}`;
  else {
    try {
      const cmp = compareTrees(`${base}/out/${jobs[0].key}/rootfs`, `${base}/out/umoci/rootfs`);
      if (cmp.differences.length === 0) {
        verified = `ok (${cmp.entries} paths, ${cmp.hashed} files hashed` +
          (cmp.warnings.length ? `, ${cmp.warnings.length} dir/symlink mtime differences)` : ")");
      } else {
        verified = `FAILED: ${cmp.differences.length} differences, first: ${
          cmp.differences.slice(0, 5).join("; ")
        }`;
        log(`VERIFY FAILED for ${fixture.name}: ocibox's rootfs differs from umoci's:`);
        for (const d of cmp.differences.slice(0, 30)) log(`    ${d}`);
      }
      for (const w of cmp.warnings.slice(0, 5)) log(`  warning: ${w}`);
    } catch (e) {
      verified = `FAILED: ${e instanceof Error ? e.message : String(e)}`;
    }
  }
  await removeTree(base);

  const s = fixture.stats;
  const summary = `${fixture.layers.length} layer(s), ${s.files} files, ${s.dirs} dirs, ` +
    `${s.symlinks} symlinks, ${s.hardlinks} hardlinks, ${s.whiteouts} whiteouts; ` +
    `${(fixture.layers.reduce((a, l) => a + l.tarSize, 0) / 1e6).toFixed(0)} MB tar, ` +
    `${(fixture.layers.reduce((a, l) => a + l.size, 0) / 1e6).toFixed(0)} MB gzip`;
  return options.variants.map((v, i) => ({
    fixture: fixture.name,
    variant: v.name,
    summary,
    samples: {
      ocibox: samples.get(`ocibox-${v.name}`)!,
      umoci: samples.get("umoci")!,
      tar: samples.get("tar")!,
    },
    verified: i === 0 ? verified : "skipped (same code as the cli row)",
    error: failures.get(`ocibox-${v.name}`),
  }));
}

async function copyDir(from: string, to: string): Promise<void> {
  const out = await new Deno.Command("cp", { args: ["-a", "--", from, to], stderr: "piped" })
    .output();
  if (!out.success) throw new Error(`cp -a ${from} ${to}: ${new TextDecoder().decode(out.stderr)}`);
}

/** Runs ocibox (the main variant) once under `--cpu-prof` on `fixture`; returns the profile path. */
export async function profileFixture(
  fixture: Fixture,
  repo: string,
  runDir: string,
  profileDir: string,
): Promise<string> {
  const base = `${runDir}/${fixture.name}-prof`;
  await removeTree(base);
  await Deno.mkdir(base, { recursive: true });
  await copyDir(fixture.layout, `${base}/layout`);
  await removeTree(profileDir);
  await Deno.mkdir(profileDir, { recursive: true });
  try {
    const cmd = [
      Deno.execPath(),
      "run",
      "-A",
      "--cpu-prof",
      `--cpu-prof-dir=${profileDir}`,
      `${repo}/main.ts`,
      "unpack",
      `oci:${base}/layout:${fixture.tag}`,
      `${base}/out`,
    ];
    const out = await new Deno.Command(cmd[0], {
      args: cmd.slice(1),
      cwd: repo,
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(`profiling run failed: ${new TextDecoder().decode(out.stderr)}`);
    }
  } finally {
    await removeTree(base);
  }
  for await (const e of Deno.readDir(profileDir)) {
    if (e.name.endsWith(".cpuprofile")) return `${profileDir}/${e.name}`;
  }
  throw new Error(`no .cpuprofile written in ${profileDir}`);
}
