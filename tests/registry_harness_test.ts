/**
 * Proves the registry test harness: a real docker-registry in each mode takes a push from
 * skopeo and serves it back, the token server issues tokens the registry accepts (x5c, kid and
 * jwk headers, OAuth2 password and refresh grants), and every fault of the fault proxy does what
 * it says, checked with plain fetch and curl.
 */
import assert from "node:assert/strict";
import { buildTar, sha256Digest, writeImage, type WrittenImage } from "./support/images.ts";
import { peerTest, run, runRaw } from "./support/peers.ts";
import { basicAuthHeader, type Registry, withRegistry } from "./support/registry.ts";
import { decodeJwt } from "./support/token_server.ts";
import {
  blobGet,
  manifestGet,
  serverError,
  startFaultProxy,
  tooManyRequests,
} from "./support/fault_proxy.ts";

const PEERS = ["docker-registry", "skopeo", "openssl", "htpasswd", "curl"];
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";

interface TestImage {
  image: WrittenImage;
  /** The one layer blob's bytes. */
  layer: Uint8Array;
  layerDigest: string;
}

/**
 * Writes a one-layer image (a 64 KiB random file, gzip: skopeo would compress an uncompressed
 * layer on push and change the manifest) to a fresh layout.
 */
async function withImage(fn: (img: TestImage) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ocibox-harness-" });
  try {
    const data = crypto.getRandomValues(new Uint8Array(65536));
    const tar = buildTar([{ name: "random.bin", type: "file", data }]);
    const image = await writeImage(`${dir}/layout`, "v1", {
      layers: [{ tar, compression: "gzip" }],
    });
    const layerDigest = image.layerDigests[0];
    const layer = await Deno.readFile(`${dir}/layout/blobs/sha256/${layerDigest.slice(7)}`);
    await fn({ image, layer, layerDigest });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function push(reg: Registry, img: TestImage, repo: string, user?: Registry["users"][0]) {
  await run("skopeo", ["copy", ...reg.skopeoArgs("dest", user), img.image.ref, `docker://${repo}`]);
}

async function inspectDigest(args: string[], ref: string): Promise<string> {
  const out = JSON.parse(await run("skopeo", ["inspect", ...args, `docker://${ref}`]));
  return out.Digest;
}

/** Reads a body until it ends or fails; returns the bytes and whether it failed. */
async function readAll(res: Response): Promise<{ bytes: Uint8Array; failed: boolean }> {
  const parts: Uint8Array[] = [];
  let failed = false;
  const reader = res.body!.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      parts.push(value);
    }
  } catch {
    failed = true;
  }
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    bytes.set(p, off);
    off += p.length;
  }
  return { bytes, failed };
}

peerTest("harness: plain registry takes a skopeo push and serves it back", {
  peers: PEERS,
}, async () => {
  await withImage(async (img) => {
    await withRegistry("plain", async (reg) => {
      assert.match(reg.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      await push(reg, img, `${reg.host}/alice/img:v1`);
      assert.equal(
        await inspectDigest(reg.skopeoArgs(""), `${reg.host}/alice/img:v1`),
        img.image.manifestDigest,
      );
      const blob = await reg.fetch(`/v2/alice/img/blobs/${img.layerDigest}`);
      assert.equal(blob.status, 200);
      assert.equal(sha256Digest(new Uint8Array(await blob.arrayBuffer())), img.layerDigest);
      // storage.delete.enabled: manifests can be deleted.
      const del = await reg.fetch(`/v2/alice/img/manifests/${img.image.manifestDigest}`, {
        method: "DELETE",
      });
      await del.body?.cancel();
      assert.equal(del.status, 202);
      assert.match(await reg.readLog(), /response completed/);
    });
  });
});

peerTest("harness: htpasswd over TLS with the test CA (skopeo, curl, fetch)", {
  peers: PEERS,
}, async () => {
  await withImage(async (img) => {
    await withRegistry("htpasswd-tls", async (reg) => {
      assert.match(reg.url, /^https:\/\//);
      assert.ok(reg.certDir && reg.caCertPath);
      const [alice] = reg.users;
      await push(reg, img, `${reg.host}/alice/img:v1`);
      assert.equal(
        await inspectDigest(reg.skopeoArgs(""), `${reg.host}/alice/img:v1`),
        img.image.manifestDigest,
      );
      const anon = await runRaw("skopeo", [
        "inspect",
        ...reg.skopeoArgs("", null),
        `docker://${reg.host}/alice/img:v1`,
      ]);
      assert.notEqual(anon.code, 0);

      const challenge = await reg.fetch("/v2/");
      await challenge.body?.cancel();
      assert.equal(challenge.status, 401);
      assert.match(challenge.headers.get("www-authenticate") ?? "", /^Basic realm="ocibox-test"/);
      const wrong = await reg.fetch("/v2/", {
        headers: { authorization: basicAuthHeader(alice.name, "wrong") },
      });
      await wrong.body?.cancel();
      assert.equal(wrong.status, 401);

      const catalog = await run("curl", [
        "-sSf",
        "--cacert",
        reg.caCertPath!,
        "-u",
        `${alice.name}:${alice.password}`,
        `${reg.url}/v2/_catalog`,
      ]);
      assert.deepEqual(JSON.parse(catalog), { repositories: ["alice/img"] });
      const untrusted = await runRaw("curl", ["-sS", `${reg.url}/v2/`]);
      assert.equal(untrusted.code, 60); // peer certificate cannot be authenticated
      const byName = await run("curl", [
        "-sS",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--cacert",
        reg.caCertPath!,
        "--resolve",
        `localhost:${reg.host.split(":")[1]}:127.0.0.1`,
        `https://localhost:${reg.host.split(":")[1]}/v2/`,
      ]);
      assert.equal(byName, "401"); // the certificate also names localhost
    });
  });
});

peerTest("harness: mutual TLS registry wants the client certificate", {
  peers: PEERS,
}, async () => {
  await withImage(async (img) => {
    await withRegistry({ mode: "plain", clientCerts: true }, async (reg) => {
      await push(reg, img, `${reg.host}/alice/img:v1`);
      const res = await reg.fetch("/v2/alice/img/tags/list");
      assert.deepEqual(await res.json(), { name: "alice/img", tags: ["v1"] });
      const noCert = await runRaw("curl", ["-sS", "--cacert", reg.caCertPath!, `${reg.url}/v2/`]);
      assert.notEqual(noCert.code, 0);
      const withCert = await run("curl", [
        "-sSf",
        "--cacert",
        reg.caCertPath!,
        "--cert",
        reg.clientCert!.certPath,
        "--key",
        reg.clientCert!.keyPath,
        `${reg.url}/v2/`,
      ]);
      assert.equal(withCert, "{}");
    });
  });
});

peerTest("harness: token auth with the test token server", { peers: PEERS }, async () => {
  await withImage(async (img) => {
    await withRegistry("token", async (reg) => {
      const ts = reg.tokenServer!;
      const [alice] = reg.users;
      await push(reg, img, `${reg.host}/alice/img:v1`);
      await push(reg, img, `${reg.host}/public/img:v1`);
      const pushes = ts.requests.filter((r) => r.scopes.includes("repository:alice/img:pull,push"));
      assert.ok(pushes.length >= 1);
      assert.equal(pushes[0].user, "alice");
      assert.deepEqual(pushes[0].granted, [
        { type: "repository", name: "alice/img", actions: ["pull", "push"] },
      ]);
      const claims = decodeJwt(pushes[0].token!).claims;
      assert.equal(claims.aud, ts.service);
      assert.equal(claims.iss, ts.issuer);
      assert.equal(claims.sub, "alice");

      // Anonymous clients may pull public/* but not alice/*.
      ts.requests.length = 0;
      assert.equal(
        await inspectDigest(reg.skopeoArgs("", null), `${reg.host}/public/img:v1`),
        img.image.manifestDigest,
      );
      const denied = await runRaw("skopeo", [
        "inspect",
        ...reg.skopeoArgs("", null),
        `docker://${reg.host}/alice/img:v1`,
      ]);
      assert.notEqual(denied.code, 0);
      assert.ok(ts.requests.every((r) => r.user === ""));
      assert.ok(ts.requests.some((r) => r.scopes[0] === "repository:alice/img:pull"));
      assert.ok(
        ts.requests.filter((r) => r.scopes[0] === "repository:alice/img:pull")
          .every((r) => r.granted[0].actions.length === 0),
      );

      // The challenge, and tokens fetched by GET with every key header the registry accepts.
      const challenge = await reg.fetch("/v2/alice/img/tags/list");
      await challenge.body?.cancel();
      assert.equal(challenge.status, 401);
      assert.equal(
        challenge.headers.get("www-authenticate"),
        `Bearer realm="${ts.realm}",service="${ts.service}",scope="repository:alice/img:pull"`,
      );
      const getToken = async (scope: string, auth?: string) => {
        const q = new URLSearchParams({ service: ts.service, scope });
        const res = await fetch(`${ts.realm}?${q}`, {
          headers: auth ? { authorization: auth } : {},
        });
        return { status: res.status, body: await res.json() };
      };
      const tags = (token: string) =>
        reg.fetch("/v2/alice/img/tags/list", { headers: { authorization: `Bearer ${token}` } });
      for (const keyHeader of ["x5c", "kid", "jwk"] as const) {
        ts.settings.keyHeader = keyHeader;
        const { status, body } = await getToken("repository:alice/img:pull", reg.basicAuth());
        assert.equal(status, 200);
        assert.equal(body.token, body.access_token);
        assert.equal(body.expires_in, 300);
        assert.ok(!Number.isNaN(Date.parse(body.issued_at)));
        assert.ok(keyHeader in decodeJwt(body.token).header);
        const res = await tags(body.token);
        assert.equal(res.status, 200, `${keyHeader}: ${await res.clone().text()}`);
        assert.deepEqual(await res.json(), { name: "alice/img", tags: ["v1"] });
      }
      ts.settings.keyHeader = "x5c";
      assert.equal((await getToken("x", basicAuthHeader("alice", "wrong"))).status, 401);

      // A token the registry sees as expired.
      ts.settings.issueExpired = true;
      const expired = await tags(
        (await getToken("repository:alice/img:pull", reg.basicAuth()))
          .body.token,
      );
      await expired.body?.cancel();
      assert.equal(expired.status, 401);
      assert.match(expired.headers.get("www-authenticate")!, /error="invalid_token"/);
      ts.settings.issueExpired = false;

      // OAuth2: password grant with a refresh token, then the refresh grant.
      const post = async (form: Record<string, string>) => {
        const res = await fetch(ts.realm, { method: "POST", body: new URLSearchParams(form) });
        return { status: res.status, body: await res.json() };
      };
      const common = { service: ts.service, client_id: "ocibox-test" };
      const first = await post({
        ...common,
        grant_type: "password",
        username: alice.name,
        password: alice.password,
        access_type: "offline",
        scope: "repository:alice/img:pull",
      });
      assert.equal(first.status, 200);
      assert.equal(first.body.scope, "repository:alice/img:pull");
      assert.ok(first.body.refresh_token);
      const second = await post({
        ...common,
        grant_type: "refresh_token",
        refresh_token: first.body.refresh_token,
        scope: "repository:alice/img:pull repository:alice/img:push",
      });
      assert.equal(second.status, 200);
      assert.equal(second.body.refresh_token, first.body.refresh_token);
      assert.equal(second.body.scope, "repository:alice/img:pull repository:alice/img:push");
      const refreshed = await tags(second.body.access_token);
      await refreshed.body?.cancel();
      assert.equal(refreshed.status, 200);
      const last = ts.requests.at(-1)!;
      assert.equal(last.grantType, "refresh_token");
      assert.equal(last.user, "alice");
      assert.equal(
        (await post({ ...common, grant_type: "refresh_token", refresh_token: "no" }))
          .status,
        401,
      );
      ts.settings.oauth = false;
      assert.equal((await post({ ...common, grant_type: "password" })).status, 404);
    });
  });
});

peerTest("harness: fault proxy forwards, rewrites Location and injects faults", {
  peers: PEERS,
}, async () => {
  await withImage(async (img) => {
    await withRegistry("plain", async (reg) => {
      const proxy = await startFaultProxy(reg);
      try {
        // skopeo pushes through the proxy: uploads come back to it via rewritten Locations.
        await push(reg, img, `${proxy.host}/alice/img:v1`);
        const post = proxy.log.find((e) => e.method === "POST");
        assert.ok(post?.location?.startsWith(`${proxy.url}/v2/alice/img/blobs/uploads/`));
        assert.ok(proxy.log.some((e) => e.method === "PUT" && e.status === 201));
        assert.equal(
          await inspectDigest(reg.skopeoArgs(""), `${reg.host}/alice/img:v1`),
          img.image.manifestDigest,
        );

        // A monolithic upload by hand, body streamed through.
        const data = crypto.getRandomValues(new Uint8Array(5000));
        const digest = sha256Digest(data);
        const start = await fetch(`${proxy.url}/v2/alice/img/blobs/uploads/`, { method: "POST" });
        await start.body?.cancel();
        assert.equal(start.status, 202);
        const location = new URL(start.headers.get("location")!);
        assert.equal(location.origin, proxy.url);
        location.searchParams.set("digest", digest);
        const put = await fetch(location, {
          method: "PUT",
          body: data,
          headers: { "content-type": "application/octet-stream" },
        });
        await put.body?.cancel();
        assert.equal(put.status, 201);
        const direct = await reg.fetch(`/v2/alice/img/blobs/${digest}`);
        assert.deepEqual(new Uint8Array(await direct.arrayBuffer()), data);

        const blobUrl = `${proxy.url}/v2/alice/img/blobs/${img.layerDigest}`;
        // HEAD keeps Content-Length; Range passes through.
        const head = await fetch(blobUrl, { method: "HEAD" });
        assert.equal(head.status, 200);
        assert.equal(head.headers.get("content-length"), String(img.layer.length));
        assert.equal(head.headers.get("docker-content-digest"), img.layerDigest);
        const ranged = await fetch(blobUrl, { headers: { range: "bytes=10-19" } });
        assert.equal(ranged.status, 206);
        assert.equal(ranged.headers.get("content-range"), `bytes 10-19/${img.layer.length}`);
        assert.deepEqual(new Uint8Array(await ranged.arrayBuffer()), img.layer.slice(10, 20));

        // drop: the body stops after 1000 bytes and the connection is cut, once.
        const drop = proxy.addFault({
          match: blobGet(img.layerDigest),
          fault: { kind: "drop", afterBytes: 1000 },
          times: 1,
        });
        const cut = await fetch(blobUrl);
        assert.equal(cut.status, 200);
        assert.equal(cut.headers.get("content-length"), String(img.layer.length));
        const partial = await readAll(cut);
        assert.equal(partial.failed, true);
        assert.equal(partial.bytes.length, 1000);
        assert.deepEqual(partial.bytes, img.layer.slice(0, 1000));
        assert.equal(drop.hits, 1);
        assert.equal(proxy.log.at(-1)!.dropped, true);
        const whole = await readAll(await fetch(blobUrl));
        assert.equal(whole.failed, false);
        assert.equal(sha256Digest(whole.bytes), img.layerDigest);

        // tamper: same length, one byte flipped, wrong digest.
        proxy.addFault({ match: blobGet(), fault: { kind: "tamper" }, times: 1 });
        const bad = new Uint8Array(await (await fetch(blobUrl)).arrayBuffer());
        assert.equal(bad.length, img.layer.length);
        assert.notEqual(sha256Digest(bad), img.layerDigest);
        const diffs = bad.reduce((n, b, i) => n + (b !== img.layer[i] ? 1 : 0), 0);
        assert.equal(diffs, 1);
        assert.equal(bad[img.layer.length >> 1], img.layer[img.layer.length >> 1] ^ 0xff);

        // 429 with Retry-After for the first two, then through.
        const manifestUrl = `${proxy.url}/v2/alice/img/manifests/v1`;
        const accept = { headers: { accept: OCI_MANIFEST } };
        proxy.addFault({ match: manifestGet("v1"), fault: tooManyRequests(1), times: 2 });
        for (let i = 0; i < 2; i++) {
          const res = await fetch(manifestUrl, accept);
          assert.equal(res.status, 429);
          assert.equal(res.headers.get("retry-after"), "1");
          assert.equal((await res.json()).errors[0].code, "TOOMANYREQUESTS");
        }
        const ok = await fetch(manifestUrl, accept);
        assert.equal(ok.status, 200);
        assert.equal(
          sha256Digest(new Uint8Array(await ok.arrayBuffer())),
          img.image.manifestDigest,
        );

        // 500 once, then through; HEAD of a manifest is matched by method too.
        proxy.addFault({ match: { method: "HEAD", path: /\/manifests\// }, fault: serverError() });
        proxy.addFault({ match: manifestGet(), fault: serverError(), times: 1 });
        const failed = await fetch(manifestUrl, accept);
        await failed.body?.cancel();
        assert.equal(failed.status, 500);
        const again = await fetch(manifestUrl, accept);
        await again.body?.cancel();
        assert.equal(again.status, 200);
        const headFail = await fetch(manifestUrl, { ...accept, method: "HEAD" });
        assert.equal(headFail.status, 500);

        // The log saw it all, with faults marked and statuses as sent.
        const faults = proxy.log.map((e) => e.fault).filter(Boolean);
        assert.deepEqual(faults, ["drop", "tamper", "status", "status", "status", "status"]);
        assert.ok(proxy.log.some((e) => e.range === "bytes=10-19" && e.status === 206));
        proxy.clearFaults();
      } finally {
        await proxy.stop();
      }
    });
  });
});
