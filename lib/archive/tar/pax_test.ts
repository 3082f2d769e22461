import assert from "node:assert/strict";
import { TarFormatError } from "../../errors.ts";
import { makeEntry } from "./entry.ts";
import { applyPax, encodePaxRecords, formatPaxTime, parsePax, type PaxAttributes } from "./pax.ts";

const enc = (s: string) => new TextEncoder().encode(s);

function records(...r: [string, string][]): Uint8Array {
  return encodePaxRecords(r.map(([k, v]) => [k, enc(v)]));
}

function parse(data: Uint8Array | string, global = false, into: PaxAttributes = {}): PaxAttributes {
  const b = typeof data === "string" ? enc(data) : data;
  parsePax(b, 0, b.length, 0, into, global);
  return into;
}

Deno.test("records: lengths in bytes, binary values, trailing NUL padding", () => {
  const value = new Uint8Array([0, 0x0a, 0xff, 0x3d, 0x20]);
  const data = encodePaxRecords([
    ["path", enc("dír/ünïcode")],
    ["SCHILY.xattr.user.bin", value],
    ["uid", enc("3000000")],
    ["atime", enc("1.5")],
  ]);
  const attrs = parse(new Uint8Array([...data, 0, 0, 0]));
  assert.deepEqual(attrs, {
    path: "dír/ünïcode",
    uid: 3000000,
    xattrs: new Map([["user.bin", value]]),
  });
});

Deno.test("record lengths are right across digit-count boundaries", () => {
  for (let n = 0; n < 1100; n++) {
    const v = "v".repeat(n);
    const data = encodePaxRecords([["path", enc(v)]]);
    const len = parseInt(new TextDecoder().decode(data).split(" ")[0]);
    assert.equal(len, data.length, `value of ${n} bytes`);
    assert.equal(parse(data).path, n === 0 ? null : v);
  }
});

Deno.test("mtime: fractions, negatives, truncation past nanoseconds", () => {
  const cases: [string, number, number][] = [
    ["1700000000", 1700000000, 0],
    ["1234567890.5", 1234567890, 500000000],
    ["1.000000001", 1, 1],
    ["1.0000000019", 1, 1],
    ["-1.25", -2, 750000000],
    ["-0.5", -1, 500000000],
    ["-315619200", -315619200, 0],
    ["-1.000", -1, 0],
  ];
  for (const [text, sec, nsec] of cases) {
    const a = parse(encodePaxRecords([["mtime", enc(text)]]));
    assert.deepEqual([a.mtime, a.mtimeNsec], [sec, nsec], text);
  }
  for (const bad of ["1.", ".5", "-", "1e9", "+1", "1.5x"]) {
    const data = encodePaxRecords([["mtime", enc(bad)]]);
    assert.throws(() => parse(data), TarFormatError, bad);
  }
});

Deno.test("formatPaxTime writes what parsePax reads back", () => {
  for (
    const [sec, nsec] of [[0, 0], [1, 1], [-1, 1], [-2, 500000000], [1700000000, 123456789], [
      -99,
      999999999,
    ]]
  ) {
    const text = formatPaxTime(sec, nsec);
    assert.doesNotMatch(text, /\.\d*0$/);
    const a = parse(encodePaxRecords([["mtime", enc(text)]]));
    assert.deepEqual([a.mtime, a.mtimeNsec], [sec, nsec], text);
  }
  assert.equal(formatPaxTime(-2, 500000000), "-1.5");
});

Deno.test("malformed records are refused", () => {
  for (
    const bad of [
      "0 path=x\n",
      "4 a=\n",
      "30 path=x\n",
      "10 path=ab",
      "9 pathab\n",
      "5 =a\n",
      "x path=a\n",
      "6path=\n",
      "12 uid=-100\n",
      "11 size=1a\n",
    ]
  ) {
    assert.throws(() => parse(bad), TarFormatError, JSON.stringify(bad));
  }
  for (const key of ["GNU.sparse.major", "GNU.sparse.name", "GNU.sparse.map"]) {
    assert.throws(() => parse(records([key, "1"])), /sparse files are not supported/);
  }
});

Deno.test("LIBARCHIVE.xattr: URL-encoded name, base64 value with or without padding", () => {
  const a = parse(encodePaxRecords([
    ["LIBARCHIVE.xattr.user.%C3%A9%3D", enc("AP8=")],
    ["LIBARCHIVE.xattr.user.plain", enc("aGk")],
  ]));
  assert.deepEqual(
    a.xattrs,
    new Map([["user.é=", new Uint8Array([0, 255])], ["user.plain", enc("hi")]]),
  );
  assert.throws(
    () => parse(encodePaxRecords([["LIBARCHIVE.xattr.user.x", enc("!!")]])),
    TarFormatError,
  );
  assert.throws(
    () => parse(encodePaxRecords([["LIBARCHIVE.xattr.user.%zz", enc("AA")]])),
    TarFormatError,
  );
});

Deno.test("applyPax: local over global, empty local value restores the header field", () => {
  const global = parse(
    records(["uname", "globaluser"], ["uid", "3000000"], ["mtime", "100.5"]),
    true,
  );
  const local = parse(records(["uid", ""], ["gname", "localgrp"]));
  const e = makeEntry({ name: "n", type: "file", uid: 5, uname: "hdr", gname: "hdrgrp" });
  applyPax(e, local, global);
  assert.deepEqual([e.uid, e.uname, e.gname, e.mtime, e.mtimeNsec], [
    5,
    "globaluser",
    "localgrp",
    100,
    500000000,
  ]);
  parse(records(["uname", ""]), true, global);
  assert.equal(global.uname, undefined);
});
