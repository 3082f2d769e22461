import assert from "node:assert/strict";
import { Rng } from "./prng.ts";

Deno.test("Rng: equal seeds give equal bytes, different seeds differ", () => {
  const a = new Rng(1), b = new Rng(1), c = new Rng(2);
  const pool = new Rng(9).bytes(8192);
  assert.deepEqual(a.bytes(1000), b.bytes(1000));
  assert.deepEqual(a.text(500), b.text(500));
  assert.deepEqual(a.binaryish(5000, pool), b.binaryish(5000, pool));
  assert.notDeepEqual(new Rng(1).bytes(64), c.bytes(64));
});

Deno.test("Rng: helpers stay in range", () => {
  const r = new Rng(3);
  for (let i = 0; i < 1000; i++) {
    const n = r.int(7);
    assert.ok(n >= 0 && n < 7);
    const m = r.range(5, 9);
    assert.ok(m >= 5 && m <= 9);
    const l = r.logRange(100, 4000);
    assert.ok(l >= 100 && l <= 4000);
  }
  assert.equal(r.text(300).length, 300);
  assert.match(r.name(3, 5), /^[a-z]{3,5}$/);
});
