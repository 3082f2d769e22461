import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { libcryptoAvailable, openSha, type ShaAlgorithm } from "./libcrypto.ts";

const ALGS: ShaAlgorithm[] = ["sha256", "sha512"];
// Around the 64- and 128-byte block edges, the 64 KiB async threshold, and a large odd size.
const SIZES = [0, 1, 55, 56, 63, 64, 65, 111, 112, 127, 128, 129, 65535, 65536, (1 << 20) + 7];

function random(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(b.subarray(i, i + 65536));
  return b;
}

function nodeHex(alg: string, ...parts: Uint8Array[]): string {
  const h = createHash(alg);
  for (const p of parts) h.update(p);
  return h.digest("hex");
}

function open(alg: ShaAlgorithm) {
  const s = openSha(alg);
  assert.ok(s, "libcrypto must be available where the tests run");
  return s;
}

Deno.test("libcrypto opens here", () => {
  assert.equal(libcryptoAvailable(), true);
});

for (const alg of ALGS) {
  Deno.test(`${alg}: one update equals node:crypto for block-edge sizes`, () => {
    for (const n of SIZES) {
      const data = random(n);
      const s = open(alg);
      s.update(data);
      assert.equal(s.final().toHex(), nodeHex(alg, data), `${n} bytes`);
    }
  });

  Deno.test(`${alg}: random splits equal one update`, () => {
    const data = random((3 << 20) + 13);
    for (let round = 0; round < 8; round++) {
      const s = open(alg);
      for (let off = 0; off < data.length;) {
        const n = Math.min(data.length - off, Math.floor(Math.random() * (300 << 10)));
        // Subarrays with odd offsets: the pointer must include byteOffset.
        const part = data.subarray(off, off + n);
        s.update(part);
        off += n;
      }
      assert.equal(s.final().toHex(), nodeHex(alg, data));
    }
  });

  Deno.test(`${alg}: copy() forks the running state`, () => {
    const a = random(100_000);
    const b = random(70_000);
    const s = open(alg);
    s.update(a);
    const fork = s.copy();
    assert.equal(fork.final().toHex(), nodeHex(alg, a));
    s.update(b);
    assert.equal(s.final().toHex(), nodeHex(alg, a, b));
  });
}

Deno.test("small (on-heap) arrays hash correctly", () => {
  const s = open("sha256");
  s.update(new Uint8Array([1, 2, 3]));
  s.update(new Uint8Array([4, 5]));
  assert.equal(s.final().toHex(), nodeHex("sha256", new Uint8Array([1, 2, 3, 4, 5])));
});

Deno.test("a state refuses use after final()", () => {
  const data = random(4 << 20);
  const s = open("sha256");
  s.update(data);
  assert.equal(s.final().toHex(), nodeHex("sha256", data));
  assert.throws(() => s.update(new Uint8Array(1)), /after final/);
  assert.throws(() => s.copy(), /after final/);
});
