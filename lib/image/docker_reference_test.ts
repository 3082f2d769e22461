import assert from "node:assert/strict";
import { InvalidReferenceError } from "../errors.ts";
import {
  apiHost,
  type DockerReference,
  familiarString,
  fullString,
  parseNormalizedNamed,
  parseReference,
  referenceName,
} from "./docker_reference.ts";

const HEX = "dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c";
const DIGEST = `sha256:${HEX}`;

Deno.test("parseNormalizedNamed applies Docker Hub defaults", () => {
  const cases: [string, DockerReference, string][] = [
    ["ubuntu", { domain: "docker.io", path: "library/ubuntu", tag: "latest" }, "ubuntu:latest"],
    ["ubuntu:22.04", { domain: "docker.io", path: "library/ubuntu", tag: "22.04" }, "ubuntu:22.04"],
    [
      "docker.io/ubuntu",
      { domain: "docker.io", path: "library/ubuntu", tag: "latest" },
      "ubuntu:latest",
    ],
    ["index.docker.io/library/ubuntu", {
      domain: "docker.io",
      path: "library/ubuntu",
      tag: "latest",
    }, "ubuntu:latest"],
    [
      "dmcgowan/myapp",
      { domain: "docker.io", path: "dmcgowan/myapp", tag: "latest" },
      "dmcgowan/myapp:latest",
    ],
    [
      "library/foo/bar",
      { domain: "docker.io", path: "library/foo/bar", tag: "latest" },
      "library/foo/bar:latest",
    ],
    [
      "localhost:5000/a/b:t",
      { domain: "localhost:5000", path: "a/b", tag: "t" },
      "localhost:5000/a/b:t",
    ],
    ["localhost/foo", { domain: "localhost", path: "foo", tag: "latest" }, "localhost/foo:latest"],
    ["example.com/privatebase", {
      domain: "example.com",
      path: "privatebase",
      tag: "latest",
    }, "example.com/privatebase:latest"],
    ["127.0.0.1:8000/private/moonbase", {
      domain: "127.0.0.1:8000",
      path: "private/moonbase",
      tag: "latest",
    }, "127.0.0.1:8000/private/moonbase:latest"],
    ["[fc00::1]:5000/docker/docker", {
      domain: "[fc00::1]:5000",
      path: "docker/docker",
      tag: "latest",
    }, "[fc00::1]:5000/docker/docker:latest"],
    [
      "test_com/foo",
      { domain: "docker.io", path: "test_com/foo", tag: "latest" },
      "test_com/foo:latest",
    ],
    [
      "xn--n3h.com:18080/foo",
      { domain: "xn--n3h.com:18080", path: "foo", tag: "latest" },
      "xn--n3h.com:18080/foo:latest",
    ],
  ];
  for (const [input, expected, familiar] of cases) {
    const ref = parseNormalizedNamed(input);
    assert.deepEqual(ref, expected, input);
    assert.equal(familiarString(ref), familiar, input);
  }
});

Deno.test("a digest suppresses the default tag; tag and digest may coexist", () => {
  assert.deepEqual(parseNormalizedNamed(`a/b@${DIGEST}`), {
    domain: "docker.io",
    path: "a/b",
    digest: DIGEST,
  });
  const both = parseNormalizedNamed(`x:tag@${DIGEST}`);
  assert.deepEqual(both, { domain: "docker.io", path: "library/x", tag: "tag", digest: DIGEST });
  assert.equal(fullString(both), `docker.io/library/x:tag@${DIGEST}`);
  assert.equal(familiarString(both), `x:tag@${DIGEST}`);
  // distribution/reference's TestParseReferenceWithTagAndDigest.
  const short =
    `busybox:latest@sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa`;
  assert.equal(fullString(parseNormalizedNamed(short)), `docker.io/library/${short}`);
  assert.equal(familiarString(parseNormalizedNamed(short)), short);
});

Deno.test("fullString and familiarString", () => {
  const ref = parseNormalizedNamed("docker.io/library/x:latest");
  assert.equal(fullString(ref), "docker.io/library/x:latest");
  assert.equal(familiarString(ref), "x:latest");
  assert.equal(referenceName(ref), "docker.io/library/x");
  assert.equal(
    familiarString(parseNormalizedNamed("docker.io/library/foo/bar")),
    "library/foo/bar:latest",
  );
  assert.equal(
    familiarString(parseNormalizedNamed("example.com/library/x")),
    "example.com/library/x:latest",
  );
});

Deno.test("parseReference applies no defaults", () => {
  assert.deepEqual(parseReference("ubuntu"), { domain: "", path: "ubuntu" });
  assert.deepEqual(parseReference("a/b"), { domain: "", path: "a/b" });
  assert.deepEqual(parseReference("localhost:5000/a/b:t"), {
    domain: "localhost:5000",
    path: "a/b",
    tag: "t",
  });
  assert.deepEqual(parseReference(`a/b@${DIGEST}`), { domain: "", path: "a/b", digest: DIGEST });
  assert.deepEqual(parseReference("docker.io/ubuntu"), { domain: "docker.io", path: "ubuntu" });
  assert.equal(fullString(parseReference("ubuntu:1")), "ubuntu:1");
  // "example.com" alone is a repository name, with a tag when followed by ":5000".
  assert.deepEqual(parseReference("example.com:5000"), {
    domain: "",
    path: "example.com",
    tag: "5000",
  });
});

Deno.test("uppercase repository names are invalid", () => {
  for (const bad of ["UPPER/x", "docker/Docker", "docker.io/docker/Docker", "Ubuntu"]) {
    assert.throws(() => parseNormalizedNamed(bad), (e: unknown) => {
      assert.ok(e instanceof InvalidReferenceError, bad);
      assert.equal(e.code, "REFERENCE_INVALID");
      assert.match(e.message, /must be lowercase/, bad);
      return true;
    });
  }
  assert.throws(() => parseReference("UPPER/x"), { message: /must be lowercase/ });
  // Uppercase is fine in a domain and in a tag.
  assert.equal(parseNormalizedNamed("Example.COM/x:TAG").domain, "Example.COM");
  assert.equal(parseNormalizedNamed("x:TAG").tag, "TAG");
});

Deno.test("distribution/reference's invalid names are refused", () => {
  const invalid = [
    "",
    "https://github.com/docker/docker",
    "-docker",
    "-docker/docker",
    "-docker.io/docker/docker",
    "docker///docker",
    "docker.io/docker///docker",
    "[fc00::1]",
    "[fc00::1]:5000",
    "fc00::1:5000/debian",
    "[fe80::1%eth0]:5000/debian",
    "[2001:db8:3:4::192.0.2.33]:5000/debian",
    HEX,
    "docker-/docker",
    "-docker-/docker",
    "____/____",
    "_docker/_docker",
    "dock..er/docker",
    "dock_.er/docker",
    "dock-.er/docker",
    "docker/",
    "a/b:",
    "a/b:-tag",
    `a/b:${"t".repeat(129)}`,
    "a/b@sha256:abc",
    `a/b@sha256:${HEX.toUpperCase()}`,
    "a/b@",
    "a b",
  ];
  for (const bad of invalid) {
    assert.throws(() => parseNormalizedNamed(bad), InvalidReferenceError, JSON.stringify(bad));
  }
});

Deno.test("distribution/reference's valid names are accepted", () => {
  const valid = [
    "docker/docker",
    "library/debian",
    "debian",
    "docker.io/docker/docker",
    "index.docker.io/debian",
    "127.0.0.1:5000/library/debian",
    "192.168.0.1",
    "192.168.0.1:80",
    "192.168.0.1:8/debian",
    "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
    "[fc00:1:2:3:4:5:6:7]:5000/library/debian",
    `docker.io/${HEX}`,
    "docker-rules/docker",
    "docker---rules/docker",
    "d/docker",
    "dock__er/docker",
    `a/b:${"t".repeat(128)}`,
    `a@sha512:${"a".repeat(128)}`,
  ];
  for (const ok of valid) parseNormalizedNamed(ok);
});

Deno.test("names longer than 255 characters are refused", () => {
  const long = `a/${"b".repeat(300)}`;
  assert.throws(() => parseReference(long), { message: /not be more than 255 characters/ });
  assert.throws(() => parseNormalizedNamed(`${"a".repeat(250)}/x`), InvalidReferenceError);
});

Deno.test("errors are one line with a reason", () => {
  assert.throws(() => parseNormalizedNamed("a/b:-tag"), {
    message: /^invalid reference "a\/b:-tag": invalid tag format/,
  });
  assert.throws(() => parseNormalizedNamed("a/b@sha256:abc"), {
    message: /^invalid reference "a\/b@sha256:abc": .*64 hex characters/,
  });
  assert.throws(() => parseNormalizedNamed(HEX), { message: /64-character hexadecimal/ });
  assert.throws(() => parseReference(""), { message: /at least one component/ });
});

Deno.test("apiHost maps Docker Hub to its registry host", () => {
  assert.equal(apiHost("docker.io"), "registry-1.docker.io");
  assert.equal(apiHost("index.docker.io"), "registry-1.docker.io");
  assert.equal(apiHost("localhost:5000"), "localhost:5000");
  assert.equal(apiHost(parseNormalizedNamed("ubuntu").domain), "registry-1.docker.io");
});
