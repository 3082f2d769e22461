import assert from "node:assert/strict";
import { UnsupportedError } from "../errors.ts";
import { convertManifest, serializeManifest } from "./convert_manifest.ts";
import { type ImageManifest, parseImageManifest } from "./manifest.ts";
import * as mt from "./media_types.ts";

const D = (n: number) => `sha256:${String(n).repeat(64)}`;

function oci(layers: string[], extra: Partial<ImageManifest> = {}): ImageManifest {
  return {
    schemaVersion: 2,
    mediaType: mt.MEDIA_TYPE_OCI_MANIFEST,
    config: { mediaType: mt.MEDIA_TYPE_OCI_CONFIG, digest: D(1), size: 10 },
    layers: layers.map((mediaType, i) => ({ mediaType, digest: D(i + 2), size: 100 + i })),
    ...extra,
  };
}

Deno.test("OCI to Docker maps config and layer media types", () => {
  const out = convertManifest(
    oci([
      mt.MEDIA_TYPE_OCI_LAYER_GZIP,
      mt.MEDIA_TYPE_OCI_LAYER,
      mt.MEDIA_TYPE_OCI_LAYER_NONDISTRIBUTABLE_GZIP,
      mt.MEDIA_TYPE_OCI_LAYER_NONDISTRIBUTABLE,
    ]),
    "docker",
  );
  assert.equal(out.mediaType, mt.MEDIA_TYPE_DOCKER_MANIFEST);
  assert.equal(out.manifest.config.mediaType, mt.MEDIA_TYPE_DOCKER_CONFIG);
  assert.deepEqual(out.manifest.layers.map((l) => l.mediaType), [
    mt.MEDIA_TYPE_DOCKER_LAYER_GZIP,
    mt.MEDIA_TYPE_DOCKER_LAYER,
    mt.MEDIA_TYPE_DOCKER_FOREIGN_LAYER_GZIP,
    mt.MEDIA_TYPE_DOCKER_FOREIGN_LAYER,
  ]);
  assert.deepEqual(out.warnings, []);
});

Deno.test("Docker output is compact JSON in Docker's key order", () => {
  const out = convertManifest(oci([mt.MEDIA_TYPE_OCI_LAYER_GZIP]), "docker");
  assert.equal(
    new TextDecoder().decode(out.bytes),
    `{"schemaVersion":2,"mediaType":"${mt.MEDIA_TYPE_DOCKER_MANIFEST}",` +
      `"config":{"mediaType":"${mt.MEDIA_TYPE_DOCKER_CONFIG}","size":10,"digest":"${D(1)}"},` +
      `"layers":[{"mediaType":"${mt.MEDIA_TYPE_DOCKER_LAYER_GZIP}","size":100,"digest":"${
        D(2)
      }"}]}`,
  );
  // What was written parses back to the same manifest.
  assert.deepEqual(
    parseImageManifest(JSON.parse(new TextDecoder().decode(out.bytes))),
    out.manifest,
  );
});

Deno.test("Docker to OCI maps back, and round trips", () => {
  const source = oci([mt.MEDIA_TYPE_OCI_LAYER_GZIP, mt.MEDIA_TYPE_OCI_LAYER_NONDISTRIBUTABLE_GZIP]);
  const docker = convertManifest(source, "docker").manifest;
  const back = convertManifest(docker, "oci");
  assert.equal(back.mediaType, mt.MEDIA_TYPE_OCI_MANIFEST);
  assert.deepEqual(back.manifest, source);
  assert.equal(
    new TextDecoder().decode(back.bytes),
    `{"schemaVersion":2,"mediaType":"${mt.MEDIA_TYPE_OCI_MANIFEST}",` +
      `"config":{"mediaType":"${mt.MEDIA_TYPE_OCI_CONFIG}","digest":"${D(1)}","size":10},` +
      `"layers":[{"mediaType":"${mt.MEDIA_TYPE_OCI_LAYER_GZIP}","digest":"${D(2)}","size":100},` +
      `{"mediaType":"${mt.MEDIA_TYPE_OCI_LAYER_NONDISTRIBUTABLE_GZIP}","digest":"${D(3)}",` +
      `"size":101}]}`,
  );
});

Deno.test("manifest-v2-2.md's example converts to OCI", () => {
  const docker = parseImageManifest({
    schemaVersion: 2,
    mediaType: mt.MEDIA_TYPE_DOCKER_MANIFEST,
    config: {
      mediaType: mt.MEDIA_TYPE_DOCKER_CONFIG,
      digest: "sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7",
      size: 7023,
    },
    layers: [{
      mediaType: mt.MEDIA_TYPE_DOCKER_LAYER_GZIP,
      digest: "sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f",
      size: 32654,
      urls: ["https://example.com/layer"],
    }],
  });
  const out = convertManifest(docker, "oci");
  assert.equal(out.manifest.config.mediaType, mt.MEDIA_TYPE_OCI_CONFIG);
  assert.equal(out.manifest.layers[0].mediaType, mt.MEDIA_TYPE_OCI_LAYER_GZIP);
  assert.deepEqual(out.manifest.layers[0].urls, ["https://example.com/layer"]);
});

Deno.test("zstd layers cannot become Docker", () => {
  for (
    const zstd of [mt.MEDIA_TYPE_OCI_LAYER_ZSTD, mt.MEDIA_TYPE_OCI_LAYER_NONDISTRIBUTABLE_ZSTD]
  ) {
    assert.throws(
      () => convertManifest(oci([mt.MEDIA_TYPE_OCI_LAYER_GZIP, zstd]), "docker"),
      (e: unknown) => e instanceof UnsupportedError && /layers\[1\] is zstd/.test(e.message),
    );
  }
});

Deno.test("artifacts cannot become Docker", () => {
  const artifact = oci(["application/vnd.example.data.v1.tar+gzip"], {
    artifactType: "application/vnd.example+type",
  });
  assert.throws(() => convertManifest(artifact, "docker"), {
    name: "UnsupportedError",
    message: /artifact \(application\/vnd.example\+type\), not an image/,
  });
  const legacy = oci([mt.MEDIA_TYPE_OCI_LAYER_GZIP]);
  legacy.config = { ...legacy.config, mediaType: "application/vnd.example.config.v1+json" };
  assert.throws(() => convertManifest(legacy, "docker"), UnsupportedError);
  assert.throws(() => convertManifest(oci(["application/vnd.example.data"]), "docker"), {
    message: /layers\[0\] media type application\/vnd.example.data has no Docker equivalent/,
  });
});

Deno.test("OCI-only fields are dropped with warnings", () => {
  const source = oci([mt.MEDIA_TYPE_OCI_LAYER_GZIP], {
    annotations: { "org.opencontainers.image.created": "2023-01-02T03:04:05Z" },
    subject: { mediaType: mt.MEDIA_TYPE_OCI_MANIFEST, digest: D(9), size: 1 },
  });
  source.config.urls = ["https://example.com/config"];
  source.config.annotations = { a: "b" };
  source.layers[0].annotations = { "com.example": "x" };
  source.layers[0].urls = ["https://example.com/layer"];
  const out = convertManifest(source, "docker");
  assert.deepEqual(out.manifest.layers[0].urls, ["https://example.com/layer"]);
  assert.equal(out.manifest.annotations, undefined);
  assert.equal(out.manifest.subject, undefined);
  assert.equal(out.manifest.config.urls, undefined);
  assert.deepEqual(out.warnings, [
    "dropped layers[0].annotations: not in Docker schema 2",
    "dropped config.urls: Docker schema 2 has no urls on the config",
    "dropped config.annotations: not in Docker schema 2",
    "dropped the manifest annotations: Docker schema 2 has no annotations",
    `dropped subject ${D(9)}: Docker schema 2 has no subject`,
  ]);
});

Deno.test("Docker manifests with odd configs cannot become OCI", () => {
  const docker: ImageManifest = {
    schemaVersion: 2,
    mediaType: mt.MEDIA_TYPE_DOCKER_MANIFEST,
    config: { mediaType: mt.MEDIA_TYPE_DOCKER_PLUGIN_CONFIG, digest: D(1), size: 1 },
    layers: [],
  };
  assert.throws(() => convertManifest(docker, "oci"), /config media type .* has no OCI equivalent/);
});

Deno.test("OCI to OCI keeps everything", () => {
  const source = oci(["application/vnd.example.data"], {
    artifactType: "application/vnd.example+type",
    annotations: { a: "b" },
  });
  const out = convertManifest(source, "oci");
  assert.deepEqual(out.manifest, source);
  assert.deepEqual(out.warnings, []);
});

Deno.test("serializeManifest orders keys and omits empty annotations", () => {
  const m = oci([], { annotations: {} });
  m.artifactType = "application/vnd.example+type";
  assert.equal(
    new TextDecoder().decode(serializeManifest(m)),
    `{"schemaVersion":2,"mediaType":"${mt.MEDIA_TYPE_OCI_MANIFEST}",` +
      `"artifactType":"application/vnd.example+type",` +
      `"config":{"mediaType":"${mt.MEDIA_TYPE_OCI_CONFIG}","digest":"${D(1)}","size":10},` +
      `"layers":[]}`,
  );
});
