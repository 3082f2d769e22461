import assert from "node:assert/strict";
import { TarFormatError } from "../../errors.ts";
import {
  checkHeaderBlock,
  decodeEntryHeader,
  decodeNumeric,
  decodeTarString,
  encodeTarString,
  encodeUstarHeader,
  maxOctal,
  TypeFlag,
  type UstarFields,
} from "./header.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const latin1 = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

function num(field: string | number[]): number {
  const b = typeof field === "string" ? latin1(field) : new Uint8Array(field);
  return decodeNumeric(b, 0, b.length, 0, "test");
}

Deno.test("octal fields: padding, terminators, empty", () => {
  assert.equal(num("0000644\0"), 0o644);
  assert.equal(num("   644 \0"), 0o644);
  assert.equal(num("\0\0\0\0\0\0\0\0"), 0);
  assert.equal(num("        "), 0);
  assert.equal(num("77777777777\0"), 8589934591);
  assert.equal(num("777777777777"), 68719476735); // no terminator at all
  assert.equal(num("644\0junk"), 0o644); // after a NUL anything goes
  assert.equal(num("012216\0 "), 0o12216);
  for (const bad of ["0008\0", "64 4\0", "x\0", "-1\0"]) {
    assert.throws(() => num(bad), TarFormatError, JSON.stringify(bad));
  }
});

Deno.test("GNU base-256 fields, positive and negative", () => {
  assert.equal(num([0x80, 0, 0, 0, 0, 0x2d, 0xc6, 0xc0]), 3000000);
  assert.equal(num([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), -1);
  // -315619200 (1960-01-01) as GNU tar writes it.
  assert.equal(
    num([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xed, 0x30, 0x08, 0x80]),
    -315619200,
  );
  assert.equal(num([0x80, 0, 0, 0, 0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), 2 ** 53 - 1);
  assert.throws(() => num([0x80, 0, 0, 0, 0, 0x20, 0, 0, 0, 0, 0, 0]), /out of range/);
});

const none = new Uint8Array(0);
const fields: UstarFields = {
  name: enc("dir/file"),
  prefix: enc("some/prefix"),
  typeflag: TypeFlag.CHAR,
  mode: 0o4755,
  uid: 1000,
  gid: 100,
  size: 0,
  mtime: 1700000000,
  linkname: none,
  uname: enc("user"),
  gname: enc("group"),
  devmajor: 4095,
  devminor: 1048575,
};

Deno.test("ustar headers encode and decode", () => {
  const block = new Uint8Array(512);
  encodeUstarHeader(block, 0, fields);
  assert.equal(checkHeaderBlock(block, 0, 0), true);
  assert.equal(new TextDecoder().decode(block.subarray(100, 108)), "0004755\0");
  assert.equal(new TextDecoder().decode(block.subarray(257, 265)), "ustar\x0000");
  const e = decodeEntryHeader(block, 0, 0, "char");
  assert.deepEqual(
    [e.name, e.mode, e.uid, e.gid, e.uname, e.gname, e.mtime, e.devmajor, e.devminor],
    ["some/prefix/dir/file", 0o4755, 1000, 100, "user", "group", 1700000000, 4095, 1048575],
  );
  assert.throws(
    () => encodeUstarHeader(new Uint8Array(512), 0, { ...fields, uid: maxOctal(8) + 1 }),
    TarFormatError,
  );
  assert.throws(
    () => encodeUstarHeader(new Uint8Array(512), 0, { ...fields, name: new Uint8Array(101) }),
    TarFormatError,
  );
});

Deno.test("GNU and v7 layouts ignore the fields they do not have", () => {
  const block = new Uint8Array(512);
  encodeUstarHeader(block, 0, fields);
  block.set(latin1("ustar  \0"), 257); // GNU: bytes 345.. are atime/ctime, not a prefix
  assert.equal(decodeEntryHeader(block, 0, 0, "file").name, "dir/file");
  block.set(latin1("\0\0\0\0\0\0\0\0"), 257); // v7: no owner names, no device numbers
  const e = decodeEntryHeader(block, 0, 0, "char");
  assert.deepEqual([e.name, e.uname, e.devmajor], ["dir/file", "", 0]);
  const star = new Uint8Array(512);
  encodeUstarHeader(star, 0, { ...fields, prefix: enc("p".repeat(131)) });
  star.set(latin1("tar\0"), 508); // star: a 131-byte prefix, then atime and ctime
  assert.equal(decodeEntryHeader(star, 0, 0, "file").name, "p".repeat(131) + "/dir/file");
});

Deno.test("checksum: zero blocks, mismatches, unparsable field", () => {
  assert.equal(checkHeaderBlock(new Uint8Array(1024), 512, 512), false);
  const block = new Uint8Array(512);
  encodeUstarHeader(block, 0, fields);
  block[0] ^= 0x01;
  assert.throws(() => checkHeaderBlock(block, 0, 7), /checksum mismatch.*at byte 7/);
  block.set(latin1("zzzzzz\0 "), 148);
  assert.throws(() => checkHeaderBlock(block, 0, 7), /invalid header checksum field/);
});

Deno.test("names: bytes that are not UTF-8 become lone surrogates and encode back", () => {
  // Python's surrogateescape for each (the tar interop tests compare many more with Python).
  const cases: [number[], string][] = [
    [[0x61, 0xff, 0x62], "a\udcffb"],
    [[0xc0, 0x80], "\udcc0\udc80"], // overlong NUL
    [[0xed, 0xa0, 0x80], "\udced\udca0\udc80"], // encoded surrogate
    [[0xe2, 0x82], "\udce2\udc82"], // truncated sequence
    [[0xe2, 0x82, 0x41], "\udce2\udc82A"],
    [[0xf4, 0x90, 0x80, 0x80], "\udcf4\udc90\udc80\udc80"], // above U+10FFFF
  ];
  for (const [bytes, text] of cases) {
    const b = new Uint8Array(bytes);
    assert.equal(decodeTarString(b, 0, b.length), text);
    assert.deepEqual(encodeTarString(text), b);
  }
  assert.equal(decodeTarString(enc("héllo ☃ 𝄞"), 0, enc("héllo ☃ 𝄞").length), "héllo ☃ 𝄞");
  assert.equal(decodeTarString(enc("x".repeat(5000)), 0, 5000), "x".repeat(5000));
  assert.deepEqual(encodeTarString("lone \ud800"), enc("lone \ufffd"));
});
