import assert from "node:assert/strict";
import { TarFormatError } from "../../errors.ts";
import type { TarEntry } from "./entry.ts";
import { encodeUstarHeader, TypeFlag } from "./header.ts";
import { encodePaxRecords } from "./pax.ts";
import { scanTarFile, TarReader } from "./reader.ts";

/** Concatenates byte arrays. */
function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

const enc = (s: string) => new TextEncoder().encode(s);
const EMPTY = new Uint8Array(0);
const ZERO = new Uint8Array(1024);

interface Got {
  entry: TarEntry;
  body: string;
  at: number;
  dataOffset: number;
}

function parse(archive: Uint8Array, chunk = archive.length || 1): {
  got: Got[];
  reader: TarReader;
} {
  const got: Got[] = [];
  let parts: Uint8Array[] = [];
  let current: Omit<Got, "body"> | null = null;
  const reader: TarReader = new TarReader({
    entry(entry, at) {
      current = { entry, at, dataOffset: reader.offset };
      parts = [];
    },
    data(c) {
      parts.push(c.slice());
    },
    entryEnd() {
      got.push({ ...current!, body: new TextDecoder().decode(concat(parts)) });
    },
  });
  for (let i = 0; i < archive.length; i += chunk) reader.push(archive.subarray(i, i + chunk));
  reader.end();
  return { got, reader };
}

interface Raw {
  name?: string;
  typeflag?: number | string;
  size?: number;
  linkname?: string;
  mode?: number;
  uname?: string;
}

/** A single header block with a valid checksum. */
function header(h: Raw = {}): Uint8Array {
  const b = new Uint8Array(512);
  const flag = h.typeflag ?? TypeFlag.FILE;
  encodeUstarHeader(b, 0, {
    name: enc(h.name ?? "f"),
    prefix: EMPTY,
    typeflag: typeof flag === "string" ? flag.charCodeAt(0) : flag,
    mode: h.mode ?? 0o644,
    uid: 0,
    gid: 0,
    size: h.size ?? 0,
    mtime: 0,
    linkname: enc(h.linkname ?? ""),
    uname: enc(h.uname ?? ""),
    gname: EMPTY,
    devmajor: 0,
    devminor: 0,
  });
  return b;
}

/** Recomputes the checksum after a test changed header bytes. */
function rechecksum(b: Uint8Array, off = 0): Uint8Array {
  b.fill(0x20, off + 148, off + 156);
  let sum = 0;
  for (let i = off; i < off + 512; i++) sum += b[i];
  b.set(enc(sum.toString(8).padStart(6, "0") + "\0 "), off + 148);
  return b;
}

function pad(data: Uint8Array): Uint8Array {
  return concat([data, new Uint8Array((512 - data.length % 512) % 512)]);
}

function file(name: string, body: string, extra: Raw = {}): Uint8Array {
  const data = enc(body);
  return concat([header({ name, size: data.length, ...extra }), pad(data)]);
}

function ext(type: string, data: Uint8Array, name = "ext"): Uint8Array {
  return concat([header({ name, typeflag: type, size: data.length }), pad(data)]);
}

function pax(records: [string, string | Uint8Array][], type = "x"): Uint8Array {
  return ext(
    type,
    encodePaxRecords(records.map(([k, v]) => [k, typeof v === "string" ? enc(v) : v])),
  );
}

function throwsTar(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof TarFormatError && message.test(e.message));
}

Deno.test("entries, data and offsets in order", () => {
  const archive = concat([
    file("a", "hello"),
    header({ name: "d/", typeflag: "5" }),
    file("b", "x".repeat(600)),
    ZERO,
  ]);
  for (const chunk of [1, 7, 512, 513, 65536]) {
    const { got, reader } = parse(archive, chunk);
    assert.deepEqual(
      got.map((g) => [g.entry.name, g.entry.type, g.body.length, g.at, g.dataOffset]),
      [
        ["a", "file", 5, 0, 512],
        ["d/", "dir", 0, 1024, 1536],
        ["b", "file", 600, 1536, 2048],
      ],
    );
    assert.equal(reader.sawEndOfArchive, true);
    assert.equal(reader.offset, archive.length);
  }
});

Deno.test("end of archive: two zero blocks, one, none, and what follows is ignored", () => {
  const a = file("a", "1");
  const junk = enc("trailing junk that is not a header");
  const cases: [string, Uint8Array, boolean][] = [
    ["two zero blocks and junk", concat([a, ZERO, junk]), true],
    ["one zero block then EOF", concat([a, new Uint8Array(512)]), true],
    ["EOF at a header boundary", a, false],
    ["empty stream", EMPTY, false],
    ["one zero block then a header", concat([a, new Uint8Array(512), file("b", "2"), ZERO]), true],
  ];
  for (const [what, archive, sawEnd] of cases) {
    for (const chunk of [1, 512, 65536]) {
      const { got, reader } = parse(archive, chunk);
      assert.deepEqual(got.map((g) => g.entry.name), archive.length ? ["a"] : [], what);
      assert.equal(reader.sawEndOfArchive, sawEnd, what);
      assert.equal(reader.offset, archive.length, what);
    }
  }
});

Deno.test("bad checksum names the offset; the signed variant is accepted", () => {
  const bad = file("b", "x");
  bad[0] ^= 1;
  throwsTar(() => parse(concat([file("a", "1"), bad, ZERO])), /checksum mismatch.*at byte 1024/);

  const signed = header({ name: "é" });
  signed.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of signed) sum += b >= 0x80 ? b - 256 : b;
  signed.set(enc(sum.toString(8).padStart(6, "0") + "\0 "), 148);
  assert.deepEqual(parse(concat([signed, ZERO])).got.map((g) => g.entry.name), ["é"]);
});

Deno.test("truncation anywhere but a header boundary throws 'truncated'", () => {
  const member = file("a", "x".repeat(600)); // header 512, data 600, padding 424
  throwsTar(() => parse(member.subarray(0, 300)), /truncated in a header \(at byte 300\)/);
  throwsTar(() => parse(member.subarray(0, 700)), /truncated in entry data/);
  // Data complete, padding and end marker missing (umoci 0.4 `insert` layers): accepted.
  assert.equal(parse(member.subarray(0, 1112)).got.length, 1);
  const p = pax([["path", "long/name"]]);
  throwsTar(() => parse(p.subarray(0, 520)), /truncated in an extension header/);
  throwsTar(() => parse(p), /truncated after an extension header/);
  throwsTar(() => parse(ext("L", enc("name\0"))), /truncated after an extension header/);
  throwsTar(() => parse(concat([p, ZERO])), /end of archive after an extension header/);
  for (const chunk of [1, 7, 513]) {
    throwsTar(() => parse(member.subarray(0, 700), chunk), /truncated/);
  }
});

Deno.test("hostile extension headers", () => {
  const huge = header({ typeflag: "x", size: 2 << 20 });
  throwsTar(() => parse(huge), /extension header of 2097152 bytes exceeds 1 MiB/);
  const longRecord = ext("x", enc("999 path=x\n"));
  throwsTar(() => parse(concat([longRecord, file("a", "")])), /invalid PAX record length/);
  const zero = ext("x", enc("0 path=x\n"));
  throwsTar(() => parse(concat([zero, file("a", "")])), /invalid PAX record length/);
  const noNewline = ext("x", enc("11 path=abc"));
  throwsTar(() => parse(concat([noNewline, file("a", "")])), /not ended by newline/);
  const noEquals = ext("x", enc("9 pathab\n"));
  throwsTar(() => parse(concat([noEquals, file("a", "")])), /without keyword=value/);
  const badSize = pax([["size", "-5"]]);
  throwsTar(() => parse(concat([badSize, file("a", "")])), /invalid PAX size value/);
  const hugeSize = pax([["size", "99999999999999999999"]]);
  throwsTar(() => parse(concat([hugeSize, file("a", "")])), /PAX size value out of range/);
});

Deno.test("negative and malformed numeric fields", () => {
  const neg = header({ size: 0 });
  neg.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfb], 124);
  throwsTar(() => parse(concat([rechecksum(neg), ZERO])), /negative size -5/);
  const b256 = header();
  b256.set([0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3], 124);
  const { got } = parse(concat([rechecksum(b256), pad(enc("abc")), ZERO]));
  assert.deepEqual(got.map((g) => g.body), ["abc"]);
  const bad = header();
  bad.set(enc("0000x644"), 100);
  throwsTar(() => parse(concat([rechecksum(bad), ZERO])), /invalid number in mode field/);
});

Deno.test("a PAX size overrides a smaller header size", () => {
  const body = "y".repeat(600);
  const member = concat([pax([["size", "600"]]), header({ name: "a", size: 3 }), pad(enc(body))]);
  const { got } = parse(concat([member, file("b", "after"), ZERO]), 7);
  assert.deepEqual(got.map((g) => [g.entry.name, g.entry.size, g.body]), [
    ["a", 600, body],
    ["b", 5, "after"],
  ]);
  assert.equal(got[0].at, 0);
  assert.equal(got[0].dataOffset, 1536);
});

Deno.test("sparse, multi-volume, dump-dir and unknown types are refused; volume labels skipped", () => {
  throwsTar(
    () => parse(concat([header({ typeflag: "S" }), ZERO])),
    /sparse files are not supported/,
  );
  throwsTar(
    () => parse(concat([pax([["GNU.sparse.major", "1"]]), file("a", ""), ZERO])),
    /sparse files are not supported/,
  );
  for (const t of ["D", "M", "N", "Z", "A"]) {
    throwsTar(
      () => parse(concat([header({ typeflag: t }), ZERO])),
      new RegExp(`unsupported entry type '${t}'`),
    );
  }
  const volume = concat([
    header({ typeflag: "V", size: 5 }),
    pad(enc("label")),
    file("a", "1"),
    ZERO,
  ]);
  assert.deepEqual(parse(volume).got.map((g) => g.entry.name), ["a"]);
  const contiguous = concat([file("c", "data", { typeflag: "7" }), ZERO]);
  assert.deepEqual(parse(contiguous).got.map((g) => [g.entry.type, g.body]), [["file", "data"]]);
});

Deno.test("data after non-file entries follows GNU tar", () => {
  const junk = pad(enc("J".repeat(600)));
  const after = file("after", "ok");
  const cases: [string, Uint8Array][] = [
    [
      "symlink data is skipped",
      concat([header({ name: "s", typeflag: "2", size: 600, linkname: "t" }), junk]),
    ],
    ["char data is skipped", concat([header({ name: "s", typeflag: "3", size: 600 }), junk])],
    ["fifo data is skipped", concat([header({ name: "s", typeflag: "6", size: 600 }), junk])],
    [
      "a hardlink's header size is ignored",
      header({ name: "s", typeflag: "1", size: 600, linkname: "t" }),
    ],
    [
      "a hardlink's PAX size is skipped",
      concat([pax([["size", "600"]]), header({ name: "s", typeflag: "1", linkname: "t" }), junk]),
    ],
    ["a directory's size is ignored", header({ name: "s/", typeflag: "5", size: 4096 })],
  ];
  for (const [what, member] of cases) {
    const { got } = parse(concat([member, after, ZERO]), 100);
    assert.deepEqual(got.map((g) => [g.entry.size, g.body]), [[0, ""], [2, "ok"]], what);
  }
});

Deno.test("file entries named with a trailing slash are directories", () => {
  for (const flag of [TypeFlag.OLD_FILE, TypeFlag.FILE]) {
    const { got } = parse(concat([header({ name: "old/", typeflag: flag }), file("x", "1"), ZERO]));
    assert.deepEqual(got.map((g) => [g.entry.name, g.entry.type]), [["old/", "dir"], [
      "x",
      "file",
    ]]);
  }
});

Deno.test("global PAX headers apply to every later entry; an empty local value restores the header", () => {
  const archive = concat([
    pax([["uname", "globaluser"], ["mtime", "10.5"], ["SCHILY.xattr.user.g", "1"]], "g"),
    file("a", "", { uname: "hdr" }),
    pax([["uname", ""]]),
    file("b", "", { uname: "hdr" }),
    pax([["uname", ""]], "g"),
    file("c", "", { uname: "hdr" }),
    ZERO,
  ]);
  const { got } = parse(archive, 13);
  assert.deepEqual(
    got.map((g) => [g.entry.name, g.entry.uname, g.entry.mtime, g.entry.mtimeNsec]),
    [
      ["a", "globaluser", 10, 500000000],
      ["b", "hdr", 10, 500000000],
      ["c", "hdr", 10, 500000000],
    ],
  );
  assert.deepEqual(got[2].entry.xattrs, new Map([["user.g", enc("1")]]));
  // A global header is not part of the entry that follows it.
  assert.equal(got[0].at, 1024);
});

Deno.test("GNU long names and links; they win over PAX path", () => {
  const name = "n".repeat(300);
  const link = "l".repeat(200);
  const archive = concat([
    pax([["path", "pax-name"]]),
    ext("L", enc(name + "\0")),
    ext("K", enc(link + "\0")),
    header({ name: "short", typeflag: "2", linkname: "short" }),
    ZERO,
  ]);
  const { got } = parse(archive, 511);
  assert.deepEqual(got.map((g) => [g.entry.name, g.entry.linkname, g.at]), [[name, link, 0]]);
});

Deno.test("xattrs from SCHILY and LIBARCHIVE records", () => {
  const archive = concat([
    pax([
      ["SCHILY.xattr.user.bin", new Uint8Array([0, 0xff, 0x0a, 0x3d])],
      ["LIBARCHIVE.xattr.user.a%3Db", "AP8"],
      ["SCHILY.xattr.user.empty", ""],
    ]),
    file("a", ""),
    ZERO,
  ]);
  const { got } = parse(archive, 1);
  assert.deepEqual(
    got[0].entry.xattrs,
    new Map([
      ["user.bin", new Uint8Array([0, 0xff, 0x0a, 0x3d])],
      ["user.a=b", new Uint8Array([0, 0xff])],
      ["user.empty", new Uint8Array(0)],
    ]),
  );
});

Deno.test("skip() passes over data without reading it", () => {
  const archive = concat([file("a", "x".repeat(1000)), file("b", "yz"), ZERO]);
  const seen: string[] = [];
  const reader = new TarReader({
    entry: (e) => seen.push(`entry ${e.name}`),
    data: (c) => seen.push(`data ${c.length}`),
    entryEnd: () => seen.push("end"),
  });
  reader.push(archive.subarray(0, 612));
  assert.equal(reader.skippableBytes, 900 + 24);
  reader.skip(reader.skippableBytes);
  assert.equal(reader.offset, 1536);
  assert.throws(() => reader.skip(1), RangeError);
  reader.push(archive.subarray(1536));
  reader.end();
  assert.deepEqual(seen, ["entry a", "data 100", "end", "entry b", "data 2", "end"]);
});

Deno.test("scanTarFile seeks over large data and detects a truncated file", async () => {
  const big = "b".repeat(300_000);
  const archive = concat([file("big", big), file("small", "s"), ZERO]);
  const path = await Deno.makeTempFile({ suffix: ".tar" });
  try {
    await Deno.writeFile(path, archive);
    using f = await Deno.open(path);
    const index = await scanTarFile(f);
    assert.deepEqual(index.map((i) => [i.entry.name, i.headerOffset, i.dataOffset]), [
      ["big", 0, 512],
      ["small", 300_544, 301_056],
    ]);
    await Deno.writeFile(path, archive.subarray(0, 200_000));
    using g = await Deno.open(path);
    await assert.rejects(() => scanTarFile(g), TarFormatError);
  } finally {
    await Deno.remove(path);
  }
});
