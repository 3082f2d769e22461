/**
 * The `serve` suite's results as tables: `ocibox serve` against docker-registry (CNCF
 * distribution) measured in the same run, each goal of issue 14's "Performance" section a
 * median ratio marked PASS or FAIL. Also parses wrk's and curl's output. Pure: no I/O.
 *
 * @example
 * ```ts
 * import { renderServeText, type ServeResult } from "./serve_report.ts";
 * const r: ServeResult = {
 *   manifestRps: { ocibox: [5000], registry: [1500] },
 *   blobMBps: { ocibox: [900], registry: [800] },
 *   copies: [{ fixture: "busybox", direction: "push", ocibox: [0.5], registry: [0.6] }],
 *   rssMb: { ocibox: 90, registry: 40 },
 *   problems: [],
 * };
 * console.log(renderServeText(r, { runs: 1, wrkSeconds: 10, date: "2026-01-01" }));
 * ```
 * @module
 */
import { median } from "./measure.ts";

/** The goals of issue 14's "Performance" section. */
export const SERVE_GOALS = {
  /** Manifest GETs per second (wrk, 8 connections): ocibox / docker-registry, at least. */
  manifestRps: 2,
  /** Blob GET throughput of the 512 MB blob: ocibox / docker-registry, at least. */
  blobThroughput: 1,
  /** skopeo copy time into/from ocibox / into/from docker-registry, at most. */
  copyTime: 1,
  /** Peak RSS (VmHWM) of the ocibox serve process during the runs, MB, below. */
  rssMb: 150,
} as const;

/** One fixture and direction of `skopeo copy`: wall seconds per run and server. */
export interface CopySamples {
  fixture: string;
  direction: "push" | "pull";
  ocibox: number[];
  registry: number[];
}

/** Everything the suite measured. */
export interface ServeResult {
  /** wrk's Requests/sec per run. */
  manifestRps: { ocibox: number[]; registry: number[] };
  /** MB/s (1e6 bytes) of `curl -o /dev/null` of the big blob, per run. */
  blobMBps: { ocibox: number[]; registry: number[] };
  /** The size of that blob (big-file's gzip layer), MB. */
  blobMB?: number;
  copies: CopySamples[];
  /** Peak VmHWM over every server process of that kind during the runs, MB. */
  rssMb: { ocibox: number | null; registry: number | null };
  /** Failed checks (wrong status, wrong digest, non-2xx responses): each fails the suite. */
  problems: string[];
}

/** Context printed with the tables. */
export interface ServeContext {
  runs: number;
  wrkSeconds: number;
  date: string;
  notes?: string[];
}

/** One goal row. */
export interface ServeRow {
  goal: string;
  ocibox: string;
  registry: string;
  ratio: string;
  target: string;
  pass: boolean;
}

/** What wrk printed: requests per second, and responses that were not 2xx/3xx. */
export interface WrkResult {
  rps: number;
  non2xx: number;
  /** Socket errors (connect, read, write, timeout) summed. */
  socketErrors: number;
}

/**
 * Parses wrk's summary.
 *
 * @example
 * ```ts
 * parseWrk("Requests/sec:   1534.26\nTransfer/sec: 1MB\n").rps; // 1534.26
 * ```
 */
export function parseWrk(out: string): WrkResult {
  const rps = out.match(/^Requests\/sec:\s+([\d.]+)/m);
  if (!rps) throw new Error(`no Requests/sec in wrk's output:\n${out}`);
  const non = out.match(/Non-2xx or 3xx responses:\s+(\d+)/);
  const sock = out.match(
    /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/,
  );
  return {
    rps: Number(rps[1]),
    non2xx: non ? Number(non[1]) : 0,
    socketErrors: sock ? sock.slice(1, 5).reduce((a, x) => a + Number(x), 0) : 0,
  };
}

/** What `curl -w '%{http_code} %{size_download} %{time_total}'` printed. */
export interface CurlResult {
  status: number;
  bytes: number;
  seconds: number;
}

/**
 * Parses curl's `-w '%{http_code} %{size_download} %{time_total}'`.
 *
 * @example
 * ```ts
 * parseCurl("200 536870912 0.61").bytes; // 536870912
 * ```
 */
export function parseCurl(out: string): CurlResult {
  const [status, bytes, seconds] = out.trim().split(/\s+/).map(Number);
  if (![status, bytes, seconds].every(Number.isFinite)) {
    throw new Error(`unexpected curl output: ${out}`);
  }
  return { status, bytes, seconds };
}

const f0 = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : "n/a");
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : "n/a");
const med = (xs: readonly number[]) => (xs.length ? median(xs) : NaN);

/** The goal rows, in the order of the issue. */
export function serveRows(r: ServeResult): ServeRow[] {
  const rows: ServeRow[] = [];
  const [ro, rr] = [med(r.manifestRps.ocibox), med(r.manifestRps.registry)];
  rows.push({
    goal: "manifest GET by tag, requests/s (wrk -t2 -c8)",
    ocibox: f0(ro),
    registry: f0(rr),
    ratio: f2(ro / rr),
    target: `>= ${SERVE_GOALS.manifestRps}`,
    pass: ro / rr >= SERVE_GOALS.manifestRps,
  });
  const [bo, br] = [med(r.blobMBps.ocibox), med(r.blobMBps.registry)];
  rows.push({
    goal: `blob GET${r.blobMB ? ` of ${r.blobMB.toFixed(0)} MB` : ""}, MB/s (curl -o /dev/null)`,
    ocibox: f0(bo),
    registry: f0(br),
    ratio: f2(bo / br),
    target: `>= ${SERVE_GOALS.blobThroughput}`,
    pass: bo / br >= SERVE_GOALS.blobThroughput,
  });
  for (const c of r.copies) {
    const [o, g] = [med(c.ocibox), med(c.registry)];
    rows.push({
      goal: `skopeo copy ${c.direction} ${c.fixture}, s`,
      ocibox: f2(o),
      registry: f2(g),
      ratio: f2(o / g),
      target: `<= ${SERVE_GOALS.copyTime}`,
      pass: o / g <= SERVE_GOALS.copyTime,
    });
  }
  const rss = r.rssMb.ocibox;
  rows.push({
    goal: "server peak RSS (VmHWM), MB",
    ocibox: rss === null ? "n/a" : f0(rss),
    registry: r.rssMb.registry === null ? "n/a" : f0(r.rssMb.registry),
    ratio: "",
    target: `< ${SERVE_GOALS.rssMb} MB`,
    pass: rss !== null && rss < SERVE_GOALS.rssMb,
  });
  return rows;
}

/** Per-run samples, for the detail table: min and max beside the median. */
function detailRows(r: ServeResult): string[][] {
  const spread = (xs: readonly number[], fmt: (x: number) => string) =>
    xs.length ? `${fmt(med(xs))} (${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))})` : "n/a";
  const out: string[][] = [
    [
      "manifest GET, req/s",
      spread(r.manifestRps.ocibox, f0),
      spread(r.manifestRps.registry, f0),
    ],
    ["blob GET, MB/s", spread(r.blobMBps.ocibox, f0), spread(r.blobMBps.registry, f0)],
  ];
  for (const c of r.copies) {
    out.push([`${c.direction} ${c.fixture}, s`, spread(c.ocibox, f2), spread(c.registry, f2)]);
  }
  return out;
}

const HEADER = ["goal", "ocibox serve", "docker-registry", "ratio", "target", ""];

function table(rows: string[][], markdown: boolean): string {
  if (markdown) {
    const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
    const align = rows[0].map((_, i) => (i === 0 ? "---" : "---:"));
    return [line(rows[0]), line(align), ...rows.slice(1).map(line)].join("\n");
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ")
      .trimEnd()
  ).join("\n");
}

function goalCells(r: ServeResult): string[][] {
  return [
    HEADER,
    ...serveRows(r).map((
      row,
    ) => [row.goal, row.ocibox, row.registry, row.ratio, row.target, row.pass ? "PASS" : "FAIL"]),
  ];
}

function intro(ctx: ServeContext): string {
  return `Median of ${ctx.runs} runs per server (wrk: ${ctx.wrkSeconds} s each), both ` +
    `servers on 127.0.0.1 with their storage on a tmpfs, measured in the same run ` +
    `(${ctx.date}).`;
}

/** Plain-text tables for the terminal. */
export function renderServeText(r: ServeResult, ctx: ServeContext): string {
  return [
    "ocibox serve vs docker-registry",
    intro(ctx),
    "",
    table(goalCells(r), false),
    "",
    table(
      [["per run: median (min–max)", "ocibox serve", "docker-registry"], ...detailRows(r)],
      false,
    ),
    ...(r.problems.length ? ["", "PROBLEMS:", ...r.problems.map((p) => `  ${p}`)] : []),
    ...(ctx.notes?.length ? ["", ...ctx.notes] : []),
  ].join("\n");
}

/** Markdown for .bench/serve.md (and the README's table). */
export function renderServeMarkdown(r: ServeResult, ctx: ServeContext): string {
  return [
    "## ocibox serve vs docker-registry",
    "",
    intro(ctx),
    "",
    table(goalCells(r), true),
    "",
    table(
      [["per run: median (min–max)", "ocibox serve", "docker-registry"], ...detailRows(r)],
      true,
    ),
    "",
    ...(r.problems.length ? ["Problems:", "", ...r.problems.map((p) => `- ${p}`), ""] : []),
    ...(ctx.notes ?? []).map((n) => `${n}\n`),
  ].join("\n");
}

/** True when every goal passed and nothing went wrong. */
export function servePasses(r: ServeResult): boolean {
  return r.problems.length === 0 && serveRows(r).every((row) => row.pass);
}
