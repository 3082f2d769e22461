/**
 * The one table `deno task bench` ends with: every suite's cases as ratios against their peers
 * measured in the same run, with the goal for each and PASS/FAIL. Suites add rows with
 * {@linkcode recordRatio} (or bench.ts adds them from their results); bench.ts prints the table
 * and writes .bench/summary.md.
 *
 * @example
 * ```ts
 * import { recordRatio, renderSummaryMarkdown, summaryRows } from "./summary.ts";
 * recordRatio({ suite: "archive", case: "copy docker-archive:busybox.tar oci:", ocibox: 0.2,
 *   peer: "skopeo", peerS: 0.25, goal: 1 });
 * console.log(renderSummaryMarkdown(summaryRows(), []));
 * ```
 * @module
 */

/** One case: ocibox's median against a peer's, in the same run. */
export interface SummaryRow {
  suite: string;
  /** What was timed, e.g. `pull busybox (registry -> oci:)`. */
  case: string;
  /** ocibox's median seconds (NaN when it failed). */
  ocibox: number;
  /** Who it is compared with, e.g. `skopeo` or `deno run empty.ts + curl`. */
  peer: string;
  peerS: number;
  /** The largest ratio that passes. */
  goal: number;
  /** Anything the reader must know to read the ratio (e.g. output sizes). */
  note?: string;
}

const rows: SummaryRow[] = [];

/** Adds a row to the run's summary. */
export function recordRatio(row: SummaryRow): void {
  rows.push(row);
}

/** The rows recorded so far, in order. */
export function summaryRows(): readonly SummaryRow[] {
  return rows;
}

/** ocibox / peer. */
export function ratioOf(row: SummaryRow): number {
  return row.ocibox / row.peerS;
}

/** PASS, FAIL, or ERROR when either time is missing. */
export function verdict(row: SummaryRow): "PASS" | "FAIL" | "ERROR" {
  const r = ratioOf(row);
  if (!Number.isFinite(r)) return "ERROR";
  return r <= row.goal ? "PASS" : "FAIL";
}

function cells(row: SummaryRow): string[] {
  const s = (x: number) => Number.isFinite(x) ? x.toFixed(3) : "-";
  const r = ratioOf(row);
  return [
    row.suite,
    row.case,
    s(row.ocibox),
    `${row.peer} ${s(row.peerS)}`,
    Number.isFinite(r) ? `${r.toFixed(2)}x` : "-",
    `<= ${row.goal}x`,
    verdict(row),
    row.note ?? "",
  ];
}

const HEAD = ["suite", "case", "ocibox s", "peer s", "ratio", "goal", "", "note"];

/** The table as aligned plain text. */
export function renderSummaryText(list: readonly SummaryRow[], notes: readonly string[]): string {
  const table = [HEAD, ...list.map(cells)];
  const width = HEAD.map((_, i) => Math.max(...table.map((r) => r[i].length)));
  const lines = table.map((r) => r.map((c, i) => c.padEnd(width[i])).join("  ").trimEnd());
  lines.splice(1, 0, width.map((w) => "-".repeat(w)).join("  "));
  const failed = list.filter((r) => verdict(r) !== "PASS").length;
  return [
    `Summary: ${list.length} cases, ${list.length - failed} within their goal (medians, same run)`,
    ...lines,
    ...notes,
  ].join("\n");
}

/** The table as markdown (.bench/summary.md, the README's benchmark section). */
export function renderSummaryMarkdown(
  list: readonly SummaryRow[],
  notes: readonly string[],
): string {
  const esc = (c: string) => c.replaceAll("|", "\\|");
  return [
    "| " + HEAD.map((h) => h || "goal met").join(" | ") + " |",
    "|" + HEAD.map(() => "---").join("|") + "|",
    ...list.map((r) => "| " + cells(r).map(esc).join(" | ") + " |"),
    "",
    ...notes.map((n) => `- ${n}`),
    "",
  ].join("\n");
}
