import assert from "node:assert/strict";
import { acceptsMediaType, mediaTypeOf, parseAccept } from "./accept.ts";

const OCI = "application/vnd.oci.image.manifest.v1+json";
const DOCKER = "application/vnd.docker.distribution.manifest.v2+json";

Deno.test("parseAccept splits, drops parameters and q=0", () => {
  assert.deepEqual(parseAccept([`${OCI}, ${DOCKER};q=0.5`, "x/y;q=0", " A/B "]), [
    OCI,
    DOCKER,
    "a/b",
  ]);
  assert.deepEqual(parseAccept([]), []);
});

Deno.test("acceptsMediaType: exact, wildcards, empty list", () => {
  assert.deepEqual(acceptsMediaType([OCI], OCI), true);
  assert.deepEqual(acceptsMediaType([DOCKER], OCI), false);
  assert.deepEqual(acceptsMediaType(["*/*"], OCI), true);
  assert.deepEqual(acceptsMediaType(["application/*"], OCI), true);
  assert.deepEqual(acceptsMediaType(["text/*"], OCI), false);
  assert.deepEqual(acceptsMediaType([], OCI), true);
});

Deno.test("mediaTypeOf drops parameters", () => {
  assert.deepEqual(mediaTypeOf(`${OCI}; charset=utf-8`), OCI);
  assert.deepEqual(mediaTypeOf(null), "");
});
