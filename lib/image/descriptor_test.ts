import assert from "node:assert/strict";
import { DigestMismatchError, InvalidImageError, SizeMismatchError } from "../errors.ts";
import {
  decodeDescriptorData,
  descriptorJson,
  isValidMediaType,
  parseDescriptor,
} from "./descriptor.ts";

const MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const DIGEST = "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270";
const EMPTY_DIGEST = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

Deno.test("parses descriptor.md's examples", () => {
  assert.deepEqual(
    parseDescriptor(
      JSON.parse(`{
      "mediaType": "application/vnd.oci.image.manifest.v1+json",
      "size": 7682,
      "digest": "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270"
    }`),
      "descriptor",
    ),
    { mediaType: MANIFEST, digest: DIGEST, size: 7682 },
  );
  assert.deepEqual(
    parseDescriptor(
      JSON.parse(`{
      "mediaType": "application/vnd.oci.image.manifest.v1+json",
      "size": 7682,
      "digest": "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270",
      "urls": [
        "https://example.com/example-manifest"
      ]
    }`),
      "descriptor",
    ).urls,
    ["https://example.com/example-manifest"],
  );
  assert.equal(
    parseDescriptor(
      JSON.parse(`{
      "mediaType": "application/vnd.oci.image.manifest.v1+json",
      "size": 123,
      "digest": "sha256:87923725d74f4bfb94c9e86d64170f7521aad8221a5de834851470ca142da630",
      "artifactType": "application/vnd.example.sbom.v1"
    }`),
      "descriptor",
    ).artifactType,
    "application/vnd.example.sbom.v1",
  );
});

Deno.test("parses the empty descriptor and checks its data", () => {
  const d = parseDescriptor(
    { mediaType: "application/vnd.oci.empty.v1+json", digest: EMPTY_DIGEST, size: 2, data: "e30=" },
    "manifest: config",
  );
  assert.deepEqual(decodeDescriptorData(d), new TextEncoder().encode("{}"));
});

Deno.test("data must be base64 of exactly size bytes with the right digest", () => {
  const base = { mediaType: "application/vnd.oci.empty.v1+json", digest: EMPTY_DIGEST };
  assert.throws(() => parseDescriptor({ ...base, size: 3, data: "e30=" }, "d"), SizeMismatchError);
  assert.throws(
    () => parseDescriptor({ ...base, size: 2, data: "e3s=" }, "d"),
    DigestMismatchError,
  );
  assert.throws(() => parseDescriptor({ ...base, size: 2, data: "e30" }, "d"), {
    message: "d: data: is not valid base64 (RFC 4648 section 4)",
  });
  assert.throws(() => parseDescriptor({ ...base, size: 2, data: "e3-=" }, "d"), InvalidImageError);
  // blake3 cannot be computed here: the data is kept unverified rather than refused.
  const b3 = parseDescriptor(
    { ...base, digest: "blake3:" + "0".repeat(64), size: 2, data: "e30=" },
    "d",
  );
  assert.equal(b3.data, "e30=");
});

Deno.test("rejects negative, fractional and missing sizes", () => {
  const where = "manifest: layers[2]";
  assert.throws(() => parseDescriptor({ mediaType: MANIFEST, digest: DIGEST, size: -1 }, where), {
    name: "InvalidImageError",
    message: "manifest: layers[2].size: must be a non-negative integer, got -1",
  });
  assert.throws(
    () => parseDescriptor({ mediaType: MANIFEST, digest: DIGEST, size: 1.5 }, where),
    InvalidImageError,
  );
  assert.throws(() => parseDescriptor({ mediaType: MANIFEST, digest: DIGEST }, where), {
    message: "manifest: layers[2].size: is required",
  });
});

Deno.test("rejects bad digests with the field path", () => {
  assert.throws(
    () => parseDescriptor({ mediaType: MANIFEST, digest: DIGEST.toUpperCase(), size: 1 }, "idx"),
    { name: "InvalidImageError", message: /^idx: digest: invalid digest/ },
  );
  assert.throws(
    () => parseDescriptor({ mediaType: MANIFEST, digest: "sha256:abc", size: 1 }, "idx"),
    /64 hex characters/,
  );
  assert.throws(
    () => parseDescriptor({ mediaType: MANIFEST, size: 1 }, "idx"),
    /digest: is required/,
  );
});

Deno.test("rejects malformed media types, urls and annotations", () => {
  const ok = { mediaType: MANIFEST, digest: DIGEST, size: 1 };
  assert.throws(
    () => parseDescriptor({ ...ok, mediaType: "manifest" }, "d"),
    /not a valid media type/,
  );
  assert.throws(
    () => parseDescriptor({ ...ok, mediaType: "application/json; charset=utf-8" }, "d"),
    InvalidImageError,
  );
  assert.throws(() => parseDescriptor({ ...ok, urls: "https://x" }, "d"), /urls: must be an array/);
  assert.throws(() => parseDescriptor({ ...ok, urls: ["not a url"] }, "d"), /urls\[0\]/);
  assert.throws(() => parseDescriptor({ ...ok, annotations: { a: 1 } }, "d"), /annotations.a/);
  assert.throws(() => parseDescriptor({ ...ok, artifactType: "x" }, "d"), /artifactType/);
  assert.throws(() => parseDescriptor("x", "d"), /must be an object/);
});

Deno.test("accepts unknown media types and ignores unknown fields", () => {
  const d = parseDescriptor(
    { mediaType: "application/xml", digest: DIGEST, size: 7143, "com.example.extra": true },
    "d",
  );
  assert.deepEqual(d, { mediaType: "application/xml", digest: DIGEST, size: 7143 });
});

Deno.test("parses a platform", () => {
  const d = parseDescriptor(
    {
      mediaType: MANIFEST,
      digest: DIGEST,
      size: 1,
      platform: { architecture: "arm", os: "linux", variant: "v6" },
    },
    "d",
  );
  assert.deepEqual(d.platform, { architecture: "arm", os: "linux", variant: "v6" });
  assert.throws(
    () =>
      parseDescriptor(
        { mediaType: MANIFEST, digest: DIGEST, size: 1, platform: { os: "linux" } },
        "d",
      ),
    { message: "d: platform.architecture: is required" },
  );
});

Deno.test("isValidMediaType follows the schema's RFC 6838 pattern", () => {
  assert.equal(isValidMediaType("application/vnd.example+type"), true);
  assert.equal(isValidMediaType("application/vnd.oci.image.layer.v1.tar+gzip"), true);
  assert.equal(isValidMediaType("application/"), false);
  assert.equal(isValidMediaType("/json"), false);
  assert.equal(isValidMediaType("a/b/c"), false);
  assert.equal(isValidMediaType(`a/${"b".repeat(128)}`), false);
});

Deno.test("descriptorJson writes keys in Go's order and drops empty maps", () => {
  const json = JSON.stringify(descriptorJson({
    artifactType: "application/vnd.example+type",
    platform: { variant: "v8", os: "linux", architecture: "arm64" },
    annotations: {},
    size: 1,
    digest: DIGEST,
    mediaType: MANIFEST,
    urls: ["https://example.com/x"],
  }));
  assert.equal(
    json,
    `{"mediaType":"${MANIFEST}","digest":"${DIGEST}","size":1,"urls":["https://example.com/x"],` +
      `"platform":{"architecture":"arm64","os":"linux","variant":"v8"},` +
      `"artifactType":"application/vnd.example+type"}`,
  );
});
