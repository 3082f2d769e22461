/**
 * Access log lines in the shape of docker-registry's "response completed" entries (logrus
 * fields: method, URI, remote address, user agent, status, bytes written, duration, user), as
 * `key=value` text or one JSON object a line.
 *
 * @example
 * ```ts
 * import { formatAccessLine } from "./access_log.ts";
 * formatAccessLine({
 *   time: new Date(0), method: "GET", uri: "/v2/", remoteAddr: "127.0.0.1", userAgent: "curl",
 *   status: 200, bytes: 2, durationMs: 0.4, user: "",
 * }, "text");
 * // 'time="1970-01-01T00:00:00.000Z" level=info msg="response completed" http.request.method=GET …'
 * ```
 * @module
 */

/** One request, as logged. */
export interface AccessEntry {
  time: Date;
  method: string;
  /** Path and query, as sent. */
  uri: string;
  remoteAddr: string;
  userAgent: string;
  status: number;
  /** Response body bytes written. */
  bytes: number;
  durationMs: number;
  /** The principal's name; "" for anonymous requests. */
  user: string;
  /** Set when the response body failed or the client went away mid-body. */
  error?: string;
}

function quote(v: string): string {
  return /^[A-Za-z0-9_./:@+-]+$/.test(v) ? v : JSON.stringify(v);
}

/** A duration as Go prints one: `850µs`, `12.3ms`, `1.5s`. */
export function formatDuration(ms: number): string {
  if (ms < 1) return `${Math.round(ms * 1000)}µs`;
  if (ms < 1000) return `${Number(ms.toFixed(3))}ms`;
  return `${Number((ms / 1000).toFixed(3))}s`;
}

/**
 * One log line (no newline) in `format`.
 *
 * @example
 * ```ts
 * // JSON: {"time":"…","level":"info","msg":"response completed","http.request.method":"GET",…}
 * ```
 */
export function formatAccessLine(e: AccessEntry, format: "text" | "json"): string {
  const fields: [string, string | number][] = [
    ["http.request.method", e.method],
    ["http.request.uri", e.uri],
    ["http.request.remoteaddr", e.remoteAddr],
    ["http.request.useragent", e.userAgent],
    ["http.response.status", e.status],
    ["http.response.written", e.bytes],
    ["http.response.duration", formatDuration(e.durationMs)],
  ];
  if (e.user) fields.push(["auth.user.name", e.user]);
  if (e.error) fields.push(["error", e.error]);
  const level = e.error || e.status >= 500 ? "error" : "info";
  const msg = e.error ? "response failed" : "response completed";
  if (format === "json") {
    const obj: Record<string, string | number> = {
      time: e.time.toISOString(),
      level,
      msg,
    };
    for (const [k, v] of fields) obj[k] = v;
    return JSON.stringify(obj);
  }
  const parts = [`time=${JSON.stringify(e.time.toISOString())}`, `level=${level}`, `msg="${msg}"`];
  for (const [k, v] of fields) parts.push(`${k}=${typeof v === "number" ? v : quote(v)}`);
  return parts.join(" ");
}
