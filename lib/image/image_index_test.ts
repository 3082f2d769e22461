import assert from "node:assert/strict";
import { InvalidImageError, UnsupportedError } from "../errors.ts";
import { parseImageIndex } from "./image_index.ts";

// image-index.md "Example Image Index with multiple media types".
const OCI_EXAMPLE = `{
  "schemaVersion": 2,
  "mediaType": "application/vnd.oci.image.index.v1+json",
  "manifests": [
    {
      "mediaType": "application/vnd.oci.image.manifest.v1+json",
      "size": 7143,
      "digest": "sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f",
      "platform": {
        "architecture": "ppc64le",
        "os": "linux"
      }
    },
    {
      "mediaType": "application/vnd.oci.image.index.v1+json",
      "size": 7682,
      "digest": "sha256:601570aaff1b68a61eb9c85b8beca1644e698003e0cdb5bce960f193d265a8b7"
    }
  ],
  "annotations": {
    "com.example.key1": "value1",
    "com.example.key2": "value2"
  }
}`;

// manifest-v2-2.md "Example Manifest List".
const DOCKER_EXAMPLE = `{
  "schemaVersion": 2,
  "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
  "manifests": [
    {
      "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
      "digest": "sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f",
      "size": 7143,
      "platform": {
        "architecture": "ppc64le",
        "os": "linux"
      }
    },
    {
      "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
      "digest": "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270",
      "size": 7682,
      "platform": {
        "architecture": "amd64",
        "os": "linux",
        "features": [
          "sse4"
        ]
      }
    }
  ]
}`;

// image-layout.md "Index Example": an entry with an unknown media type must not error.
const LAYOUT_EXAMPLE = `{
  "schemaVersion": 2,
  "mediaType": "application/vnd.oci.image.index.v1+json",
  "manifests": [
    {
      "mediaType": "application/vnd.oci.image.index.v1+json",
      "size": 7143,
      "digest": "sha256:0228f90e926ba6b96e4f39cf294b2586d38fbb5a1e385c05cd1ee40ea54fe7fd",
      "annotations": {
        "org.opencontainers.image.ref.name": "stable-release"
      }
    },
    {
      "mediaType": "application/vnd.oci.image.manifest.v1+json",
      "size": 7143,
      "digest": "sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f",
      "platform": {
        "architecture": "ppc64le",
        "os": "linux"
      },
      "annotations": {
        "org.opencontainers.image.ref.name": "v1.0"
      }
    },
    {
      "mediaType": "application/xml",
      "size": 7143,
      "digest": "sha256:b3d63d132d21c3ff4c35a061adf23cf43da8ae054247e32faa95494d904a007e",
      "annotations": {
        "org.freedesktop.specifications.metainfo.version": "1.0",
        "org.freedesktop.specifications.metainfo.type": "AppStream"
      }
    }
  ],
  "annotations": {
    "com.example.index.revision": "r124356"
  }
}`;

Deno.test("parses image-index.md's example", () => {
  const index = parseImageIndex(JSON.parse(OCI_EXAMPLE), "index");
  assert.equal(index.mediaType, "application/vnd.oci.image.index.v1+json");
  assert.equal(index.manifests.length, 2);
  assert.deepEqual(index.manifests[0].platform, { architecture: "ppc64le", os: "linux" });
  assert.equal(index.manifests[1].mediaType, "application/vnd.oci.image.index.v1+json");
  assert.equal(index.annotations?.["com.example.key2"], "value2");
});

Deno.test("parses manifest-v2-2.md's manifest list, keeping CPU features", () => {
  const index = parseImageIndex(JSON.parse(DOCKER_EXAMPLE), "list");
  assert.equal(index.mediaType, "application/vnd.docker.distribution.manifest.list.v2+json");
  assert.deepEqual(index.manifests[1].platform?.features, ["sse4"]);
});

Deno.test("an index with unknown media type entries parses", () => {
  const index = parseImageIndex(JSON.parse(LAYOUT_EXAMPLE), "index.json");
  assert.deepEqual(index.manifests.map((m) => m.mediaType), [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/xml",
  ]);
});

Deno.test("manifests is required but may be empty", () => {
  assert.deepEqual(parseImageIndex({ schemaVersion: 2, manifests: [] }, "i").manifests, []);
  assert.throws(() => parseImageIndex({ schemaVersion: 2 }, "index.json"), {
    name: "InvalidImageError",
    message: "index.json: manifests: is required",
  });
});

Deno.test("index errors name the entry", () => {
  const index = JSON.parse(OCI_EXAMPLE);
  index.manifests[1].size = "7682";
  assert.throws(() => parseImageIndex(index, "index"), {
    message: 'index: manifests[1].size: must be a non-negative integer, got "7682"',
  });
});

Deno.test("wrong mediaType, schemaVersion or shape is refused", () => {
  const bad = (change: (i: Record<string, unknown>) => void) => {
    const i = JSON.parse(OCI_EXAMPLE);
    change(i);
    return () => parseImageIndex(i, "index");
  };
  assert.throws(
    bad((i) => (i.mediaType = "application/vnd.oci.image.manifest.v1+json")),
    /that is an image manifest, not an index/,
  );
  assert.throws(bad((i) => (i.schemaVersion = 1)), UnsupportedError);
  assert.throws(bad((i) => (i.schemaVersion = "2")), InvalidImageError);
  assert.throws(bad((i) => (i.layers = [])), /layers: must not appear in an image index/);
});

Deno.test("keys that Go would read as a known field are refused as ambiguous", () => {
  const variants: Record<string, unknown>[] = [
    { Manifests: [] },
    { Layers: [] },
    { config: undefined, Config: {} },
  ];
  for (const extra of variants) {
    const doc = { ...JSON.parse(OCI_EXAMPLE), ...extra };
    assert.throws(() => parseImageIndex(doc, "index"), /ambiguous document/);
  }
  // A tag umoci would see (it reads annotations case-insensitively) and ocibox would not.
  const doc = JSON.parse(OCI_EXAMPLE);
  doc.manifests[0].Annotations = { "org.opencontainers.image.ref.name": "v1" };
  assert.throws(() => parseImageIndex(doc, "index"), /manifests\[0\]: "Annotations" fills/);
  const plat = JSON.parse(OCI_EXAMPLE);
  plat.manifests[0].platform.OS = "windows";
  assert.throws(() => parseImageIndex(plat, "index"), /platform: "OS" and "os" both fill/);
});
