import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import { libdeflateAvailable, openGzipCompressor } from "./libdeflate.ts";

// A system library (Debian's libdeflate0): required in CI, optional on a bare machine.
const ignore = !libdeflateAvailable() && Deno.env.get("CI") !== "true";

function open(level: number) {
  const c = openGzipCompressor(level);
  assert.ok(c, "libdeflate must be available where the tests run");
  return c;
}

Deno.test({ name: "libdeflate opens here", ignore }, () => {
  assert.equal(libdeflateAvailable(), true);
});

Deno.test(
  { name: "libdeflate: sync and pool-thread calls give the same gzip member", ignore },
  async () => {
    const c = open(6);
    try {
      const input = new TextEncoder().encode("ocibox ".repeat(10000));
      const a = new Uint8Array(c.bound(input.length));
      const b = new Uint8Array(c.bound(input.length));
      const n = c.compressSync(input, a);
      assert.equal(await c.compress(input, b), n);
      assert.deepEqual(a.subarray(0, n), b.subarray(0, n));
      assert.deepEqual(gunzipSync(a.subarray(0, n)), Buffer.from(input));
    } finally {
      c.free();
    }
  },
);

Deno.test(
  { name: "libdeflate: an output below the bound and a use after free are errors", ignore },
  () => {
    const c = open(1);
    assert.throws(() => c.compressSync(new Uint8Array(100), new Uint8Array(10)), RangeError);
    c.free();
    assert.throws(() => c.bound(1), /after free/);
    assert.throws(() => openGzipCompressor(99), RangeError);
  },
);
