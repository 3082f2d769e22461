import assert from "node:assert/strict";
import { TarFormatError } from "../../errors.ts";
import { makeEntry, type TarEntry } from "./entry.ts";
import { checkHeaderBlock } from "./header.ts";
import { parsePax, type PaxAttributes } from "./pax.ts";
import { TarReader } from "./reader.ts";
import {
  encodeEntryHeader,
  END_OF_ARCHIVE,
  endOfArchive,
  paddingFor,
  RECORD_SIZE,
} from "./writer.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** The fields a header holds, read back by the reader from the header bytes alone. */
function readBack(header: Uint8Array): { entry: TarEntry; at: number } {
  let got: { entry: TarEntry; at: number } | null = null;
  const reader = new TarReader({
    entry: (entry, at) => (got = { entry, at }),
    data: () => {},
    entryEnd: () => {},
  });
  reader.push(header);
  assert.ok(got, "no entry parsed");
  return got;
}

/** The PAX records of a header that has a PAX block, or null. */
function paxOf(header: Uint8Array): PaxAttributes | null {
  if (header[156] !== 0x78) return null;
  const size = parseInt(text(header.subarray(124, 136)), 8);
  const attrs: PaxAttributes = {};
  parsePax(header, 512, 512 + size, 0, attrs, false);
  return attrs;
}

Deno.test("plain entries fit one ustar block", () => {
  const h = encodeEntryHeader(
    makeEntry({ name: "a/b.txt", type: "file", size: 5, uname: "root", gname: "wheel" }),
  );
  assert.equal(h.length, 512);
  assert.equal(checkHeaderBlock(h, 0, 0), true);
  assert.equal(text(h.subarray(257, 265)), "ustar\x0000");
  assert.deepEqual(
    [
      readBack(h).entry.name,
      readBack(h).entry.uname,
      readBack(h).entry.gname,
      readBack(h).entry.size,
    ],
    ["a/b.txt", "root", "wheel", 5],
  );
});

Deno.test("directories get a trailing slash", () => {
  assert.equal(readBack(encodeEntryHeader(makeEntry({ name: "d", type: "dir" }))).entry.name, "d/");
  assert.equal(
    readBack(encodeEntryHeader(makeEntry({ name: "d/", type: "dir" }))).entry.name,
    "d/",
  );
});

Deno.test("names up to 255 bytes split into prefix and name; longer ones go to PAX", () => {
  const split = "p".repeat(150) + "/" + "n".repeat(100);
  const h = encodeEntryHeader(makeEntry({ name: split, type: "file" }));
  assert.equal(h.length, 512);
  assert.equal(text(h.subarray(345, 495)), "p".repeat(150));
  assert.equal(readBack(h).entry.name, split);

  const long = "d/" + "x".repeat(300);
  const p = encodeEntryHeader(makeEntry({ name: long, type: "file" }));
  assert.equal(p.length, 1536);
  assert.equal(paxOf(p)?.path, long);
  // The PAX header's own name, like Go's: PaxHeaders.0/<basename>, cut to 100 bytes.
  assert.equal(text(p.subarray(0, 100)), ("PaxHeaders.0/" + "x".repeat(300)).slice(0, 100));
  assert.equal(readBack(p).at, 0);
  assert.equal(readBack(p).entry.name, long);
  assert.equal(text(p.subarray(1024, 1124)), long.slice(0, 100));
});

Deno.test("non-ASCII and non-UTF-8 names, long and non-ASCII link targets use PAX", () => {
  const cases: Partial<TarEntry>[] = [
    { name: "é ☃ 𝄞.txt" },
    { name: "bad\udcffname" },
    { name: "l", type: "symlink", linkname: "t/".repeat(60) },
    { name: "l", type: "symlink", linkname: "é" },
    { name: "h", type: "hardlink", linkname: "x".repeat(101) },
  ];
  for (const c of cases) {
    const e = makeEntry({ name: "", type: "file", ...c });
    const h = encodeEntryHeader(e);
    assert.equal(h[156], 0x78, JSON.stringify(c));
    const back = readBack(h).entry;
    assert.deepEqual([back.name, back.linkname], [e.name, e.linkname]);
  }
  // Readers without PAX see an ASCII stand-in.
  const h = encodeEntryHeader(makeEntry({ name: "é.txt", type: "file" }));
  assert.equal(text(h.subarray(1024, 1024 + 6)), "??.txt");
});

Deno.test("ids, names, sizes and times that do not fit ustar go to PAX", () => {
  const cases: [Partial<TarEntry>, PaxAttributes][] = [
    [{ uid: 3000000, gid: 2097152 }, { uid: 3000000, gid: 2097152 }],
    [{ uname: "u".repeat(33), gname: "é" }, { uname: "u".repeat(33), gname: "é" }],
    [{ size: 9_000_000_000 }, { size: 9_000_000_000 }],
    [{ mtime: -315619200 }, { mtime: -315619200, mtimeNsec: 0 }],
    [{ mtime: 8589934592 }, { mtime: 8589934592, mtimeNsec: 0 }],
    [{ mtime: 1, mtimeNsec: 5 }, { mtime: 1, mtimeNsec: 5 }],
    [{ mtime: -2, mtimeNsec: 500000000 }, { mtime: -2, mtimeNsec: 500000000 }],
  ];
  for (const [fields, expected] of cases) {
    const e = makeEntry({ name: "f", type: "file", ...fields });
    const h = encodeEntryHeader(e);
    assert.deepEqual(paxOf(h), expected, JSON.stringify(fields));
    assert.deepEqual(readBack(h).entry, e);
  }
  const fits = makeEntry({
    name: "f",
    type: "file",
    uid: 2097151,
    mtime: 8589934591,
    size: 8589934591,
  });
  assert.equal(encodeEntryHeader(fits).length, 512);
});

Deno.test("xattrs are SCHILY.xattr records, sorted so that output is deterministic", () => {
  const a = makeEntry({
    name: "x",
    type: "file",
    xattrs: new Map([["user.b", new Uint8Array([0, 255, 10])], ["user.a", new Uint8Array(0)]]),
  });
  const b = { ...a, xattrs: new Map([...a.xattrs].reverse()) };
  assert.deepEqual(encodeEntryHeader(a), encodeEntryHeader(b));
  assert.deepEqual(readBack(encodeEntryHeader(a)).entry.xattrs, a.xattrs);
  const pax = encodeEntryHeader(a).subarray(512, 1024);
  assert.match(text(pax), /^\d+ SCHILY\.xattr\.user\.a=\n\d+ SCHILY\.xattr\.user\.b=/);
});

Deno.test("device numbers, modes and types are written; values no format holds are refused", () => {
  const dev = makeEntry({
    name: "c",
    type: "char",
    devmajor: 4095,
    devminor: 1048575,
    mode: 0o7777,
  });
  assert.deepEqual(readBack(encodeEntryHeader(dev)).entry, dev);
  const refused: Partial<TarEntry>[] = [
    { uid: -1 },
    { gid: 1.5 },
    { type: "dir", size: 1 },
    { type: "hardlink", linkname: "x", size: 1 },
    { mtimeNsec: 1e9 },
    { mtimeNsec: -1 },
    { type: "block", devmajor: 2097152 },
    { size: Number.MAX_SAFE_INTEGER + 1 },
  ];
  for (const r of refused) {
    assert.throws(
      () => encodeEntryHeader(makeEntry({ name: "n", type: "file", ...r })),
      TarFormatError,
      JSON.stringify(r),
    );
  }
});

Deno.test("padding and end of archive", () => {
  assert.deepEqual([0, 1, 511, 512, 513].map((n) => paddingFor(n).length), [0, 511, 1, 0, 511]);
  assert.deepEqual(END_OF_ARCHIVE, new Uint8Array(1024));
  assert.equal(endOfArchive(0).length, 1024);
  assert.equal(endOfArchive(1536, RECORD_SIZE).length, RECORD_SIZE - 1536);
  assert.equal(endOfArchive(9216, RECORD_SIZE).length, 1024);
  assert.equal(endOfArchive(9728, RECORD_SIZE).length, 1024 + RECORD_SIZE - 512);
  assert.throws(() => endOfArchive(0, 1000), RangeError);
});
