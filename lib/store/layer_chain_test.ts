import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  chainIds,
  diffDir,
  flatDir,
  layerDir,
  layersToFlatten,
  planLowerStack,
} from "./layer_chain.ts";

const d = (c: string) => `sha256:${c.repeat(64)}`;
const sha = (s: string) => `sha256:${createHash("sha256").update(s).digest("hex")}`;

Deno.test("chainIds follows config.md: the first is the diff_id, then sha256(parent + ' ' + diff)", () => {
  const ids = chainIds([d("a"), d("b"), d("c")]);
  const second = sha(`${d("a")} ${d("b")}`);
  assert.deepEqual(ids, [d("a"), second, sha(`${second} ${d("c")}`)]);
  assert.deepEqual(chainIds([]), []);
});

Deno.test("chainIds refuses a malformed diff_id before it becomes a path", () => {
  assert.throws(() => chainIds(["sha256:../../etc"]));
  assert.throws(() => chainIds([d("a"), "nonsense"]));
});

Deno.test("layer paths live under STORE/layers/<alg>/<hex>", () => {
  assert.equal(layerDir("/s", d("a")), `/s/layers/sha256/${"a".repeat(64)}`);
  assert.equal(diffDir("/s", d("a")), `/s/layers/sha256/${"a".repeat(64)}/diff`);
  assert.equal(flatDir("/s", d("a")), `/s/layers/sha256/${"a".repeat(64)}/flat`);
});

Deno.test("layersToFlatten: nothing while the stack fits, then multiples of the step", () => {
  assert.equal(layersToFlatten(0), 0);
  assert.equal(layersToFlatten(500), 0);
  assert.equal(layersToFlatten(501), 100);
  assert.equal(layersToFlatten(599), 100);
  assert.equal(layersToFlatten(600), 200);
  assert.equal(layersToFlatten(5000), 4600);
  // The result always fits.
  for (const n of [1, 2, 499, 500, 501, 550, 599, 600, 601, 1234, 10_000]) {
    for (const max of [2, 3, 10, 190, 500]) {
      const f = layersToFlatten(n, max);
      const lowers = f === 0 ? n : n - f + 1;
      assert.ok(lowers <= max, `${n} layers, max ${max}: ${lowers} lowers`);
      assert.ok(f <= n);
    }
  }
  // A small stack limit (mount(2)'s option string) uses a smaller step.
  assert.equal(layersToFlatten(12, 10, 100), 9);
  assert.throws(() => layersToFlatten(5, 1));
});

Deno.test("planLowerStack: diff dirs top first, the flat dir at the bottom", () => {
  const chain = Array.from({ length: 503 }, (_, i) => `c${i}`);
  const plan = planLowerStack(chain);
  assert.equal(plan.flattened, 100);
  assert.equal(plan.flat, "c99");
  assert.equal(plan.diffs.length, 403);
  assert.equal(plan.diffs[0], "c502");
  assert.equal(plan.diffs.at(-1), "c100");
  assert.deepEqual(planLowerStack(["a", "b"]), { diffs: ["b", "a"], flattened: 0 });
  assert.deepEqual(planLowerStack(["a", "b", "c"], 2, 1), {
    diffs: ["c"],
    flat: "b",
    flattened: 2,
  });
});
