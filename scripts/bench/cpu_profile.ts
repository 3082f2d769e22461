/**
 * Summarises a V8 `.cpuprofile` (what `deno run --cpu-prof` writes) into the functions and
 * files with the most self time. A sample's duration is the next sample's time delta, as
 * Chrome DevTools counts it. "(idle)" is time the JS thread waited (for I/O or a thread pool),
 * "(program)" native work outside JS, "(garbage collector)" GC.
 *
 * Run directly to summarise a profile file:
 * `deno run -R scripts/bench/cpu_profile.ts FILE.cpuprofile [TOP]`.
 *
 * @example
 * ```ts
 * import { summarizeProfile } from "./cpu_profile.ts";
 * const p = JSON.parse(await Deno.readTextFile("CPU.123.cpuprofile"));
 * const s = summarizeProfile(p, { top: 10 });
 * for (const f of s.byFunction) console.log(f.ms.toFixed(0), f.name, f.where);
 * ```
 * @module
 */

/** A call frame of a profile node. */
export interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

/** A node of the profile's call tree. */
export interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

/** The `.cpuprofile` JSON. */
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Self time of one function or file. */
export interface SelfTime {
  name: string;
  /** "file:line" for functions, the file for files; shortened relative to `root`. */
  where: string;
  ms: number;
  /** Fraction of the profile's total. */
  share: number;
}

/** Options of {@linkcode summarizeProfile}. */
export interface SummaryOptions {
  /** How many rows of each ranking (default 15). */
  top?: number;
  /** A prefix (such as the repository's file URL) removed from script URLs. */
  root?: string;
}

/** What {@linkcode summarizeProfile} returns. */
export interface ProfileSummary {
  totalMs: number;
  byFunction: SelfTime[];
  byFile: SelfTime[];
}

function shorten(url: string, root: string | undefined): string {
  if (root && url.startsWith(root)) return url.slice(root.length);
  const npm = url.match(/\/npm\/[^/]+\/(.+)$/);
  if (npm) return `npm:${npm[1]}`;
  return url.replace(/^ext:/, "ext:").replace(/^node:/, "node:");
}

/** Ranks functions and files of `profile` by self time. */
export function summarizeProfile(
  profile: CpuProfile,
  options: SummaryOptions = {},
): ProfileSummary {
  const top = options.top ?? 15;
  const byId = new Map<number, ProfileNode>();
  const parentOf = new Map<number, number>();
  for (const n of profile.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parentOf.set(c, n.id);
  }
  const selfUs = new Map<number, number>();
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) {
    const dt = i + 1 < timeDeltas.length ? timeDeltas[i + 1] : 0;
    selfUs.set(samples[i], (selfUs.get(samples[i]) ?? 0) + Math.max(0, dt));
  }
  let totalUs = 0;
  for (const v of selfUs.values()) totalUs += v;
  const fns = new Map<string, SelfTime>();
  const files = new Map<string, SelfTime>();
  for (const [id, us] of selfUs) {
    const cf = byId.get(id)?.callFrame;
    if (!cf) continue;
    let file = cf.url ? shorten(cf.url, options.root) : "";
    const name = cf.functionName || (cf.url ? "(anonymous)" : "(native)");
    let where = file ? `${file}:${cf.lineNumber + 1}` : "";
    if (!cf.url && !name.startsWith("(")) {
      // A native function (op, FFI symbol, zlib binding): name it by its caller, since
      // different natives share names (zlib's "write" and libc's write through FFI).
      const caller = byId.get(parentOf.get(id) ?? -1)?.callFrame;
      if (caller) {
        const callerFile = caller.url ? shorten(caller.url, options.root) : "";
        where = `native, from ${caller.functionName || "(anonymous)"}` +
          (callerFile ? ` ${callerFile}:${caller.lineNumber + 1}` : "");
        file = `${name} (native) from ${callerFile || caller.functionName}`;
      }
    }
    const fk = `${name}@${where}`;
    const f = fns.get(fk) ?? { name, where, ms: 0, share: 0 };
    f.ms += us / 1000;
    fns.set(fk, f);
    const gk = file || name;
    const g = files.get(gk) ?? { name: gk, where: file, ms: 0, share: 0 };
    g.ms += us / 1000;
    files.set(gk, g);
  }
  const rank = (m: Map<string, SelfTime>) =>
    [...m.values()].sort((x, y) => y.ms - x.ms).slice(0, top).map((x) => ({
      ...x,
      share: totalUs ? x.ms / (totalUs / 1000) : 0,
    }));
  return { totalMs: totalUs / 1000, byFunction: rank(fns), byFile: rank(files) };
}

/** Renders a summary as two markdown tables. */
export function profileMarkdown(title: string, s: ProfileSummary): string {
  const row = (x: SelfTime) =>
    `| ${x.ms.toFixed(0)} | ${(x.share * 100).toFixed(1)}% | \`${x.name}\` | ${x.where} |`;
  return [
    `### ${title} (profile total ${(s.totalMs / 1000).toFixed(2)} s)`,
    "",
    "| self ms | share | function | where |",
    "|---:|---:|---|---|",
    ...s.byFunction.map(row),
    "",
    "| self ms | share | file | |",
    "|---:|---:|---|---|",
    ...s.byFile.map((x) => `| ${x.ms.toFixed(0)} | ${(x.share * 100).toFixed(1)}% | ${x.name} | |`),
    "",
  ].join("\n");
}

if (import.meta.main) {
  const [file, top] = Deno.args;
  if (!file) {
    console.error("usage: deno run -R scripts/bench/cpu_profile.ts FILE.cpuprofile [TOP]");
    Deno.exit(2);
  }
  const root = new URL("../..", import.meta.url).href;
  const p = JSON.parse(await Deno.readTextFile(file)) as CpuProfile;
  console.log(profileMarkdown(file, summarizeProfile(p, { top: Number(top ?? 15), root })));
}
