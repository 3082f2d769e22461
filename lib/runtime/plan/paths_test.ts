import assert from "node:assert/strict";
import { cleanPath, hostPath, isWithin } from "./paths.ts";

Deno.test("cleanPath: lexical, never above /", () => {
  assert.equal(cleanPath("/"), "/");
  assert.equal(cleanPath(""), "/");
  assert.equal(cleanPath("//a/./b//"), "/a/b");
  assert.equal(cleanPath("/a/../../../b"), "/b");
  assert.equal(cleanPath("rel/x"), "/rel/x");
});

Deno.test("isWithin and hostPath", () => {
  assert.ok(isWithin("/dev", "/dev"));
  assert.ok(isWithin("/dev/null", "/dev"));
  assert.ok(!isWithin("/devices", "/dev"));
  assert.ok(isWithin("/x", "/"));
  assert.equal(hostPath("/b", "rootfs"), "/b/rootfs");
  assert.equal(hostPath("/b", "../data/"), "/data");
  assert.equal(hostPath("/b", "/abs"), "/abs");
});
