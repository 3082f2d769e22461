import assert from "node:assert/strict";
import * as mt from "./media_types.ts";

Deno.test("media type constants are the strings of media-types.md and manifest-v2-2.md", () => {
  assert.equal(mt.MEDIA_TYPE_OCI_DESCRIPTOR, "application/vnd.oci.descriptor.v1+json");
  assert.equal(mt.MEDIA_TYPE_OCI_LAYOUT_HEADER, "application/vnd.oci.layout.header.v1+json");
  assert.equal(mt.MEDIA_TYPE_OCI_INDEX, "application/vnd.oci.image.index.v1+json");
  assert.equal(mt.MEDIA_TYPE_OCI_MANIFEST, "application/vnd.oci.image.manifest.v1+json");
  assert.equal(mt.MEDIA_TYPE_OCI_CONFIG, "application/vnd.oci.image.config.v1+json");
  assert.equal(mt.MEDIA_TYPE_OCI_LAYER, "application/vnd.oci.image.layer.v1.tar");
  assert.equal(mt.MEDIA_TYPE_OCI_LAYER_GZIP, "application/vnd.oci.image.layer.v1.tar+gzip");
  assert.equal(mt.MEDIA_TYPE_OCI_LAYER_ZSTD, "application/vnd.oci.image.layer.v1.tar+zstd");
  assert.equal(
    mt.MEDIA_TYPE_OCI_LAYER_NONDISTRIBUTABLE_GZIP,
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
  );
  assert.equal(mt.MEDIA_TYPE_OCI_EMPTY, "application/vnd.oci.empty.v1+json");
  assert.equal(
    mt.MEDIA_TYPE_DOCKER_MANIFEST,
    "application/vnd.docker.distribution.manifest.v2+json",
  );
  assert.equal(
    mt.MEDIA_TYPE_DOCKER_MANIFEST_LIST,
    "application/vnd.docker.distribution.manifest.list.v2+json",
  );
  assert.equal(mt.MEDIA_TYPE_DOCKER_CONFIG, "application/vnd.docker.container.image.v1+json");
  assert.equal(
    mt.MEDIA_TYPE_DOCKER_FOREIGN_LAYER_GZIP,
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
  );
});

Deno.test("layerCompression and isLayerMediaType cover OCI and Docker layers", () => {
  const cases: [string, mt.LayerCompression][] = [
    [mt.MEDIA_TYPE_OCI_LAYER, "none"],
    [mt.MEDIA_TYPE_OCI_LAYER_GZIP, "gzip"],
    [mt.MEDIA_TYPE_OCI_LAYER_ZSTD, "zstd"],
    [mt.MEDIA_TYPE_OCI_LAYER_NONDISTRIBUTABLE, "none"],
    [mt.MEDIA_TYPE_OCI_LAYER_NONDISTRIBUTABLE_GZIP, "gzip"],
    [mt.MEDIA_TYPE_OCI_LAYER_NONDISTRIBUTABLE_ZSTD, "zstd"],
    [mt.MEDIA_TYPE_DOCKER_LAYER, "none"],
    [mt.MEDIA_TYPE_DOCKER_LAYER_GZIP, "gzip"],
    [mt.MEDIA_TYPE_DOCKER_FOREIGN_LAYER, "none"],
    [mt.MEDIA_TYPE_DOCKER_FOREIGN_LAYER_GZIP, "gzip"],
  ];
  for (const [type, compression] of cases) {
    assert.equal(mt.layerCompression(type), compression, type);
    assert.equal(mt.isLayerMediaType(type), true, type);
  }
  for (const other of [mt.MEDIA_TYPE_OCI_CONFIG, mt.MEDIA_TYPE_OCI_EMPTY, "application/x-tar"]) {
    assert.equal(mt.layerCompression(other), undefined);
    assert.equal(mt.isLayerMediaType(other), false);
  }
});

Deno.test("manifest, index, config, schema 1 and Docker predicates", () => {
  assert.equal(mt.isIndexMediaType(mt.MEDIA_TYPE_OCI_INDEX), true);
  assert.equal(mt.isIndexMediaType(mt.MEDIA_TYPE_DOCKER_MANIFEST_LIST), true);
  assert.equal(mt.isIndexMediaType(mt.MEDIA_TYPE_OCI_MANIFEST), false);
  assert.equal(mt.isManifestMediaType(mt.MEDIA_TYPE_OCI_MANIFEST), true);
  assert.equal(mt.isManifestMediaType(mt.MEDIA_TYPE_DOCKER_MANIFEST), true);
  assert.equal(mt.isManifestMediaType(mt.MEDIA_TYPE_DOCKER_SCHEMA1_SIGNED_MANIFEST), false);
  assert.equal(mt.isSchema1MediaType(mt.MEDIA_TYPE_DOCKER_SCHEMA1_MANIFEST), true);
  assert.equal(mt.isImageConfigMediaType(mt.MEDIA_TYPE_DOCKER_CONFIG), true);
  assert.equal(mt.isImageConfigMediaType(mt.MEDIA_TYPE_OCI_EMPTY), false);
  assert.equal(mt.isDockerMediaType(mt.MEDIA_TYPE_DOCKER_LAYER_GZIP), true);
  assert.equal(mt.isDockerMediaType(mt.MEDIA_TYPE_OCI_LAYER_GZIP), false);
  assert.equal(mt.isNondistributableMediaType(mt.MEDIA_TYPE_OCI_LAYER_NONDISTRIBUTABLE), true);
  assert.equal(mt.isNondistributableMediaType(mt.MEDIA_TYPE_DOCKER_LAYER_GZIP), false);
});
