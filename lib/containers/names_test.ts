import assert from "node:assert/strict";
import { checkContainerName, generateName, newContainerId } from "./names.ts";
import { UsageError } from "../errors.ts";

Deno.test("container ids are 64 hex digits, different each time", () => {
  const a = newContainerId(), b = newContainerId();
  assert.match(a, /^[0-9a-f]{64}$/);
  assert.notEqual(a, b);
});

Deno.test("names follow podman's rule", () => {
  for (const ok of ["web", "a.b-c_d", "1x"]) checkContainerName(ok);
  for (const bad of ["", "-x", "_x", "a/b", "a b", "x".repeat(254), "a".repeat(64)]) {
    assert.throws(() => checkContainerName(bad), UsageError, bad);
  }
});

Deno.test("generated names avoid taken ones", () => {
  const taken = new Set<string>();
  for (let i = 0; i < 600; i++) {
    const n = generateName(taken);
    assert.ok(!taken.has(n));
    checkContainerName(n);
    taken.add(n);
  }
});
