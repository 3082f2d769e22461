/**
 * Compares two unpacked root filesystems (ocibox's and umoci's): the same paths with the same
 * type, permission bits, owner, size, symlink target, regular-file mtime and hardlink groups,
 * and equal sha256 for a deterministic sample of regular files plus every file of 1 MiB or
 * more. Directory and symlink mtimes are reported as warnings only.
 *
 * @example
 * ```ts
 * import { compareTrees } from "./verify_trees.ts";
 * const r = await compareTrees("/tmp/a/rootfs", "/tmp/b/rootfs", { hashSample: 200 });
 * if (r.differences.length) throw new Error(r.differences.join("\n"));
 * ```
 * @module
 */
import { createHash } from "node:crypto";
import { Rng } from "./prng.ts";

/** What is compared about one path. */
export interface TreeEntry {
  type: "file" | "dir" | "symlink" | "fifo" | "char" | "block" | "socket" | "other";
  mode: number;
  uid: number;
  gid: number;
  size: number;
  target?: string;
  mtimeMs: number;
  ino: number;
  nlink: number;
}

/** Options of {@linkcode compareTrees}. */
export interface CompareOptions {
  /** How many regular files to hash besides the large ones (default 300). */
  hashSample?: number;
  /** Files at least this large are always hashed (default 1 MiB). */
  alwaysHashFrom?: number;
  seed?: number;
}

/** The outcome of a comparison. */
export interface CompareResult {
  /** Differences that mean the unpackers disagree (empty when the trees match). */
  differences: string[];
  /** Differences that are tolerated (directory and symlink mtimes). */
  warnings: string[];
  entries: number;
  hashed: number;
}

/** Walks `root` (without following symlinks) into a map of relative path -> entry. */
export function scanTree(root: string): Map<string, TreeEntry> {
  const out = new Map<string, TreeEntry>();
  const walk = (rel: string) => {
    for (const e of Deno.readDirSync(rel ? `${root}/${rel}` : root)) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      const st = Deno.lstatSync(`${root}/${p}`);
      const type: TreeEntry["type"] = st.isFile
        ? "file"
        : st.isDirectory
        ? "dir"
        : st.isSymlink
        ? "symlink"
        : st.isFifo
        ? "fifo"
        : st.isCharDevice
        ? "char"
        : st.isBlockDevice
        ? "block"
        : st.isSocket
        ? "socket"
        : "other";
      out.set(p, {
        type,
        mode: (st.mode ?? 0) & 0o7777,
        uid: st.uid ?? -1,
        gid: st.gid ?? -1,
        size: type === "file" || type === "symlink" ? st.size : 0,
        target: type === "symlink" ? Deno.readLinkSync(`${root}/${p}`) : undefined,
        mtimeMs: st.mtime?.getTime() ?? 0,
        ino: st.ino ?? 0,
        nlink: st.nlink ?? 1,
      });
      if (type === "dir") walk(p);
    }
  };
  walk("");
  return out;
}

/** The sha256 hex of a file's content. */
export function sha256File(path: string): string {
  const h = createHash("sha256");
  using f = Deno.openSync(path);
  const buf = new Uint8Array(1 << 20);
  for (let n = f.readSync(buf); n !== null; n = f.readSync(buf)) h.update(buf.subarray(0, n));
  return h.digest("hex");
}

function hardlinkGroups(tree: Map<string, TreeEntry>): Map<string, string> {
  const byIno = new Map<number, string[]>();
  for (const [p, e] of tree) {
    if (e.type === "dir" || e.nlink < 2) continue;
    const g = byIno.get(e.ino);
    if (g) g.push(p);
    else byIno.set(e.ino, [p]);
  }
  const groupOf = new Map<string, string>();
  for (const g of byIno.values()) {
    if (g.length < 2) continue;
    const key = g.sort().join(" | ");
    for (const p of g) groupOf.set(p, key);
  }
  return groupOf;
}

/** Compares the trees under `a` and `b`. */
export function compareTrees(a: string, b: string, options: CompareOptions = {}): CompareResult {
  const ta = scanTree(a), tb = scanTree(b);
  const differences: string[] = [];
  const warnings: string[] = [];
  for (const p of ta.keys()) if (!tb.has(p)) differences.push(`only in ${a}: ${p}`);
  for (const p of tb.keys()) if (!ta.has(p)) differences.push(`only in ${b}: ${p}`);
  const oct = (n: number) => `0${n.toString(8)}`;
  for (const [p, ea] of ta) {
    const eb = tb.get(p);
    if (!eb) continue;
    const diff = (what: string, x: unknown, y: unknown) =>
      differences.push(`${p}: ${what} ${String(x)} != ${String(y)}`);
    if (ea.type !== eb.type) {
      diff("type", ea.type, eb.type);
      continue;
    }
    if (ea.type !== "symlink" && ea.mode !== eb.mode) diff("mode", oct(ea.mode), oct(eb.mode));
    if (ea.uid !== eb.uid || ea.gid !== eb.gid) {
      diff("owner", `${ea.uid}:${ea.gid}`, `${eb.uid}:${eb.gid}`);
    }
    if (ea.size !== eb.size) diff("size", ea.size, eb.size);
    if (ea.target !== eb.target) diff("symlink target", ea.target, eb.target);
    if (ea.mtimeMs !== eb.mtimeMs) {
      const msg = `${p}: ${ea.type} mtime ${ea.mtimeMs} != ${eb.mtimeMs}`;
      if (ea.type === "file") differences.push(msg);
      else warnings.push(msg);
    }
  }
  const ga = hardlinkGroups(ta), gb = hardlinkGroups(tb);
  for (const p of new Set([...ga.keys(), ...gb.keys()])) {
    if (ga.get(p) !== gb.get(p)) {
      differences.push(`${p}: hardlinked with [${ga.get(p) ?? ""}] != [${gb.get(p) ?? ""}]`);
    }
  }
  const files = [...ta].filter(([p, e]) => e.type === "file" && tb.get(p)?.type === "file")
    .map(([p, e]) => ({ p, size: e.size })).sort((x, y) => (x.p < y.p ? -1 : 1));
  const pick = new Set<string>();
  const from = options.alwaysHashFrom ?? 1 << 20;
  for (const f of files) if (f.size >= from) pick.add(f.p);
  const rng = new Rng(options.seed ?? 7);
  const want = Math.min(files.length, pick.size + (options.hashSample ?? 300));
  while (pick.size < want) pick.add(files[rng.int(files.length)].p);
  for (const p of pick) {
    const ha = sha256File(`${a}/${p}`), hb = sha256File(`${b}/${p}`);
    if (ha !== hb) differences.push(`${p}: sha256 ${ha} != ${hb}`);
  }
  return { differences, warnings, entries: ta.size, hashed: pick.size };
}
