/**
 * A reverse proxy for registry tests that injects faults: it forwards each request to the
 * upstream registry (streaming bodies both ways, Range and status codes untouched, absolute
 * `Location` headers that point at the upstream rewritten to point back at the proxy) unless a
 * programmed fault says otherwise:
 *
 * - `drop`: forward the first `afterBytes` bytes of the response body, then cut the connection
 *   (the client sees a truncated body and an error);
 * - `tamper`: flip one byte of the response body (same length, wrong digest);
 * - `status`: answer with a status (429 with Retry-After, 500, ...) without asking upstream;
 * - `delay`: wait, then forward;
 * - `header`: forward, and add a header to upstream's response (e.g. `OCI-Chunk-Min-Length` on
 *   the upload POST, which docker-registry never sends).
 *
 * Each fault applies to the first `times` matching requests (default: all), then requests pass
 * through. Every request is logged. Upstream requests go through node:http(s), which keeps the
 * client's headers (Content-Length included) as they are, apart from Host and hop-by-hop ones.
 *
 * @example
 * ```ts
 * import { blobGet, manifestGet, startFaultProxy, tooManyRequests } from "./fault_proxy.ts";
 * const proxy = await startFaultProxy(registry);
 * proxy.addFault({ match: blobGet(), fault: { kind: "drop", afterBytes: 100 }, times: 1 });
 * proxy.addFault({ match: manifestGet(), fault: tooManyRequests(1), times: 2 });
 * // use proxy.url / proxy.host instead of the registry's
 * await proxy.stop();
 * ```
 * @module
 */
import http from "node:http";
import https from "node:https";
import { once } from "node:events";

/** Which requests a fault applies to: method and path (string: exact pathname), or a predicate. */
export type RequestMatcher =
  | { method?: string; path?: string | RegExp }
  | ((request: Request, url: URL) => boolean);

/** What to do to a matching request. */
export type Fault =
  | { kind: "drop"; afterBytes: number }
  | { kind: "tamper"; offset?: number }
  | { kind: "status"; status: number; headers?: Record<string, string>; body?: string }
  | { kind: "delay"; ms: number }
  | { kind: "header"; name: string; value: string };

/** A fault and the requests it applies to. */
export interface FaultRule {
  match: RequestMatcher;
  fault: Fault;
  /** Apply to this many matching requests, then let them through; default unlimited. */
  times?: number;
}

/** A fault in force. */
export interface ActiveFault {
  readonly rule: FaultRule;
  /** Requests it was applied to so far. */
  readonly hits: number;
  /** Takes it out of force. */
  remove(): void;
}

/** One request through the proxy. */
export interface ProxyLogEntry {
  method: string;
  /** Path and query. */
  path: string;
  /** The Range header, if any. */
  range?: string;
  /** The Authorization scheme sent ("Basic", "Bearer"), if any. */
  authScheme?: string;
  /** The fault applied, if any. */
  fault?: Fault["kind"];
  /** The status sent to the client (0 until known). */
  status: number;
  /** The status upstream answered (undefined when not forwarded). */
  upstreamStatus?: number;
  /** The Location sent to the client, after rewriting. */
  location?: string;
  /** Response body bytes sent to the client so far. */
  bytes: number;
  /** Request body bytes forwarded upstream (0 for a request answered by a `status` fault). */
  requestBytes: number;
  /** The response body was cut short on purpose. */
  dropped: boolean;
  /** The response body was sent completely. */
  done: boolean;
  /** An upstream connection error, if any. */
  error?: string;
  time: number;
}

/** Where the proxy forwards to: a URL and the TLS material to reach it (a Registry fits). */
export interface ProxyUpstream {
  url: string;
  /** The CA that signed the upstream's certificate. */
  ca?: { certPem: string };
  /** A client certificate to present upstream (mutual TLS). */
  clientCert?: { certPem: string; keyPem: string };
}

/** A running fault proxy. */
export interface FaultProxy {
  /** `http://127.0.0.1:PORT` (https with `tls`). */
  url: string;
  /** `127.0.0.1:PORT`. */
  host: string;
  upstream: string;
  /** Every request, in arrival order. */
  log: ProxyLogEntry[];
  addFault(rule: FaultRule): ActiveFault;
  clearFaults(): void;
  stop(): Promise<void>;
}

/** Options for {@linkcode startFaultProxy}. */
export interface FaultProxyOptions {
  /** Serve HTTPS with this certificate. */
  tls?: { certPem: string; keyPem: string };
}

/** Matches blob GETs (all, or of one digest). */
export function blobGet(digest?: string): RequestMatcher {
  return {
    method: "GET",
    path: digest ? new RegExp(`/blobs/${escapeRegExp(digest)}$`) : /\/blobs\/[a-z0-9]+:[a-f0-9]+$/,
  };
}

/** Matches manifest GETs (all, or of one tag or digest). */
export function manifestGet(reference?: string): RequestMatcher {
  return {
    method: "GET",
    path: reference ? new RegExp(`/manifests/${escapeRegExp(reference)}$`) : /\/manifests\/[^/]+$/,
  };
}

/** Matches the POSTs that open blob uploads (and cross-repository mounts). */
export function uploadPost(): RequestMatcher {
  return { method: "POST", path: /\/blobs\/uploads\/$/ };
}

/** 429 Too Many Requests with `Retry-After: seconds` and a TOOMANYREQUESTS error body. */
export function tooManyRequests(retryAfterSeconds = 1): Fault {
  return {
    kind: "status",
    status: 429,
    headers: { "retry-after": String(retryAfterSeconds) },
    body: errorBody("TOOMANYREQUESTS", "injected: too many requests"),
  };
}

/** A 5xx (default 500) with an UNKNOWN error body. */
export function serverError(status = 500): Fault {
  return { kind: "status", status, body: errorBody("UNKNOWN", `injected: status ${status}`) };
}

function errorBody(code: string, message: string): string {
  return JSON.stringify({ errors: [{ code, message }] });
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
]);

function matches(m: RequestMatcher, req: Request, url: URL): boolean {
  if (typeof m === "function") return m(req, url);
  if (m.method && m.method.toUpperCase() !== req.method) return false;
  if (m.path === undefined) return true;
  return typeof m.path === "string" ? url.pathname === m.path : m.path.test(url.pathname);
}

interface RuleState {
  rule: FaultRule;
  hits: number;
}

/** Starts a proxy on a free port of 127.0.0.1 forwarding to `upstream`. */
export function startFaultProxy(
  upstream: string | ProxyUpstream,
  options: FaultProxyOptions = {},
): Promise<FaultProxy> {
  const up: ProxyUpstream = typeof upstream === "string" ? { url: upstream } : upstream;
  const upstreamUrl = new URL(up.url);
  const upstreamOrigin = upstreamUrl.origin;
  const secure = upstreamUrl.protocol === "https:";
  const agent = secure
    ? new https.Agent({
      keepAlive: true,
      ca: up.ca?.certPem,
      cert: up.clientCert?.certPem,
      key: up.clientCert?.keyPem,
    })
    : new http.Agent({ keepAlive: true });
  const rules: RuleState[] = [];
  const log: ProxyLogEntry[] = [];
  let origin = "";

  function pickFault(req: Request, url: URL): Fault | undefined {
    for (const state of rules) {
      if (state.hits >= (state.rule.times ?? Infinity)) continue;
      if (!matches(state.rule.match, req, url)) continue;
      state.hits++;
      return state.rule.fault;
    }
    return undefined;
  }

  function rewriteLocation(location: string): string {
    try {
      const abs = new URL(location, upstreamOrigin);
      if (!/^[a-z][a-z0-9+.-]*:/i.test(location)) return location; // relative: leave it
      if (abs.origin !== upstreamOrigin) return location;
      return origin + abs.pathname + abs.search + abs.hash;
    } catch {
      return location;
    }
  }

  function forward(req: Request, url: URL, entry: ProxyLogEntry): Promise<http.IncomingMessage> {
    const headers: Record<string, string> = {};
    const connectionTokens = (req.headers.get("connection") ?? "").toLowerCase().split(/\s*,\s*/);
    for (const [k, v] of req.headers) {
      if (HOP_BY_HOP.has(k) || connectionTokens.includes(k)) continue;
      headers[k] = v;
    }
    headers.host = upstreamUrl.host;
    return new Promise((resolve, reject) => {
      const outgoing = (secure ? https : http).request({
        protocol: upstreamUrl.protocol,
        hostname: upstreamUrl.hostname,
        port: upstreamUrl.port,
        method: req.method,
        path: url.pathname + url.search,
        headers,
        agent,
      }, resolve);
      outgoing.on("error", reject);
      (async () => {
        if (req.body) {
          for await (const chunk of req.body) {
            entry.requestBytes += chunk.length;
            if (!outgoing.write(chunk)) await once(outgoing, "drain");
          }
        }
        outgoing.end();
      })().catch((e) => outgoing.destroy(e instanceof Error ? e : new Error(String(e))));
    });
  }

  function bodyStream(
    res: http.IncomingMessage,
    entry: ProxyLogEntry,
    fault: Fault | undefined,
    length: number | undefined,
  ): ReadableStream<Uint8Array> {
    const chunks = res[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>;
    const dropAt = fault?.kind === "drop" ? fault.afterBytes : undefined;
    const tamperAt = fault?.kind === "tamper"
      ? fault.offset ?? (length !== undefined ? Math.floor(length / 2) : 0)
      : undefined;
    const cut = (controller: ReadableStreamDefaultController<Uint8Array>) => {
      entry.dropped = true;
      res.destroy();
      // With a Content-Length, ending early makes the server abort the connection quietly;
      // a chunked body needs an error (which Deno logs) to skip the final chunk.
      if (length !== undefined) controller.close();
      else controller.error(new Error("fault proxy: connection dropped on purpose"));
    };
    return new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (dropAt !== undefined && entry.bytes >= dropAt) return cut(controller);
        const next = await chunks.next();
        if (next.done) {
          entry.done = true;
          controller.close();
          return;
        }
        let chunk = new Uint8Array(next.value);
        if (dropAt !== undefined && entry.bytes + chunk.length >= dropAt) {
          chunk = chunk.slice(0, dropAt - entry.bytes);
        }
        if (
          tamperAt !== undefined && tamperAt >= entry.bytes && tamperAt < entry.bytes + chunk.length
        ) {
          chunk[tamperAt - entry.bytes] ^= 0xff;
        }
        entry.bytes += chunk.length;
        if (chunk.length) controller.enqueue(chunk);
      },
      cancel() {
        res.destroy();
      },
    });
  }

  const server = Deno.serve(
    {
      hostname: "127.0.0.1",
      port: 0,
      onListen() {},
      ...(options.tls ? { cert: options.tls.certPem, key: options.tls.keyPem } : {}),
    },
    async (req) => {
      const url = new URL(req.url);
      const auth = req.headers.get("authorization");
      const entry: ProxyLogEntry = {
        method: req.method,
        path: url.pathname + url.search,
        range: req.headers.get("range") ?? undefined,
        authScheme: auth ? auth.split(" ")[0] : undefined,
        status: 0,
        bytes: 0,
        requestBytes: 0,
        dropped: false,
        done: false,
        time: Date.now(),
      };
      log.push(entry);
      const fault = pickFault(req, url);
      entry.fault = fault?.kind;
      if (fault?.kind === "status") {
        await req.body?.cancel();
        entry.status = fault.status;
        entry.done = true;
        const body = fault.body ?? "";
        entry.bytes = new TextEncoder().encode(body).length;
        return new Response(body || null, {
          status: fault.status,
          headers: {
            "content-type": "application/json; charset=utf-8",
            "docker-distribution-api-version": "registry/2.0",
            ...fault.headers,
          },
        });
      }
      if (fault?.kind === "delay") await new Promise((r) => setTimeout(r, fault.ms));
      let res: http.IncomingMessage;
      try {
        res = await forward(req, url, entry);
      } catch (e) {
        entry.error = e instanceof Error ? e.message : String(e);
        entry.status = 502;
        return new Response(errorBody("UNKNOWN", `fault proxy: ${entry.error}`), { status: 502 });
      }
      const status = res.statusCode ?? 502;
      entry.upstreamStatus = status;
      entry.status = status;
      const headers = new Headers();
      const raw = res.rawHeaders;
      const connectionTokens = (res.headers.connection ?? "").toLowerCase().split(/\s*,\s*/);
      for (let i = 0; i + 1 < raw.length; i += 2) {
        const name = raw[i].toLowerCase();
        if (HOP_BY_HOP.has(name) || connectionTokens.includes(name)) continue;
        const value = name === "location" ? rewriteLocation(raw[i + 1]) : raw[i + 1];
        if (name === "location") entry.location = value;
        headers.append(name, value);
      }
      if (fault?.kind === "header") headers.set(fault.name, fault.value);
      const lengthHeader = res.headers["content-length"];
      const length = lengthHeader !== undefined ? Number(lengthHeader) : undefined;
      const noBody = req.method === "HEAD" || [101, 204, 205, 304].includes(status);
      if (noBody) {
        res.resume();
        entry.done = true;
        return new Response(null, { status, headers });
      }
      return new Response(bodyStream(res, entry, fault, length), { status, headers });
    },
  );
  origin = `${options.tls ? "https" : "http"}://127.0.0.1:${server.addr.port}`;
  return Promise.resolve({
    url: origin,
    host: `127.0.0.1:${server.addr.port}`,
    upstream: upstreamOrigin,
    log,
    addFault(rule) {
      const state: RuleState = { rule, hits: 0 };
      rules.push(state);
      return {
        rule,
        get hits() {
          return state.hits;
        },
        remove() {
          const i = rules.indexOf(state);
          if (i >= 0) rules.splice(i, 1);
        },
      };
    },
    clearFaults() {
      rules.length = 0;
    },
    async stop() {
      await server.shutdown();
      agent.destroy();
    },
  });
}
