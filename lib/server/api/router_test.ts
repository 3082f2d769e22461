import assert from "node:assert/strict";
import { isWrite, matchRoute, rawPath, rawQuery, scopeFor } from "./router.ts";

const D = "sha256:" + "a".repeat(64);

Deno.test("rawPath keeps dot segments and percent-encoding as sent", () => {
  assert.equal(rawPath("http://h:5000/v2/a/../b?x=1"), "/v2/a/../b");
  assert.equal(rawPath("http://h/v2/a/%2e%2e/b#f"), "/v2/a/%2e%2e/b");
  assert.equal(rawPath("http://h"), "/");
  assert.equal(rawQuery("http://h/v2/?n=1&last=b"), "n=1&last=b");
  assert.equal(rawQuery("http://h/v2/"), "");
});

Deno.test("matchRoute: every endpoint of the table", () => {
  const route = (method: string, path: string) => {
    const m = matchRoute(method, path);
    assert.equal(m.kind, "route", `${method} ${path}: ${JSON.stringify(m)}`);
    return m.kind === "route" ? m.route : undefined;
  };
  assert.deepEqual(route("GET", "/v2/"), { endpoint: "base" });
  assert.deepEqual(route("GET", "/v2"), { endpoint: "base" });
  assert.deepEqual(route("GET", "/v2/_catalog"), { endpoint: "catalog" });
  assert.deepEqual(route("GET", "/v2/a/b/c/tags/list"), { endpoint: "tags", name: "a/b/c" });
  assert.deepEqual(route("PUT", `/v2/a/manifests/${D}`), {
    endpoint: "manifest",
    name: "a",
    reference: D,
  });
  assert.deepEqual(route("GET", "/v2/a/manifests/sha256%3A00"), {
    endpoint: "manifest",
    name: "a",
    reference: "sha256:00",
  });
  assert.deepEqual(route("HEAD", `/v2/x/y/blobs/${D}`), {
    endpoint: "blob",
    name: "x/y",
    digest: D,
  });
  assert.deepEqual(route("POST", "/v2/x/blobs/uploads/"), { endpoint: "upload-start", name: "x" });
  assert.deepEqual(route("POST", "/v2/x/blobs/uploads"), { endpoint: "upload-start", name: "x" });
  assert.deepEqual(route("PATCH", "/v2/x/blobs/uploads/abc-1"), {
    endpoint: "upload",
    name: "x",
    id: "abc-1",
  });
  assert.deepEqual(route("GET", `/v2/x/referrers/${D}`), {
    endpoint: "referrers",
    name: "x",
    digest: D,
  });
  // Endpoint words inside names: the last one wins, and reserved ones are refused.
  assert.deepEqual(route("GET", "/v2/manifests/tags/manifests/v1"), {
    endpoint: "manifest",
    name: "manifests/tags",
    reference: "v1",
  });
  assert.deepEqual(route("GET", `/v2/blobs/blobs/${D}`), {
    endpoint: "blob",
    name: "blobs",
    digest: D,
  });
});

Deno.test("matchRoute: bad names are NAME_INVALID, other paths unknown or outside", () => {
  for (
    const p of [
      "/v2/a/../b/tags/list",
      "/v2/a/%2e%2e/b/tags/list",
      "/v2/%2E%2E/tags/list",
      "/v2/Library/busybox/manifests/latest",
      "/v2/a//b/tags/list",
      `/v2/${"a".repeat(256)}/tags/list`,
      "/v2/a/blobs/x/tags/list",
      "/v2/a%2F..%2Fb/tags/list",
    ]
  ) {
    assert.equal(matchRoute("GET", p).kind, "name-invalid", p);
  }
  assert.equal(matchRoute("GET", `/v2/${"a".repeat(255)}/tags/list`).kind, "route");
  assert.equal(matchRoute("GET", "/v2/a/whatever").kind, "unknown");
  assert.equal(matchRoute("GET", "/token").kind, "outside");
  assert.equal(matchRoute("GET", "/v20").kind, "outside");
  assert.deepEqual(matchRoute("POST", "/v2/a/tags/list"), { kind: "method", allow: ["GET"] });
});

Deno.test("scopeFor follows hooks.ts' table", () => {
  const repo = (actions: string[]) => ({ type: "repository", name: "a", actions });
  assert.deepEqual(scopeFor({ endpoint: "base" }, "GET"), { type: "base", name: "", actions: [] });
  assert.deepEqual(scopeFor({ endpoint: "catalog" }, "GET"), {
    type: "registry",
    name: "catalog",
    actions: ["*"],
  });
  assert.deepEqual(
    scopeFor({ endpoint: "manifest", name: "a", reference: "v" }, "GET"),
    repo(["pull"]),
  );
  assert.deepEqual(
    scopeFor({ endpoint: "manifest", name: "a", reference: "v" }, "PUT"),
    repo(["pull", "push"]),
  );
  assert.deepEqual(
    scopeFor({ endpoint: "manifest", name: "a", reference: "v" }, "DELETE"),
    repo(["delete"]),
  );
  assert.deepEqual(
    scopeFor({ endpoint: "blob", name: "a", digest: D }, "DELETE"),
    repo(["delete"]),
  );
  assert.deepEqual(
    scopeFor({ endpoint: "upload", name: "a", id: "u" }, "DELETE"),
    repo(["pull", "push"]),
  );
  assert.deepEqual(
    scopeFor({ endpoint: "upload-start", name: "a" }, "POST"),
    repo(["pull", "push"]),
  );
  assert.deepEqual(scopeFor({ endpoint: "tags", name: "a" }, "GET"), repo(["pull"]));
  assert.equal(isWrite("PATCH"), true);
  assert.equal(isWrite("HEAD"), false);
});
