/**
 * The HTTP seam of the registry client: a request/response pair and a transport that sends one
 * request. The protocol code (lib/registry/client.ts) and the session (auth, retries, redirects)
 * talk only to these types, so a transport can be fetch, node:https (for --tls-verify=false) or
 * a test's.
 * @module
 */

/** One HTTP request. Bodies are bytes (replayable) or a stream (sent once). */
export interface HttpRequest {
  method: string;
  url: URL;
  headers: Headers;
  body?: Uint8Array | ReadableStream<Uint8Array>;
}

/** One HTTP response; `body` must be consumed or cancelled. */
export interface HttpResponse {
  status: number;
  headers: Headers;
  body: ReadableStream<Uint8Array> | null;
  /** The URL that answered (no redirects are followed by transports). */
  url: URL;
}

/** Sends one request without following redirects. */
export interface HttpTransport {
  send(request: HttpRequest, signal?: AbortSignal): Promise<HttpResponse>;
  /** Releases pooled connections. */
  close(): void;
}

/** TLS and scheme choices for one registry host. */
export interface TlsOptions {
  /** Verify the server certificate (default true; false also allows plain HTTP). */
  verify?: boolean;
  /** A directory of *.crt (CAs) and *.cert/*.key (client certificate) files, like skopeo's. */
  certDir?: string;
}

/** Retry policy for connection errors, 5xx and 429. */
export interface RetryOptions {
  /** Attempts in all, including the first (default 5). */
  attempts?: number;
  /** First backoff delay in ms, doubled each time with jitter (default 200). */
  baseDelayMs?: number;
  /** Upper bound for one delay, also for Retry-After (default 10 s). */
  maxDelayMs?: number;
}
