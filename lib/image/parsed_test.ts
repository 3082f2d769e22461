import assert from "node:assert/strict";
import { digestOf } from "../digest/digester.ts";
import { DigestMismatchError, InvalidImageError, UnsupportedError } from "../errors.ts";
import { parseManifestBytes } from "./parsed.ts";

const enc = new TextEncoder();

// Written by `umoci new` + `umoci insert` (no mediaType field); skopeo reports this digest.
const UMOCI_MANIFEST =
  '{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json",' +
  '"digest":"sha256:68553aedde264585ae3c096c9b1a6e72e814f64b2d92169d5f18eab43540d22d",' +
  '"size":535},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip",' +
  '"digest":"sha256:62d65edd4b1e2035ad6dc8f0d49194754f4b7daa202230d654cc61bda2c36eba",' +
  '"size":97}]}\n';
const UMOCI_DIGEST = "sha256:f0f671b81f5d158be25ba575691e513e4ad5788f6a15bdb3992ccb6452531830";

const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
const OCI_INDEX = "application/vnd.oci.image.index.v1+json";

function manifestWith(mediaType: string): Uint8Array {
  return enc.encode(UMOCI_MANIFEST.replace("{", `{"mediaType":"${mediaType}",`));
}

Deno.test("digest is over the original bytes, whitespace included", () => {
  const parsed = parseManifestBytes(enc.encode(UMOCI_MANIFEST));
  assert.equal(parsed.digest, UMOCI_DIGEST);
  assert.equal(parsed.kind, "manifest");
  assert.equal(parsed.mediaType, OCI_MANIFEST); // inferred from the shape
  const pretty = enc.encode(JSON.stringify(JSON.parse(UMOCI_MANIFEST), null, 2));
  const reparsed = parseManifestBytes(pretty);
  assert.equal(reparsed.digest, digestOf(pretty));
  assert.notEqual(reparsed.digest, UMOCI_DIGEST);
  assert.equal(reparsed.bytes, pretty);
});

Deno.test("an index is recognised by its shape", () => {
  const parsed = parseManifestBytes(enc.encode('{"schemaVersion":2,"manifests":[]}'));
  assert.equal(parsed.kind, "index");
  assert.equal(parsed.mediaType, OCI_INDEX);
  if (parsed.kind === "index") assert.deepEqual(parsed.index.manifests, []);
});

Deno.test("the mediaType field decides, else the hint", () => {
  const docker = parseManifestBytes(manifestWith(DOCKER_MANIFEST));
  assert.equal(docker.mediaType, DOCKER_MANIFEST);
  const hinted = parseManifestBytes(enc.encode(UMOCI_MANIFEST), DOCKER_MANIFEST);
  assert.equal(hinted.mediaType, DOCKER_MANIFEST);
  // Parameters and generic types in the hint do not matter.
  const withParams = parseManifestBytes(
    manifestWith(OCI_MANIFEST),
    `${OCI_MANIFEST}; charset=utf-8`,
  );
  assert.equal(withParams.mediaType, OCI_MANIFEST);
  const generic = parseManifestBytes(manifestWith(DOCKER_MANIFEST), "application/json");
  assert.equal(generic.mediaType, DOCKER_MANIFEST);
});

Deno.test("a field/hint conflict without an expected digest is an error", () => {
  assert.throws(
    () => parseManifestBytes(manifestWith(OCI_MANIFEST), DOCKER_MANIFEST),
    (e: unknown) =>
      e instanceof InvalidImageError &&
      e.message.startsWith(
        `manifest: mediaType ${OCI_MANIFEST} conflicts with the expected ${DOCKER_MANIFEST}`,
      ),
  );
});

Deno.test("a field/hint conflict is settled by a matching expected digest", () => {
  const bytes = manifestWith(OCI_MANIFEST);
  const parsed = parseManifestBytes(bytes, DOCKER_MANIFEST, { expectedDigest: digestOf(bytes) });
  assert.equal(parsed.mediaType, DOCKER_MANIFEST);
  assert.match(parsed.warning ?? "", /using application\/vnd.docker/);
  // Not across kinds, though: an image manifest cannot be respected as an index.
  assert.throws(
    () => parseManifestBytes(bytes, OCI_INDEX, { expectedDigest: digestOf(bytes) }),
    InvalidImageError,
  );
});

Deno.test("an expected digest must match", () => {
  const bytes = enc.encode(UMOCI_MANIFEST);
  assert.equal(
    parseManifestBytes(bytes, undefined, { expectedDigest: UMOCI_DIGEST }).digest,
    UMOCI_DIGEST,
  );
  assert.throws(
    () =>
      parseManifestBytes(bytes, undefined, {
        expectedDigest: "sha256:" + "0".repeat(64),
        what: "m",
      }),
    (e: unknown) => e instanceof DigestMismatchError && e.actual === UMOCI_DIGEST && e.what === "m",
  );
  const sha512 = digestOf(bytes, "sha512");
  assert.equal(parseManifestBytes(bytes, undefined, { expectedDigest: sha512 }).digest, sha512);
});

Deno.test("Docker schema 1 is refused clearly", () => {
  const signed = enc.encode(JSON.stringify({
    schemaVersion: 1,
    name: "library/busybox",
    tag: "latest",
    architecture: "amd64",
    fsLayers: [],
    history: [],
    signatures: [],
  }));
  assert.throws(() => parseManifestBytes(signed), {
    name: "UnsupportedError",
    message: /Docker schema 1 manifests are deprecated and not supported/,
  });
  assert.throws(
    () =>
      parseManifestBytes(
        enc.encode('{"schemaVersion":2,"config":{},"layers":[]}'),
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
      ),
    UnsupportedError,
  );
});

Deno.test("a file that is not JSON is refused without echoing its bytes", () => {
  const shadow = enc.encode("root:$6$SECRETSALT$SECRETHASH:19000:0:99999:7:::\n");
  assert.throws(() => parseManifestBytes(shadow), (e: unknown) => {
    assert.ok(e instanceof InvalidImageError);
    assert.equal(e.message, "manifest: is not valid JSON");
    return true;
  });
});

Deno.test("a manifest with layers and Layers is refused, not read differently from Go", () => {
  const doc = JSON.parse(UMOCI_MANIFEST);
  const bytes = enc.encode(JSON.stringify({ ...doc, Layers: [] }));
  assert.throws(() => parseManifestBytes(bytes), /"Layers" and "layers" both fill/);
});

Deno.test("garbage is reported as an invalid image", () => {
  assert.throws(() => parseManifestBytes(enc.encode("{not json")), /manifest: is not valid JSON/);
  assert.throws(() => parseManifestBytes(new Uint8Array([0x7b, 0xff, 0x7d])), /not valid UTF-8/);
  assert.throws(() => parseManifestBytes(enc.encode("[]")), /must be an object/);
  assert.throws(
    () => parseManifestBytes(enc.encode('{"schemaVersion":2}'), undefined, { what: "x" }),
    {
      message: /^x: has no mediaType and is neither/,
    },
  );
});

Deno.test("unknown manifest media types are unsupported", () => {
  const bytes = manifestWith("application/vnd.oci.artifact.manifest.v1+json");
  assert.throws(() => parseManifestBytes(bytes), {
    name: "UnsupportedError",
    message: /unsupported manifest media type application\/vnd.oci.artifact.manifest.v1\+json/,
  });
});

Deno.test("a Docker manifest list parses as an index", () => {
  const list = enc.encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.docker.distribution.manifest.list.v2+json",
    manifests: [{
      mediaType: DOCKER_MANIFEST,
      digest: "sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f",
      size: 7143,
      platform: { architecture: "ppc64le", os: "linux" },
    }],
  }));
  const parsed = parseManifestBytes(list);
  assert.equal(parsed.kind, "index");
  if (parsed.kind === "index") assert.equal(parsed.index.manifests[0].size, 7143);
});
