/**
 * An {@linkcode HttpTransport} over `node:https`/`node:http`. Unlike fetch it can skip
 * certificate verification (for `--tls-verify=false`) and send a streamed body with a
 * Content-Length (fetch always sends streams chunked, which S3-style upload targets refuse).
 * Bodies stream both ways with backpressure.
 *
 * @example
 * ```ts
 * import { nodeTransport } from "./node_transport.ts";
 * const t = nodeTransport({ verify: false });
 * const res = await t.send({ method: "GET", url: new URL("https://localhost:5000/v2/"),
 *   headers: new Headers() });
 * await res.body?.cancel();
 * t.close();
 * ```
 * @module
 */
import http from "node:http";
import https from "node:https";
import type { IncomingMessage } from "node:http";
import { AbortedError } from "../errors.ts";
import { toNetworkError } from "./network_error.ts";
import type { HttpRequest, HttpResponse, HttpTransport } from "./types.ts";

/** TLS material for {@linkcode nodeTransport}. */
export interface NodeTransportOptions {
  /** Verify server certificates (default true). */
  verify?: boolean;
  /** PEM certificates to trust; when given they replace node's default roots. */
  ca?: string[];
  /** PEM client certificate chain for mutual TLS. */
  cert?: string;
  /** PEM private key of `cert`. */
  key?: string;
}

function headersOf(raw: string[]): Headers {
  const headers = new Headers();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    try {
      headers.append(raw[i], raw[i + 1]);
    } catch { /* a header value Headers refuses (bad bytes) is not one we need */ }
  }
  return headers;
}

function bodyOf(
  res: IncomingMessage,
  url: URL,
  signal: AbortSignal | undefined,
  done: () => void,
): ReadableStream<Uint8Array> {
  // Node may still emit events after the consumer cancelled; the controller must not see them.
  let open = true;
  const finish = () => {
    const was = open;
    open = false;
    done();
    return was;
  };
  return new ReadableStream<Uint8Array>({
    start(controller) {
      res.on("data", (chunk: Uint8Array) => {
        if (!open) return;
        controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        // Stop reading the socket until the consumer asks for more.
        if ((controller.desiredSize ?? 1) <= 0) res.pause();
      });
      res.on("end", () => {
        if (finish()) controller.close();
      });
      res.on("error", (e) => {
        if (finish()) {
          controller.error(signal?.aborted ? new AbortedError() : toNetworkError(e, url));
        }
      });
    },
    pull() {
      res.resume();
    },
    cancel() {
      finish();
      res.destroy();
    },
  });
}

async function pump(
  req: http.ClientRequest,
  body: ReadableStream<Uint8Array>,
): Promise<void> {
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (req.destroyed) return;
      if (!req.write(value)) {
        await new Promise<void>((resolve) => {
          const go = () => {
            req.off("drain", go);
            req.off("close", go);
            resolve();
          };
          req.on("drain", go);
          req.on("close", go);
        });
      }
    }
    req.end();
  } catch (e) {
    req.destroy(e instanceof Error ? e : new Error(String(e)));
  } finally {
    reader.releaseLock();
  }
}

/**
 * Makes a transport over node's HTTP stack with keep-alive agents. Redirects are not followed;
 * failures become {@linkcode NetworkError}s (or {@linkcode AbortedError} when `signal` fired).
 */
export function nodeTransport(options: NodeTransportOptions = {}): HttpTransport {
  const httpsAgent = new https.Agent({
    keepAlive: true,
    rejectUnauthorized: options.verify !== false,
    ...(options.ca ? { ca: options.ca } : {}),
    ...(options.cert && options.key ? { cert: options.cert, key: options.key } : {}),
  });
  const httpAgent = new http.Agent({ keepAlive: true });

  function send(request: HttpRequest, signal?: AbortSignal): Promise<HttpResponse> {
    const { url } = request;
    if (signal?.aborted) return Promise.reject(new AbortedError());
    const headers: Record<string, string> = {};
    request.headers.forEach((v, k) => headers[k] = v);
    const body = request.body;
    if (body instanceof Uint8Array && headers["content-length"] === undefined) {
      headers["content-length"] = String(body.length);
    }
    const isHttps = url.protocol === "https:";
    const lib = isHttps ? https : http;
    return new Promise<HttpResponse>((resolve, reject) => {
      let settled = false;
      const onAbort = () => req.destroy(new AbortedError());
      const cleanup = () => signal?.removeEventListener("abort", onAbort);
      const req = lib.request(url, {
        method: request.method,
        headers,
        agent: isHttps ? httpsAgent : httpAgent,
      }, (res) => {
        settled = true;
        const noBody = request.method === "HEAD" || res.statusCode === 204 ||
          res.statusCode === 304;
        if (noBody) {
          res.resume();
          cleanup();
        }
        resolve({
          status: res.statusCode ?? 0,
          headers: headersOf(res.rawHeaders),
          body: noBody ? null : bodyOf(res, url, signal, cleanup),
          url,
        });
      });
      signal?.addEventListener("abort", onAbort, { once: true });
      req.on("error", (e) => {
        if (settled) return; // the body stream reports errors after the headers
        cleanup();
        reject(signal?.aborted ? new AbortedError() : toNetworkError(e, url));
      });
      if (body === undefined) req.end();
      else if (body instanceof Uint8Array) req.end(body);
      else void pump(req, body);
    });
  }

  return {
    send,
    close() {
      httpsAgent.destroy();
      httpAgent.destroy();
    },
  };
}
