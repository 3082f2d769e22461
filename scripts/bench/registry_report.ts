/**
 * The registry benchmark's results as a plain-text table (for the terminal) and as markdown (for
 * the README): one row per fixture and direction with the medians of ocibox and skopeo, their
 * ratio against the goal (<= 0.8) and ocibox's peak RSS (< 200 MB on big-file), then a per-tool
 * detail table (min/max, CPU time, RSS) and notes (upload checks, layout comparison).
 *
 * @example
 * ```ts
 * import { renderRegistryMarkdown } from "./registry_report.ts";
 * import type { RegistryResult } from "./registry_bench.ts";
 * const s = { wallS: 1, peakRssKb: 50_000, userS: 0.8, sysS: 0.2 };
 * const r: RegistryResult = {
 *   fixture: "big-file",
 *   summary: "2 blobs",
 *   samples: { push: { ocibox: [s], skopeo: [s] }, pull: { ocibox: [s], skopeo: [s] } },
 *   errors: {},
 *   uploads: "ok",
 *   verified: "ok",
 *   requests: {},
 * };
 * console.log(renderRegistryMarkdown([r], { runs: 1, rssMethod: "gnu-time", date: "2025-01-01" }));
 * ```
 * @module
 */
import { median, type Sample } from "./measure.ts";
import { type Direction, DIRECTIONS, PEERS, type RegistryResult } from "./registry_bench.ts";
import type { ReportContext } from "./report.ts";

/** The goals: ocibox/skopeo wall time, and ocibox's peak RSS moving big-file's blob. */
export const REGISTRY_GOALS = { vsSkopeo: 0.8, bigFileRssMb: 200 } as const;

/** Context printed with the tables. */
export interface RegistryReportContext extends ReportContext {
  /** ocibox was given `--{dest,src}-tls-verify=false` too. */
  ociboxInsecure?: boolean;
}

/** The numbers of one row. */
export interface RegistryRow {
  fixture: string;
  direction: Direction;
  ocibox: number;
  skopeo: number;
  /** curl, the floor (NaN when not measured). */
  curl: number;
  ratio: number;
  rssMb: number | null;
  skopeoRssMb: number | null;
  rssGoal: boolean;
  error?: string;
}

const maxRssMb = (s: readonly Sample[]) => {
  const v = s.map((x) => x.peakRssKb).filter((x): x is number => x !== null);
  return v.length ? Math.max(...v) / 1024 : null;
};

/** Medians and ratio of one direction of `r`. */
export function registryRowOf(r: RegistryResult, direction: Direction): RegistryRow {
  const m = (s: readonly Sample[]) => median(s.map((x) => x.wallS));
  const ocibox = m(r.samples[direction].ocibox), skopeo = m(r.samples[direction].skopeo);
  return {
    fixture: r.fixture,
    direction,
    ocibox,
    skopeo,
    curl: m(r.samples[direction].curl ?? []),
    ratio: ocibox / skopeo,
    rssMb: maxRssMb(r.samples[direction].ocibox),
    skopeoRssMb: maxRssMb(r.samples[direction].skopeo),
    rssGoal: r.fixture === "big-file",
    error: r.errors[direction],
  };
}

/** Every row of `results`: per fixture, push then pull. */
export function registryRows(results: readonly RegistryResult[]): RegistryRow[] {
  return results.flatMap((r) => DIRECTIONS.map((d) => registryRowOf(r, d)));
}

function verdict(ok: boolean): string {
  return ok ? "PASS" : "FAIL";
}

/** Whether `row` meets its goals. */
export function rowPasses(row: RegistryRow): boolean {
  return !row.error && row.ratio <= REGISTRY_GOALS.vsSkopeo &&
    (!row.rssGoal || (row.rssMb !== null && row.rssMb < REGISTRY_GOALS.bigFileRssMb));
}

/** The cells of the main table for `row`. */
export function registryCells(row: RegistryRow): string[] {
  const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : "n/a");
  const rss = row.rssMb === null
    ? "n/a"
    : row.rssGoal
    ? `${row.rssMb.toFixed(0)} ${verdict(row.rssMb < REGISTRY_GOALS.bigFileRssMb)}`
    : row.rssMb.toFixed(0);
  const skopeoRss = row.skopeoRssMb === null ? "n/a" : row.skopeoRssMb.toFixed(0);
  const floor = [f2(row.curl), f2(row.curl / row.skopeo)];
  if (row.error) {
    return [
      row.fixture,
      row.direction,
      "ERROR",
      f2(row.skopeo),
      "FAIL",
      ...floor,
      "n/a",
      skopeoRss,
    ];
  }
  return [
    row.fixture,
    row.direction,
    f2(row.ocibox),
    f2(row.skopeo),
    `${f2(row.ratio)} ${verdict(row.ratio <= REGISTRY_GOALS.vsSkopeo)}`,
    ...floor,
    rss,
    skopeoRss,
  ];
}

const HEADER = [
  "fixture",
  "direction",
  "ocibox s",
  "skopeo s",
  `ocibox/skopeo (<= ${REGISTRY_GOALS.vsSkopeo})`,
  "curl s (floor)",
  "curl/skopeo",
  `ocibox peak RSS MB (< ${REGISTRY_GOALS.bigFileRssMb} on big-file)`,
  "skopeo peak RSS MB",
];

const DETAIL_HEADER = [
  "fixture",
  "direction",
  "tool",
  "median s",
  "min s",
  "max s",
  "user s",
  "sys s",
  "peak RSS MB",
];

function detailRows(results: readonly RegistryResult[]): string[][] {
  const rows: string[][] = [];
  const f2 = (x: number | null) => (x === null || !Number.isFinite(x) ? "n/a" : x.toFixed(2));
  const med = (xs: (number | null)[]) => {
    const v = xs.filter((x): x is number => x !== null);
    return v.length ? median(v) : null;
  };
  for (const r of results) {
    for (const d of DIRECTIONS) {
      for (const tool of PEERS) {
        const s = r.samples[d][tool] ?? [];
        if (tool === "curl" && s.length === 0) continue;
        const walls = s.map((x) => x.wallS);
        const rss = maxRssMb(s);
        rows.push([
          r.fixture,
          d,
          tool,
          f2(median(walls)),
          f2(walls.length ? Math.min(...walls) : null),
          f2(walls.length ? Math.max(...walls) : null),
          f2(med(s.map((x) => x.userS))),
          f2(med(s.map((x) => x.sysS))),
          rss === null ? "n/a" : rss.toFixed(0),
        ]);
      }
    }
  }
  return rows;
}

function textTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r.map((c, i) => (i < 3 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

function mdTable(header: string[], rows: string[][], leftColumns: number): string {
  return [
    `| ${header.join(" | ")} |`,
    `|${header.map((_, i) => (i < leftColumns ? "---" : "---:")).join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ].join("\n");
}

function requestSummary(r: RegistryResult): string {
  return PEERS.filter((p) => r.requests[p]).map((p) =>
    `${p} ${
      Object.entries(r.requests[p]!).sort(([a], [b]) => a.localeCompare(b)).map(([m, n]) =>
        `${n} ${m}`
      ).join(", ")
    }`
  ).join("; ");
}

function footnotes(results: readonly RegistryResult[], ctx: RegistryReportContext): string[] {
  return [
    `Median of ${ctx.runs} run(s) per tool and direction, alternating which tool goes first; ` +
    `Debian's docker-registry on 127.0.0.1 over plain HTTP, its storage on the same tmpfs as ` +
    `the layouts. ocibox = ${
      ctx.ociboxInsecure
        ? "`deno run -A main.ts copy -q --{dest,src}-tls-verify=false SRC DST`"
        : "`deno run -A main.ts copy -q SRC DST` (plain http, as for any loopback registry)"
    }; ` +
    `skopeo = \`skopeo copy -q --{dest,src}-tls-verify=false ...\`; curl = the floor: the ` +
    `same requests from a bash script with no client-side work (a push sends each blob in one ` +
    `streamed PATCH, blobs in parallel; a pull fetches the manifest and every blob in parallel ` +
    `into files; nothing is hashed or checked): curl/skopeo is the best ratio any client could ` +
    `reach against this registry.`,
    `Push: \`oci:LAYOUT:bench\` -> \`docker://HOST/bench/NAME-TOOL-RUN:t\`, every push into a ` +
    `registry started for it alone (empty storage, new port): skopeo's blob info cache ` +
    `(/var/lib/containers/cache) remembers where it saw each blob and would mount it from an ` +
    `earlier repository of the same registry instead of uploading (0.1 s for big-file). The ` +
    `registry's access log is checked after every push: each blob committed by an upload ` +
    `into the new repository, none mounted, the manifest the fixture's.`,
    `Pull: \`docker://HOST/bench/NAME:t\` (seeded once with skopeo, untimed) -> ` +
    `\`oci:FRESHDIR:t\` on the tmpfs; after timing, ocibox's and skopeo's layouts must have the ` +
    `same blob files, each hashing to its name, and the same manifest for the tag.`,
    `Peak RSS: ${
      ctx.rssMethod === "gnu-time"
        ? "GNU time's %M (ru_maxrss), the largest over the runs"
        : "VmHWM of /proc/PID/status polled every 10 ms, the largest over the runs"
    }; the registry is not included.`,
    ...results.map((r) =>
      `- ${r.fixture}: ${r.summary}; uploads: ${r.uploads}; pulled layouts: ${r.verified}` +
      (requestSummary(r) ? `; requests of the last push: ${requestSummary(r)}` : "") +
      (r.inspect
        ? `; one \`inspect docker://\` (start, ping, manifest, config): ocibox ${
          r.inspect.ocibox.toFixed(2)
        } s, skopeo ${r.inspect.skopeo.toFixed(2)} s`
        : "")
    ),
    ...results.flatMap((r) =>
      DIRECTIONS.filter((d) => r.errors[d]).map((d) =>
        `- ${r.fixture} ${d}: ocibox failed: ${r.errors[d]}`
      )
    ),
    ...(ctx.notes ?? []),
  ];
}

/** The report as terminal text. */
export function renderRegistryText(
  results: readonly RegistryResult[],
  ctx: RegistryReportContext,
): string {
  return [
    textTable(HEADER, registryRows(results).map(registryCells)),
    "",
    textTable(DETAIL_HEADER, detailRows(results)),
    "",
    ...footnotes(results, ctx),
  ].join("\n");
}

/** The report as markdown. */
export function renderRegistryMarkdown(
  results: readonly RegistryResult[],
  ctx: RegistryReportContext,
): string {
  return [
    `## Registry benchmark (${ctx.date})`,
    "",
    mdTable(HEADER, registryRows(results).map(registryCells), 2),
    "",
    "<details><summary>Per tool</summary>",
    "",
    mdTable(DETAIL_HEADER, detailRows(results), 3),
    "",
    "</details>",
    "",
    ...footnotes(results, ctx).map((l) => (l.startsWith("- ") ? l : `- ${l}`)),
    "",
  ].join("\n");
}
