import assert from "node:assert/strict";
import { libcryptoBackend, nodeBackend } from "./hash_backend.ts";
import { sha256Small } from "./sha256_small.ts";

const enc = new TextEncoder();

Deno.test("sha256Small: FIPS 180-4 examples", () => {
  assert.equal(
    sha256Small(enc.encode("abc")).toHex(),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  assert.equal(
    sha256Small(enc.encode("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")).toHex(),
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
  );
  assert.equal(
    sha256Small(new Uint8Array()).toHex(),
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  );
});

Deno.test("sha256Small equals the native backend at every padding boundary", async () => {
  const native = libcryptoBackend() ?? await nodeBackend();
  const data = new Uint8Array(300).map((_, i) => (i * 131 + 7) & 0xff);
  for (let n = 0; n <= data.length; n++) {
    const h = native.open("sha256");
    h.update(data.subarray(0, n));
    assert.equal(sha256Small(data.subarray(0, n)).toHex(), h.final().toHex(), `length ${n}`);
  }
});
