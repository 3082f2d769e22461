import assert from "node:assert/strict";
import { UnsupportedError } from "../errors.ts";
import { createDigester, digestOf } from "./digester.ts";

const EMPTY_JSON_DIGEST = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
const enc = new TextEncoder();

Deno.test("digestOf hashes {} to the spec's empty descriptor digest", () => {
  assert.equal(digestOf(enc.encode("{}")), EMPTY_JSON_DIGEST);
});

Deno.test("digestOf knows the standard test vectors", () => {
  assert.equal(
    digestOf(new Uint8Array()),
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  );
  assert.equal(
    digestOf(enc.encode("abc"), "sha512"),
    "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a" +
      "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
  );
});

Deno.test("createDigester hashes chunks like one buffer and counts bytes", () => {
  const data = enc.encode("hello, streaming world");
  const d = createDigester();
  assert.equal(d.algorithm, "sha256");
  d.update(data.subarray(0, 5));
  d.update(new Uint8Array());
  d.update(data.subarray(5));
  assert.equal(d.size, data.length);
  assert.equal(d.digest(), digestOf(data));
});

Deno.test("digest() can be taken mid-stream and hashing continues", () => {
  const d = createDigester("sha512");
  d.update(enc.encode("ab"));
  assert.equal(d.digest(), digestOf(enc.encode("ab"), "sha512"));
  assert.equal(d.digest(), digestOf(enc.encode("ab"), "sha512"));
  d.update(enc.encode("c"));
  assert.equal(d.digest(), digestOf(enc.encode("abc"), "sha512"));
  assert.equal(d.size, 3);
});

Deno.test("createDigester refuses blake3 and unknown algorithms", () => {
  assert.throws(() => createDigester("blake3"), UnsupportedError);
  assert.throws(() => digestOf(new Uint8Array(), "md5"), UnsupportedError);
});
