import assert from "node:assert/strict";
import { checkUploads, compareLayouts, parseAccessLog } from "./registry_bench.ts";
import { registryCells, registryRowOf, renderRegistryMarkdown } from "./registry_report.ts";
import type { RegistryResult } from "./registry_bench.ts";
import type { Sample } from "./measure.ts";

const D1 = "sha256:" + "1".repeat(64);
const D2 = "sha256:" + "2".repeat(64);

function state(offset: number): string {
  const json = JSON.stringify({ Name: "bench/x", UUID: "u", Offset: offset, StartedAt: "t" });
  const raw = "\x7b".repeat(32) + json; // an HMAC that happens to contain "{"
  return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_");
}

const LOG = [
  `time="2026-01-01T00:00:00Z" level=info msg="response completed" http.request.method=PUT ` +
  `http.request.uri="/v2/bench/x/blobs/uploads/u?digest=${D2}"`,
  `127.0.0.1 - - [01/Jan/2026:00:00:00 +0000] "GET /v2/ HTTP/1.1" 200 2 "" "Deno/2.9.6"`,
  `127.0.0.1 - - [01/Jan/2026:00:00:00 +0000] "HEAD /v2/bench/x/blobs/${D1} HTTP/1.1" 404 157 ` +
  `"" "skopeo/1.9.3"`,
  `127.0.0.1 - - [01/Jan/2026:00:00:00 +0000] "POST /v2/bench/x/blobs/uploads/ HTTP/1.1" 202 0 ` +
  `"" "skopeo/1.9.3"`,
  `127.0.0.1 - - [01/Jan/2026:00:00:00 +0000] "PATCH /v2/bench/x/blobs/uploads/u?_state=${
    state(0)
  } HTTP/1.1" 202 0 "" "skopeo/1.9.3"`,
  `127.0.0.1 - - [01/Jan/2026:00:00:00 +0000] "PUT /v2/bench/x/blobs/uploads/u?_state=${
    state(1234)
  }&digest=${encodeURIComponent(D1)} HTTP/1.1" 201 0 "" "skopeo/1.9.3"`,
  `127.0.0.1 - - [01/Jan/2026:00:00:00 +0000] "POST /v2/bench/x/blobs/uploads/?from=bench%2Fy&` +
  `mount=${encodeURIComponent(D2)} HTTP/1.1" 201 0 "" "skopeo/1.9.3"`,
  `127.0.0.1 - - [01/Jan/2026:00:00:00 +0000] "PUT /v2/bench/other/blobs/uploads/v?digest=${D2} ` +
  `HTTP/1.1" 201 0 "" "skopeo/1.9.3"`,
].join("\n");

Deno.test("parseAccessLog: access lines only, logrus lines skipped", () => {
  const lines = parseAccessLog(LOG);
  assert.equal(lines.length, 7);
  assert.deepEqual(lines[0], { method: "GET", uri: "/v2/", status: 200, userAgent: "Deno/2.9.6" });
});

Deno.test("checkUploads: committed uploads, mounts, requests and PATCHed bytes", () => {
  const c = checkUploads(parseAccessLog(LOG), "bench/x", [D1, D2]);
  assert.deepEqual(c.missing, [D2]); // D2 went into another repository, or was mounted
  assert.deepEqual(c.mounted, [D2]);
  assert.deepEqual(c.requests, { HEAD: 1, POST: 2, PATCH: 1, PUT: 1 });
  assert.deepEqual(c.patchedBytes, { [D1]: 1234 });
});

Deno.test("compareLayouts: same blobs pass, a changed blob and another tag fail", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const enc = new TextEncoder();
    const blob = enc.encode("hello\n");
    const hex = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
    const manifest = `sha256:${hex}`;
    const index = (tag: string) =>
      JSON.stringify({
        schemaVersion: 2,
        manifests: [{
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          digest: manifest,
          size: blob.length,
          annotations: { "org.opencontainers.image.ref.name": tag },
        }],
      });
    for (const who of ["a", "b"]) {
      await Deno.mkdir(`${dir}/${who}/blobs/sha256`, { recursive: true });
      await Deno.writeFile(`${dir}/${who}/blobs/sha256/${hex}`, blob);
      await Deno.writeTextFile(`${dir}/${who}/index.json`, index("t"));
      await Deno.writeTextFile(`${dir}/${who}/oci-layout`, `{"imageLayoutVersion":"1.0.0"}`);
    }
    const ok = await compareLayouts(`${dir}/a`, `${dir}/b`, "t", manifest);
    assert.deepEqual(ok.differences, []);
    assert.equal(ok.blobs, 1);
    await Deno.writeFile(`${dir}/b/blobs/sha256/${hex}`, enc.encode("hellO\n"));
    await Deno.writeTextFile(`${dir}/b/index.json`, index("u"));
    const bad = await compareLayouts(`${dir}/a`, `${dir}/b`, "t", manifest);
    assert.equal(bad.differences.length, 2, bad.differences.join("\n"));
    assert.match(bad.differences[0], /hashes to sha256:/);
    assert.match(bad.differences[1], /has 0 manifests tagged t/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const s = (wallS: number, rssMb = 10): Sample => ({
  wallS,
  peakRssKb: rssMb * 1024,
  userS: 0,
  sysS: 0,
});

function result(fixture: string, push: number[][], pull: number[][], rss = 10): RegistryResult {
  const tools = (t: number[][]) => ({
    ocibox: t[0].map((x) => s(x, rss)),
    skopeo: t[1].map((x) => s(x)),
    curl: t[2].map((x) => s(x)),
  });
  return {
    fixture,
    summary: "test",
    samples: { push: tools(push), pull: tools(pull) },
    errors: {},
    uploads: "ok",
    verified: "ok",
    requests: {},
  };
}

Deno.test("registryRowOf/registryCells: medians, ratios, floor and RSS verdicts", () => {
  const r = result("big-file", [[1, 5, 1.6], [2, 2, 2], [1, 1, 1]], [[3], [2], [1]], 250);
  assert.deepEqual(registryCells(registryRowOf(r, "push")), [
    "big-file",
    "push",
    "1.60",
    "2.00",
    "0.80 PASS",
    "1.00",
    "0.50",
    "250 FAIL",
    "10",
  ]);
  assert.equal(registryCells(registryRowOf(r, "pull"))[4], "1.50 FAIL");
  const small = result("many-files", [[1], [2], [1]], [[1], [2], [1]], 250);
  assert.equal(registryCells(registryRowOf(small, "push"))[7], "250");
  small.errors.pull = "error: boom";
  assert.deepEqual(registryCells(registryRowOf(small, "pull")).slice(2, 5), [
    "ERROR",
    "2.00",
    "FAIL",
  ]);
});

Deno.test("renderRegistryMarkdown: a row per fixture and direction", () => {
  const md = renderRegistryMarkdown(
    [result("many-files", [[1], [2], [0.5]], [[1], [1], [0.5]])],
    { runs: 1, rssMethod: "gnu-time", date: "2025-01-01" },
  );
  assert.match(
    md,
    /\| many-files \| push \| 1\.00 \| 2\.00 \| 0\.50 PASS \| 0\.50 \| 0\.25 \| 10 \| 10 \|/,
  );
  assert.match(md, /\| many-files \| pull \| 1\.00 \| 1\.00 \| 1\.00 FAIL \|/);
});
