import assert from "node:assert/strict";
import posix from "node:path";
import { basename, dirname, resolve } from "./paths.ts";

// Inputs are the paths the transports meet (no doubled slashes inside).
Deno.test("paths: the same answers as node:path for the cases the transports meet", () => {
  const cases = [
    "/a/b/c",
    "/a/b/c/",
    "a/b",
    "a",
    "/",
    "./a/../b",
    "../x",
    "/a/./b/..",
    "x/",
  ];
  for (const p of cases) {
    assert.equal(resolve(p), posix.resolve(p), `resolve ${p}`);
    assert.equal(dirname(p), posix.dirname(p), `dirname ${p}`);
    assert.equal(basename(p), posix.basename(p), `basename ${p}`);
  }
});
