import assert from "node:assert/strict";
import { catalog, LIST_LIMITS, RepositoryClient } from "./client.ts";
import { RegistrySession } from "./session.ts";
import { digestOf } from "../digest/digester.ts";
import { InvalidImageError, LimitExceededError, NetworkError, RegistryError } from "../errors.ts";
import { readAllBytes } from "../io/file_stream.ts";
import { rawRegistry } from "./registry_test_util.ts";
import { stall, writeAll } from "../http/http_test_util.ts";
import { hasUnsafeText } from "../report/safe_text.ts";

const SUBJECT = "sha256:" + "a".repeat(64);

/** A registry that has the referrers API (docker-registry 2.8 does not). */
function referrersServer(seen: string[]) {
  const index = {
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [
      {
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        digest: "sha256:" + "b".repeat(64),
        size: 10,
        artifactType: "application/vnd.example.sbom",
      },
      {
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        digest: "sha256:" + "c".repeat(64),
        size: 11,
        artifactType: "application/vnd.example.sig",
      },
    ],
  };
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const url = new URL(req.url);
    seen.push(url.pathname + url.search);
    if (url.pathname === "/v2/") return new Response("{}");
    if (url.pathname === `/v2/app/referrers/${SUBJECT}`) {
      return new Response(JSON.stringify(index), {
        headers: { "content-type": "application/vnd.oci.image.index.v1+json" },
      });
    }
    return new Response("{}", { status: 404 });
  });
}

Deno.test("referrers: the API when the registry has it, filtered by artifactType", async () => {
  const seen: string[] = [];
  const server = referrersServer(seen);
  const session = new RegistrySession({
    host: `127.0.0.1:${server.addr.port}`,
    env: () => undefined,
  });
  try {
    const client = new RepositoryClient(session, "app");
    const all = await client.referrers(SUBJECT);
    assert.deepEqual(all.map((d) => d.artifactType), [
      "application/vnd.example.sbom",
      "application/vnd.example.sig",
    ]);
    const sigs = await client.referrers(SUBJECT, "application/vnd.example.sig");
    assert.equal(sigs.length, 1);
    // No fallback to the tag schema was needed.
    assert.ok(!seen.some((p) => p.includes("/manifests/sha256-")), seen.join(" "));
  } finally {
    session.close();
    await server.shutdown();
  }
});

Deno.test("manifest GET verifies the bytes against Docker-Content-Digest", async () => {
  const body = new TextEncoder().encode('{"schemaVersion":2,"manifests":[]}');
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const url = new URL(req.url);
    if (url.pathname === "/v2/") return new Response("{}");
    return new Response(body, {
      headers: {
        "content-type": "application/vnd.oci.image.index.v1+json",
        // A lying registry (or a tampering proxy): the announced digest is not the bytes'.
        "docker-content-digest": url.pathname.endsWith("/lies") ? SUBJECT : digestOf(body),
      },
    });
  });
  const session = new RegistrySession({
    host: `127.0.0.1:${server.addr.port}`,
    env: () => undefined,
  });
  try {
    const client = new RepositoryClient(session, "app");
    const ok = await client.getManifest("good");
    assert.equal(ok.digest, digestOf(body));
    await assert.rejects(client.getManifest("lies"), /digest mismatch/);
    await assert.rejects(client.getManifest(SUBJECT), /digest mismatch/);
  } finally {
    session.close();
    await server.shutdown();
  }
});

/** A session with the registry `server` serves, and a repository client for `app`. */
function clientFor(server: Deno.HttpServer<Deno.NetAddr>, bodyTimeoutMs?: number) {
  const session = new RegistrySession({
    host: `127.0.0.1:${server.addr.port}`,
    env: () => undefined,
    bodyTimeoutMs,
  });
  return { session, client: new RepositoryClient(session, "app") };
}

/** Serves tag pages from `page(url, count)`; `count` is 1 for the first request. */
function tagServer(page: (url: URL, count: number) => Response) {
  let count = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const url = new URL(req.url);
    if (url.pathname === "/v2/") return new Response("{}");
    return page(url, ++count);
  });
  return { server, requests: () => count };
}

function tagPage(tags: unknown, link?: string): Response {
  return new Response(JSON.stringify({ name: "app", tags }), {
    headers: link ? { link: `<${link}>; rel="next"` } : {},
  });
}

async function collect(gen: AsyncGenerator<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const x of gen) out.push(x);
  return out;
}

Deno.test("listTags: a next-page Link back to a page already read stops at once", async () => {
  // Before the fix this looped (and grew) for ever; the server gives up linking after 100
  // pages so that a regression fails instead of hanging.
  const self = tagServer((url, n) =>
    tagPage(["a", "b"], n < 100 ? url.pathname + url.search : undefined)
  );
  const cycle = tagServer((url, n) => {
    const next = url.searchParams.get("p") === "1" ? "?p=2" : "?p=1";
    return tagPage([`t${n}`], n < 100 ? `/v2/app/tags/list${next}` : undefined);
  });
  const a = clientFor(self.server);
  const b = clientFor(cycle.server);
  try {
    await assert.rejects(
      collect(a.client.listTags()),
      (e) =>
        e instanceof LimitExceededError && e.limit === undefined &&
        e.message ===
          `registry ${a.session.host}: GET /v2/app/tags/list: the next-page link of page 1 leads ` +
            `back to a page already read (http://${a.session.host}/v2/app/tags/list); stopped`,
    );
    assert.equal(self.requests(), 1);
    await assert.rejects(
      collect(b.client.listTags({ n: 1 })),
      (e) => e instanceof LimitExceededError && /page 3 leads back .*\?p=1\)/.test(e.message),
    );
    assert.equal(cycle.requests(), 3);
    // The catalog follows the same rules.
    await assert.rejects(collect(catalog(a.session)), LimitExceededError);
  } finally {
    a.session.close();
    b.session.close();
    await self.server.shutdown();
    await cycle.server.shutdown();
  }
});

Deno.test("listTags: pages and entries are capped; 100k tags in 100 pages still list", async () => {
  // Endless as far as the caps tell: it stops linking after 2,000 pages so that a client
  // without caps fails this test instead of hanging it.
  const endless = tagServer((_url, n) =>
    tagPage([`t${n}-1`, `t${n}-2`], n < 2000 ? `?last=t${n}` : undefined)
  );
  const big = tagServer((url) => {
    const from = Number(url.searchParams.get("last") ?? 0);
    const tags = Array.from({ length: 1000 }, (_, i) => `v${from + i}`);
    return tagPage(tags, from + 1000 < 100_000 ? `?last=${from + 1000}` : undefined);
  });
  const e = clientFor(endless.server);
  const b = clientFor(big.server);
  try {
    await assert.rejects(
      collect(e.client.listTags({ limits: { pages: 50 } })),
      (err) =>
        err instanceof LimitExceededError && err.limit === 50 &&
        /: more than 50 pages; stopped/.test(err.message),
    );
    assert.equal(endless.requests(), 50);
    await assert.rejects(
      collect(e.client.listTags({ limits: { entries: 7 } })),
      (err) =>
        err instanceof LimitExceededError && err.limit === 7 &&
        /: more than 7 tags; stopped/.test(err.message),
    );
    const tags = await collect(b.client.listTags());
    assert.equal(tags.length, 100_000);
    assert.equal(big.requests(), 100);
    assert.ok(LIST_LIMITS.pages >= 2000 && LIST_LIMITS.entries >= 100_000);
  } finally {
    e.session.close();
    b.session.close();
    await endless.server.shutdown();
    await big.server.shutdown();
  }
});

Deno.test("listTags: entries, pages and links a terminal must not see are refused, quoted", async () => {
  const answers: Record<string, () => Response> = {
    escape: () => tagPage(["ok", "\x1b[2J\x1b]0;pwned\x07"]),
    c1: () => tagPage(["\x9b31mred"]),
    number: () => tagPage(["ok", 5]),
    long: () => tagPage(["x".repeat(300)]),
    notjson: () => new Response("\x1b[31m{not json"),
    notlist: () => new Response('{"tags":"\\u001b[2J"}'),
    javascript: () => tagPage(["a"], "javascript:alert(1)"),
    // (Deno.serve refuses control characters in headers; raw servers test those elsewhere.)
    badurl: () => tagPage(["a"], "http://[::1/"),
  };
  let which = "";
  const srv = tagServer(() => answers[which]());
  const { session, client } = clientFor(srv.server);
  const expect: Record<string, RegExp> = {
    escape: /entry "\\x1b\[2J\\x1b\]0;pwned\\x07" is not a name/,
    c1: /entry "\\x9b31mred" is not a name/,
    number: /entry of type number is not a name/,
    long: /entry "x{64}\.\.\." is not a name \(tags are strings of at most 255 printable/,
    notjson: /: the answer is not a JSON object with a tags list$/,
    notlist: /: the answer is not a JSON object with a tags list$/,
    javascript: /the next-page link of page 1 is not an http\(s\) URL: "javascript:alert\(1\)"/,
    badurl: /is not an http\(s\) URL: "http:\/\/\[::1\/"/,
  };
  try {
    for (which of Object.keys(answers)) {
      await assert.rejects(collect(client.listTags()), (e) => {
        assert.ok(e instanceof RegistryError, `${which}: ${e}`);
        assert.match(e.message, expect[which], which);
        assert.ok(!hasUnsafeText(e.message), `${which}: ${JSON.stringify(e.message)}`);
        return true;
      });
    }
  } finally {
    session.close();
    await srv.server.shutdown();
  }
});

/**
 * A raw registry serving `blob` at /v2/app/blobs/…: each answer (206 from a Range's offset)
 * sends `perAnswer` bytes of what is left and then stalls for up to `holdMs`.
 */
function stallingBlobServer(blob: Uint8Array, perAnswer: number, holdMs: number) {
  const ranges: (string | null)[] = [];
  const srv = rawRegistry(async ({ headers, conn }) => {
    const range = headers.get("range");
    ranges.push(range);
    const from = range ? Number(/^bytes=(\d+)-$/.exec(range)![1]) : 0;
    const head = range
      ? `HTTP/1.1 206 Partial Content\r\nContent-Range: bytes ${from}-${
        blob.length - 1
      }/${blob.length}\r\n`
      : "HTTP/1.1 200 OK\r\n";
    await writeAll(conn, `${head}Content-Length: ${blob.length - from}\r\n\r\n`);
    const part = blob.subarray(from, from + perAnswer);
    for (let off = 0; off < part.length;) off += await conn.write(part.subarray(off));
    if (from + part.length < blob.length) {
      await stall(conn, holdMs);
      return false;
    }
    return true;
  });
  return { srv, ranges };
}

Deno.test("getBlob: a body that stalls mid-blob is resumed with Range, not waited on", async () => {
  const blob = new Uint8Array(300_000).map((_, i) => i * 7);
  // Before the fix the first answer was waited on until the server hung up (2.5 s).
  const { srv, ranges } = stallingBlobServer(blob, 120_000, 2500);
  const session = new RegistrySession({ host: srv.host, bodyTimeoutMs: 200, env: () => undefined });
  try {
    const t0 = performance.now();
    const client = new RepositoryClient(session, "app");
    const got = await readAllBytes(
      await client.getBlob({ digest: digestOf(blob), size: blob.length }),
    );
    assert.deepEqual(got, blob);
    assert.deepEqual(ranges, [null, "bytes=120000-", "bytes=240000-"]);
    assert.ok(performance.now() - t0 < 2000, `${performance.now() - t0} ms`);
  } finally {
    session.close();
    srv.close();
  }
});

Deno.test("getBlob: a registry that stalls every time is reported after the resumes", async () => {
  const blob = new Uint8Array(100_000);
  const { srv, ranges } = stallingBlobServer(blob, 1000, 1000);
  const session = new RegistrySession({ host: srv.host, bodyTimeoutMs: 100, env: () => undefined });
  try {
    const t0 = performance.now();
    const client = new RepositoryClient(session, "app");
    const digest = digestOf(blob);
    await assert.rejects(
      readAllBytes(await client.getBlob({ digest, size: blob.length })),
      (e) =>
        e instanceof NetworkError && e.kind === "timeout" &&
        e.message ===
          `http://${srv.host}/v2/app/blobs/${digest}: no data for 0.1 s in the body ` +
            `(gave up after 5 resumes)`,
    );
    assert.equal(ranges.length, 6);
    assert.ok(performance.now() - t0 < 3000, `${performance.now() - t0} ms`);
  } finally {
    session.close();
    srv.close();
  }
});

Deno.test("digests and upload locations from headers are checked and shown quoted", async () => {
  const manifest = '{"schemaVersion":2,"manifests":[]}';
  const srv = rawRegistry(async ({ method, conn }) => {
    if (method === "POST") {
      await writeAll(
        conn,
        "HTTP/1.1 202 Accepted\r\nLocation: http://[\x1b[2J]/\r\nContent-Length: 0\r\n\r\n",
      );
    } else if (method === "DELETE") {
      await writeAll(conn, "HTTP/1.1 204 No Content\r\n\r\n");
    } else {
      // \x9b goes out as UTF-8 and comes back as latin1 "\u00c2\x9b": a C1 control either way.
      const head = `HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.index.v1+json\r\n` +
        `Docker-Content-Digest: sha256:\x1b[2J\x9b31m\r\nContent-Length: ${manifest.length}\r\n\r\n`;
      await writeAll(conn, method === "HEAD" ? head : head + manifest);
    }
    return true;
  });
  const session = new RegistrySession({ host: srv.host, env: () => undefined });
  const client = new RepositoryClient(session, "app");
  const quoted = '"sha256:\\x1b[2J\u00c2\\x9b31m"';
  try {
    for (
      const [what, call] of [
        ["GET", () => client.getManifest("latest")],
        ["HEAD", () => client.headManifest("latest")],
      ] as const
    ) {
      await assert.rejects(
        call(),
        (e) =>
          e instanceof RegistryError && !hasUnsafeText(e.message) &&
          e.message ===
            `registry ${srv.host}: ${what} /v2/app/manifests/latest: Docker-Content-Digest ` +
              `${quoted} is not a digest`,
      );
    }
    await assert.rejects(
      client.uploadBlob(new Blob(["abc"]).stream(), { size: 3 }),
      (e) =>
        e instanceof InvalidImageError && !hasUnsafeText(e.message) &&
        e.message.endsWith('an upload location that is not an http(s) URL: "http://[\\x1b[2J]/"'),
    );
  } finally {
    session.close();
    srv.close();
  }
});
