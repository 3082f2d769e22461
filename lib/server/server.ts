/**
 * The registry server on Deno.serve: the API handler (lib/server/api/) behind a limit on
 * requests in flight (429 TOOMANYREQUESTS past it), an access log line per request written
 * when its response body is done, HTTPS when the config has a certificate, timers for upload
 * expiry and garbage collection, and a graceful stop (requests in flight finish first).
 *
 * @example
 * ```ts
 * import { startServer } from "./server.ts";
 * import { defaultConfig } from "./config.ts";
 * // const store = await openRegistryStore("/tmp/r");
 * // const server = await startServer({ config: { ...defaultConfig("/tmp/r"), addr: "127.0.0.1:0" }, store });
 * // console.log(server.url); await server.shutdown();
 * ```
 * @module
 */

import { errorResponse } from "../distribution/errors.ts";
import { type AccessEntry, formatAccessLine } from "./access_log.ts";
import type { ApiContext } from "./api/context.ts";
import { handleApiRequest } from "./api/handler.ts";
import { errorForException } from "./api/respond.ts";
import { rawPath, rawQuery } from "./api/router.ts";
import { parseAddr, type ServerConfig } from "./config.ts";
import { allowAll, type ServerHooks } from "./hooks.ts";
import type { RegistryStore } from "./storage/registry_store_api.ts";

/** What {@linkcode startServer} and {@linkcode createRequestHandler} take. */
export interface ServerOptions {
  config: ServerConfig;
  store: RegistryStore;
  hooks?: ServerHooks;
  /** Where access log lines go; default stderr. */
  log?: (line: string) => void;
  /** One garbage collection run (called every `config.gcIntervalMs` when above 0). */
  collectGarbage?: () => Promise<unknown>;
  /** Reports errors of the background timers (gc, upload expiry); default stderr. */
  onBackgroundError?: (what: string, e: unknown) => void;
}

/** The connection info a request handler gets. */
export interface ConnInfo {
  remoteAddr: { hostname: string; port: number } | { transport: string };
  /**
   * Deno.serve's promise that settles once the response was delivered (rejects when it was
   * not). With it, bodies go out untouched (Deno's fast path for file-backed streams) and
   * the log line is written when it settles; without it, the body is counted as it streams.
   */
  completed?: Promise<void>;
}

/** A request handler with its counters. */
export interface RequestHandler {
  (request: Request, info?: ConnInfo): Promise<Response>;
  /** Requests whose responses are not finished yet. */
  readonly inFlight: number;
  /**
   * Stops taking requests (new ones get 503 with `Connection: close`) and resolves once every
   * request in flight has finished. Deno's own shutdown cuts request bodies still being
   * read, so the server drains first.
   */
  drain(): Promise<void>;
}

/** A running server. */
export interface RunningServer {
  /** `http://HOST:PORT` or `https://...`. */
  readonly url: string;
  /** The address it listens on (port resolved when 0 was asked for). */
  readonly addr: { hostname: string; port: number };
  /** Resolves when the server has stopped. */
  readonly finished: Promise<void>;
  /** Lets requests in flight finish (new ones get 503), stops the timers, closes the listener. */
  shutdown(): Promise<void>;
}

function remoteOf(info: ConnInfo | undefined): string {
  const a = info?.remoteAddr;
  if (!a) return "";
  if ("hostname" in a) return `${a.hostname}:${a.port}`;
  return a.transport;
}

/** Writes lines to stderr in batches, so a busy server makes one write per tick, not per request. */
export function batchedStderr(): { log: (line: string) => void; flush: () => void } {
  const encoder = new TextEncoder();
  let pending: string[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (pending.length === 0) return;
    const bytes = encoder.encode(pending.join("\n") + "\n");
    pending = [];
    try {
      for (let off = 0; off < bytes.length;) off += Deno.stderr.writeSync(bytes.subarray(off));
    } catch {
      // stderr closed: nothing to log to.
    }
  };
  return {
    log(line) {
      pending.push(line);
      if (pending.length >= 256) flush();
      else if (!scheduled) {
        scheduled = true;
        setTimeout(flush, 0);
      }
    },
    flush,
  };
}

/**
 * `body` passed through, counting bytes; `done` is called once, when it ends, fails or is
 * cancelled by the client.
 */
function countedBody(
  body: ReadableStream<Uint8Array>,
  done: (bytes: number, error?: string) => void,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let bytes = 0;
  let finished = false;
  const finish = (error?: string) => {
    if (finished) return;
    finished = true;
    done(bytes, error);
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done: end, value } = await reader.read();
        if (end) {
          controller.close();
          finish();
          return;
        }
        bytes += value.length;
        controller.enqueue(value);
      } catch (e) {
        finish(e instanceof Error ? e.message : String(e));
        controller.error(e);
      }
    },
    cancel(reason) {
      finish(`client went away after ${bytes} bytes`);
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

/**
 * The server's request handler (what Deno.serve calls): limits, API, access log.
 *
 * @example
 * ```ts
 * // const handler = createRequestHandler({ config, store });
 * // (await handler(new Request("http://x/v2/"))).status; // 200
 * ```
 */
export function createRequestHandler(options: ServerOptions): RequestHandler {
  const hooks = options.hooks ?? {};
  const ctx: ApiContext = {
    store: options.store,
    config: options.config,
    hooks,
    authorize: hooks.authorize ?? allowAll,
  };
  const format = options.config.logFormat;
  const log = options.log ?? ((line: string) => console.error(line));
  let inFlight = 0;
  let draining = false;
  let drained: (() => void) | undefined;
  const settle = () => {
    inFlight--;
    if (draining && inFlight === 0) drained?.();
  };
  const handler = async (request: Request, info?: ConnInfo): Promise<Response> => {
    const started = performance.now();
    const path = rawPath(request.url);
    const query = rawQuery(request.url);
    const remoteAddr = remoteOf(info);
    // Read now: Deno.serve's request is gone once the response was delivered.
    const userAgent = request.headers.get("user-agent") ?? "";
    const method = request.method;
    let user = "";
    const entry = (status: number, bytes: number, error?: string): AccessEntry => ({
      time: new Date(),
      method,
      uri: query ? `${path}?${query}` : path,
      remoteAddr,
      userAgent,
      status,
      bytes,
      durationMs: performance.now() - started,
      user,
      error,
    });
    if (draining) {
      await request.body?.cancel().catch(() => {});
      log(formatAccessLine(entry(503, 0), format));
      return errorResponse("UNSUPPORTED", "the server is stopping", undefined, {
        status: 503,
        headers: { "retry-after": "1", connection: "close" },
      });
    }
    if (inFlight >= options.config.maxRequests) {
      await request.body?.cancel().catch(() => {});
      const response = errorResponse("TOOMANYREQUESTS", undefined, undefined, {
        headers: { "retry-after": "1" },
      });
      log(formatAccessLine(entry(429, 0), format));
      return response;
    }
    inFlight++;
    let response: Response;
    try {
      const handled = await handleApiRequest(ctx, request, {
        remoteAddr: "hostname" in (info?.remoteAddr ?? {})
          ? (info!.remoteAddr as { hostname: string }).hostname
          : "",
      });
      response = handled.response;
      user = handled.principal.name;
    } catch (e) {
      settle();
      log(formatAccessLine(entry(500, 0, e instanceof Error ? e.message : String(e)), format));
      return errorForException(e, "NAME_UNKNOWN");
    }
    const status = response.status;
    if (info?.completed) {
      // Before anything reads response.body: that getter turns a bytes body into a stream,
      // which Deno.serve then sends chunk by chunk instead of in one write.
      const length = method === "HEAD" ? 0 : Number(response.headers.get("content-length") ?? 0);
      info.completed.then(
        () => {
          settle();
          log(formatAccessLine(entry(status, length), format));
        },
        (e) => {
          settle();
          log(
            formatAccessLine(entry(status, 0, e instanceof Error ? e.message : String(e)), format),
          );
        },
      );
      return response;
    }
    if (!response.body || request.method === "HEAD") {
      settle();
      const length = Number(response.headers.get("content-length") ?? 0);
      log(formatAccessLine(entry(status, request.method === "HEAD" ? 0 : length), format));
      return response;
    }
    const body = countedBody(response.body, (bytes, error) => {
      settle();
      log(formatAccessLine(entry(status, bytes, error), format));
    });
    return new Response(body, {
      status,
      statusText: response.statusText,
      headers: response.headers,
    });
  };
  Object.defineProperty(handler, "inFlight", { get: () => inFlight });
  Object.defineProperty(handler, "drain", {
    value: () => {
      draining = true;
      if (inFlight === 0) return Promise.resolve();
      return new Promise<void>((resolve) => {
        drained = resolve;
      });
    },
  });
  return handler as RequestHandler;
}

/**
 * Starts serving `options.store` on `options.config.addr` (HTTPS when `config.tls` is set).
 *
 * @example
 * ```ts
 * // const s = await startServer({ config, store }); console.log(s.url);
 * ```
 */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { config } = options;
  const { hostname, port } = parseAddr(config.addr);
  const batch = options.log ? undefined : batchedStderr();
  const handler = createRequestHandler({ ...options, log: options.log ?? batch!.log });
  const tls = config.tls
    ? {
      cert: await Deno.readTextFile(config.tls.cert),
      key: await Deno.readTextFile(config.tls.key),
    }
    : undefined;
  let listening: { hostname: string; port: number } | undefined;
  const server = Deno.serve({
    hostname,
    port,
    ...(tls ?? {}),
    onListen: (addr) => {
      listening = { hostname: addr.hostname, port: addr.port };
    },
    onError: (e) => errorForException(e, "NAME_UNKNOWN"),
  }, (request, info) => handler(request, info as ConnInfo));
  const addr = listening ?? (server.addr as Deno.NetAddr);
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  const url = `${tls ? "https" : "http"}://${host}:${addr.port}`;

  const report = options.onBackgroundError ??
    ((what: string, e: unknown) =>
      console.error(`ocibox serve: ${what}: ${e instanceof Error ? e.message : String(e)}`));
  const timers: ReturnType<typeof setInterval>[] = [];
  const every = (ms: number, what: string, fn: () => Promise<unknown>) => {
    let running = false;
    const id = setInterval(async () => {
      if (running) return;
      running = true;
      try {
        await fn();
      } catch (e) {
        report(what, e);
      } finally {
        running = false;
      }
    }, ms);
    Deno.unrefTimer(id);
    timers.push(id);
  };
  if (config.uploadExpiryMs > 0) {
    const period = Math.max(1000, Math.min(config.uploadExpiryMs / 4, 15 * 60_000));
    every(period, "upload expiry", () => options.store.expireUploads(config.uploadExpiryMs));
  }
  if (config.gcIntervalMs > 0 && options.collectGarbage) {
    every(config.gcIntervalMs, "garbage collection", options.collectGarbage);
  }

  let stopping: Promise<void> | undefined;
  const shutdown = () => {
    stopping ??= (async () => {
      for (const id of timers) clearInterval(id);
      await handler.drain();
      await server.shutdown();
      await options.hooks?.close?.();
      batch?.flush();
    })();
    return stopping;
  };
  const finished = server.finished.then(() => batch?.flush());
  return { url, addr: { hostname: addr.hostname, port: addr.port }, finished, shutdown };
}
