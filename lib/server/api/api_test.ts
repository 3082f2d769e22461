/**
 * The API from spec.md, endpoint by endpoint and error code by error code, driven through the
 * server's real request handler on the real registry store in a temporary directory.
 */
import assert from "node:assert/strict";
import { digestOf } from "../../digest/digester.ts";
import { defaultConfig, type ServerConfig } from "../config.ts";
import type { AccessScope, ServerHooks } from "../hooks.ts";
import { openRegistryStore, type RegistryStoreInternals } from "../storage/registry_store.ts";
import { createRequestHandler, type RequestHandler } from "../server.ts";

const enc = new TextEncoder();
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
const OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
const LAYER = "application/vnd.oci.image.layer.v1.tar";

interface Api {
  store: RegistryStoreInternals;
  root: string;
  handler: RequestHandler;
  logs: string[];
  call(method: string, path: string, init?: RequestInit): Promise<Response>;
  push(repo: string, content: string | Uint8Array): Promise<Desc>;
  pushImage(repo: string, tag: string, extra?: Record<string, unknown>): Promise<Pushed>;
}

interface Desc {
  mediaType: string;
  digest: string;
  size: number;
}

interface Pushed {
  digest: string;
  bytes: Uint8Array<ArrayBuffer>;
  config: Desc;
  layer: Desc;
  response: Response;
}

async function withApi(
  fn: (api: Api) => Promise<void>,
  options: { config?: Partial<ServerConfig>; hooks?: ServerHooks } = {},
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "ocibox-api-" });
  try {
    const store = await openRegistryStore(root);
    const logs: string[] = [];
    const config = { ...defaultConfig(root), ...options.config };
    const handler = createRequestHandler({
      config,
      store,
      hooks: options.hooks,
      log: (l) => logs.push(l),
    });
    const call = (method: string, path: string, init: RequestInit = {}) =>
      handler(new Request(`http://registry.test${path}`, { method, ...init }), {
        remoteAddr: { hostname: "127.0.0.1", port: 1 },
      });
    const push = async (repo: string, content: string | Uint8Array): Promise<Desc> => {
      const bytes = typeof content === "string" ? enc.encode(content) : new Uint8Array(content);
      const digest = digestOf(bytes);
      const r = await call("POST", `/v2/${repo}/blobs/uploads/?digest=${digest}`, {
        body: bytes,
        headers: { "content-type": "application/octet-stream" },
      });
      assert.equal(r.status, 201, await r.text());
      return { mediaType: "application/octet-stream", digest, size: bytes.length };
    };
    const pushImage = async (repo: string, tag: string, extra: Record<string, unknown> = {}) => {
      const config = { ...await push(repo, `{"tag":"${tag}"}`), mediaType: OCI_CONFIG };
      const layer = { ...await push(repo, `layer of ${tag}`), mediaType: LAYER };
      const manifest = {
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config,
        layers: [layer],
        ...extra,
      };
      const bytes = enc.encode(JSON.stringify(manifest));
      const response = await call("PUT", `/v2/${repo}/manifests/${tag}`, {
        body: bytes,
        headers: { "content-type": OCI_MANIFEST },
      });
      return { digest: digestOf(bytes), bytes, config, layer, response };
    };
    await fn({ store, root, handler, logs, call, push, pushImage });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

async function errorCode(r: Response): Promise<string> {
  const body = await r.json();
  assert.ok(Array.isArray(body.errors), JSON.stringify(body));
  return body.errors[0].code;
}

async function expectError(r: Response, status: number, code: string): Promise<void> {
  assert.equal(r.status, status, `want ${status} ${code}`);
  assert.equal(r.headers.get("content-type"), "application/json");
  assert.equal(await errorCode(r), code);
}

async function tree(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, rel: string) => {
    for await (const e of Deno.readDir(dir)) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      out.push(p);
      if (e.isDirectory) await walk(`${dir}/${e.name}`, p);
    }
  };
  await walk(root, "");
  return out.sort();
}

Deno.test("end-1: /v2/ answers 200 with the API version header; unknown paths 404; bad methods 405", async () => {
  await withApi(async ({ call, logs }) => {
    const r = await call("GET", "/v2/");
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("docker-distribution-api-version"), "registry/2.0");
    assert.deepEqual(await r.json(), {});
    await expectError(await call("GET", "/v2/a/nothing"), 404, "UNSUPPORTED");
    const m = await call("POST", "/v2/a/tags/list");
    assert.equal(m.headers.get("allow"), "GET");
    await expectError(m, 405, "UNSUPPORTED");
    assert.equal((await call("GET", "/elsewhere")).status, 404);
    assert.match(logs[0], /http\.request\.method=GET http\.request\.uri=\/v2\/ .*status=200/);
  });
});

Deno.test("NAME_INVALID for uppercase, over-long, reserved names; nothing changes in the store", async () => {
  await withApi(async ({ call, root }) => {
    const before = await tree(root);
    const d = digestOf(enc.encode("x"));
    for (
      // Dot segments (../, %2e%2e) are tested through a socket in server_test.ts: Request()
      // resolves them before a handler could see them.
      const name of ["Upper/case", "a".repeat(256), "a/blobs/b", "a%2F..%2Fb", "-a", "a__-b"]
    ) {
      await expectError(await call("GET", `/v2/${name}/tags/list`), 400, "NAME_INVALID");
      await expectError(
        await call("POST", `/v2/${name}/blobs/uploads/?digest=${d}`, { body: "x" }),
        400,
        "NAME_INVALID",
      );
      await expectError(
        await call("PUT", `/v2/${name}/manifests/v1`, {
          body: "{}",
          headers: { "content-type": OCI_MANIFEST },
        }),
        400,
        "NAME_INVALID",
      );
    }
    assert.deepEqual(await tree(root), before);
  });
});

Deno.test("end-4b, end-2, end-10: monolithic POST, GET/HEAD with Range, DELETE", async () => {
  await withApi(async ({ call, push }) => {
    const blob = await push("a/b", "0123456789");
    const get = await call("GET", `/v2/a/b/blobs/${blob.digest}`);
    assert.equal(get.status, 200);
    assert.equal(get.headers.get("docker-content-digest"), blob.digest);
    assert.equal(get.headers.get("content-length"), "10");
    assert.equal(await get.text(), "0123456789");
    const head = await call("HEAD", `/v2/a/b/blobs/${blob.digest}`);
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-length"), "10");
    assert.equal(head.body, null);
    const part = await call("GET", `/v2/a/b/blobs/${blob.digest}`, {
      headers: { range: "bytes=2-4" },
    });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get("content-range"), "bytes 2-4/10");
    assert.equal(await part.text(), "234");
    const tail = await call("GET", `/v2/a/b/blobs/${blob.digest}`, {
      headers: { range: "bytes=-3" },
    });
    assert.equal(await tail.text(), "789");
    const past = await call("GET", `/v2/a/b/blobs/${blob.digest}`, {
      headers: { range: "bytes=10-" },
    });
    assert.equal(past.status, 416);
    assert.equal(past.headers.get("content-range"), "bytes */10");
    await past.body?.cancel();
    // Another repository cannot see it.
    await expectError(await call("GET", `/v2/other/blobs/${blob.digest}`), 404, "BLOB_UNKNOWN");
    await expectError(await call("GET", "/v2/a/b/blobs/sha256:zz"), 400, "DIGEST_INVALID");
    const del = await call("DELETE", `/v2/a/b/blobs/${blob.digest}`);
    assert.equal(del.status, 202);
    await expectError(await call("GET", `/v2/a/b/blobs/${blob.digest}`), 404, "BLOB_UNKNOWN");
    await expectError(await call("DELETE", `/v2/a/b/blobs/${blob.digest}`), 404, "BLOB_UNKNOWN");
  });
});

Deno.test("DIGEST_INVALID and SIZE_INVALID on monolithic POST leave no blob", async () => {
  await withApi(async ({ call, store }) => {
    const right = digestOf(enc.encode("right"));
    const r = await call("POST", `/v2/a/blobs/uploads/?digest=${right}`, { body: "wrong" });
    await expectError(r, 400, "DIGEST_INVALID");
    assert.equal(await store.statBlob(digestOf(enc.encode("wrong"))), undefined);
    assert.equal(await store.statBlob(right), undefined);
    await expectError(
      await call("POST", "/v2/a/blobs/uploads/?digest=sha256:1234", { body: "x" }),
      400,
      "DIGEST_INVALID",
    );
    await expectError(
      await call("POST", `/v2/a/blobs/uploads/?digest=blake3:${"a".repeat(64)}`, { body: "x" }),
      400,
      "DIGEST_INVALID",
    );
    await expectError(
      await call("POST", "/v2/a/blobs/uploads/?digest-algorithm=md5"),
      400,
      "DIGEST_INVALID",
    );
    assert.deepEqual(await store.listRepositories(), []);
  });
});

Deno.test("end-4a, end-5, end-13, end-6: chunked upload, out of order 416, status, final chunk in PUT", async () => {
  await withApi(async ({ call }) => {
    const start = await call("POST", "/v2/c/blobs/uploads/", {
      headers: { "content-length": "0" },
    });
    assert.equal(start.status, 202);
    const location = start.headers.get("location")!;
    assert.match(location, /^\/v2\/c\/blobs\/uploads\/[0-9a-f-]{36}$/);
    assert.equal(start.headers.get("docker-upload-uuid"), location.split("/").pop());
    assert.equal(start.headers.get("range"), "0-0");
    assert.equal(start.headers.get("oci-chunk-min-length"), null);

    const p1 = await call("PATCH", location, {
      body: "hello ",
      headers: { "content-range": "0-5", "content-type": "application/octet-stream" },
    });
    assert.equal(p1.status, 202);
    assert.equal(p1.headers.get("range"), "0-5");
    const out = await call("PATCH", location, { body: "zzz", headers: { "content-range": "3-5" } });
    assert.equal(out.status, 416);
    assert.equal(out.headers.get("range"), "0-5");
    assert.equal(await errorCode(out), "BLOB_UPLOAD_INVALID");
    const ahead = await call("PATCH", location, {
      body: "zzz",
      headers: { "content-range": "9-11" },
    });
    assert.equal(ahead.status, 416);
    await ahead.body?.cancel();
    const status = await call("GET", location);
    assert.equal(status.status, 204);
    assert.equal(status.headers.get("range"), "0-5");
    assert.equal(status.headers.get("location"), location);
    // A streamed PATCH (no Content-Range), then the last chunk in the PUT.
    const p2 = await call("PATCH", location, { body: "wor" });
    assert.equal(p2.headers.get("range"), "0-8");
    const whole = "hello world";
    const digest = digestOf(enc.encode(whole));
    const put = await call("PUT", `${location}?digest=${digest}`, {
      body: "ld",
      headers: { "content-range": "9-10", "content-length": "2" },
    });
    assert.equal(put.status, 201);
    assert.equal(put.headers.get("location"), `/v2/c/blobs/${digest}`);
    assert.equal(put.headers.get("docker-content-digest"), digest);
    assert.equal(await (await call("GET", `/v2/c/blobs/${digest}`)).text(), whole);
    await expectError(await call("GET", location), 404, "BLOB_UPLOAD_UNKNOWN");
  });
});

Deno.test("uploads: wrong Content-Length for a range, digest mismatch on PUT, cancel", async () => {
  await withApi(async ({ call, store }) => {
    const loc = (await call("POST", "/v2/c/blobs/uploads/")).headers.get("location")!;
    await expectError(
      await call("PATCH", loc, { body: "abc", headers: { "content-range": "0-1" } }),
      400,
      "SIZE_INVALID",
    );
    await expectError(await call("PUT", `${loc}?digest=nope`), 400, "DIGEST_INVALID");
    await expectError(await call("PUT", loc), 400, "DIGEST_INVALID");
    await call("PATCH", loc, { body: "abc" });
    const wrong = digestOf(enc.encode("abd"));
    await expectError(await call("PUT", `${loc}?digest=${wrong}`), 400, "DIGEST_INVALID");
    assert.equal(await store.statBlob(wrong), undefined);
    const loc2 = (await call("POST", "/v2/c/blobs/uploads/")).headers.get("location")!;
    assert.equal((await call("DELETE", loc2)).status, 204);
    await expectError(await call("DELETE", loc2), 404, "BLOB_UPLOAD_UNKNOWN");
    await expectError(await call("PATCH", loc2, { body: "x" }), 404, "BLOB_UPLOAD_UNKNOWN");
    await expectError(
      await call("GET", "/v2/c/blobs/uploads/..%2F..%2Fetc"),
      404,
      "BLOB_UPLOAD_UNKNOWN",
    );
    await expectError(
      await call("GET", "/v2/other/blobs/uploads/" + loc.split("/").pop()),
      404,
      "BLOB_UPLOAD_UNKNOWN",
    );
  });
});

Deno.test("sha512 blobs: monolithic, and chunked with digest-algorithm", async () => {
  await withApi(async ({ call }) => {
    const bytes = enc.encode("sha512 content");
    const digest = digestOf(bytes, "sha512");
    const r = await call("POST", `/v2/s/blobs/uploads/?digest=${digest}`, { body: bytes });
    assert.equal(r.status, 201);
    assert.equal(await (await call("GET", `/v2/s/blobs/${digest}`)).text(), "sha512 content");
    const start = await call("POST", "/v2/s/blobs/uploads/?digest-algorithm=sha512");
    assert.equal(start.status, 202);
    const loc = start.headers.get("location")!;
    const other = enc.encode("more sha512");
    await call("PATCH", loc, { body: other.slice(0, 4), headers: { "content-range": "0-3" } });
    const d2 = digestOf(other, "sha512");
    const put = await call("PUT", `${loc}?digest=${d2}`, { body: other.slice(4) });
    assert.equal(put.status, 201);
    assert.equal((await call("HEAD", `/v2/s/blobs/${d2}`)).headers.get("content-length"), "11");
  });
});

Deno.test("OCI-Chunk-Min-Length is sent when configured", async () => {
  await withApi(async ({ call }) => {
    const r = await call("POST", "/v2/c/blobs/uploads/");
    assert.equal(r.headers.get("oci-chunk-min-length"), "1048576");
  }, { config: { chunkMinLength: 1 << 20 } });
});

Deno.test("end-11: mount from a repository that has the blob; a session when it has not or may not", async () => {
  const asked: AccessScope[] = [];
  const hooks: ServerHooks = {
    authorize: (_r, scope) => {
      asked.push(scope);
      if (scope.name === "secret" && scope.actions.join() === "pull") {
        return new Response(null, { status: 403 });
      }
      return { name: "tester" };
    },
  };
  await withApi(async ({ call, push, store }) => {
    const blob = await push("src", "shared");
    await push("secret", "hidden");
    const m = await call("POST", `/v2/dst/blobs/uploads/?mount=${blob.digest}&from=src`);
    assert.equal(m.status, 201);
    assert.equal(m.headers.get("location"), `/v2/dst/blobs/${blob.digest}`);
    assert.equal(m.headers.get("docker-content-digest"), blob.digest);
    assert.equal(await store.repositoryHasBlob("dst", blob.digest), true);
    // From a repository that does not exist: an upload session.
    const missing = await call("POST", `/v2/dst2/blobs/uploads/?mount=${blob.digest}&from=nowhere`);
    assert.equal(missing.status, 202);
    assert.ok(missing.headers.get("docker-upload-uuid"));
    assert.equal(await store.repositoryHasBlob("dst2", blob.digest), false);
    // From a repository the caller may not pull: a session too, the 403 is not sent.
    const hidden = digestOf(enc.encode("hidden"));
    const denied = await call("POST", `/v2/dst3/blobs/uploads/?mount=${hidden}&from=secret`);
    assert.equal(denied.status, 202);
    assert.equal(await store.repositoryHasBlob("dst3", hidden), false);
    assert.ok(asked.some((s) => s.name === "secret" && s.actions.join() === "pull"));
    // An invalid from name: a session.
    const bad = await call("POST", `/v2/dst4/blobs/uploads/?mount=${blob.digest}&from=..%2Fsrc`);
    assert.equal(bad.status, 202);
  }, { hooks });
});

Deno.test("end-7a, end-3: manifests by tag and digest, content negotiation, HEAD", async () => {
  await withApi(async ({ call, pushImage }) => {
    const img = await pushImage("m", "v1");
    assert.equal(img.response.status, 201);
    assert.equal(img.response.headers.get("location"), `/v2/m/manifests/${img.digest}`);
    assert.equal(img.response.headers.get("docker-content-digest"), img.digest);
    assert.equal(img.response.headers.get("oci-subject"), null);
    const get = await call("GET", "/v2/m/manifests/v1", {
      headers: { accept: `${DOCKER_MANIFEST}, ${OCI_MANIFEST}` },
    });
    assert.equal(get.status, 200);
    assert.equal(get.headers.get("content-type"), OCI_MANIFEST);
    assert.equal(get.headers.get("docker-content-digest"), img.digest);
    assert.deepEqual(new Uint8Array(await get.arrayBuffer()), img.bytes);
    const byDigest = await call("GET", `/v2/m/manifests/${img.digest}`, {
      headers: { accept: DOCKER_MANIFEST },
    });
    assert.equal(byDigest.status, 200);
    await byDigest.body?.cancel();
    // By tag, an Accept without the manifest's type: 404 naming it.
    await expectError(
      await call("GET", "/v2/m/manifests/v1", { headers: { accept: DOCKER_MANIFEST } }),
      404,
      "MANIFEST_UNKNOWN",
    );
    const head = await call("HEAD", "/v2/m/manifests/v1");
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-length"), String(img.bytes.length));
    assert.equal(head.headers.get("docker-content-digest"), img.digest);
    await expectError(await call("GET", "/v2/m/manifests/v2"), 404, "MANIFEST_UNKNOWN");
    await expectError(await call("GET", "/v2/nope/manifests/v1"), 404, "MANIFEST_UNKNOWN");
    await expectError(await call("GET", "/v2/m/manifests/sha256:12"), 400, "DIGEST_INVALID");
    await expectError(
      await call("GET", `/v2/m/manifests/${"t".repeat(129)}`),
      404,
      "MANIFEST_UNKNOWN",
    );
  });
});

Deno.test("Docker schema 2 manifests are taken and served with their type", async () => {
  await withApi(async ({ call, push }) => {
    const config = {
      ...await push("d", "{}"),
      mediaType: "application/vnd.docker.container.image.v1+json",
    };
    const layer = {
      ...await push("d", "layer"),
      mediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip",
    };
    const bytes = enc.encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: DOCKER_MANIFEST,
      config,
      layers: [layer],
    }));
    const put = await call("PUT", "/v2/d/manifests/latest", {
      body: bytes,
      headers: { "content-type": DOCKER_MANIFEST },
    });
    assert.equal(put.status, 201, await put.clone().text());
    const get = await call("GET", "/v2/d/manifests/latest", {
      headers: { accept: DOCKER_MANIFEST },
    });
    assert.equal(get.headers.get("content-type"), DOCKER_MANIFEST);
    await get.body?.cancel();
  });
});

Deno.test("manifest PUT errors: bad JSON, wrong Content-Type, unknown blobs, too big, digest mismatch", async () => {
  await withApi(async ({ call, push, root, store }) => {
    const config = { ...await push("e", "{}"), mediaType: OCI_CONFIG };
    const before = await tree(root);
    const put = (ref: string, body: string | Uint8Array<ArrayBuffer>, type = OCI_MANIFEST) =>
      call("PUT", `/v2/e/manifests/${ref}`, { body, headers: { "content-type": type } });
    await expectError(await put("v1", "{not json"), 400, "MANIFEST_INVALID");
    await expectError(await put("v1", "[]"), 400, "MANIFEST_INVALID");
    const good = JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [] });
    await expectError(await put("v1", good, DOCKER_MANIFEST), 400, "MANIFEST_INVALID");
    const unknownLayer = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config,
      layers: [{ mediaType: LAYER, digest: digestOf(enc.encode("absent")), size: 6 }],
    });
    await expectError(await put("v1", unknownLayer), 400, "MANIFEST_BLOB_UNKNOWN");
    const r = await put(digestOf(enc.encode("other")), good);
    await expectError(r, 400, "DIGEST_INVALID");
    await expectError(await put("bad!tag", good), 400, "MANIFEST_INVALID");
    assert.deepEqual(await store.listTags("e"), []);
    assert.deepEqual(await tree(root), before);
  });
  await withApi(async ({ call }) => {
    const big = enc.encode(JSON.stringify({ schemaVersion: 2, pad: "x".repeat(2000) }));
    await expectError(
      await call("PUT", "/v2/e/manifests/v1", {
        body: big,
        headers: { "content-type": OCI_MANIFEST },
      }),
      413,
      "SIZE_INVALID",
    );
    // Without Content-Length (a stream): cut off at the limit.
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(big);
        c.close();
      },
    });
    await expectError(
      await call("PUT", "/v2/e/manifests/v1", {
        body: stream,
        headers: { "content-type": OCI_MANIFEST },
      }),
      413,
      "SIZE_INVALID",
    );
  }, { config: { maxManifestBytes: 1024 } });
});

Deno.test("end-7b: PUT by digest with tag parameters answers OCI-Tag", async () => {
  await withApi(async ({ call, pushImage, store }) => {
    const img = await pushImage("t", "first");
    const r = await call("PUT", `/v2/t/manifests/${img.digest}?tag=1.0&tag=1&tag=latest`, {
      body: img.bytes,
      headers: { "content-type": OCI_MANIFEST },
    });
    assert.equal(r.status, 201);
    assert.equal(r.headers.get("oci-tag"), "1.0, 1, latest");
    assert.deepEqual(await store.listTags("t"), ["1", "1.0", "first", "latest"]);
  });
});

Deno.test("end-9: DELETE by tag removes the tag only; by digest the manifest", async () => {
  await withApi(async ({ call, pushImage }) => {
    const img = await pushImage("del", "v1");
    assert.equal((await call("DELETE", "/v2/del/manifests/v1")).status, 202);
    await expectError(await call("GET", "/v2/del/manifests/v1"), 404, "MANIFEST_UNKNOWN");
    const byDigest = await call("GET", `/v2/del/manifests/${img.digest}`);
    assert.equal(byDigest.status, 200);
    await byDigest.body?.cancel();
    assert.equal((await call("DELETE", `/v2/del/manifests/${img.digest}`)).status, 202);
    await expectError(
      await call("GET", `/v2/del/manifests/${img.digest}`),
      404,
      "MANIFEST_UNKNOWN",
    );
    await expectError(await call("DELETE", "/v2/del/manifests/v1"), 404, "MANIFEST_UNKNOWN");
  });
});

Deno.test("end-8: tags list, sorted, with n/last and Link; NAME_UNKNOWN for no repository", async () => {
  await withApi(async ({ call, pushImage }) => {
    for (const t of ["b", "a", "c", "B"]) await pushImage("tags", t);
    const all = await call("GET", "/v2/tags/tags/list");
    assert.deepEqual(await all.json(), { name: "tags", tags: ["B", "a", "b", "c"] });
    const p1 = await call("GET", "/v2/tags/tags/list?n=2");
    assert.deepEqual((await p1.json()).tags, ["B", "a"]);
    assert.equal(p1.headers.get("link"), '</v2/tags/tags/list?n=2&last=a>; rel="next"');
    const p2 = await call("GET", "/v2/tags/tags/list?n=2&last=a");
    assert.deepEqual((await p2.json()).tags, ["b", "c"]);
    assert.equal(p2.headers.get("link"), null);
    const zero = await call("GET", "/v2/tags/tags/list?n=0");
    assert.deepEqual((await zero.json()).tags, []);
    assert.equal(zero.headers.get("link"), null);
    await expectError(await call("GET", "/v2/missing/tags/list"), 404, "NAME_UNKNOWN");
  });
});

Deno.test("_catalog with pagination", async () => {
  await withApi(async ({ call, push }) => {
    for (const r of ["z", "a/b", "m"]) await push(r, `in ${r}`);
    assert.deepEqual(await (await call("GET", "/v2/_catalog")).json(), {
      repositories: ["a/b", "m", "z"],
    });
    const p = await call("GET", "/v2/_catalog?n=1&last=a/b");
    assert.deepEqual(await p.json(), { repositories: ["m"] });
    assert.equal(p.headers.get("link"), '</v2/_catalog?n=1&last=m>; rel="next"');
  });
});

Deno.test("end-12: referrers with artifactType filter; OCI-Subject on PUT; empty for unknown", async () => {
  await withApi(async ({ call, push, pushImage }) => {
    const subject = await pushImage("r", "v1");
    const subjectDesc = {
      mediaType: OCI_MANIFEST,
      digest: subject.digest,
      size: subject.bytes.length,
    };
    const empty = { ...await push("r", "{}"), mediaType: "application/vnd.oci.empty.v1+json" };
    const artifact = async (type: string, note: string) => {
      const bytes = enc.encode(JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        artifactType: type,
        config: empty,
        layers: [empty],
        subject: subjectDesc,
        annotations: { note },
      }));
      const r = await call("PUT", `/v2/r/manifests/${digestOf(bytes)}`, {
        body: bytes,
        headers: { "content-type": OCI_MANIFEST },
      });
      assert.equal(r.status, 201, await r.clone().text());
      assert.equal(r.headers.get("oci-subject"), subject.digest);
      return digestOf(bytes);
    };
    const sbom = await artifact("application/vnd.example.sbom", "s");
    const sig = await artifact("application/vnd.example.sig", "g");
    const all = await call("GET", `/v2/r/referrers/${subject.digest}`);
    assert.equal(all.status, 200);
    assert.equal(all.headers.get("content-type"), OCI_INDEX);
    assert.equal(all.headers.get("oci-filters-applied"), null);
    const index = await all.json();
    assert.equal(index.mediaType, OCI_INDEX);
    assert.deepEqual(
      index.manifests.map((m: { digest: string }) => m.digest).sort(),
      [sbom, sig].sort(),
    );
    const one = index.manifests.find((m: { digest: string }) => m.digest === sbom);
    assert.equal(one.artifactType, "application/vnd.example.sbom");
    assert.deepEqual(one.annotations, { note: "s" });
    const filtered = await call(
      "GET",
      `/v2/r/referrers/${subject.digest}?artifactType=application/vnd.example.sig`,
    );
    assert.equal(filtered.headers.get("oci-filters-applied"), "artifactType");
    assert.deepEqual((await filtered.json()).manifests.map((m: { digest: string }) => m.digest), [
      sig,
    ]);
    const none = await call("GET", `/v2/r/referrers/${digestOf(enc.encode("nothing"))}`);
    assert.equal(none.status, 200);
    assert.deepEqual((await none.json()).manifests, []);
    const noRepo = await call("GET", `/v2/norepo/referrers/${subject.digest}`);
    assert.equal(noRepo.status, 200);
    await noRepo.body?.cancel();
    await expectError(await call("GET", "/v2/r/referrers/sha256:1"), 400, "DIGEST_INVALID");
  });
});

Deno.test("read-only mode refuses writes with 405 UNSUPPORTED", async () => {
  await withApi(async ({ call, root }) => {
    const before = await tree(root);
    await expectError(await call("POST", "/v2/a/blobs/uploads/"), 405, "UNSUPPORTED");
    await expectError(
      await call("PUT", "/v2/a/manifests/v1", {
        body: "{}",
        headers: { "content-type": OCI_MANIFEST },
      }),
      405,
      "UNSUPPORTED",
    );
    await expectError(await call("DELETE", "/v2/a/manifests/v1"), 405, "UNSUPPORTED");
    assert.equal((await call("GET", "/v2/")).status, 200);
    assert.deepEqual(await tree(root), before);
  }, { config: { readOnly: true } });
});

Deno.test("TOOMANYREQUESTS past maxRequests, with Retry-After", async () => {
  await withApi(async ({ call, handler }) => {
    const stalled = await call("GET", "/v2/_catalog"); // body not read yet: still in flight
    assert.equal(handler.inFlight, 1);
    const r = await call("GET", "/v2/");
    assert.equal(r.headers.get("retry-after"), "1");
    await expectError(r, 429, "TOOMANYREQUESTS");
    await stalled.text();
    assert.equal(handler.inFlight, 0);
    assert.equal((await call("GET", "/v2/")).status, 200);
  }, { config: { maxRequests: 1 } });
});

Deno.test("authorize: called with the scope table; its Response is sent; the user is logged", async () => {
  const seen: string[] = [];
  const hooks: ServerHooks = {
    authorize: (request, scope) => {
      seen.push(`${request.method} ${scope.type}:${scope.name}:${scope.actions.join(",")}`);
      if (scope.actions.includes("delete")) {
        return new Response('{"errors":[{"code":"DENIED","message":"no"}]}', {
          status: 403,
          headers: { "content-type": "application/json" },
        });
      }
      return { name: "alice" };
    },
  };
  await withApi(async ({ call, logs, root }) => {
    await call("GET", "/v2/");
    await call("GET", "/v2/_catalog").then((r) => r.text());
    await call("GET", "/v2/x/tags/list").then((r) => r.text());
    await call("POST", "/v2/x/blobs/uploads/").then((r) => r.text());
    const before = await tree(root);
    await expectError(await call("DELETE", "/v2/x/manifests/v1"), 403, "DENIED");
    assert.deepEqual(await tree(root), before);
    assert.deepEqual(seen, [
      "GET base::",
      "GET registry:catalog:*",
      "GET repository:x:pull",
      "POST repository:x:pull,push",
      "DELETE repository:x:delete",
    ]);
    assert.match(logs[0], /auth\.user\.name=alice/);
  }, { hooks });
});

Deno.test("a request body that goes quiet is dropped (408); the session says what it kept", async () => {
  await withApi(async ({ call }) => {
    const loc = (await call("POST", "/v2/slow/blobs/uploads/")).headers.get("location")!;
    await call("PATCH", loc, { body: "abc" });
    const quiet = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(enc.encode("def"));
      },
    });
    const r = await call("PATCH", loc, { body: quiet });
    assert.equal(r.status, 408);
    await r.body?.cancel();
    const status = await call("GET", loc);
    assert.equal(status.status, 204);
    // What arrived before the client went quiet stays; the client resumes from Range.
    assert.equal(status.headers.get("range"), "0-5");
    const digest = digestOf(enc.encode("abcdefg"));
    const put = await call("PUT", `${loc}?digest=${digest}`, {
      body: "g",
      headers: { "content-range": "6-6" },
    });
    assert.equal(put.status, 201);
  }, { config: { bodyIdleTimeoutMs: 100 } });
});

Deno.test("ExtraRoutes answers outside /v2/", async () => {
  await withApi(async ({ call }) => {
    assert.equal(await (await call("GET", "/token?scope=x")).text(), "token");
    assert.equal((await call("GET", "/other")).status, 404);
  }, {
    hooks: {
      routes: (r) => new URL(r.url).pathname === "/token" ? new Response("token") : undefined,
    },
  });
});

Deno.test("a proxied repository's HEAD of a stored blob links it: the push that skips the upload completes", async () => {
  const fallback = {
    handles: (repository: string) => repository.startsWith("up/"),
    manifest: () => Promise.resolve(undefined),
    blob: () => Promise.resolve(undefined),
  };
  await withApi(async ({ call, pushImage }) => {
    const first = await pushImage("mine/a", "v1");
    assert.equal(first.response.status, 201);
    for (const d of [first.config.digest, first.layer.digest]) {
      assert.equal((await call("HEAD", `/v2/up/x/blobs/${d}`)).status, 200);
    }
    // What skopeo does next: no upload, straight to the manifest.
    const r = await call("PUT", "/v2/up/x/manifests/v1", {
      body: first.bytes,
      headers: { "content-type": OCI_MANIFEST },
    });
    assert.equal(r.status, 201, await r.text());
    // Not proxied: another repository still cannot see mine/a's blobs.
    const other = await call("HEAD", `/v2/other/blobs/${first.layer.digest}`);
    assert.equal(other.status, 404);
  }, { hooks: { fallback } });
});

Deno.test("uploads.maxSessions: past it, session starts and monolithic uploads get 429 TOOMANYREQUESTS", async () => {
  await withApi(async ({ call, store, root }) => {
    const open = async () => {
      const r = await call("POST", "/v2/lim/blobs/uploads/");
      assert.equal(r.status, 202, await r.text());
      return r.headers.get("location")!;
    };
    const a = await open();
    const b = await open();
    const refused = await call("POST", "/v2/lim/blobs/uploads/");
    assert.equal(refused.headers.get("retry-after"), "5");
    await expectError(refused, 429, "TOOMANYREQUESTS");
    const bytes = enc.encode("mono");
    const mono = await call("POST", `/v2/lim/blobs/uploads/?digest=${digestOf(bytes)}`, {
      body: bytes,
    });
    await expectError(mono, 429, "TOOMANYREQUESTS");
    assert.equal(await store.statBlob(digestOf(bytes)), undefined);
    // A cancelled session and a completed one free their places.
    assert.equal((await call("DELETE", a)).status, 204);
    const c = await open();
    const done = await call("PUT", `${b}?digest=${digestOf(bytes)}`, { body: bytes });
    assert.equal(done.status, 201, await done.text());
    await open();
    await expectError(await call("POST", "/v2/lim/blobs/uploads/"), 429, "TOOMANYREQUESTS");
    // A failed completion (digest mismatch) removes its session too.
    const bad = await call("PUT", `${c}?digest=${digestOf(enc.encode("other"))}`, { body: bytes });
    await expectError(bad, 400, "DIGEST_INVALID");
    await open();
    // A store opened again on the same root counts the sessions left in it.
    const again = await openRegistryStore(root);
    assert.equal(await again.openUploads(), 2);
  }, { config: { maxUploadSessions: 2 } });
});

Deno.test("a push under a proxied name whose blobs only the upstream has: the manifest PUT fetches them", async () => {
  const upstreamBlobs = new Map<string, Uint8Array>();
  const base = enc.encode("base layer, upstream only");
  upstreamBlobs.set(digestOf(base), base);
  let store: RegistryStoreInternals | undefined;
  const fetched: string[] = [];
  const fallback = {
    handles: (repository: string) => repository.startsWith("up/"),
    manifest: () => Promise.resolve(undefined),
    blob: async ({ digest, method }: { digest: string; method: "GET" | "HEAD" }) => {
      const bytes = upstreamBlobs.get(digest);
      if (!bytes) return undefined;
      if (method === "HEAD") return { digest, size: bytes.length };
      fetched.push(digest);
      await store!.putBlob(new Blob([bytes as Uint8Array<ArrayBuffer>]).stream(), { digest });
      return {
        digest,
        size: bytes.length,
        body: new Blob([bytes as Uint8Array<ArrayBuffer>]).stream(),
      };
    },
  };
  await withApi(async (api) => {
    store = api.store;
    const { call, push } = api;
    const baseDigest = digestOf(base);
    // What skopeo sees: the base layer "exists", so it uploads only its own blobs.
    assert.equal((await call("HEAD", `/v2/up/app/blobs/${baseDigest}`)).status, 200);
    const config = { ...await push("up/app", '{"mine":1}'), mediaType: OCI_CONFIG };
    const own = { ...await push("up/app", "my layer"), mediaType: LAYER };
    const baseDesc = { mediaType: LAYER, digest: baseDigest, size: base.length };
    const manifest = enc.encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config,
      layers: [baseDesc, own],
    }));
    const r = await call("PUT", "/v2/up/app/manifests/mine", {
      body: manifest,
      headers: { "content-type": OCI_MANIFEST },
    });
    assert.equal(r.status, 201, await r.text());
    assert.deepEqual(fetched, [baseDigest]);
    assert.equal(await api.store.repositoryHasBlob("up/app", baseDigest), true);
    // A blob nobody has is still MANIFEST_BLOB_UNKNOWN.
    const ghost = { mediaType: LAYER, digest: digestOf(enc.encode("ghost")), size: 5 };
    const bad = await call("PUT", "/v2/up/app/manifests/ghost", {
      body: enc.encode(JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config,
        layers: [ghost],
      })),
      headers: { "content-type": OCI_MANIFEST },
    });
    await expectError(bad, 400, "MANIFEST_BLOB_UNKNOWN");
    // Outside the proxied names nothing is fetched.
    const other = await call("PUT", "/v2/mine/app/manifests/v1", {
      body: manifest,
      headers: { "content-type": OCI_MANIFEST },
    });
    await expectError(other, 400, "MANIFEST_BLOB_UNKNOWN");
    assert.equal(fetched.length, 1);
  }, { hooks: { fallback } });
});
