import assert from "node:assert/strict";
import { classifyWhiteout, cleanEntryPath, isWithin, splitPath } from "./entry_path.ts";
import { InvalidImageError, UnsafePathError } from "../errors.ts";

Deno.test("cleanEntryPath normalises harmless names", () => {
  const cases: [string, string][] = [
    ["usr/bin/sh", "usr/bin/sh"],
    ["./usr/bin/", "usr/bin"],
    ["/etc/passwd", "etc/passwd"],
    ["./", ""],
    [".", ""],
    ["/", ""],
    ["a//b/./c/", "a/b/c"],
    ["a/b/../c", "a/c"],
    ["a/..", ""],
    ["...", "..."],
    ["a/..b", "a/..b"],
  ];
  for (const [input, want] of cases) assert.equal(cleanEntryPath(input), want, input);
});

Deno.test("cleanEntryPath refuses names that climb out", () => {
  for (const bad of ["..", "../etc/passwd", "a/../../etc", "/../x", "./../x", "a\0b"]) {
    assert.throws(() => cleanEntryPath(bad), UnsafePathError, bad);
  }
});

Deno.test("classifyWhiteout follows layer.md", () => {
  assert.deepEqual(classifyWhiteout("etc/hosts"), { kind: "none" });
  assert.deepEqual(classifyWhiteout(".wh.file1"), { kind: "whiteout", target: "file1" });
  assert.deepEqual(classifyWhiteout("a/.wh.file2"), { kind: "whiteout", target: "a/file2" });
  assert.deepEqual(classifyWhiteout("bin/.wh..wh..opq"), { kind: "opaque", dir: "bin" });
  assert.deepEqual(classifyWhiteout(".wh..wh..opq"), { kind: "opaque", dir: "" });
  assert.deepEqual(classifyWhiteout("x/.wh..wh.plnk"), { kind: "meta" });
  assert.throws(() => classifyWhiteout("a/.wh."), InvalidImageError);
  assert.throws(() => classifyWhiteout(".wh..."), InvalidImageError);
});

Deno.test("splitPath and isWithin", () => {
  assert.deepEqual(splitPath("a/b/c"), ["a/b", "c"]);
  assert.deepEqual(splitPath("c"), ["", "c"]);
  assert.ok(isWithin("a/b", "a"));
  assert.ok(isWithin("a", "a"));
  assert.ok(!isWithin("ab", "a"));
  assert.ok(isWithin("x", ""));
});
