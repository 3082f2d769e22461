/**
 * Measures how fast {@linkcode TarReader} parses a tar file, parsing only: the file is read with
 * synchronous 1 MiB reads and every data view is merely counted. Without an argument it writes a
 * layer-like archive of 30,000 small files (about 80 MB) to a temporary file first.
 *
 * Usage: `deno run -A scripts/tar_parse_bench.ts [archive.tar] [runs]`
 * @module
 */

import { makeEntry } from "../lib/archive/tar/entry.ts";
import { TarReader } from "../lib/archive/tar/reader.ts";
import {
  encodeEntryHeader,
  endOfArchive,
  paddingFor,
  RECORD_SIZE,
} from "../lib/archive/tar/writer.ts";

const FILES = 30_000;
const FILES_PER_DIR = 30;
const READ_SIZE = 1 << 20;

/** Writes FILES files of 0..4199 bytes in directories of FILES_PER_DIR, deterministically. */
function generate(path: string): void {
  using file = Deno.openSync(path, { write: true, create: true, truncate: true });
  let seed = 1;
  const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
  const content = new Uint8Array(4200).map((_, i) => 0x61 + (i % 26));
  const pending: Uint8Array[] = [];
  let pendingBytes = 0;
  let written = 0;
  const add = (bytes: Uint8Array) => {
    pending.push(bytes);
    pendingBytes += bytes.length;
    written += bytes.length;
    if (pendingBytes >= READ_SIZE) flush();
  };
  const flush = () => {
    const out = new Uint8Array(pendingBytes);
    let off = 0;
    for (const p of pending) {
      out.set(p, off);
      off += p.length;
    }
    let done = 0;
    while (done < out.length) done += file.writeSync(out.subarray(done));
    pending.length = 0;
    pendingBytes = 0;
  };
  const mtime = 1700000000;
  for (let i = 0; i < FILES; i++) {
    const dir = `usr/share/bench/d${Math.floor(i / FILES_PER_DIR)}`;
    if (i % FILES_PER_DIR === 0) {
      add(
        encodeEntryHeader(
          makeEntry({ name: dir, type: "dir", mtime, uname: "root", gname: "root" }),
        ),
      );
    }
    const size = random() % 4200;
    const name = `${dir}/file-${i}.txt`;
    add(
      encodeEntryHeader(
        makeEntry({ name, type: "file", size, mtime, uname: "root", gname: "root" }),
      ),
    );
    add(content.subarray(0, size));
    add(paddingFor(size));
  }
  add(endOfArchive(written, RECORD_SIZE));
  flush();
}

/** Parses `path` once; returns entries, data bytes and seconds. */
function parseOnce(
  path: string,
  buf: Uint8Array,
): { entries: number; bytes: number; secs: number } {
  let entries = 0;
  let bytes = 0;
  const start = performance.now();
  using file = Deno.openSync(path);
  const reader = new TarReader({
    entry: () => entries++,
    data: (chunk) => (bytes += chunk.length),
    entryEnd: () => {},
  });
  for (;;) {
    const n = file.readSync(buf);
    if (n === null) break;
    reader.push(buf.subarray(0, n));
  }
  reader.end();
  return { entries, bytes, secs: (performance.now() - start) / 1000 };
}

const [given, runsArg] = Deno.args;
const runs = Number(runsArg ?? 7);
let path = given;
let temp: string | undefined;
if (path === undefined) {
  temp = path = Deno.makeTempFileSync({ prefix: "ocibox-tar-bench-", suffix: ".tar" });
  const t = performance.now();
  generate(path);
  console.log(`generated ${path} in ${((performance.now() - t) / 1000).toFixed(2)} s`);
}
try {
  const size = Deno.statSync(path).size;
  const buf = new Uint8Array(READ_SIZE);
  const results = [];
  for (let i = 0; i < runs; i++) {
    const r = parseOnce(path, buf);
    results.push(r);
    console.log(
      `run ${i + 1}: ${r.entries} entries, ${(size / 1e6).toFixed(1)} MB in ${
        (r.secs * 1000).toFixed(1)
      } ms: ` +
        `${Math.round(r.entries / r.secs).toLocaleString("en")} entries/s, ${
          (size / 1e6 / r.secs).toFixed(0)
        } MB/s`,
    );
  }
  const best = results.reduce((a, b) => (b.secs < a.secs ? b : a));
  const median = [...results].sort((a, b) => a.secs - b.secs)[Math.floor(runs / 2)];
  for (const [label, r] of [["best", best], ["median", median]] as const) {
    console.log(
      `${label}: ${(r.secs * 1000).toFixed(1)} ms, ${
        Math.round(r.entries / r.secs).toLocaleString("en")
      } ` +
        `entries/s, ${(size / 1e6 / r.secs).toFixed(0)} MB/s`,
    );
  }
} finally {
  if (temp) Deno.removeSync(temp);
}
