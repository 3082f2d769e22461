import assert from "node:assert/strict";
import { InvalidReferenceError, NotFoundError, UnsupportedError } from "../errors.ts";
import type { Descriptor } from "./descriptor.ts";
import type { ImageIndex } from "./image_index.ts";
import {
  emptyIndex,
  findByRef,
  isValidRefName,
  listRefs,
  OCI_LAYOUT_FILE_CONTENT,
  parseLayoutIndex,
  parseOciLayoutFile,
  REF_NAME_ANNOTATION,
  serializeIndex,
  withTag,
} from "./layout.ts";

const enc = new TextEncoder();
const MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const D = (n: number): Descriptor => ({
  mediaType: MANIFEST,
  digest: `sha256:${String(n).repeat(64)}`,
  size: n,
});
const tagged = (n: number, ref: string, extra: Record<string, string> = {}): Descriptor => ({
  ...D(n),
  annotations: { ...extra, [REF_NAME_ANNOTATION]: ref },
});

// image-layout.md "Index Example".
const LAYOUT_INDEX = `{
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

Deno.test("oci-layout file content and parsing", () => {
  assert.equal(OCI_LAYOUT_FILE_CONTENT, '{"imageLayoutVersion":"1.0.0"}');
  assert.deepEqual(parseOciLayoutFile(enc.encode(OCI_LAYOUT_FILE_CONTENT)), {
    imageLayoutVersion: "1.0.0",
  });
  // The spec's example, with whitespace and (allowed) extra fields.
  assert.deepEqual(
    parseOciLayoutFile(enc.encode('{\n    "imageLayoutVersion": "1.0.0", "x": 1\n}')),
    { imageLayoutVersion: "1.0.0" },
  );
  assert.throws(() => parseOciLayoutFile(enc.encode("{}")), {
    name: "InvalidImageError",
    message: "oci-layout: imageLayoutVersion: is required",
  });
  assert.throws(() => parseOciLayoutFile(enc.encode("[]")), /oci-layout: must be an object/);
  assert.throws(() => parseOciLayoutFile(enc.encode("nope")), /oci-layout: is not valid JSON/);
  assert.throws(
    () => parseOciLayoutFile(enc.encode('{"imageLayoutVersion":"2.0.0"}')),
    UnsupportedError,
  );
});

Deno.test("the spec's index.json parses, unknown media types included", () => {
  const index = parseLayoutIndex(enc.encode(LAYOUT_INDEX));
  assert.equal(index.manifests.length, 3);
  assert.deepEqual(listRefs(index), ["stable-release", "v1.0"]);
  assert.equal(findByRef(index, "v1.0")[0].platform?.architecture, "ppc64le");
  assert.throws(() => parseLayoutIndex(enc.encode("{}")), /index.json: schemaVersion: is required/);
});

Deno.test("findByRef lists existing tags when the ref is missing", () => {
  const index = parseLayoutIndex(enc.encode(LAYOUT_INDEX));
  assert.throws(() => findByRef(index, "latest", "/tmp/layout"), (e: unknown) => {
    assert.ok(e instanceof NotFoundError);
    assert.equal(
      e.message,
      'no image tagged "latest" in /tmp/layout (tags: stable-release, v1.0)',
    );
    return true;
  });
  assert.throws(() => findByRef(index, undefined), {
    message: "the layout holds 3 images; name one (tags: stable-release, v1.0)",
  });
  assert.throws(() => findByRef(emptyIndex(), undefined), {
    message: "the layout holds no images",
  });
  assert.throws(() => findByRef(emptyIndex(), "x"), /it has no tags/);
});

Deno.test("findByRef without a ref takes the only image", () => {
  const index: ImageIndex = { ...emptyIndex(), manifests: [D(1)] };
  assert.deepEqual(findByRef(index, undefined), [D(1)]);
});

Deno.test("findByRef returns every descriptor carrying the ref", () => {
  const index: ImageIndex = {
    ...emptyIndex(),
    manifests: [tagged(1, "a"), tagged(2, "a"), tagged(3, "b")],
  };
  assert.deepEqual(findByRef(index, "a").map((d) => d.size), [1, 2]);
});

Deno.test("withTag adds a tagged descriptor without changing the input", () => {
  const before = emptyIndex();
  const after = withTag(before, D(1), "latest");
  assert.deepEqual(before.manifests, []);
  assert.deepEqual(after.manifests, [tagged(1, "latest")]);
});

Deno.test("withTag moves a tag: the old holder is dropped in place", () => {
  const index: ImageIndex = {
    ...emptyIndex(),
    manifests: [tagged(1, "v1"), tagged(2, "latest"), tagged(3, "v3")],
  };
  const after = withTag(index, D(4), "latest");
  assert.deepEqual(after.manifests, [tagged(1, "v1"), tagged(4, "latest"), tagged(3, "v3")]);
  assert.deepEqual(index.manifests[1], tagged(2, "latest"));
});

Deno.test("withTag keeps an old holder that has other annotations", () => {
  const index: ImageIndex = {
    ...emptyIndex(),
    manifests: [tagged(1, "latest", { "com.example.keep": "yes" })],
  };
  const after = withTag(index, D(2), "latest");
  assert.deepEqual(after.manifests, [
    { ...D(1), annotations: { "com.example.keep": "yes" } },
    tagged(2, "latest"),
  ]);
});

Deno.test("withTag keeps the new descriptor's own annotations and validates the ref", () => {
  const after = withTag(emptyIndex(), { ...D(1), annotations: { a: "b" } }, "v1.0.0-vendor.0");
  assert.deepEqual(after.manifests[0].annotations, {
    a: "b",
    [REF_NAME_ANNOTATION]: "v1.0.0-vendor.0",
  });
  assert.throws(() => withTag(emptyIndex(), D(1), "-bad"), InvalidReferenceError);
  assert.throws(() => withTag(emptyIndex(), D(1), ""), InvalidReferenceError);
});

Deno.test("isValidRefName follows annotations.md's grammar", () => {
  for (const ok of ["latest", "v1.0", "2.0.0-debug", "a/b/c", "x:y@z+w", "a--b", "A_b"]) {
    assert.equal(isValidRefName(ok), true, ok);
  }
  for (const bad of ["", "-a", "a-", "a//b", "/a", "a b", "a---b", "a/", "ä"]) {
    assert.equal(isValidRefName(bad), false, bad);
  }
});

Deno.test("serializeIndex writes indented JSON in a stable order", () => {
  const text = new TextDecoder().decode(serializeIndex(withTag(emptyIndex(), D(1), "t")));
  assert.equal(
    text,
    `{
  "schemaVersion": 2,
  "mediaType": "application/vnd.oci.image.index.v1+json",
  "manifests": [
    {
      "mediaType": "application/vnd.oci.image.manifest.v1+json",
      "digest": "sha256:${"1".repeat(64)}",
      "size": 1,
      "annotations": {
        "org.opencontainers.image.ref.name": "t"
      }
    }
  ]
}
`,
  );
  const roundTrip = parseLayoutIndex(enc.encode(LAYOUT_INDEX));
  assert.deepEqual(parseLayoutIndex(serializeIndex(roundTrip)), roundTrip);
});

Deno.test("index.json and oci-layout that are not JSON are refused without their bytes", () => {
  const secret = new TextEncoder().encode("root:SECRETHASH:19000:0:99999:7:::\n");
  assert.throws(() => parseLayoutIndex(secret), { message: "index.json: is not valid JSON" });
  assert.throws(() => parseOciLayoutFile(secret), { message: "oci-layout: is not valid JSON" });
  const variant = new TextEncoder().encode(
    '{"imageLayoutVersion":"1.0.0","ImageLayoutVersion":"2"}',
  );
  assert.throws(() => parseOciLayoutFile(variant), /ambiguous document/);
});
