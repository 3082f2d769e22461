import assert from "node:assert/strict";
import { parseTransportRef } from "./transport_ref.ts";
import { UsageError } from "../errors.ts";

Deno.test("parseTransportRef: every transport", () => {
  assert.deepEqual(parseTransportRef("oci:/a/b"), { transport: "oci", path: "/a/b" });
  assert.deepEqual(parseTransportRef("oci:/a/b:v1"), { transport: "oci", path: "/a/b", ref: "v1" });
  assert.deepEqual(parseTransportRef("oci:l:example.com/x:tag"), {
    transport: "oci",
    path: "l",
    ref: "example.com/x:tag",
  });
  assert.deepEqual(parseTransportRef("oci-archive:x.tar:t"), {
    transport: "oci-archive",
    path: "x.tar",
    ref: "t",
  });
  assert.deepEqual(parseTransportRef("docker-archive:x.tar:busybox:latest"), {
    transport: "docker-archive",
    path: "x.tar",
    ref: "busybox:latest",
  });
  assert.deepEqual(parseTransportRef("docker-archive:x.tar:@2"), {
    transport: "docker-archive",
    path: "x.tar",
    index: 2,
  });
  assert.deepEqual(parseTransportRef("dir:/tmp/d:x"), { transport: "dir", path: "/tmp/d:x" });
  assert.deepEqual(parseTransportRef("docker://busybox"), { transport: "docker", ref: "busybox" });
});

Deno.test("parseTransportRef: errors are usage errors naming the input", () => {
  for (const bad of ["busybox", ":x", "oci:", "ftp:x", "docker:busybox", "docker-archive:f:@x"]) {
    assert.throws(() => parseTransportRef(bad), UsageError, bad);
  }
});
