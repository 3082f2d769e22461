import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import { UsageError } from "../../errors.ts";
import {
  checkUpstreams,
  DEFAULT_TAG_TTL_MS,
  parseProxyFlag,
  parseUpstreamUrl,
  routeRepository,
  upstreamSettings,
} from "./proxy_settings.ts";

Deno.test("parseProxyFlag: NAME=UPSTREAM; anything else is a usage error", () => {
  deepStrictEqual(parseProxyFlag("docker.io=https://registry-1.docker.io"), {
    name: "docker.io",
    upstream: "https://registry-1.docker.io",
  });
  for (const bad of ["docker.io", "=https://x", "docker.io=", ""]) {
    throws(() => parseProxyFlag(bad), UsageError);
  }
});

Deno.test("parseUpstreamUrl: origins only; a bare host means https", () => {
  strictEqual(parseUpstreamUrl("ghcr.io").href, "https://ghcr.io/");
  strictEqual(parseUpstreamUrl("http://127.0.0.1:5000").href, "http://127.0.0.1:5000/");
  strictEqual(parseUpstreamUrl("https://quay.io/v2/").href, "https://quay.io/");
  for (const bad of ["ftp://x", "https://x/prefix", "https://u:p@x", "https://x/?a=1", "http://"]) {
    throws(() => parseUpstreamUrl(bad), UsageError, bad);
  }
});

Deno.test("upstreamSettings: Docker Hub is docker.io for credentials and gets library/", () => {
  const hub = upstreamSettings({ name: "docker.io", upstream: "https://registry-1.docker.io" });
  strictEqual(hub.sessionHost, "docker.io");
  strictEqual(hub.officialPrefix, true);
  strictEqual(hub.allowHttp, false);
  strictEqual(hub.tagTtlMs, DEFAULT_TAG_TTL_MS);
  const local = upstreamSettings({ name: "local", upstream: "http://127.0.0.1:5000" }, {
    tagTtlMs: 1000,
    authFile: "/a.json",
  });
  strictEqual(local.sessionHost, "127.0.0.1:5000");
  strictEqual(local.officialPrefix, false);
  strictEqual(local.allowHttp, true);
  strictEqual(local.tagTtlMs, 1000);
  strictEqual(local.authFile, "/a.json");
  // A NAME of docker.io in front of a mirror of Docker Hub keeps library/.
  strictEqual(
    upstreamSettings({ name: "docker.io", upstream: "http://127.0.0.1:5001" }).officialPrefix,
    true,
  );
});

Deno.test("upstreamSettings: config keys, checked", () => {
  const s = upstreamSettings(
    {
      name: "ghcr.io",
      upstream: "https://ghcr.io",
      tagTtl: "1m",
      timeout: 5,
      username: "u",
      password: "p",
      tlsVerify: false,
      certDir: "/certs",
    },
    {},
    0,
  );
  strictEqual(s.tagTtlMs, 60_000);
  strictEqual(s.timeoutMs, 5000);
  deepStrictEqual(s.credentials, { username: "u", password: "p" });
  strictEqual(s.allowHttp, true);
  strictEqual(s.certDir, "/certs");
  throws(
    () => upstreamSettings({ name: "x", upstream: "https://x", username: "u" }, {}, 2),
    /proxy\[2\]: username and password go together/,
  );
  throws(() => upstreamSettings({ name: "x", upstream: "https://x", tagTtl: true }), UsageError);
  throws(() => upstreamSettings({ name: "X", upstream: "https://x" }), /repository name prefix/);
  throws(() => upstreamSettings({ name: "a:5000", upstream: "https://x" }), UsageError);
});

Deno.test("checkUpstreams: a NAME given twice is refused", () => {
  throws(
    () =>
      checkUpstreams([{ name: "a", upstream: "https://a" }, { name: "a", upstream: "https://b" }]),
    /NAME a is given twice/,
  );
});

Deno.test("routeRepository: the longest whole-component NAME wins", () => {
  const ups = checkUpstreams([
    { name: "docker.io", upstream: "https://registry-1.docker.io" },
    { name: "mirror", upstream: "https://a.example" },
    { name: "mirror/special", upstream: "https://b.example" },
  ]);
  const r = (repo: string) => {
    const x = routeRepository(ups, repo);
    return x && `${x.upstream.url.host} ${x.remote}`;
  };
  strictEqual(r("docker.io/busybox"), "registry-1.docker.io library/busybox");
  strictEqual(r("docker.io/library/busybox"), "registry-1.docker.io library/busybox");
  strictEqual(r("docker.io/bitnami/redis"), "registry-1.docker.io bitnami/redis");
  strictEqual(r("mirror/app"), "a.example app");
  strictEqual(r("mirror/special/app"), "b.example app");
  strictEqual(r("mirror/specialist"), "a.example specialist");
  strictEqual(r("docker.io"), undefined);
  strictEqual(r("docker.iox/busybox"), undefined);
  strictEqual(r("mine/app"), undefined);
});
