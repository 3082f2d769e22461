/**
 * The unpack benchmark's results as a plain-text table (for the terminal) and as markdown (for
 * the README): medians, ratios against umoci and against GNU tar, ocibox's peak RSS, each goal
 * cell marked PASS or FAIL, and a per-tool detail table (min/max, CPU time, RSS).
 *
 * @example
 * ```ts
 * import { renderMarkdown, type FixtureResult } from "./report.ts";
 * const s = { wallS: 1, peakRssKb: 50_000, userS: 0.8, sysS: 0.2 };
 * const r: FixtureResult = {
 *   fixture: "many-files",
 *   variant: "cli",
 *   summary: "30500 files",
 *   samples: { ocibox: [s], umoci: [s], tar: [s] },
 *   verified: "ok",
 * };
 * console.log(renderMarkdown([r], { runs: 1, rssMethod: "gnu-time", date: "2025-01-01" }));
 * ```
 * @module
 */
import { median, type RssMethod, type Sample } from "./measure.ts";

/** The goals: ocibox/umoci and ocibox/tar time ratios, and peak RSS on big-file. */
export const GOALS = { vsUmoci: 0.7, vsTar: 1.5, bigFileRssMb: 150 } as const;

/** The tools timed for each fixture. */
export type Tool = "ocibox" | "umoci" | "tar";

/** Everything measured for one fixture and one ocibox variant. */
export interface FixtureResult {
  fixture: string;
  /** "cli" (deno run main.ts), "bundle" (dist/ocibox.js) or "bin" (dist/ocibox-bin). */
  variant: string;
  /** One line describing the fixture (files, sizes). */
  summary: string;
  samples: Record<Tool, Sample[]>;
  /** "ok", "FAILED: ..." or "skipped". */
  verified: string;
  /** Set when ocibox failed on this fixture (its samples are then empty). */
  error?: string;
}

/** Context printed with the tables. */
export interface ReportContext {
  runs: number;
  rssMethod: RssMethod;
  date: string;
  /** Free-form lines (machine, versions, notes). */
  notes?: string[];
}

/** The numbers of one row. */
export interface Row {
  label: string;
  ocibox: number;
  umoci: number;
  tar: number;
  vsUmoci: number;
  vsTar: number;
  rssMb: number | null;
  rssGoal: boolean;
  /** ocibox failed (see FixtureResult.error). */
  failed: boolean;
}

/** Medians and ratios of `r`. */
export function rowOf(r: FixtureResult): Row {
  const m = (t: Tool) => median(r.samples[t].map((s) => s.wallS));
  const rss = r.samples.ocibox.map((s) => s.peakRssKb).filter((x): x is number => x !== null);
  const ocibox = m("ocibox"), umoci = m("umoci"), tar = m("tar");
  return {
    label: r.variant === "cli" ? r.fixture : `${r.fixture} [${r.variant}]`,
    ocibox,
    umoci,
    tar,
    vsUmoci: ocibox / umoci,
    vsTar: ocibox / tar,
    rssMb: rss.length ? Math.max(...rss) / 1024 : null,
    rssGoal: r.fixture === "big-file",
    failed: r.error !== undefined,
  };
}

function verdict(ok: boolean): string {
  return ok ? "PASS" : "FAIL";
}

/** The cells of the main table for `row`. */
export function cells(row: Row): string[] {
  const rss = row.rssMb === null
    ? "n/a"
    : row.rssGoal
    ? `${row.rssMb.toFixed(0)} ${verdict(row.rssMb < GOALS.bigFileRssMb)}`
    : row.rssMb.toFixed(0);
  if (row.failed) {
    return [row.label, "ERROR", row.umoci.toFixed(2), row.tar.toFixed(2), "FAIL", "FAIL", "n/a"];
  }
  return [
    row.label,
    row.ocibox.toFixed(2),
    row.umoci.toFixed(2),
    row.tar.toFixed(2),
    `${row.vsUmoci.toFixed(2)} ${verdict(row.vsUmoci <= GOALS.vsUmoci)}`,
    `${row.vsTar.toFixed(2)} ${verdict(row.vsTar <= GOALS.vsTar)}`,
    rss,
  ];
}

const HEADER = [
  "fixture",
  "ocibox s",
  "umoci s",
  "tar s",
  `ocibox/umoci (<= ${GOALS.vsUmoci})`,
  `ocibox/tar (<= ${GOALS.vsTar})`,
  `ocibox peak RSS MB (< ${GOALS.bigFileRssMb} on big-file)`,
];

const DETAIL_HEADER = [
  "fixture",
  "tool",
  "median s",
  "min s",
  "max s",
  "user s",
  "sys s",
  "peak RSS MB",
];

function detailRows(results: readonly FixtureResult[]): string[][] {
  const rows: string[][] = [];
  const f2 = (x: number | null) => (x === null || !Number.isFinite(x) ? "n/a" : x.toFixed(2));
  for (const r of results) {
    for (const tool of ["ocibox", "umoci", "tar"] as const) {
      if (tool !== "ocibox" && r.variant !== "cli") continue;
      const s = r.samples[tool];
      const walls = s.map((x) => x.wallS);
      const med = (xs: (number | null)[]) => {
        const v = xs.filter((x): x is number => x !== null);
        return v.length ? median(v) : null;
      };
      const rss = s.map((x) => x.peakRssKb).filter((x): x is number => x !== null);
      rows.push([
        r.fixture,
        tool === "ocibox" && r.variant !== "cli" ? `ocibox [${r.variant}]` : tool,
        f2(median(walls)),
        f2(Math.min(...walls)),
        f2(Math.max(...walls)),
        f2(med(s.map((x) => x.userS))),
        f2(med(s.map((x) => x.sysS))),
        rss.length ? (Math.max(...rss) / 1024).toFixed(0) : "n/a",
      ]);
    }
  }
  return rows;
}

function textTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

function mdTable(header: string[], rows: string[][]): string {
  return [
    `| ${header.join(" | ")} |`,
    `|${header.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ].join("\n");
}

function footnotes(results: readonly FixtureResult[], ctx: ReportContext): string[] {
  const lines = [
    `Median of ${ctx.runs} run(s) per tool, on a tmpfs; each run unpacks into a fresh directory ` +
    `(deleting it is not timed). ocibox = \`deno run -A main.ts unpack oci:LAYOUT:TAG BUNDLE\`; ` +
    `umoci = \`umoci unpack --image LAYOUT:TAG BUNDLE\`; tar = \`tar -xzf\` of each layer blob in ` +
    `order into one directory (the floor: no whiteout handling, no config.json, no digest checks; ` +
    `its "Cannot open: File exists" errors where a later layer turns a directory into a file ` +
    `are tolerated).`,
    `Peak RSS: ${
      ctx.rssMethod === "gnu-time"
        ? "GNU time's %M (ru_maxrss), the largest over the runs"
        : "VmHWM of /proc/PID/status polled every 10 ms, the largest over the runs"
    }.`,
    ...results.filter((r, i) => results.findIndex((x) => x.fixture === r.fixture) === i)
      .map((r) => `- ${r.fixture}: ${r.summary}; ocibox's rootfs vs umoci's: ${r.verified}`),
    ...results.filter((r) => r.error && r.variant !== "cli")
      .map((r) => `- ${r.fixture} [${r.variant}]: ocibox failed: ${r.error}`),
    ...(ctx.notes ?? []),
  ];
  return lines;
}

/** The report as terminal text. */
export function renderText(results: readonly FixtureResult[], ctx: ReportContext): string {
  return [
    textTable(HEADER, results.map((r) => cells(rowOf(r)))),
    "",
    textTable(DETAIL_HEADER, detailRows(results)),
    "",
    ...footnotes(results, ctx),
  ].join("\n");
}

/** The report as markdown. */
export function renderMarkdown(results: readonly FixtureResult[], ctx: ReportContext): string {
  return [
    `## Unpack benchmark (${ctx.date})`,
    "",
    mdTable(HEADER, results.map((r) => cells(rowOf(r)))),
    "",
    "<details><summary>Per tool</summary>",
    "",
    mdTable(DETAIL_HEADER, detailRows(results)),
    "",
    "</details>",
    "",
    ...footnotes(results, ctx).map((l) => (l.startsWith("- ") ? l : `- ${l}`)),
    "",
  ].join("\n");
}
