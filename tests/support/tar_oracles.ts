/**
 * Test helpers for the tar codec: running GNU tar and Python's `tarfile` as oracles, parsing an
 * archive with {@linkcode TarReader} in chunks of a given size, and a common JSON-able shape both
 * sides are reduced to for field-by-field comparison.
 * @module
 */

import { createHash } from "node:crypto";
import type { TarEntry } from "../../lib/archive/tar/entry.ts";
import { TarReader } from "../../lib/archive/tar/reader.ts";

/** One archive member as both ocibox and Python report it. */
export interface MemberDump {
  name: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  size: number;
  sec: number;
  nsec: number;
  linkname: string;
  devmajor: number;
  devminor: number;
  /** xattr name -> hex of the value. */
  xattrs: Record<string, string>;
  /** sha256 hex of a file's content, null for other types. */
  sha256: string | null;
}

/** Runs a command; resolves to its exit code and decoded output. */
export async function run(
  cmd: string,
  args: string[],
  options: { cwd?: string; stdin?: Uint8Array } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(cmd, {
    args,
    cwd: options.cwd,
    stdin: options.stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin) {
    const w = child.stdin.getWriter();
    await w.write(options.stdin);
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Runs a command and throws with its stderr unless it exits 0. */
export async function mustRun(cmd: string, args: string[], cwd?: string): Promise<string> {
  const r = await run(cmd, args, { cwd });
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** Runs a Python script (argv[1..] = args) and parses its stdout as JSON. */
export async function python<T>(script: string, args: string[]): Promise<T> {
  return JSON.parse(await mustRun("python3", ["-c", script, ...args])) as T;
}

const PY_DUMP = `
import tarfile, json, sys, hashlib, math
from decimal import Decimal
types = {tarfile.REGTYPE: 'file', tarfile.AREGTYPE: 'file', tarfile.CONTTYPE: 'file',
         tarfile.LNKTYPE: 'hardlink', tarfile.SYMTYPE: 'symlink', tarfile.CHRTYPE: 'char',
         tarfile.BLKTYPE: 'block', tarfile.DIRTYPE: 'dir', tarfile.FIFOTYPE: 'fifo'}
out = []
with tarfile.open(sys.argv[1], 'r:') as tf:
    for m in tf:
        pax = m.pax_headers
        d = Decimal(pax['mtime']) if 'mtime' in pax else Decimal(int(m.mtime))
        sec = math.floor(d)
        xattrs = {k[len('SCHILY.xattr.'):]: v.encode('utf-8', 'surrogateescape').hex()
                  for k, v in pax.items() if k.startswith('SCHILY.xattr.')}
        sha = hashlib.sha256(tf.extractfile(m).read()).hexdigest() if m.isreg() else None
        out.append(dict(name=m.name, type=types.get(m.type, repr(m.type)), mode=m.mode & 0o7777,
                        uid=m.uid, gid=m.gid, uname=m.uname, gname=m.gname,
                        size=m.size if m.isreg() else 0, sec=sec, nsec=int((d - sec) * 10**9),
                        linkname=m.linkname, devmajor=m.devmajor if m.ischr() or m.isblk() else 0,
                        devminor=m.devminor if m.ischr() or m.isblk() else 0,
                        xattrs=xattrs, sha256=sha))
print(json.dumps(out))
`;

/** What Python's tarfile reports for every member of the archive at `path`. */
export function pythonDump(path: string): Promise<MemberDump[]> {
  return python<MemberDump[]>(PY_DUMP, [path]);
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** Reduces an entry (and its content hash) to the shape Python's dump has. */
export function dumpEntry(e: TarEntry, sha256: string | null): MemberDump {
  const xattrs: Record<string, string> = {};
  for (const [k, v] of e.xattrs) xattrs[k] = hex(v);
  return {
    // Python strips trailing slashes from every name; so does this shape.
    name: e.name.replace(/\/+$/, ""),
    type: e.type,
    mode: e.mode,
    uid: e.uid,
    gid: e.gid,
    uname: e.uname,
    gname: e.gname,
    size: e.size,
    sec: e.mtime,
    nsec: e.mtimeNsec,
    linkname: e.linkname,
    devmajor: e.devmajor,
    devminor: e.devminor,
    xattrs,
    sha256,
  };
}

/** A parsed member with where the parser said it was. */
export interface ParsedMember {
  dump: MemberDump;
  headerOffset: number;
  dataOffset: number;
}

/** Parses `archive` with TarReader fed `chunkSize` bytes at a time. */
export function parseInChunks(
  archive: Uint8Array,
  chunkSize: number,
): { members: ParsedMember[]; sawEnd: boolean } {
  const members: ParsedMember[] = [];
  let entry: TarEntry | null = null;
  let at = 0;
  let dataOffset = 0;
  let hash = createHash("sha256");
  let got = 0;
  const reader: TarReader = new TarReader({
    entry(e, headerOffset) {
      entry = e;
      at = headerOffset;
      dataOffset = reader.offset;
      hash = createHash("sha256");
      got = 0;
    },
    data(chunk) {
      hash.update(chunk);
      got += chunk.length;
    },
    entryEnd() {
      const e = entry!;
      if (got !== e.size) throw new Error(`${e.name}: got ${got} bytes, size ${e.size}`);
      const sha = e.type === "file" ? hash.digest("hex") : null;
      members.push({ dump: dumpEntry(e, sha), headerOffset: at, dataOffset });
    },
  });
  for (let i = 0; i < archive.length; i += chunkSize) {
    reader.push(archive.subarray(i, i + chunkSize));
  }
  reader.end();
  return { members, sawEnd: reader.sawEndOfArchive };
}

/** sha256 hex of `data`. */
export function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Concatenates byte arrays. */
export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
