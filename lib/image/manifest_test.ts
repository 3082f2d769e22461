import assert from "node:assert/strict";
import { InvalidImageError, UnsupportedError } from "../errors.ts";
import { digestOf } from "../digest/digester.ts";
import {
  EMPTY_DESCRIPTOR,
  EMPTY_JSON,
  manifestArtifactType,
  parseImageManifest,
} from "./manifest.ts";

// manifest.md "Example Image Manifest".
const OCI_EXAMPLE = `{
  "schemaVersion": 2,
  "mediaType": "application/vnd.oci.image.manifest.v1+json",
  "config": {
    "mediaType": "application/vnd.oci.image.config.v1+json",
    "digest": "sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7",
    "size": 7023
  },
  "layers": [
    {
      "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
      "digest": "sha256:9834876dcfb05cb167a5c24953eba58c4ac89b1adf57f28f2f9d09af107ee8f0",
      "size": 32654
    },
    {
      "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
      "digest": "sha256:3c3a4604a545cdc127456d94e421cd355bca5b528f4a9c1905b15da2eb4a4c6b",
      "size": 16724
    },
    {
      "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
      "digest": "sha256:ec4b8955958665577945c89419d1af06b5f7636b4ac3da7f12184802ad867736",
      "size": 73109
    }
  ],
  "subject": {
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "digest": "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270",
    "size": 7682
  },
  "annotations": {
    "com.example.key1": "value1",
    "com.example.key2": "value2"
  }
}`;

// manifest-v2-2.md "Example Image Manifest".
const DOCKER_EXAMPLE = `{
    "schemaVersion": 2,
    "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
    "config": {
        "mediaType": "application/vnd.docker.container.image.v1+json",
        "digest": "sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7",
        "size": 7023
    },
    "layers": [
        {
            "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
            "digest": "sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f",
            "size": 32654
        },
        {
            "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
            "digest": "sha256:3c3a4604a545cdc127456d94e421cd355bca5b528f4a9c1905b15da2eb4a4c6b",
            "size": 16724
        },
        {
            "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
            "digest": "sha256:ec4b8955958665577945c89419d1af06b5f7636b4ac3da7f12184802ad867736",
            "size": 73109
        }
    ]
}`;

// manifest.md "Guidelines for Artifact Usage", case 1.
const MINIMAL_ARTIFACT = `{
  "schemaVersion": 2,
  "mediaType": "application/vnd.oci.image.manifest.v1+json",
  "artifactType": "application/vnd.example+type",
  "config": {
    "mediaType": "application/vnd.oci.empty.v1+json",
    "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
    "size": 2
  },
  "layers": [
    {
      "mediaType": "application/vnd.oci.empty.v1+json",
      "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
      "size": 2
    }
  ],
  "annotations": {
    "oci.opencontainers.image.created": "2023-01-02T03:04:05Z",
    "com.example.data": "payload"
  }
}`;

// manifest.md "Guidelines for Artifact Usage", case 3.
const ARTIFACT_WITH_CONFIG = `{
  "schemaVersion": 2,
  "mediaType": "application/vnd.oci.image.manifest.v1+json",
  "artifactType": "application/vnd.example+type",
  "config": {
    "mediaType": "application/vnd.example.config.v1+json",
    "digest": "sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03",
    "size": 123
  },
  "layers": [
    {
      "mediaType": "application/vnd.example.data.v1.tar+gzip",
      "digest": "sha256:e258d248fda94c63753607f7c4494ee0fcbe92f1a76bfdac795c9d84101eb317",
      "size": 1234
    }
  ]
}`;

function parse(text: string) {
  return parseImageManifest(JSON.parse(text), "manifest");
}

function withChange(text: string, change: (m: Record<string, unknown>) => void) {
  const m = JSON.parse(text);
  change(m);
  return m;
}

Deno.test("parses manifest.md's example", () => {
  const m = parse(OCI_EXAMPLE);
  assert.equal(m.schemaVersion, 2);
  assert.equal(m.mediaType, "application/vnd.oci.image.manifest.v1+json");
  assert.equal(m.config.size, 7023);
  assert.equal(m.layers.length, 3);
  assert.equal(m.layers[2].size, 73109);
  assert.equal(m.subject?.size, 7682);
  assert.deepEqual(m.annotations, { "com.example.key1": "value1", "com.example.key2": "value2" });
  assert.equal(manifestArtifactType(m), undefined);
});

Deno.test("parses manifest-v2-2.md's Docker example", () => {
  const m = parse(DOCKER_EXAMPLE);
  assert.equal(m.mediaType, "application/vnd.docker.distribution.manifest.v2+json");
  assert.equal(m.config.mediaType, "application/vnd.docker.container.image.v1+json");
  assert.deepEqual(m.layers.map((l) => l.size), [32654, 16724, 73109]);
});

Deno.test("parses the artifact examples and reports their artifact type", () => {
  const minimal = parse(MINIMAL_ARTIFACT);
  assert.equal(minimal.artifactType, "application/vnd.example+type");
  assert.equal(manifestArtifactType(minimal), "application/vnd.example+type");
  const withConfig = parse(ARTIFACT_WITH_CONFIG);
  assert.equal(withConfig.layers[0].mediaType, "application/vnd.example.data.v1.tar+gzip");
  const legacy = parseImageManifest(
    withChange(ARTIFACT_WITH_CONFIG, (m) => delete m.artifactType),
    "manifest",
  );
  assert.equal(manifestArtifactType(legacy), "application/vnd.example.config.v1+json");
});

Deno.test("the empty config requires artifactType", () => {
  assert.throws(
    () => parseImageManifest(withChange(MINIMAL_ARTIFACT, (m) => delete m.artifactType), "m"),
    { message: /^m: artifactType: is required when config.mediaType is/ },
  );
});

Deno.test("the empty descriptor constants match the spec", () => {
  assert.equal(digestOf(EMPTY_JSON), EMPTY_DESCRIPTOR.digest);
  assert.equal(EMPTY_DESCRIPTOR.size, EMPTY_JSON.length);
  assert.equal(atob(EMPTY_DESCRIPTOR.data!), "{}");
});

Deno.test("a missing config or layers array is an error", () => {
  assert.throws(() => parseImageManifest(withChange(OCI_EXAMPLE, (m) => delete m.config), "m"), {
    name: "InvalidImageError",
    message: "m: config: is required",
  });
  assert.throws(
    () => parseImageManifest(withChange(OCI_EXAMPLE, (m) => delete m.layers), "m"),
    { message: "m: layers: is required" },
  );
  assert.throws(
    () => parseImageManifest(withChange(OCI_EXAMPLE, (m) => (m.layers = {})), "m"),
    { message: "m: layers: must be an array, got an object" },
  );
});

Deno.test("empty layers and absent mediaType are accepted (umoci writes them)", () => {
  const m = parseImageManifest(
    JSON.parse(
      '{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json",' +
        '"digest":"sha256:7640be529cc3c38da0eb61e86ac2cd94df1ca5d93dca48089d9a7d465d1ec19f",' +
        '"size":134},"layers":[]}',
    ),
    "manifest",
  );
  assert.equal(m.mediaType, undefined);
  assert.deepEqual(m.layers, []);
});

Deno.test("bad layers are reported by index", () => {
  const bad = withChange(OCI_EXAMPLE, (m) => {
    (m.layers as Record<string, unknown>[])[2].size = -5;
  });
  assert.throws(() => parseImageManifest(bad, "manifest"), {
    message: "manifest: layers[2].size: must be a non-negative integer, got -5",
  });
  const upper = withChange(OCI_EXAMPLE, (m) => {
    const l = (m.layers as Record<string, string>[])[0];
    l.digest = l.digest.toUpperCase().replace("SHA256", "sha256");
  });
  assert.throws(() => parseImageManifest(upper, "manifest"), /layers\[0\]\.digest: invalid digest/);
});

Deno.test("unknown layer and config media types are accepted", () => {
  const m = parseImageManifest(
    withChange(OCI_EXAMPLE, (m) => {
      (m.config as Record<string, string>).mediaType = "application/vnd.unknown.config.v9+json";
      (m.layers as Record<string, string>[])[1].mediaType = "application/vnd.unknown.layer";
    }),
    "m",
  );
  assert.equal(m.layers[1].mediaType, "application/vnd.unknown.layer");
});

Deno.test("schemaVersion must be 2 and schema 1 is refused", () => {
  assert.throws(
    () => parseImageManifest(withChange(OCI_EXAMPLE, (m) => (m.schemaVersion = 3)), "m"),
    { message: "m: schemaVersion: must be 2, got 3" },
  );
  assert.throws(
    () => parseImageManifest(withChange(OCI_EXAMPLE, (m) => delete m.schemaVersion), "m"),
    InvalidImageError,
  );
  const schema1 = {
    schemaVersion: 1,
    name: "library/hello-world",
    tag: "latest",
    architecture: "amd64",
    fsLayers: [{ blobSum: "sha256:" + "a".repeat(64) }],
    history: [{ v1Compatibility: "{}" }],
  };
  assert.throws(() => parseImageManifest(schema1, "m"), (e: unknown) => {
    assert.ok(e instanceof UnsupportedError);
    assert.match(e.message, /^m: Docker schema 1 manifests are deprecated and not supported/);
    return true;
  });
});

Deno.test("the manifest mediaType must be a manifest type", () => {
  assert.throws(
    () =>
      parseImageManifest(
        withChange(OCI_EXAMPLE, (m) => (m.mediaType = "application/vnd.oci.image.index.v1+json")),
        "m",
      ),
    /that is an index, not an image manifest/,
  );
  assert.throws(
    () =>
      parseImageManifest(withChange(OCI_EXAMPLE, (m) => (m.mediaType = "application/json")), "m"),
    InvalidImageError,
  );
});

Deno.test("a document with both layers and manifests is refused as ambiguous", () => {
  assert.throws(
    () => parseImageManifest(withChange(OCI_EXAMPLE, (m) => (m.manifests = [])), "m"),
    /ambiguous/,
  );
});

Deno.test("a bad subject or annotations is an error", () => {
  assert.throws(
    () => parseImageManifest(withChange(OCI_EXAMPLE, (m) => (m.subject = { size: 1 })), "m"),
    /m: subject.mediaType: is required/,
  );
  assert.throws(
    () => parseImageManifest(withChange(OCI_EXAMPLE, (m) => (m.annotations = { a: 1 })), "m"),
    /m: annotations.a: must be a string/,
  );
  assert.throws(() => parseImageManifest([], "m"), /must be an object/);
});

Deno.test("keys that Go would read as a known field are refused as ambiguous", () => {
  // Each document means something else to skopeo and umoci (Go matches keys case-insensitively,
  // the last one winning) than to an exact reader.
  const changes: [string, (m: Record<string, unknown>) => void][] = [
    ["Layers", (m) => (m.Layers = [])],
    ["MediaType", (m) => (m.MediaType = "application/vnd.docker.distribution.manifest.v2+json")],
    ["Annotations", (m) => (m.Annotations = { a: "b" })],
    ["SUBJECT", (m) => (m.SUBJECT = m.config)],
    ["Manifests", (m) => (m.Manifests = [])],
    ["config.Digest", (m) => ((m.config as Record<string, unknown>).Digest = "sha256:00")],
    ["layers[0].Urls", (m) => (((m.layers as unknown[])[0] as Record<string, unknown>).Urls = [])],
  ];
  for (const [what, change] of changes) {
    assert.throws(
      () => parseImageManifest(withChange(OCI_EXAMPLE, change), "m"),
      (e: unknown) => e instanceof InvalidImageError && /ambiguous document/.test(e.message),
      what,
    );
  }
});
