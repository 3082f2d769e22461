/**
 * The command line against a registry that means harm (a fake one on 127.0.0.1, so no peers
 * are needed): a pagination Link that loops or never ends, a blob body that stops halfway,
 * and text with terminal escape sequences in error messages, challenges and tag lists. Each
 * run must end within its time and heap limits with one `error:` line that a terminal shows
 * as it is written.
 * @module
 */
import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import { hasUnsafeText } from "../lib/report/safe_text.ts";
import {
  type HostileRegistry,
  hostileRegistry,
  type LimitedRun,
  ociboxWithin,
  type RawAnswer,
} from "./support/hostile_registry.ts";

/**
 * Exit 1 in time, nothing on stdout, and on stderr one `error:` line matching `message`, last,
 * after nothing but copy's `warning: retrying` lines; all of it safe to show on a terminal.
 */
function assertOneSafeError(r: LimitedRun, message: RegExp, maxMs: number): void {
  const shown = `exit ${r.code}${r.timedOut ? " (killed at the time limit)" : ""} after ${
    Math.round(r.ms)
  } ms, stdout ${JSON.stringify(r.stdout.slice(0, 200))}, stderr ${
    JSON.stringify(r.stderr.slice(0, 2000))
  }`;
  assert.equal(r.timedOut, false, shown);
  assert.equal(r.code, 1, shown);
  assert.equal(r.stdout, "", shown);
  const lines = r.stderr.trimEnd().split("\n");
  const last = lines.pop()!;
  assert.match(last, /^error: /, shown);
  assert.match(last, message, shown);
  for (const line of lines) assert.match(line, /^warning: retrying after: /, shown);
  for (const line of [...lines, last]) assert.ok(!hasUnsafeText(line), shown);
  assert.ok(r.ms < maxMs, shown);
}

async function withRegistry(
  answer: Parameters<typeof hostileRegistry>[0],
  fn: (reg: HostileRegistry) => Promise<void>,
): Promise<void> {
  const reg = hostileRegistry(answer);
  try {
    await fn(reg);
  } finally {
    await reg.close();
  }
}

const isTags = (path: string) => path.startsWith("/v2/app/tags/list");

Deno.test("hostile registry: a tags/list Link back to itself ends list-tags and inspect at once", async () => {
  // Before the fix this ran until the heap limit (or the time limit) stopped it.
  await withRegistry(
    (req) =>
      isTags(req.path)
        ? {
          status: 200,
          headers: { Link: `<${req.path}>; rel="next"` },
          body: JSON.stringify({ tags: Array.from({ length: 1000 }, (_, i) => `t${i}`) }),
        }
        : undefined,
    async (reg) => {
      for (const args of [["list-tags"], ["inspect"]]) {
        const ref = args[0] === "list-tags" ? "app" : "app:latest";
        const r = await ociboxWithin([...args, `docker://${reg.host}/${ref}`], { seconds: 30 });
        assertOneSafeError(
          r,
          new RegExp(
            `^error: registry ${reg.host}: GET /v2/app/tags/list: the next-page link of page 1 ` +
              `leads back to a page already read \\(http://${reg.host}/v2/app/tags/list\\); stopped$`,
          ),
          15_000,
        );
      }
      assert.equal(reg.requests.filter((q) => isTags(q.path)).length, 2);
    },
  );
});

Deno.test("hostile registry: a listing whose every page links to a new one stops at the caps", async () => {
  // Every page a new URL: no page repeats, so only the caps stop it. Full pages reach the
  // entry cap in 11 requests; empty ones the page cap.
  const page = (n: number, size: number): RawAnswer => ({
    status: 200,
    headers: { Link: `</v2/app/tags/list?last=p${n}>; rel="next"` },
    body: JSON.stringify({ tags: Array.from({ length: size }, (_, i) => `p${n}-${i}`) }),
  });
  let full = 0;
  await withRegistry((req) => isTags(req.path) ? page(++full, 100_000) : undefined, async (reg) => {
    const r = await ociboxWithin(["list-tags", `docker://${reg.host}/app`], { seconds: 60 });
    assertOneSafeError(
      r,
      /GET \/v2\/app\/tags\/list: more than 1000000 tags; stopped \(ocibox reads at most 1000000 tags in 10000 pages\)$/,
      45_000,
    );
    assert.equal(full, 11);
  });
  let empty = 0;
  await withRegistry((req) => isTags(req.path) ? page(++empty, 0) : undefined, async (reg) => {
    const r = await ociboxWithin(["list-tags", `docker://${reg.host}/app`], { seconds: 60 });
    assertOneSafeError(
      r,
      /GET \/v2\/app\/tags\/list: more than 10000 pages; stopped \(ocibox reads at most 10000 pages and 1000000 tags\)$/,
      45_000,
    );
    assert.equal(empty, 10_000);
  });
});

Deno.test("hostile registry: a layer that stalls halfway is resumed with Range", async () => {
  await withRegistry(
    (req, image) =>
      req.path.endsWith(image.layerDigest) && !req.headers.has("range")
        ? { status: 200, body: image.layer, stallAfter: 200_000 }
        : undefined,
    async (reg) => {
      const dir = await Deno.makeTempDir({ prefix: "ocibox-hostile-" });
      try {
        const r = await ociboxWithin(
          ["copy", "-q", `docker://${reg.host}/app:latest`, `oci:${dir}:latest`],
          { seconds: 30, env: { OCIBOX_BODY_TIMEOUT_MS: "500" } },
        );
        assert.equal(r.timedOut, false, r.stderr);
        assert.equal(r.code, 0, r.stderr);
        assert.ok(r.ms < 15_000, `${r.ms} ms`);
        // The layout holds the layer gzipped (as skopeo writes it): the same tar inside.
        const blob = (digest: string) => Deno.readFile(`${dir}/blobs/sha256/${digest.slice(7)}`);
        const index = JSON.parse(await Deno.readTextFile(`${dir}/index.json`));
        const manifest = JSON.parse(
          new TextDecoder().decode(await blob(index.manifests[0].digest)),
        );
        const layer = await blob(manifest.layers[0].digest);
        assert.deepEqual(new Uint8Array(gunzipSync(layer)), reg.image.layer);
        const ranges = reg.requests.filter((q) => q.path.endsWith(reg.image.layerDigest))
          .map((q) => q.headers.get("range"));
        assert.deepEqual(ranges, [null, "bytes=200000-"]);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  );
});

Deno.test("hostile registry: a layer that always stalls is reported after the resumes", async () => {
  // Before the fix the copy waited on the silent registry until the time limit killed it.
  await withRegistry(
    (req, image) =>
      req.path.endsWith(image.layerDigest)
        ? { status: req.headers.has("range") ? 206 : 200, body: image.layer, stallAfter: 1000 }
        : undefined,
    async (reg) => {
      const dir = await Deno.makeTempDir({ prefix: "ocibox-hostile-" });
      try {
        const r = await ociboxWithin(
          ["copy", "-q", `docker://${reg.host}/app:latest`, `oci:${dir}:latest`],
          { seconds: 40, env: { OCIBOX_BODY_TIMEOUT_MS: "500" } },
        );
        assertOneSafeError(
          r,
          new RegExp(
            `http://${reg.host}/v2/app/blobs/${reg.image.layerDigest}: no data for 0\\.5 s ` +
              `in the body \\(gave up after 5 resumes\\)$`,
          ),
          25_000,
        );
        // Nothing of the image was published at the destination.
        const index = await Deno.readTextFile(`${dir}/index.json`).catch(() => "");
        assert.ok(!index.includes(reg.image.manifestDigest), index);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  );
});

/** Escape sequences that would clear the screen, fake a line, reorder text, or open a link. */
const NASTY = "\x1b[2J\x1b[H\rerror: all good\x1b]8;;http://x\x07\u202egnp\x9b31m";

Deno.test("hostile registry: escape sequences in registry messages are quoted in one line", async () => {
  const cases: { answer: (path: string) => RawAnswer | undefined; args: string[]; want: RegExp }[] =
    [
      {
        // The spec's error JSON, code and message.
        answer: (path) =>
          path === "/v2/app/manifests/latest"
            ? {
              status: 404,
              body: JSON.stringify({ errors: [{ code: "MANIFEST_UNKNOWN", message: NASTY }] }),
            }
            : undefined,
        args: ["inspect", "app:latest"],
        want:
          /404 MANIFEST_UNKNOWN: "\\x1b\[2J\\x1b\[H\\rerror: all good\\x1b\]8;;http:\/\/x\\x07\\u202egnp\\x9b31m"$/,
      },
      {
        // A body that is not JSON: its first line.
        answer: (path) =>
          path === "/v2/app/manifests/latest" ? { status: 500, body: `${NASTY}\nmore` } : undefined,
        args: ["inspect", "app:latest"],
        want: /500 Internal Server Error: "\\x1b\[2J/,
      },
      {
        // A Bearer challenge whose realm cannot be used (header text arrives as latin1).
        answer: (path) =>
          path === "/v2/app/manifests/latest"
            ? {
              status: 401,
              headers: { "Www-Authenticate": 'Bearer realm="ftp://\x1b[2J\x1b]0;owned\x07"' },
            }
            : undefined,
        args: ["inspect", "app:latest"],
        want: /has no usable realm \("ftp:\/\/\\x1b\[2J\\x1b\]0;owned\\x07"\)$/,
      },
      {
        // A tag list entry.
        answer: (path) =>
          isTags(path) ? { status: 200, body: JSON.stringify({ tags: ["v1", NASTY] }) } : undefined,
        args: ["list-tags", "app"],
        want: /entry "\\x1b\[2J\\x1b\[H\\rerror: all good.*" is not a name/,
      },
    ];
  for (const c of cases) {
    await withRegistry((req) => c.answer(req.path), async (reg) => {
      const last = c.args.length - 1;
      const args = [...c.args.slice(0, last), `docker://${reg.host}/${c.args[last]}`];
      const r = await ociboxWithin(args, { seconds: 60 });
      assertOneSafeError(r, c.want, 45_000);
    });
  }
});
