import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { NetworkError, RegistryError } from "../errors.ts";
import { rawRegistry } from "./registry_test_util.ts";
import { serve, stall, type TestServer, writeAll } from "../http/http_test_util.ts";
import { hasUnsafeText } from "../report/safe_text.ts";
import { isLoopbackHost, RegistrySession } from "./session.ts";

/** What the fake servers saw. */
interface Seen {
  path: string;
  method: string;
  authorization: string | null;
}

interface TokenCall {
  method: string;
  params: Record<string, string[]>;
  authorization: string | null;
}

interface FakeOptions {
  users?: Record<string, string>;
  /** Token lifetime to announce (omitted when undefined). */
  expiresIn?: number;
  /** Hand out refresh tokens for offline_token=true. */
  refreshTokens?: boolean;
  /** Answer the OAuth2 POST (else 404). */
  oauth?: boolean;
  /** Identity tokens the token server accepts. */
  identityTokens?: string[];
  /** Repositories anonymous tokens get no access to. */
  private?: string[];
}

/**
 * A registry with a Bearer token server: tokens are `t<N>` for the scopes asked; a repository
 * needs `repository:NAME:pull` (GET/HEAD) or `...:push` (others) in its token.
 */
class FakeRegistry {
  readonly seen: Seen[] = [];
  readonly tokenCalls: TokenCall[] = [];
  readonly tokens = new Map<string, string[]>();
  readonly revoked = new Set<string>();
  auth: TestServer;
  registry: TestServer;
  #n = 0;

  constructor(readonly options: FakeOptions = {}) {
    this.auth = serve((req) => this.#token(req));
    this.registry = serve((req) => this.#registry(req));
  }

  get host(): string {
    return this.registry.host;
  }

  async #token(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const params: Record<string, string[]> = {};
    const add = (k: string, v: string) => (params[k] ??= []).push(v);
    url.searchParams.forEach((v, k) => add(k, v));
    if (req.method === "POST") {
      new URLSearchParams(await req.text()).forEach((v, k) => add(k, v));
    }
    const authorization = req.headers.get("authorization");
    this.tokenCalls.push({ method: req.method, params, authorization });
    if (req.method === "POST") {
      if (!this.options.oauth) return new Response("no", { status: 404 });
      const refresh = params.refresh_token?.[0] ?? "";
      if (!this.options.identityTokens?.includes(refresh)) {
        return new Response('{"error":"invalid_grant"}', { status: 401 });
      }
    } else if (authorization) {
      const [user, pass] = atob(authorization.replace(/^Basic /, "")).split(":");
      if (this.options.users?.[user] !== pass) return new Response("bad", { status: 401 });
    }
    const anonymous = !authorization && req.method !== "POST";
    // auth-token.md: the token holds the intersection of what was asked and what is allowed.
    const scopes = (params.scope ?? []).flatMap((s) => s.split(" "))
      .filter((s) => !(anonymous && this.options.private?.includes(splitScope(s)[0])));
    const token = `t${++this.#n}`;
    this.tokens.set(token, scopes);
    const body: Record<string, unknown> = { token };
    if (this.options.expiresIn !== undefined) body.expires_in = this.options.expiresIn;
    if (this.options.refreshTokens && params.offline_token?.[0] === "true") {
      body.refresh_token = "refresh-1";
      this.options.identityTokens = [...(this.options.identityTokens ?? []), "refresh-1"];
    }
    return Response.json(body);
  }

  #registry(req: Request): Response {
    const url = new URL(req.url);
    const authorization = req.headers.get("authorization");
    this.seen.push({ path: url.pathname, method: req.method, authorization });
    const m = /^\/v2\/(.+?)\/(manifests|blobs|tags)\//.exec(url.pathname);
    const needed = m
      ? `repository:${m[1]}:${req.method === "GET" || req.method === "HEAD" ? "pull" : "push"}`
      : undefined;
    const token = authorization?.replace(/^Bearer /, "") ?? "";
    const scopes = this.tokens.get(token);
    const granted = scopes !== undefined && !this.revoked.has(token) &&
      (needed === undefined || scopes.some((s) => {
        const [type, name, actions] = [s.slice(0, s.indexOf(":")), ...splitScope(s)];
        return `${type}:${name}` === needed.slice(0, needed.lastIndexOf(":")) &&
          actions.split(",").includes(needed.slice(needed.lastIndexOf(":") + 1));
      }));
    if (!granted) {
      const scope = needed ? `,scope="${needed}"` : "";
      return Response.json({
        errors: [{ code: "UNAUTHORIZED", message: "authentication required" }],
      }, {
        status: 401,
        headers: {
          "www-authenticate": `Bearer realm="${this.auth.url}token",service="fake"${scope}`,
        },
      });
    }
    if (url.pathname.includes("/manifests/missing")) {
      return Response.json({
        errors: [{ code: "MANIFEST_UNKNOWN", message: "manifest unknown", detail: {} }],
      }, { status: 404 });
    }
    return new Response(`ok ${url.pathname}`);
  }

  session(extra: Partial<ConstructorParameters<typeof RegistrySession>[0]> = {}) {
    return new RegistrySession({ host: this.host, env: () => undefined, ...extra });
  }

  async close() {
    await this.auth.close();
    await this.registry.close();
  }
}

/** `repository:a/b:pull,push` → ["a/b", "pull,push"] */
function splitScope(s: string): [string, string] {
  const rest = s.slice(s.indexOf(":") + 1);
  const last = rest.lastIndexOf(":");
  return [rest.slice(0, last), rest.slice(last + 1)];
}

async function body(res: { body: ReadableStream<Uint8Array> | null }): Promise<string> {
  return res.body ? await new Response(res.body).text() : "";
}

Deno.test("RegistrySession: anonymous Bearer tokens, fetched ahead and cached per scope", async () => {
  const fake = new FakeRegistry();
  const s = fake.session();
  try {
    const ping = await s.ping();
    strictEqual(ping.status, 401);
    strictEqual(ping.base.href, `http://${fake.host}/`);
    strictEqual(s.base.protocol, "http:");
    const pull = "repository:library/busybox:pull";
    for (let i = 0; i < 3; i++) {
      const res = await s.request("GET", "/v2/library/busybox/manifests/latest", { scope: pull });
      strictEqual(res.status, 200);
      strictEqual(await body(res), "ok /v2/library/busybox/manifests/latest");
    }
    strictEqual(fake.tokenCalls.length, 1);
    deepStrictEqual(fake.tokenCalls[0].params, { service: ["fake"], scope: [pull] });
    strictEqual(fake.tokenCalls[0].authorization, null);
    // The token was there before the first request: only the ping saw a 401.
    deepStrictEqual(fake.seen.map((x) => x.authorization), [
      null,
      "Bearer t1",
      "Bearer t1",
      "Bearer t1",
    ]);
    // Another scope, another token; the first one stays cached.
    const push = "repository:library/busybox:pull,push";
    const put = await s.request("PUT", "/v2/library/busybox/manifests/v2", {
      scope: push,
      body: new Uint8Array([1]),
    });
    strictEqual(put.status, 200);
    await put.body?.cancel();
    await (await s.request("GET", "/v2/library/busybox/manifests/latest", { scope: pull })).body
      ?.cancel();
    strictEqual(fake.tokenCalls.length, 2);
    deepStrictEqual(fake.tokenCalls[1].params.scope, [push]);
  } finally {
    s.close();
    await fake.close();
  }
});

Deno.test("RegistrySession: Basic credentials go to the token server; wrong ones say so", async () => {
  const fake = new FakeRegistry({ users: { alice: "s3cret" } });
  const good = fake.session({ credentials: { username: "alice", password: "s3cret" } });
  const bad = fake.session({ credentials: { username: "alice", password: "nope" } });
  try {
    const res = await good.request("GET", "/v2/a/b/tags/list", { scope: "repository:a/b:pull" });
    strictEqual(res.status, 200);
    await res.body?.cancel();
    const call = fake.tokenCalls[0];
    strictEqual(call.authorization, `Basic ${btoa("alice:s3cret")}`);
    deepStrictEqual(call.params.account, ["alice"]);
    deepStrictEqual(call.params.offline_token, ["true"]);
    await good.verifyCredentials();
    await rejects(
      bad.request("GET", "/v2/a/b/tags/list", { scope: "repository:a/b:pull" }),
      (e) =>
        e instanceof RegistryError && e.status === 401 &&
        e.message === `unauthorized: wrong username or password for ${fake.host}`,
    );
    await rejects(bad.verifyCredentials(), /wrong username or password/);
  } finally {
    good.close();
    bad.close();
    await fake.close();
  }
});

Deno.test("RegistrySession: an identity token is exchanged by the OAuth2 refresh_token POST", async () => {
  const fake = new FakeRegistry({ oauth: true, identityTokens: ["idt-1"] });
  const s = fake.session({ credentials: { identityToken: "idt-1" } });
  const stale = fake.session({ credentials: { identityToken: "revoked" } });
  try {
    const res = await s.request("GET", "/v2/x/manifests/1", { scope: "repository:x:pull" });
    strictEqual(res.status, 200);
    await res.body?.cancel();
    strictEqual(fake.tokenCalls.length, 1);
    const call = fake.tokenCalls[0];
    strictEqual(call.method, "POST");
    deepStrictEqual(call.params, {
      grant_type: ["refresh_token"],
      refresh_token: ["idt-1"],
      service: ["fake"],
      client_id: ["ocibox"],
      scope: ["repository:x:pull"],
    });
    await rejects(
      stale.request("GET", "/v2/x/manifests/1", { scope: "repository:x:pull" }),
      /identity token for .* was refused/,
    );
  } finally {
    s.close();
    stale.close();
    await fake.close();
  }
});

Deno.test("RegistrySession: offline_token's refresh token is used for later scopes", async () => {
  const fake = new FakeRegistry({ users: { bob: "pw" }, refreshTokens: true, oauth: true });
  const s = fake.session({ credentials: { username: "bob", password: "pw" } });
  try {
    for (const repo of ["one", "two"]) {
      const res = await s.request("GET", `/v2/${repo}/manifests/1`, {
        scope: `repository:${repo}:pull`,
      });
      strictEqual(res.status, 200);
      await res.body?.cancel();
    }
    deepStrictEqual(fake.tokenCalls.map((c) => c.method), ["GET", "POST"]);
    deepStrictEqual(fake.tokenCalls[1].params.refresh_token, ["refresh-1"]);
    strictEqual(fake.tokenCalls[1].authorization, null);
  } finally {
    s.close();
    await fake.close();
  }
});

Deno.test("RegistrySession: a token server without OAuth2 gets GET after the POST's 404", async () => {
  const fake = new FakeRegistry({ users: { bob: "pw" }, refreshTokens: true, oauth: false });
  const s = fake.session({ credentials: { username: "bob", password: "pw" } });
  try {
    for (const repo of ["one", "two", "three"]) {
      const res = await s.request("GET", `/v2/${repo}/manifests/1`, {
        scope: `repository:${repo}:pull`,
      });
      strictEqual(res.status, 200);
      await res.body?.cancel();
    }
    deepStrictEqual(fake.tokenCalls.map((c) => c.method), ["GET", "POST", "GET", "GET"]);
  } finally {
    s.close();
    await fake.close();
  }
});

Deno.test("RegistrySession: tokens are renewed when they expire and when refused", async () => {
  const fake = new FakeRegistry({ expiresIn: 300 });
  let now = Date.parse("2026-01-01T00:00:00Z");
  const s = fake.session({ now: () => now });
  const get = async () => {
    const res = await s.request("GET", "/v2/r/manifests/1", { scope: "repository:r:pull" });
    strictEqual(res.status, 200);
    await res.body?.cancel();
    return fake.seen.at(-1)!.authorization;
  };
  try {
    strictEqual(await get(), "Bearer t1");
    now += 299_000;
    strictEqual(await get(), "Bearer t1");
    now += 2_000;
    strictEqual(await get(), "Bearer t2");
    // The registry stops honouring t2 (revoked): one 401, a new token, the request again.
    fake.revoked.add("t2");
    strictEqual(await get(), "Bearer t3");
    deepStrictEqual(fake.seen.slice(-2).map((x) => x.authorization), ["Bearer t2", "Bearer t3"]);
    strictEqual(fake.tokenCalls.length, 3);
  } finally {
    s.close();
    await fake.close();
  }
});

Deno.test("RegistrySession: a 401 asking for more scope gets a token with both", async () => {
  const fake = new FakeRegistry();
  const s = fake.session();
  try {
    // The caller asked for the wrong repository's scope; the challenge names the right one.
    const res = await s.request("GET", "/v2/right/manifests/1", { scope: "repository:wrong:pull" });
    strictEqual(res.status, 200);
    await res.body?.cancel();
    deepStrictEqual(fake.tokenCalls.at(-1)!.params.scope, [
      "repository:wrong:pull",
      "repository:right:pull",
    ]);
  } finally {
    s.close();
    await fake.close();
  }
});

Deno.test("RegistrySession: registry errors become one line; 401 without login hints at it", async () => {
  const fake = new FakeRegistry({ private: ["y"] });
  const s = fake.session();
  try {
    const res = await s.request("GET", "/v2/x/manifests/missing", { scope: "repository:x:pull" });
    await rejects(
      s.expect(res, [200], "GET", "/v2/x/manifests/missing"),
      (e) =>
        e instanceof RegistryError && e.status === 404 && e.registryCode === "MANIFEST_UNKNOWN" &&
        e.message ===
          `registry ${fake.host}: GET /v2/x/manifests/missing: 404 MANIFEST_UNKNOWN: manifest unknown`,
    );
    const denied = await s.request("GET", "/v2/y/manifests/1", { scope: "repository:y:pull" });
    strictEqual(denied.status, 401);
    await rejects(
      s.expect(denied, [200], "GET", new URL(`http://${fake.host}/v2/y/manifests/1`)),
      (e) =>
        e instanceof RegistryError &&
        e.message ===
          `registry ${fake.host}: GET /v2/y/manifests/1: 401 UNAUTHORIZED: authentication ` +
            `required (not logged in; try ocibox login ${fake.host})`,
    );
  } finally {
    s.close();
    await fake.close();
  }
});

Deno.test("RegistrySession: Basic challenge: anonymous gets the 401, credentials get in", async () => {
  const seen: (string | null)[] = [];
  const srv = serve((req) => {
    const a = req.headers.get("authorization");
    seen.push(a);
    if (a === `Basic ${btoa("u:p")}`) return new Response("in");
    return new Response("{}", {
      status: 401,
      headers: { "www-authenticate": 'Basic realm="Registry Realm"' },
    });
  });
  const anon = new RegistrySession({ host: srv.host, env: () => undefined });
  const user = new RegistrySession({
    host: srv.host,
    credentials: { username: "u", password: "p" },
  });
  const wrong = new RegistrySession({
    host: srv.host,
    credentials: { username: "u", password: "x" },
  });
  try {
    const res = await anon.request("GET", "/v2/a/manifests/1");
    strictEqual(res.status, 401);
    await res.body?.cancel();
    const ok1 = await user.request("GET", "/v2/a/manifests/1");
    strictEqual(await body(ok1), "in");
    await user.verifyCredentials();
    await rejects(wrong.request("GET", "/v2/a/manifests/1"), /wrong username or password/);
    await rejects(wrong.verifyCredentials(), /wrong username or password/);
  } finally {
    anon.close();
    user.close();
    wrong.close();
    await srv.close();
  }
});

Deno.test("RegistrySession: credentials come from the auth file when not given", async () => {
  const dir = await Deno.makeTempDir();
  const srv = serve((req) =>
    req.headers.get("authorization") === `Basic ${btoa("file:pw")}`
      ? new Response("in")
      : new Response("", { status: 401, headers: { "www-authenticate": "Basic realm=x" } })
  );
  const s = new RegistrySession({
    host: srv.host,
    authFile: `${dir}/auth.json`,
    env: () => undefined,
  });
  try {
    await Deno.writeTextFile(
      `${dir}/auth.json`,
      JSON.stringify({ auths: { [srv.host]: { auth: btoa("file:pw") } } }),
    );
    strictEqual(await body(await s.request("GET", "/v2/x/tags/list")), "in");
  } finally {
    s.close();
    await srv.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("RegistrySession: retries 5xx for byte bodies, not for streams", async () => {
  let calls = 0;
  const srv = serve(async (req) => {
    if (new URL(req.url).pathname === "/v2/") return new Response("{}");
    await req.arrayBuffer();
    return new Response("x", { status: ++calls % 2 === 1 ? 503 : 201 });
  });
  const s = new RegistrySession({
    host: srv.host,
    retry: { baseDelayMs: 1 },
    env: () => undefined,
  });
  try {
    calls = 0;
    const bytes = await s.request("PUT", "/v2/x/blobs/uploads/1", { body: new Uint8Array(10) });
    strictEqual(bytes.status, 201);
    await bytes.body?.cancel();
    strictEqual(calls, 2);
    calls = 0;
    const streamed = await s.request("PUT", "/v2/x/blobs/uploads/2", {
      body: new Blob(["abc"]).stream(),
    });
    strictEqual(streamed.status, 503);
    await streamed.body?.cancel();
    strictEqual(calls, 1);
  } finally {
    s.close();
    await srv.close();
  }
});

Deno.test("RegistrySession: redirects to another host drop Authorization, keep Range", async () => {
  const cdnSaw: { authorization: string | null; range: string | null }[] = [];
  const cdn = serve((req) => {
    cdnSaw.push({
      authorization: req.headers.get("authorization"),
      range: req.headers.get("range"),
    });
    return new Response("blob bytes", { status: 206 });
  });
  const regSaw: (string | null)[] = [];
  const reg = serve((req) => {
    const path = new URL(req.url).pathname;
    regSaw.push(req.headers.get("authorization"));
    if (req.headers.get("authorization") !== `Basic ${btoa("u:p")}`) {
      return new Response("", { status: 401, headers: { "www-authenticate": "Basic realm=r" } });
    }
    if (path === "/v2/x/blobs/sha256:1") {
      return new Response(null, { status: 307, headers: { location: "/v2/x/blobs/moved" } });
    }
    return new Response(null, { status: 302, headers: { location: `${cdn.url}data?sig=1` } });
  });
  const s = new RegistrySession({ host: reg.host, credentials: { username: "u", password: "p" } });
  try {
    const res = await s.get("/v2/x/blobs/sha256:1", { headers: { Range: "bytes=5-" } });
    strictEqual(res.status, 206);
    strictEqual(await body(res), "blob bytes");
    deepStrictEqual(cdnSaw, [{ authorization: null, range: "bytes=5-" }]);
    // The same-host hop kept the registry's credentials.
    deepStrictEqual(regSaw.slice(-2), [`Basic ${btoa("u:p")}`, `Basic ${btoa("u:p")}`]);
    // request() itself never follows.
    const raw = await s.request("GET", "/v2/x/blobs/sha256:1");
    strictEqual(raw.status, 307);
    await raw.body?.cancel();
  } finally {
    s.close();
    await cdn.close();
    await reg.close();
  }
});

Deno.test("RegistrySession: loopback falls back to http; other hosts must speak https", async () => {
  const srv = serve(() => new Response("{}"));
  const local = new RegistrySession({ host: `localhost:${srv.port}`, env: () => undefined });
  const strict = new RegistrySession({
    host: srv.host,
    allowHttp: false,
    retry: { attempts: 1 },
    env: () => undefined,
  });
  try {
    strictEqual((await local.ping()).base.href, `http://localhost:${srv.port}/`);
    await rejects(strict.ping(), (e) => e instanceof NetworkError && e.kind === "tls");
  } finally {
    local.close();
    strict.close();
    await srv.close();
  }
});

Deno.test("RegistrySession: a registry that never answers times out", async () => {
  const { promise: released, resolve: release } = Promise.withResolvers<void>();
  const srv = serve(async (req) => {
    if (new URL(req.url).pathname === "/v2/") return new Response("{}");
    await released;
    return new Response("late");
  });
  const s = new RegistrySession({
    host: srv.host,
    timeoutMs: 200,
    retry: { attempts: 1 },
    env: () => undefined,
  });
  try {
    const t0 = performance.now();
    await rejects(
      s.request("GET", "/v2/slow/manifests/1"),
      (e) => e instanceof NetworkError && e.kind === "timeout",
    );
    ok(performance.now() - t0 < 2000);
  } finally {
    release();
    s.close();
    await srv.close();
  }
});

Deno.test("RegistrySession: a slow stream body keeps the clock from running out", async () => {
  const srv = serve(async (req) => {
    if (new URL(req.url).pathname === "/v2/") return new Response("{}");
    return new Response(String((await req.arrayBuffer()).byteLength), { status: 201 });
  });
  const s = new RegistrySession({ host: srv.host, timeoutMs: 300, env: () => undefined });
  let n = 0;
  const slow = new ReadableStream<Uint8Array>({
    async pull(c) {
      await new Promise((r) => setTimeout(r, 120));
      if (n++ === 5) c.close();
      else c.enqueue(new Uint8Array(1000));
    },
  });
  try {
    const res = await s.request("PATCH", "/v2/x/blobs/uploads/1", { body: slow });
    strictEqual(res.status, 201);
    strictEqual(await body(res), "5000");
  } finally {
    s.close();
    await srv.close();
  }
});

Deno.test("RegistrySession: concurrent requests share one token request", async () => {
  const fake = new FakeRegistry();
  const s = fake.session();
  try {
    const all = await Promise.all(
      Array.from(
        { length: 6 },
        () => s.request("GET", "/v2/c/manifests/1", { scope: "repository:c:pull" }),
      ),
    );
    for (const r of all) {
      strictEqual(r.status, 200);
      await r.body?.cancel();
    }
    strictEqual(fake.tokenCalls.length, 1);
  } finally {
    s.close();
    await fake.close();
  }
});

Deno.test("isLoopbackHost", () => {
  deepStrictEqual(
    ["localhost:5000", "127.0.0.1", "127.1.2.3:80", "[::1]:5000", "a.localhost", "LOCALHOST"].map(
      isLoopbackHost,
    ),
    [true, true, true, true, true, true],
  );
  deepStrictEqual(["docker.io", "10.0.0.1:5000", "localhost.example"].map(isLoopbackHost), [
    false,
    false,
    false,
  ]);
});

Deno.test("RegistrySession: a body that stops arriving fails as a timeout, not a wait for ever", async () => {
  // Before the fix the read waited until the server gave up (3 s here) and failed as a reset.
  const srv = rawRegistry(async ({ conn }) => {
    await writeAll(conn, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + "x".repeat(100));
    await stall(conn, 3000);
    return false;
  });
  const viaOption = new RegistrySession({
    host: srv.host,
    bodyTimeoutMs: 200,
    env: () => undefined,
  });
  const viaEnv = new RegistrySession({
    host: srv.host,
    env: (name) => name === "OCIBOX_BODY_TIMEOUT_MS" ? "150" : undefined,
  });
  try {
    for (const [s, shown] of [[viaOption, "0.2"], [viaEnv, "0.15"]] as const) {
      const t0 = performance.now();
      const res = await s.request("GET", "/v2/x/blobs/sha256:1");
      strictEqual(res.status, 200);
      await rejects(
        body(res),
        (e) =>
          e instanceof NetworkError && e.kind === "timeout" &&
          e.message ===
            `http://${srv.host}/v2/x/blobs/sha256:1: no data for ${shown} s in the body`,
      );
      ok(performance.now() - t0 < 1500, `${performance.now() - t0} ms`);
    }
  } finally {
    viaOption.close();
    viaEnv.close();
    srv.close();
  }
});

Deno.test("RegistrySession: the body timeout counts silence, not slow bodies or slow readers", async () => {
  const srv = rawRegistry(async ({ conn }) => {
    await writeAll(conn, "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n");
    for (let i = 0; i < 8; i++) {
      await new Promise((r) => setTimeout(r, 60));
      await writeAll(conn, String(i));
    }
    return true;
  });
  const s = new RegistrySession({ host: srv.host, bodyTimeoutMs: 200, env: () => undefined });
  try {
    // 480 ms in all, never 200 ms without a byte.
    strictEqual(await body(await s.request("GET", "/v2/x/blobs/trickle")), "01234567");
    // A reader that pauses longer than the timeout between reads is not the server's fault.
    const res = await s.request("GET", "/v2/x/blobs/paused");
    const reader = res.body!.getReader();
    let text = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
      await new Promise((r) => setTimeout(r, 300));
    }
    strictEqual(text, "01234567");
  } finally {
    s.close();
    srv.close();
  }
});

Deno.test("RegistrySession: control characters in challenges and redirects are quoted", async () => {
  // Raw answers: Deno.serve refuses such header values. "\x9b" goes out as UTF-8 (C2 9B) and is
  // read back as latin1, a C1 control either way; JSON.stringify would have left it raw.
  const srv = rawRegistry(async ({ path, conn }) => {
    if (path.startsWith("/v2/auth/")) {
      await writeAll(
        conn,
        'HTTP/1.1 401 Unauthorized\r\nWww-Authenticate: Bearer realm="ftp://\x1b[2J\x9b1m/"\r\n' +
          "Content-Length: 0\r\n\r\n",
      );
    } else {
      await writeAll(
        conn,
        "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://[\x1b[2J]/\r\nContent-Length: 0\r\n\r\n",
      );
    }
    return true;
  });
  const s = new RegistrySession({ host: srv.host, env: () => undefined });
  // Another session: the first one now wants a token (from that realm) for everything.
  const s2 = new RegistrySession({ host: srv.host, env: () => undefined });
  try {
    await rejects(
      s.request("GET", "/v2/auth/manifests/1", { scope: "repository:auth:pull" }),
      (e) =>
        e instanceof RegistryError && !hasUnsafeText(e.message) &&
        e.message.endsWith('has no usable realm ("ftp://\\x1b[2J\u00c2\\x9b1m/")'),
    );
    await rejects(
      s2.get("/v2/moved/blobs/sha256:1"),
      (e) =>
        e instanceof RegistryError && !hasUnsafeText(e.message) &&
        e.message ===
          `registry ${srv.host}: GET /v2/moved/blobs/sha256:1: redirect to an invalid URL ` +
            '"http://[\\x1b[2J]/"',
    );
  } finally {
    s.close();
    s2.close();
    srv.close();
  }
});
