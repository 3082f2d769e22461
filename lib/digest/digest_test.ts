import assert from "node:assert/strict";
import { InvalidDigestError, UnsupportedError } from "../errors.ts";
import {
  digestAlgorithm,
  digestHex,
  formatDigest,
  hashAlgorithm,
  isDigest,
  isHashAlgorithm,
  parseDigest,
  validateDigest,
} from "./digest.ts";

const SHA256 = "sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b";

Deno.test("parseDigest accepts the spec's example digests", () => {
  assert.deepEqual(parseDigest(SHA256), {
    algorithm: "sha256",
    encoded: "6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b",
  });
  assert.equal(parseDigest(`sha512:${"ab".repeat(64)}`).algorithm, "sha512");
  assert.equal(
    parseDigest("blake3:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b")
      .algorithm,
    "blake3",
  );
  // Unregistered algorithms pass when they follow the grammar (descriptor.md).
  assert.deepEqual(parseDigest("multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8"), {
    algorithm: "multihash+base58",
    encoded: "QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8",
  });
  assert.equal(
    parseDigest("sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564").encoded,
    "LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564",
  );
});

Deno.test("parseDigest rejects uppercase hex in registered algorithms", () => {
  assert.throws(() => parseDigest(SHA256.toUpperCase().replace("SHA256", "sha256")), {
    name: "InvalidDigestError",
    message: /lowercase hex/,
  });
  assert.throws(() => parseDigest(`sha512:${"AB".repeat(64)}`), InvalidDigestError);
  assert.throws(() => parseDigest(`blake3:${"A".repeat(64)}`), InvalidDigestError);
});

Deno.test("parseDigest rejects registered algorithms with the wrong length", () => {
  assert.throws(() => parseDigest("sha256:abc"), {
    code: "DIGEST_INVALID",
    message: /64 hex characters, this one has 3/,
  });
  assert.throws(() => parseDigest(`sha256:${"a".repeat(65)}`), InvalidDigestError);
  assert.throws(() => parseDigest(`sha512:${"a".repeat(64)}`), InvalidDigestError);
});

Deno.test("parseDigest rejects strings outside the grammar", () => {
  for (
    const bad of [
      "",
      "sha256",
      "sha256:",
      ":abc",
      "SHA256:abc",
      "sha256::abc",
      "sha_:abc",
      "+sha:abc",
      "sha256:ab/cd",
      "sha256:ab cd",
      `sha256:${"a".repeat(64)}\n`,
    ]
  ) {
    assert.throws(() => parseDigest(bad), InvalidDigestError, bad);
    assert.equal(isDigest(bad), false, bad);
  }
});

Deno.test("isDigest, validateDigest, digestHex, digestAlgorithm", () => {
  assert.equal(isDigest(SHA256), true);
  assert.equal(isDigest(42), false);
  assert.equal(validateDigest(SHA256), SHA256);
  assert.equal(digestHex(SHA256), SHA256.slice(7));
  assert.equal(digestAlgorithm(SHA256), "sha256");
  assert.equal(formatDigest("sha256", SHA256.slice(7)), SHA256);
  assert.throws(() => formatDigest("sha256", "xyz"), InvalidDigestError);
});

Deno.test("hashAlgorithm accepts sha256/sha512 and refuses the rest", () => {
  assert.equal(hashAlgorithm("sha256"), "sha256");
  assert.equal(hashAlgorithm("sha512"), "sha512");
  assert.equal(isHashAlgorithm("blake3"), false);
  assert.throws(() => hashAlgorithm("blake3"), {
    name: "UnsupportedError",
    message: /blake3.*registered by the spec but not implemented/,
  });
  assert.throws(() => hashAlgorithm("md5"), UnsupportedError);
});
