import assert from "node:assert/strict";
import { InvalidReferenceError } from "../errors.ts";
import {
  candidateNames,
  imageIdPrefix,
  isShortName,
  lookupNames,
  normalizeName,
  pullLocations,
  repositoryAndTag,
} from "./short_names.ts";

const HEX = "a".repeat(64);

Deno.test("normalizeName follows docker's rules", () => {
  const cases: [string, string][] = [
    ["busybox", "docker.io/library/busybox:latest"],
    ["busybox:1.36", "docker.io/library/busybox:1.36"],
    ["user/app", "docker.io/user/app:latest"],
    ["docker.io/busybox", "docker.io/library/busybox:latest"],
    ["index.docker.io/library/busybox", "docker.io/library/busybox:latest"],
    ["localhost:5000/x", "localhost:5000/x:latest"],
    ["localhost/x:v1", "localhost/x:v1"],
    ["quay.io/a/b/c:t", "quay.io/a/b/c:t"],
    [`busybox@sha256:${HEX}`, `docker.io/library/busybox@sha256:${HEX}`],
    // The digest decides; the tag is dropped.
    [`busybox:1@sha256:${HEX}`, `docker.io/library/busybox@sha256:${HEX}`],
  ];
  for (const [input, want] of cases) assert.equal(normalizeName(input), want, input);
});

Deno.test("isShortName: a first component with . or : or localhost names a registry", () => {
  assert.equal(isShortName("busybox"), true);
  assert.equal(isShortName("user/app:v1"), true);
  assert.equal(isShortName("localhost/app"), false);
  assert.equal(isShortName("localhost:5000/app"), false);
  assert.equal(isShortName("registry.example/app"), false);
  assert.equal(isShortName("127.0.0.1:5000/app"), false);
});

Deno.test("candidateNames tries a short name on each search registry in order", () => {
  assert.deepEqual(candidateNames("busybox"), ["docker.io/library/busybox:latest"]);
  assert.deepEqual(candidateNames("busybox", ["localhost:5000", "docker.io"]), [
    "localhost:5000/busybox:latest",
    "docker.io/library/busybox:latest",
  ]);
  assert.deepEqual(candidateNames("user/app:v1", ["127.0.0.1:5000"]), [
    "127.0.0.1:5000/user/app:v1",
  ]);
  // A search registry without "." or ":" is still taken as the registry.
  assert.deepEqual(candidateNames("app", ["myregistry"]), ["myregistry/app:latest"]);
  assert.deepEqual(candidateNames(`app@sha256:${HEX}`, ["r.io"]), [`r.io/app@sha256:${HEX}`]);
  // Qualified names are not searched; an empty list means docker.io.
  assert.deepEqual(candidateNames("localhost:5000/app", ["r.io"]), ["localhost:5000/app:latest"]);
  assert.deepEqual(candidateNames("x", []), ["docker.io/library/x:latest"]);
  // Duplicates (docker.io and index.docker.io) are tried once.
  assert.deepEqual(candidateNames("x", ["docker.io", "index.docker.io"]), [
    "docker.io/library/x:latest",
  ]);
});

Deno.test("lookupNames adds the docker.io name tag gives a short name", () => {
  assert.deepEqual(lookupNames("app", ["localhost:5000"]), [
    "localhost:5000/app:latest",
    "docker.io/library/app:latest",
  ]);
  assert.deepEqual(lookupNames("app"), ["docker.io/library/app:latest"]);
  assert.deepEqual(lookupNames("localhost:5000/app", ["r.io"]), ["localhost:5000/app:latest"]);
});

Deno.test("candidateNames refuses bad references with one-line reasons", () => {
  for (const bad of ["Busybox", "a b", "x:", HEX, "-x", "x@sha256:12"]) {
    assert.throws(() => candidateNames(bad), InvalidReferenceError, bad);
  }
  assert.throws(() => candidateNames("x", ["bad host!"]), InvalidReferenceError);
});

Deno.test("pullLocations: mirrors first, then the registry; the path is kept", () => {
  const mirrors = { "docker.io": ["mirror.local:5000", "m2.local"] };
  assert.deepEqual(pullLocations("docker.io/library/busybox:latest", mirrors), [
    "mirror.local:5000/library/busybox:latest",
    "m2.local/library/busybox:latest",
    "docker.io/library/busybox:latest",
  ]);
  assert.deepEqual(pullLocations("quay.io/a:1", mirrors), ["quay.io/a:1"]);
  assert.deepEqual(pullLocations(`r.io/a@sha256:${HEX}`, { "r.io": ["m.io"] }), [
    `m.io/a@sha256:${HEX}`,
    `r.io/a@sha256:${HEX}`,
  ]);
});

Deno.test("repositoryAndTag splits names for images", () => {
  assert.deepEqual(repositoryAndTag("docker.io/library/busybox:latest"), [
    "docker.io/library/busybox",
    "latest",
  ]);
  assert.deepEqual(repositoryAndTag("localhost:5000/a/b:v1"), ["localhost:5000/a/b", "v1"]);
  assert.deepEqual(repositoryAndTag(`r.io/a@sha256:${HEX}`), ["r.io/a", "<none>"]);
  assert.deepEqual(repositoryAndTag("v1"), ["docker.io/library/v1", "latest"]);
});

Deno.test("imageIdPrefix accepts 3 to 64 hex digits, with or without sha256:", () => {
  assert.equal(imageIdPrefix("abc"), "abc");
  assert.equal(imageIdPrefix(`sha256:${HEX}`), HEX);
  assert.equal(imageIdPrefix("ab"), undefined);
  assert.equal(imageIdPrefix("ABC"), undefined);
  assert.equal(imageIdPrefix("busybox"), undefined);
  assert.equal(imageIdPrefix("a".repeat(65)), undefined);
});
