/**
 * Whole-tree snapshots for comparing unpacked root filesystems (ocibox vs umoci) and for proving
 * that nothing outside a rootfs changed. Python's `os.lstat`/`os.listxattr` do the walking, so
 * nanosecond mtimes, device numbers and `user.*` xattrs come straight from the kernel, without
 * any code under test in the way.
 *
 * @example
 * ```ts
 * import { snapshotTree } from "./tree_snapshot.ts";
 * const snap = await snapshotTree("/tmp/bundle/rootfs");
 * snap.nodes["etc/passwd"].sha256;
 * ```
 * @module
 */

/** Everything compared about one path. */
export interface NodeInfo {
  type: "file" | "dir" | "symlink" | "fifo" | "char" | "block" | "socket";
  /** Permission bits including setuid, setgid and sticky. */
  mode: number;
  uid: number;
  gid: number;
  /** Regular files and symlinks only (a directory's size depends on the filesystem). */
  size?: number;
  /** Symlink target. */
  target?: string;
  /** sha256 hex of a regular file's content. */
  sha256?: string;
  /** Device numbers of character and block devices. */
  major?: number;
  minor?: number;
  /** Modification time in nanoseconds, as a decimal string; present per `mtimes`. */
  mtimeNs?: string;
  /** Extended attributes: name -> hex of the value. */
  xattrs: Record<string, string>;
}

/** A tree: each path relative to the root ("" is the root itself) and its hardlink groups. */
export interface TreeSnapshot {
  nodes: Record<string, NodeInfo>;
  /** Sets of paths that share an inode (non-directories with more than one path), sorted. */
  hardlinks: string[][];
}

/** Options of {@linkcode snapshotTree}. */
export interface SnapshotOptions {
  /**
   * Whose mtimes to record: regular files only (default), everything but directories,
   * everything, or nothing.
   */
  mtimes?: "files" | "nondir" | "all" | "none";
  /** Top-level names (directly under the root) to leave out. */
  exclude?: readonly string[];
}

const SCRIPT = String.raw`
import hashlib, json, os, stat, sys
root, mtimes, exclude = sys.argv[1], sys.argv[2], set(json.loads(sys.argv[3]))
nodes, inodes = {}, {}
def kind(m):
    for test, name in ((stat.S_ISREG, "file"), (stat.S_ISDIR, "dir"), (stat.S_ISLNK, "symlink"),
                       (stat.S_ISFIFO, "fifo"), (stat.S_ISCHR, "char"), (stat.S_ISBLK, "block"),
                       (stat.S_ISSOCK, "socket")):
        if test(m):
            return name
    return "unknown"
def add(rel, path):
    st = os.lstat(path)
    t = kind(st.st_mode)
    n = {"type": t, "mode": stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid}
    if t in ("file", "symlink"):
        n["size"] = st.st_size
    if t == "symlink":
        n["target"] = os.readlink(path)
    if t == "file":
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        n["sha256"] = h.hexdigest()
    if t in ("char", "block"):
        n["major"], n["minor"] = os.major(st.st_rdev), os.minor(st.st_rdev)
    if mtimes == "all" or (mtimes == "nondir" and t != "dir") or (mtimes == t + "s"):
        n["mtimeNs"] = str(st.st_mtime_ns)
    xs = {}
    for name in sorted(os.listxattr(path, follow_symlinks=False)):
        xs[name] = os.getxattr(path, name, follow_symlinks=False).hex()
    n["xattrs"] = xs
    nodes[rel] = n
    if t != "dir":
        inodes.setdefault((st.st_dev, st.st_ino), []).append(rel)
add("", root)
for dirpath, dirs, files in os.walk(root):
    reldir = os.path.relpath(dirpath, root)
    reldir = "" if reldir == "." else reldir
    if reldir == "":
        dirs[:] = [d for d in dirs if d not in exclude]
        files = [f for f in files if f not in exclude]
    for name in dirs + files:
        add(os.path.join(reldir, name) if reldir else name, os.path.join(dirpath, name))
links = sorted(sorted(v) for v in inodes.values() if len(v) > 1)
json.dump({"nodes": nodes, "hardlinks": links}, sys.stdout, sort_keys=True)
`;

let interpreter: Promise<string> | undefined;

/** The real python3 binary: PATH may hold a slow wrapper (pyenv shims add ~150 ms a call). */
function python(): Promise<string> {
  interpreter ??= (async () => {
    const out = await new Deno.Command("python3", {
      args: ["-c", "import sys; print(sys.executable)"],
      stdout: "piped",
    }).output();
    return (out.success && new TextDecoder().decode(out.stdout).trim()) || "python3";
  })();
  return interpreter;
}

/** Snapshots the tree at `root` (not following symlinks) with python3. */
export async function snapshotTree(
  root: string,
  options: SnapshotOptions = {},
): Promise<TreeSnapshot> {
  const out = await new Deno.Command(await python(), {
    args: [
      "-I",
      "-S",
      "-c",
      SCRIPT,
      root,
      options.mtimes ?? "files",
      JSON.stringify(options.exclude ?? []),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`snapshot of ${root} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return JSON.parse(new TextDecoder().decode(out.stdout)) as TreeSnapshot;
}

/**
 * Lines describing every difference between two snapshots (empty when equal), one path per
 * line, so a failing assertion shows all mismatches at once.
 */
export function diffSnapshots(
  a: TreeSnapshot,
  b: TreeSnapshot,
  labels: [string, string] = ["a", "b"],
): string[] {
  const out: string[] = [];
  const paths = [...new Set([...Object.keys(a.nodes), ...Object.keys(b.nodes)])].sort();
  for (const p of paths) {
    const x = a.nodes[p], y = b.nodes[p];
    const shown = JSON.stringify(p === "" ? "/" : p);
    if (!x) out.push(`${shown}: only in ${labels[1]}: ${JSON.stringify(y)}`);
    else if (!y) out.push(`${shown}: only in ${labels[0]}: ${JSON.stringify(x)}`);
    else {
      const keys = [...new Set([...Object.keys(x), ...Object.keys(y)])]
        .sort() as (keyof NodeInfo)[];
      for (const k of keys) {
        const vx = JSON.stringify(x[k]), vy = JSON.stringify(y[k]);
        if (vx !== vy) {
          const fmt = (v: string) =>
            k === "mode" && v !== undefined ? `0o${Number(v).toString(8)}` : v;
          out.push(`${shown}: ${k}: ${labels[0]}=${fmt(vx)} ${labels[1]}=${fmt(vy)}`);
        }
      }
    }
  }
  const la = JSON.stringify(a.hardlinks), lb = JSON.stringify(b.hardlinks);
  if (la !== lb) out.push(`hardlink groups: ${labels[0]}=${la} ${labels[1]}=${lb}`);
  return out;
}
