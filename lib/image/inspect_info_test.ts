import assert from "node:assert/strict";
import { parseImageConfig } from "./config.ts";
import { buildInspectInfo, formatInspectInfo, goTimeString } from "./inspect_info.ts";
import { parseImageManifest } from "./manifest.ts";

// An image made with umoci (new, insert, config --config.label/--config.env/--architecture);
// SKOPEO_OUTPUT is what `skopeo inspect oci:L:t` (1.9.3) printed for it. The config's created
// date is written here with an explicit +00:00 offset and padded fraction to check that it is
// printed the way Go prints it.
const MANIFEST = {
  schemaVersion: 2,
  config: {
    mediaType: "application/vnd.oci.image.config.v1+json",
    digest: "sha256:68553aedde264585ae3c096c9b1a6e72e814f64b2d92169d5f18eab43540d22d",
    size: 535,
  },
  layers: [{
    mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
    digest: "sha256:62d65edd4b1e2035ad6dc8f0d49194754f4b7daa202230d654cc61bda2c36eba",
    size: 97,
  }],
};
const CONFIG = {
  created: "2020-01-02T03:04:05.120000+00:00",
  architecture: "arm64",
  os: "linux",
  config: { Env: ["FOO=bar", "X=y"], Labels: { a: "b<&>", c: "d" } },
  rootfs: {
    type: "layers",
    diff_ids: ["sha256:6afacd38b529ee8970f8fa3f1669d5b090b4a870dc193d96edae6e89fc4fa995"],
  },
  history: [{ created: "2026-11-27T19:50:30.542272163Z", created_by: "umoci insert" }],
};
const DIGEST = "sha256:f0f671b81f5d158be25ba575691e513e4ad5788f6a15bdb3992ccb6452531830";
const SKOPEO_OUTPUT = `{
    "Digest": "sha256:f0f671b81f5d158be25ba575691e513e4ad5788f6a15bdb3992ccb6452531830",
    "RepoTags": [],
    "Created": "2020-01-02T03:04:05.12Z",
    "DockerVersion": "",
    "Labels": {
        "a": "b\\u003c\\u0026\\u003e",
        "c": "d"
    },
    "Architecture": "arm64",
    "Os": "linux",
    "Layers": [
        "sha256:62d65edd4b1e2035ad6dc8f0d49194754f4b7daa202230d654cc61bda2c36eba"
    ],
    "Env": [
        "FOO=bar",
        "X=y"
    ]
}`;

Deno.test("matches skopeo's output (plus the LayersData newer skopeo prints)", () => {
  const info = buildInspectInfo({
    digest: DIGEST,
    repoTags: [],
    manifest: parseImageManifest(MANIFEST),
    config: parseImageConfig(CONFIG),
  });
  assert.deepEqual(info.LayersData, [{
    MIMEType: "application/vnd.oci.image.layer.v1.tar+gzip",
    Digest: "sha256:62d65edd4b1e2035ad6dc8f0d49194754f4b7daa202230d654cc61bda2c36eba",
    Size: 97,
    Annotations: null,
  }]);
  const { LayersData: _, ...withoutLayersData } = info;
  assert.equal(formatInspectInfo(withoutLayersData as typeof info), SKOPEO_OUTPUT);
  assert.deepEqual(Object.keys(info), [
    "Digest",
    "RepoTags",
    "Created",
    "DockerVersion",
    "Labels",
    "Architecture",
    "Os",
    "Layers",
    "LayersData",
    "Env",
  ]);
});

Deno.test("a bare image gets nulls and empty lists like skopeo", () => {
  // `umoci new` output: skopeo prints Labels null, Layers [], Env null.
  const info = buildInspectInfo({
    digest: DIGEST,
    repoTags: [],
    manifest: parseImageManifest({ ...MANIFEST, layers: [] }),
    config: parseImageConfig({
      created: "2026-11-27T19:40:01.230516912Z",
      architecture: "amd64",
      os: "linux",
      config: {},
      rootfs: { type: "layers", diff_ids: [] },
    }),
  });
  assert.equal(
    formatInspectInfo(info),
    `{
    "Digest": "${DIGEST}",
    "RepoTags": [],
    "Created": "2026-11-27T19:40:01.230516912Z",
    "DockerVersion": "",
    "Labels": null,
    "Architecture": "amd64",
    "Os": "linux",
    "Layers": [],
    "LayersData": [],
    "Env": null
}`,
  );
});

Deno.test("Name, Variant, DockerVersion and layer annotations when present", () => {
  const manifest = parseImageManifest(MANIFEST);
  manifest.layers[0].annotations = { "org.opencontainers.image.title": "x" };
  const info = buildInspectInfo({
    name: "docker.io/library/alpine",
    digest: DIGEST,
    repoTags: ["3.18", "latest"],
    manifest,
    config: parseImageConfig({ ...CONFIG, variant: "v8", docker_version: "20.10.23" }),
  });
  assert.deepEqual(Object.keys(info), [
    "Name",
    "Digest",
    "RepoTags",
    "Created",
    "DockerVersion",
    "Labels",
    "Architecture",
    "Variant",
    "Os",
    "Layers",
    "LayersData",
    "Env",
  ]);
  assert.equal(info.Name, "docker.io/library/alpine");
  assert.equal(info.Variant, "v8");
  assert.equal(info.DockerVersion, "20.10.23");
  assert.deepEqual(info.LayersData[0].Annotations, { "org.opencontainers.image.title": "x" });
  const noDate = parseImageConfig({ ...CONFIG, created: undefined });
  assert.equal(
    buildInspectInfo({ digest: DIGEST, repoTags: [], manifest, config: noDate }).Created,
    null,
  );
});

Deno.test("goTimeString prints dates like Go's RFC3339Nano", () => {
  assert.equal(goTimeString("2015-10-31T22:22:56.015925234Z"), "2015-10-31T22:22:56.015925234Z");
  assert.equal(goTimeString("2020-01-02T03:04:05.000Z"), "2020-01-02T03:04:05Z");
  assert.equal(goTimeString("2020-01-02T03:04:05.1234567891Z"), "2020-01-02T03:04:05.123456789Z");
  assert.equal(goTimeString("2020-01-02t03:04:05+02:00"), "2020-01-02T03:04:05+02:00");
  assert.equal(goTimeString("not a date"), "not a date");
});
