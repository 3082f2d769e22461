/**
 * The `run-image` suite's results as tables: each goal a median ratio against a peer measured
 * in the same run, marked PASS or FAIL, then a per-tool table (median, min, max, runs).
 * Pure: no I/O.
 *
 * @example
 * ```ts
 * import { renderRunImageText, type RunImageResult } from "./run_image_report.ts";
 * const r: RunImageResult = {
 *   samples: { "ocibox warm": [200], "podman warm": [800], "runc": [100] },
 *   rssMb: { warm: 50, first: 70 },
 *   treeRssMb: { warm: null, first: null },
 * };
 * console.log(renderRunImageText(r, { runs: 1, firstRuns: 1, warmup: 0, date: "2026-01-01" }));
 * ```
 * @module
 */
import { median } from "./measure.ts";

/** The goals of issue 12's "Performance" section. */
export const RUN_IMAGE_GOALS = {
  /** `ocibox run --rm IMAGE true` / `podman run --rm IMAGE true`, image in the store. */
  warmVsPodman: 0.3,
  /** The same / `runc run` of a prepared bundle. */
  warmVsRunc: 1.5,
  /** First run from the registry / skopeo copy + umoci unpack + runc run. */
  firstVsChain: 0.6,
  /** First run from the registry / `podman run --pull always`. */
  firstVsPodman: 0.7,
  /** Peak RSS of the foreground `ocibox run` process, MB. */
  rssMb: 80,
} as const;

/**
 * Sample names: "ocibox warm", "podman warm", "runc", "ocibox bundle", "deno" (the small
 * image in the store); "ocibox first", "chain first", "podman first", "ocibox second",
 * "podman second" (the Debian-like image from the registry).
 */
export type SampleName =
  | "ocibox warm"
  | "podman warm"
  | "runc"
  | "ocibox bundle"
  | "deno"
  | "ocibox first"
  | "chain first"
  | "podman first"
  | "ocibox second"
  | "podman second";

/** Everything measured. */
export interface RunImageResult {
  /** Wall ms per sample name (absent: not measured). */
  samples: Partial<Record<SampleName, number[]>>;
  /** Peak RSS (own VmHWM) of the foreground ocibox CLI, MB: warm run and first run. */
  rssMb: { warm: number | null; first: number | null };
  /** GNU time's %M (largest process of the tree), MB. */
  treeRssMb: { warm: number | null; first: number | null };
}

/** Context printed with the tables. */
export interface RunImageContext {
  runs: number;
  firstRuns: number;
  warmup: number;
  date: string;
  notes?: string[];
}

const f1 = (x: number | null | undefined) =>
  x === null || x === undefined || !Number.isFinite(x) ? "n/a" : x.toFixed(1);
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : "n/a");
const verdict = (ok: boolean) => (ok ? "PASS" : "FAIL");

/** One goal row: label, ocibox ms, peer, peer ms, ratio, goal, verdict. */
export interface GoalRow {
  label: string;
  ocibox: number;
  peer: string;
  peerMs: number;
  ratio: number;
  goal: number | null;
  pass: boolean | null;
}

/** The goal rows of `r` (a row is left out when either side was not measured). */
export function goalRows(r: RunImageResult): GoalRow[] {
  const m = (n: SampleName) => median(r.samples[n] ?? []);
  const rows: GoalRow[] = [];
  const add = (
    label: string,
    own: SampleName,
    peer: SampleName | null,
    peerLabel: string,
    goal: number | null,
  ) => {
    const o = m(own);
    if (!Number.isFinite(o)) return;
    const p = peer ? m(peer) : NaN;
    if (peer && !Number.isFinite(p)) return;
    const ratio = o / p;
    rows.push({
      label,
      ocibox: o,
      peer: peerLabel,
      peerMs: p,
      ratio,
      goal,
      pass: goal === null ? null : ratio <= goal,
    });
  };
  const G = RUN_IMAGE_GOALS;
  add("run --rm IMAGE true (in store)", "ocibox warm", "podman warm", "podman run", G.warmVsPodman);
  add("run --rm IMAGE true (in store)", "ocibox warm", "runc", "runc run (bundle)", G.warmVsRunc);
  add(
    "first run, debian-like from registry",
    "ocibox first",
    "chain first",
    "skopeo+umoci+runc",
    G.firstVsChain,
  );
  add(
    "first run, debian-like from registry",
    "ocibox first",
    "podman first",
    "podman run --pull always",
    G.firstVsPodman,
  );
  add("second container, debian-like", "ocibox second", "podman second", "podman run", null);
  return rows;
}

/** The peak RSS goal: the larger of the warm and first runs' CLI peaks. */
export function rssPeak(r: RunImageResult): number | null {
  const xs = [r.rssMb.warm, r.rssMb.first].filter((x): x is number => x !== null);
  return xs.length ? Math.max(...xs) : null;
}

/** Whether every goal measured passed (RSS included). */
export function runImagePasses(r: RunImageResult): boolean {
  const rss = rssPeak(r);
  return goalRows(r).every((row) => row.pass !== false) &&
    (rss === null || rss < RUN_IMAGE_GOALS.rssMb);
}

const HEADER = ["case", "ocibox ms", "peer", "peer ms", "ocibox/peer", "goal", "result"];

function goalCells(r: RunImageResult): string[][] {
  const rows = goalRows(r).map((row) => [
    row.label,
    f1(row.ocibox),
    row.peer,
    f1(row.peerMs),
    f2(row.ratio),
    row.goal === null ? "(time shown)" : `<= ${row.goal}`,
    row.pass === null ? "-" : verdict(row.pass),
  ]);
  const rss = rssPeak(r);
  rows.push([
    "peak RSS of ocibox run (CLI), MB",
    f1(rss),
    `warm ${f1(r.rssMb.warm)}, first ${f1(r.rssMb.first)}`,
    "",
    "",
    `< ${RUN_IMAGE_GOALS.rssMb}`,
    rss === null ? "n/a" : verdict(rss < RUN_IMAGE_GOALS.rssMb),
  ]);
  return rows;
}

const DETAIL_HEADER = ["tool", "median ms", "min ms", "max ms", "runs"];

function detailCells(r: RunImageResult): string[][] {
  return (Object.entries(r.samples) as [SampleName, number[]][])
    .filter(([, s]) => s.length > 0)
    .map(([n, s]) => [n, f1(median(s)), f1(Math.min(...s)), f1(Math.max(...s)), String(s.length)]);
}

/** Columns of text (left-aligned) in the goal table; the detail table has only the first. */
const GOAL_TEXT = [0, 2];

function textTable(header: string[], rows: string[][], text = [0]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r.map((c, i) => (text.includes(i) ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

function mdTable(header: string[], rows: string[][], text = [0]): string {
  return [
    `| ${header.join(" | ")} |`,
    `|${header.map((_, i) => (text.includes(i) ? "---" : "---:")).join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ].join("\n");
}

function footnotes(r: RunImageResult, ctx: RunImageContext): string[] {
  const lines = [
    `Wall ms from spawn to exit, medians; the tools alternate within each iteration (order ` +
    `rotated). In store: ${ctx.runs} timed iteration(s) after ${ctx.warmup} warm-up, a busybox ` +
    `image (\`true\` linked to busybox) pulled beforehand into ocibox's store and podman's; ` +
    `ocibox = \`deno run -A --no-lock main.ts --store S --root R run --rm --network none IMAGE ` +
    `true\`; podman = \`podman --root --runroot --tmpdir (tmpfs) --storage-driver overlay ` +
    `--cgroup-manager cgroupfs --events-backend file --runtime runc run --rm --network none ` +
    `IMAGE true\`; runc = \`runc --root R run -b BUNDLE ID\` of the same image unpacked by umoci ` +
    `(config: terminal off, args true); ocibox bundle = \`ocibox run -b\` of that bundle; deno = ` +
    `a bare Deno start (empty script).`,
    `First run: ${ctx.firstRuns} timed iteration(s) of the debian-like fixture plus a busybox ` +
    `layer, served by docker-registry on 127.0.0.1 (plain HTTP, storage on the tmpfs). Before ` +
    `each iteration (untimed) ocibox's store (images, blobs, layer cache) is removed, podman's ` +
    `images are removed (\`rmi -af\`), the chain's layout and bundle are removed. ocibox = ` +
    `\`run --rm --network none IMAGE true\` into an empty store; chain = \`skopeo copy ` +
    `docker://... oci:DIR:t && umoci unpack --image DIR:t BUNDLE && runc run -b BUNDLE ID\` in ` +
    `one shell (plus a sed on config.json for a terminal-less \`true\`); podman = \`run --rm ` +
    `--network none --pull always --tls-verify=false IMAGE true\`. Second = the same command ` +
    `again right after (ocibox: the layers are in the cache, nothing unpacked).`,
    `Peak RSS: the foreground ocibox process's own VmHWM (/proc/PID/status polled every ms), ` +
    `the largest over the RSS runs; GNU time's %M (the largest process of the tree, the ` +
    `container's runtime children included): warm ${f1(r.treeRssMb.warm)} MB, first ${
      f1(r.treeRssMb.first)
    } MB.`,
  ];
  const fastest = (n: SampleName) => Math.min(...(r.samples[n] ?? []));
  const minRatios = goalRows(r).filter((row) => row.goal !== null).map((row) => {
    const own = row.label.startsWith("first") ? "ocibox first" : "ocibox warm";
    const peer: SampleName = row.peer === "podman run"
      ? "podman warm"
      : row.peer === "runc run (bundle)"
      ? "runc"
      : row.peer === "skopeo+umoci+runc"
      ? "chain first"
      : "podman first";
    return `${row.peer} ${f2(fastest(own) / fastest(peer))}`;
  });
  if (minRatios.length) {
    lines.push(
      `The same ratios from each tool's fastest run (less moved by other load): ${
        minRatios.join(", ")
      }.`,
    );
  }
  const deno = median(r.samples["deno"] ?? []);
  const warm = median(r.samples["ocibox warm"] ?? []);
  const bundle = median(r.samples["ocibox bundle"] ?? []);
  if (Number.isFinite(deno) && Number.isFinite(warm) && Number.isFinite(bundle)) {
    lines.push(
      `Where ocibox's ${f1(warm)} ms go: a bare Deno start ${f1(deno)} ms; ocibox's runtime ` +
        `running the prepared bundle (\`run -b\`) ${f1(bundle)} ms; so preparing the container ` +
        `from the store (image lookup, record, overlay mount, /etc files, config.json) and ` +
        `taking it down cost about ${f1(warm - bundle)} ms.`,
    );
  }
  return [...lines, ...(ctx.notes ?? [])];
}

/** The report as terminal text. */
export function renderRunImageText(r: RunImageResult, ctx: RunImageContext): string {
  return [
    textTable(HEADER, goalCells(r), GOAL_TEXT),
    "",
    textTable(DETAIL_HEADER, detailCells(r)),
    "",
    ...footnotes(r, ctx),
  ].join("\n");
}

/** The report as markdown. */
export function renderRunImageMarkdown(r: RunImageResult, ctx: RunImageContext): string {
  return [
    `## run IMAGE benchmark (${ctx.date})`,
    "",
    mdTable(HEADER, goalCells(r), GOAL_TEXT),
    "",
    mdTable(DETAIL_HEADER, detailCells(r)),
    "",
    ...footnotes(r, ctx).map((l) => `- ${l}`),
    "",
  ].join("\n");
}
