/**
 * Suite `inspect`: the fixed cost of one short command. Times, alternating tools each round:
 *
 * - `ocibox --version` against `skopeo --version`;
 * - `ocibox inspect oci:LAYOUT:TAG` (busybox) against `skopeo inspect` of the same;
 * - `ocibox inspect docker://127.0.0.1:PORT/bench/busybox:bench` (a docker-registry on this
 *   machine, seeded untimed with skopeo) against `skopeo inspect`, and against the floor of a
 *   Deno program that talks to a registry: `deno run` of an empty script followed by `curl` of the
 *   manifest (goal: within 1.5x of that).
 *
 * @example
 * ```ts
 * import { inspectSuite } from "./inspect_bench.ts";
 * await inspectSuite(busybox, { runs: 10, runDir: "/mnt/tmpfs/run", ocibox: ".",
 *   rssMethod: "gnu-time" });
 * ```
 * @module
 */
import { startRegistry } from "../../tests/support/registry.ts";
import type { BenchImage } from "./busybox_fixture.ts";
import { measure, median, type RssMethod } from "./measure.ts";
import { recordRatio } from "./summary.ts";

/** Options of {@linkcode inspectSuite}. */
export interface InspectBenchOptions {
  /** Timed rounds (each tool once per round). */
  runs: number;
  runDir: string;
  ocibox: string;
  rssMethod: RssMethod;
  log?: (line: string) => void;
  checkpoint?: () => void;
}

const MANIFEST_ACCEPT = [
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
].join(", ");

/** Median seconds per command name, each run once per round in rotating order. */
async function rounds(
  cmds: Record<string, string[]>,
  options: InspectBenchOptions,
  statsFile: string,
): Promise<Record<string, number>> {
  const names = Object.keys(cmds);
  const times: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  // One untimed round first: page cache, Deno's module cache.
  for (let r = -1; r < options.runs; r++) {
    options.checkpoint?.();
    const shift = ((r % names.length) + names.length) % names.length;
    for (const n of [...names.slice(shift), ...names.slice(0, shift)]) {
      const s = await measure(cmds[n], { method: options.rssMethod, statsFile });
      if (r >= 0) times[n].push(s.wallS);
    }
  }
  return Object.fromEntries(names.map((n) => [n, median(times[n])]));
}

/** Times the start-up cases; records summary rows; returns the medians. */
export async function inspectSuite(
  image: BenchImage,
  options: InspectBenchOptions,
): Promise<Record<string, number>> {
  const log = options.log ?? (() => {});
  const base = `${options.runDir}/inspect`;
  await Deno.remove(base, { recursive: true }).catch(() => {});
  await Deno.mkdir(base, { recursive: true });
  const empty = `${base}/empty.ts`;
  await Deno.writeTextFile(empty, "");
  const deno = Deno.execPath();
  const ocibox = (...args: string[]) => [deno, "run", "-A", `${options.ocibox}/main.ts`, ...args];
  const reg = await startRegistry({ mode: "plain", storageDir: `${base}/storage` });
  try {
    const ref = `${reg.host}/bench/busybox:bench`;
    await new Deno.Command("skopeo", {
      args: [
        "copy",
        "-q",
        "--dest-tls-verify=false",
        `oci:${image.layout}:${image.tag}`,
        `docker://${ref}`,
      ],
    }).output().then((o) => {
      if (!o.success) throw new Error(`seeding ${ref} with skopeo failed`);
    });
    const oci = `oci:${image.layout}:${image.tag}`;
    log(`  inspect: ${options.runs} rounds of --version, inspect oci:, inspect docker://${ref}`);
    const t = await rounds(
      {
        "ocibox --version": ocibox("--version"),
        "skopeo --version": ["skopeo", "--version"],
        "ocibox inspect oci:": ocibox("inspect", oci),
        "skopeo inspect oci:": ["skopeo", "inspect", oci],
        "ocibox inspect docker://": ocibox("inspect", `docker://${ref}`),
        "skopeo inspect docker://": ["skopeo", "inspect", "--tls-verify=false", `docker://${ref}`],
        "deno run empty.ts": [deno, "run", empty],
        "deno run empty.ts + curl": [
          "bash",
          "-c",
          'set -e; "$1" run "$2"; curl -sf -o /dev/null -H "Accept: $3" "$4"',
          "-",
          deno,
          empty,
          MANIFEST_ACCEPT,
          `${reg.url}/v2/bench/busybox/manifests/bench`,
        ],
      },
      options,
      `${base}/stats`,
    );
    for (const [k, v] of Object.entries(t)) log(`  inspect: ${k}: ${(v * 1000).toFixed(0)} ms`);
    const bare = `bare deno start ${(t["deno run empty.ts"] * 1000).toFixed(0)} ms`;
    recordRatio({
      suite: "inspect",
      case: "--version",
      ocibox: t["ocibox --version"],
      peer: "skopeo",
      peerS: t["skopeo --version"],
      goal: 1,
      note: bare,
    });
    recordRatio({
      suite: "inspect",
      case: "inspect oci: (busybox)",
      ocibox: t["ocibox inspect oci:"],
      peer: "skopeo",
      peerS: t["skopeo inspect oci:"],
      goal: 1,
    });
    recordRatio({
      suite: "inspect",
      case: "inspect docker:// (127.0.0.1)",
      ocibox: t["ocibox inspect docker://"],
      peer: "skopeo",
      peerS: t["skopeo inspect docker://"],
      goal: 1,
    });
    recordRatio({
      suite: "inspect",
      case: "inspect docker:// (127.0.0.1)",
      ocibox: t["ocibox inspect docker://"],
      peer: "deno run empty.ts + curl",
      peerS: t["deno run empty.ts + curl"],
      goal: 1.5,
    });
    return t;
  } finally {
    await reg.stop();
    await Deno.remove(base, { recursive: true }).catch(() => {});
  }
}
