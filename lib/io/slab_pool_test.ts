import { notStrictEqual, strictEqual } from "node:assert/strict";
import { lendChunk, releaseChunk, sealSlab, takeSlab } from "./slab_pool.ts";

Deno.test("slab pool: a sealed slab comes back once every lent view is released", () => {
  const slab = takeSlab();
  const a = slab.subarray(0, 10);
  const b = slab.subarray(10, 20);
  lendChunk(a);
  lendChunk(b);
  sealSlab(slab);
  releaseChunk(a);
  releaseChunk(a); // twice: ignored
  const other = takeSlab();
  notStrictEqual(other, slab, "b is still out");
  releaseChunk(b);
  strictEqual(takeSlab(), slab, "reused");
  sealSlab(other);
});

Deno.test("slab pool: unsealed slabs, views never lent and foreign chunks stay out", () => {
  const slab = takeSlab();
  const a = slab.subarray(0, 10);
  lendChunk(a);
  releaseChunk(a);
  notStrictEqual(takeSlab(), slab, "not sealed: the reader still fills it");
  const again = takeSlab();
  const view = again.subarray(0, 5);
  lendChunk(view);
  sealSlab(again);
  releaseChunk(again.subarray(0, 5)); // another view object of the same bytes
  releaseChunk(new Uint8Array(5));
  notStrictEqual(takeSlab(), again, "the lent view was never given back");
});
