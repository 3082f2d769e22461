/**
 * ocibox against a registry that misbehaves: a fault proxy in front of docker-registry drops
 * the connection in the middle of a blob (the download resumes with a Range request and the
 * digest verifies), serves a tampered blob or manifest (refused; nothing appears at the
 * destination), answers 429 with Retry-After (honoured) and 500 once (retried), on pulls and on
 * pushes. Everything runs through the real command line.
 * @module
 */
import assert from "node:assert/strict";
import {
  blobGet,
  type FaultProxy,
  manifestGet,
  serverError,
  startFaultProxy,
  tooManyRequests,
  uploadPost,
} from "./support/fault_proxy.ts";
import { sha256Digest } from "./support/images.ts";
import { ocibox, ociboxOk, type OciboxResult } from "./support/ocibox_cli.ts";
import { peerTest, run } from "./support/peers.ts";
import { type Registry, withRegistry } from "./support/registry.ts";

const PEERS = { peers: ["docker-registry", "skopeo"] };
const REF_NAME = "org.opencontainers.image.ref.name";
const MIB = 1 << 20;

interface IndexJson {
  manifests: { digest: string; annotations?: Record<string, string> }[];
}

interface ManifestJson {
  config: { digest: string };
  layers: { digest: string; size: number }[];
}

/** What the tests pull and push: a layout with an image of one big and one small layer. */
interface Fixture {
  layout: string;
  digest: string;
  manifest: ManifestJson;
  /**
   * The big layer: 5 MiB of random bytes (gzip barely shrinks them), more than ocibox sends in
   * one PUT, so pushes use PATCH.
   */
  big: { digest: string; size: number };
}

/** One line on stderr starting `error: `, nothing on stdout, the given exit code. */
function assertOneLineError(r: OciboxResult, code: number, message: RegExp): void {
  const shown = `exit ${r.code}, stdout ${JSON.stringify(r.stdout)}, stderr ${
    JSON.stringify(r.stderr)
  }`;
  assert.equal(r.code, code, shown);
  assert.equal(r.stdout, "", shown);
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, shown);
  assert.match(lines[0], /^error: /, shown);
  assert.match(lines[0], message, shown);
}

async function tagDigest(layout: string, tag: string): Promise<string | undefined> {
  const index = JSON.parse(await Deno.readTextFile(`${layout}/index.json`)) as IndexJson;
  return index.manifests.find((m) => m.annotations?.[REF_NAME] === tag)?.digest;
}

/** Names of the layout's blobs; each is checked to hash to its name. */
async function layoutBlobs(layout: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(`${layout}/blobs/sha256`)) {
      const bytes = await Deno.readFile(`${layout}/blobs/sha256/${e.name}`);
      assert.equal(sha256Digest(bytes), `sha256:${e.name}`, `${layout}: blob ${e.name}`);
      out.push(`sha256:${e.name}`);
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return out.sort();
}

/**
 * Asserts a failed copy left no image at an oci: destination: no tag, no temporary file, and no
 * trace of the blob that failed (`refused`); blobs that arrived whole and verified before the
 * failure may stay (content-addressed and unreferenced, as skopeo leaves them too), and
 * {@linkcode layoutBlobs} checks that each of them hashes to its name.
 */
async function assertNoImage(layout: string, refused?: string): Promise<void> {
  try {
    const index = JSON.parse(await Deno.readTextFile(`${layout}/index.json`)) as IndexJson;
    assert.deepEqual(index.manifests, [], `${layout}: index.json lists images`);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const blobs = await layoutBlobs(layout);
  if (refused) assert.ok(!blobs.includes(refused), `${layout}: holds the refused ${refused}`);
  else assert.deepEqual(blobs, [], `${layout}: blobs left behind`);
  assert.deepEqual(await leftovers(layout), [], `${layout}: temporary files left behind`);
}

/** Paths under `dir` whose name says they are temporary. */
async function leftovers(dir: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (d: string) => {
    try {
      for await (const e of Deno.readDir(d)) {
        if (/^\.tmp|\.tmp$|\.partial$/.test(e.name)) found.push(`${d}/${e.name}`);
        if (e.isDirectory) await walk(`${d}/${e.name}`);
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  };
  await walk(dir);
  return found;
}

/** The proxy log entries for one blob's GETs, from `start` on. */
function blobGets(proxy: FaultProxy, start: number, digest: string) {
  return proxy.log.slice(start).filter((e) =>
    e.method === "GET" && e.path.endsWith(`/blobs/${digest}`)
  );
}

/** The status of a HEAD straight to the registry. */
async function headStatus(reg: Registry, path: string): Promise<number> {
  const res = await reg.fetch(path, {
    method: "HEAD",
    headers: { accept: "application/vnd.oci.image.manifest.v1+json" },
  });
  await res.body?.cancel();
  return res.status;
}

async function makeFixture(dir: string): Promise<Fixture> {
  await Deno.mkdir(`${dir}/big`);
  await Deno.mkdir(`${dir}/small`);
  const data = new Uint8Array(5 * MIB);
  for (let off = 0; off < data.length; off += 65536) {
    crypto.getRandomValues(data.subarray(off, off + 65536));
  }
  await Deno.writeFile(`${dir}/big/random.bin`, data);
  await Deno.writeTextFile(`${dir}/small/hello.txt`, "hello\n");
  const layout = `${dir}/src`;
  await ociboxOk([
    "append",
    "-q",
    "--layer",
    `${dir}/big`,
    "--layer",
    `${dir}/small`,
    `oci:${layout}:v1`,
  ]);
  const digest = (await tagDigest(layout, "v1"))!;
  const manifest = JSON.parse(
    await Deno.readTextFile(`${layout}/blobs/sha256/${digest.slice(7)}`),
  ) as ManifestJson;
  const big = manifest.layers[0];
  assert.ok(big.size > 4 * MIB, `the big layer is ${big.size} bytes`);
  return { layout, digest, manifest, big: { digest: big.digest, size: big.size } };
}

peerTest(
  "registry faults: drops, tampering, 429 and 500 through a fault proxy",
  PEERS,
  async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "ocibox-reg-faults-" });
    try {
      const fx = await makeFixture(dir);
      await withRegistry("plain", async (reg) => {
        const proxy = await startFaultProxy(reg);
        try {
          await ociboxOk(["copy", "-q", `oci:${fx.layout}:v1`, `docker://${reg.host}/f/app:v1`]);
          await faultSteps(t, dir, reg, proxy, fx);
        } finally {
          await proxy.stop();
        }
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

async function faultSteps(
  t: Deno.TestContext,
  dir: string,
  reg: Registry,
  proxy: FaultProxy,
  fx: Fixture,
): Promise<void> {
  const image = `docker://${proxy.host}/f/app:v1`;
  const expected = await layoutBlobs(fx.layout);

  await t.step(
    "a connection dropped mid-blob resumes with Range; the digest verifies",
    async () => {
      const start = proxy.log.length;
      const fault = proxy.addFault({
        match: blobGet(fx.big.digest),
        fault: { kind: "drop", afterBytes: MIB },
        times: 1,
      });
      await ociboxOk(["copy", "-q", image, `oci:${dir}/drop1:v1`]);
      fault.remove();
      assert.equal(fault.hits, 1);
      const gets = blobGets(proxy, start, fx.big.digest);
      assert.equal(gets.length, 2, JSON.stringify(gets));
      assert.ok(gets[0].dropped && gets[0].bytes === MIB, JSON.stringify(gets[0]));
      assert.equal(gets[1].range, `bytes=${MIB}-`);
      assert.equal(gets[1].status, 206);
      assert.equal(gets[1].bytes, fx.big.size - MIB);
      assert.equal(await tagDigest(`${dir}/drop1`, "v1"), fx.digest);
      assert.deepEqual(await layoutBlobs(`${dir}/drop1`), expected);
    },
  );

  await t.step("two drops in a row: each resume starts where the last one stopped", async () => {
    const start = proxy.log.length;
    const fault = proxy.addFault({
      match: blobGet(fx.big.digest),
      fault: { kind: "drop", afterBytes: 700_000 },
      times: 2,
    });
    await ociboxOk(["copy", "-q", image, `oci:${dir}/drop2:v1`]);
    fault.remove();
    const gets = blobGets(proxy, start, fx.big.digest);
    assert.deepEqual(gets.map((g) => [g.range, g.status, g.dropped]), [
      [undefined, 200, true],
      ["bytes=700000-", 206, true],
      ["bytes=1400000-", 206, false],
    ]);
    assert.deepEqual(await layoutBlobs(`${dir}/drop2`), expected);
  });

  await t.step("a tampered blob is refused and nothing is left at the destination", async () => {
    const fault = proxy.addFault({ match: blobGet(fx.big.digest), fault: { kind: "tamper" } });
    try {
      // Into a new layout.
      const r = await ocibox(["copy", "-q", image, `oci:${dir}/tampered:v1`]);
      assertOneLineError(r, 1, new RegExp(`digest mismatch: expected ${fx.big.digest}`));
      await assertNoImage(`${dir}/tampered`, fx.big.digest);

      // Into a layout that holds another image: its index.json and blobs stay as they were.
      const existing = `${dir}/existing`;
      await Deno.mkdir(`${dir}/other`);
      await Deno.writeTextFile(`${dir}/other/other.txt`, "another image\n");
      await ociboxOk(["append", "-q", "--layer", `${dir}/other`, `oci:${existing}:old`]);
      const indexBefore = await Deno.readFile(`${existing}/index.json`);
      const blobsBefore = await layoutBlobs(existing);
      assertOneLineError(
        await ocibox(["copy", "-q", image, `oci:${existing}:new`]),
        1,
        /digest mismatch/,
      );
      assert.deepEqual(await Deno.readFile(`${existing}/index.json`), indexBefore);
      const blobsAfter = await layoutBlobs(existing);
      assert.ok(blobsBefore.every((d) => blobsAfter.includes(d)), "a blob of the old image went");
      assert.ok(!blobsAfter.includes(fx.big.digest), "the tampered blob is in the layout");
      assert.ok(!blobsAfter.includes(fx.digest), "the new manifest is in the layout");
      assert.deepEqual(await leftovers(existing), []);

      // Registry to registry (another host, so no mount): no tag, no tampered blob.
      assertOneLineError(
        await ocibox(["copy", "-q", image, `docker://${reg.host}/g/app:v1`]),
        1,
        /digest mismatch/,
      );
      assert.equal(await headStatus(reg, "/v2/g/app/manifests/v1"), 404);
      assert.equal(await headStatus(reg, `/v2/g/app/blobs/${fx.big.digest}`), 404);
      const tags = await reg.fetch("/v2/g/app/tags/list");
      await tags.body?.cancel();
      assert.equal(tags.status, 404);
    } finally {
      fault.remove();
    }
  });

  await t.step("a tampered manifest is refused", async () => {
    const fault = proxy.addFault({ match: manifestGet("v1"), fault: { kind: "tamper" } });
    try {
      assertOneLineError(
        await ocibox(["copy", "-q", image, `oci:${dir}/tampered-manifest:v1`]),
        1,
        new RegExp(`digest mismatch: expected ${fx.digest}`),
      );
      await assertNoImage(`${dir}/tampered-manifest`);
      assertOneLineError(await ocibox(["inspect", image]), 1, /digest mismatch/);
    } finally {
      fault.remove();
    }
  });

  await t.step("429 with Retry-After: 1 is waited out, then the pull goes on", async () => {
    const start = proxy.log.length;
    proxy.addFault({ match: manifestGet("v1"), fault: tooManyRequests(1), times: 1 });
    proxy.addFault({
      match: blobGet(fx.manifest.config.digest),
      fault: tooManyRequests(1),
      times: 1,
    });
    await ociboxOk(["copy", "-q", image, `oci:${dir}/throttled:v1`]);
    proxy.clearFaults();
    const log = proxy.log.slice(start);
    for (const suffix of ["/manifests/v1", `/blobs/${fx.manifest.config.digest}`]) {
      const tries = log.filter((e) => e.method === "GET" && e.path.endsWith(suffix));
      assert.deepEqual(tries.map((e) => e.status), [429, 200], suffix);
      const waited = tries[1].time - tries[0].time;
      assert.ok(waited >= 950, `${suffix}: retried after ${waited} ms, not Retry-After's 1 s`);
      assert.ok(waited < 5000, `${suffix}: retried after ${waited} ms`);
    }
    assert.deepEqual(await layoutBlobs(`${dir}/throttled`), expected);
  });

  await t.step("500 once on a pull (manifest, blob): retried and the copy succeeds", async () => {
    const start = proxy.log.length;
    proxy.addFault({ match: manifestGet("v1"), fault: serverError(500), times: 1 });
    proxy.addFault({ match: blobGet(fx.big.digest), fault: serverError(503), times: 1 });
    await ociboxOk(["copy", "-q", image, `oci:${dir}/flaky:v1`]);
    proxy.clearFaults();
    const log = proxy.log.slice(start);
    const manifests = log.filter((e) => e.method === "GET" && e.path.endsWith("/manifests/v1"));
    assert.deepEqual(manifests.map((e) => e.status), [500, 200]);
    assert.deepEqual(blobGets(proxy, start, fx.big.digest).map((e) => e.status), [503, 200]);
    assert.equal(await tagDigest(`${dir}/flaky`, "v1"), fx.digest);
    assert.deepEqual(await layoutBlobs(`${dir}/flaky`), expected);
  });

  await t.step("500 once on a push (upload POST, PATCH, manifest PUT): retried", async () => {
    const start = proxy.log.length;
    proxy.addFault({ match: uploadPost(), fault: serverError(500), times: 1 });
    proxy.addFault({ match: { method: "PATCH" }, fault: serverError(502), times: 1 });
    proxy.addFault({
      match: { method: "PUT", path: "/v2/pushed/app/manifests/v1" },
      fault: serverError(500),
      times: 1,
    });
    await ociboxOk(["copy", "-q", `oci:${fx.layout}:v1`, `docker://${proxy.host}/pushed/app:v1`]);
    proxy.clearFaults();
    const log = proxy.log.slice(start);
    const statuses = (method: string) =>
      log.filter((e) => e.method === method).map((e) => e.status);
    assert.equal(statuses("POST")[0], 500);
    assert.deepEqual(statuses("PATCH").slice(0, 2), [502, 202]);
    assert.deepEqual(
      log.filter((e) => e.method === "PUT" && e.path.includes("/manifests/")).map((e) => e.status),
      [500, 201],
    );
    const info = JSON.parse(
      await run("skopeo", [
        "inspect",
        "--tls-verify=false",
        `docker://${reg.host}/pushed/app:v1`,
      ]),
    );
    assert.equal(info.Digest, fx.digest);
    await ociboxOk(["copy", "-q", `docker://${reg.host}/pushed/app:v1`, `oci:${dir}/pushed:v1`]);
    assert.deepEqual(await layoutBlobs(`${dir}/pushed`), expected);
  });
}
