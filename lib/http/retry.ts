/**
 * When to send a registry request again, and after how long: connection failures (never TLS
 * verification failures, which do not heal), 5xx except 501 Not Implemented, and 429 Too Many
 * Requests; exponential backoff with jitter, or the server's `Retry-After`, both capped; a
 * bounded number of attempts. The policy functions are pure; {@linkcode withRetry} applies them.
 *
 * @example
 * ```ts
 * import { withRetry } from "./retry.ts";
 * import { fetchTransport } from "./fetch_transport.ts";
 * const t = fetchTransport();
 * const req = { method: "GET", url: new URL("https://localhost:5000/v2/"), headers: new Headers() };
 * const res = await withRetry(() => t.send(req), { attempts: 3 });
 * ```
 * @module
 */
import { AbortedError, NetworkError } from "../errors.ts";
import type { HttpResponse, RetryOptions } from "./types.ts";

/** The defaults of {@linkcode RetryOptions}. */
export const DEFAULT_RETRY: Readonly<Required<RetryOptions>> = {
  attempts: 5,
  baseDelayMs: 200,
  maxDelayMs: 10_000,
};

/** True for statuses worth another try: 429 and 5xx except 501 (which will not change). */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status <= 599 && status !== 501);
}

/**
 * True for failures worth another try: lost, refused or timed-out connections and temporary
 * DNS failures. TLS failures (an untrusted certificate) and aborts are final.
 */
export function isRetryableError(e: unknown): boolean {
  if (!(e instanceof NetworkError)) return false;
  if (e.kind === "dns") return e.temporary;
  return e.kind === "connect" || e.kind === "reset" || e.kind === "timeout";
}

/**
 * The delay a `Retry-After` value asks for, in ms: delta-seconds or an HTTP date (a date in the
 * past means now). Undefined when absent or unreadable.
 */
export function parseRetryAfter(
  value: string | null,
  now: number = Date.now(),
): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  // HTTP dates always name the weekday first (IMF-fixdate and the obsolete forms).
  if (!/^[A-Za-z]{3}/.test(v)) return undefined;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/**
 * The backoff before retry number `retry` (1 for the first retry): `baseDelayMs * 2^(retry-1)`
 * capped at `maxDelayMs`, of which a random half is taken away so clients spread out.
 */
export function backoffDelay(
  retry: number,
  options: RetryOptions = {},
  random: () => number = Math.random,
): number {
  const base = options.baseDelayMs ?? DEFAULT_RETRY.baseDelayMs;
  const max = options.maxDelayMs ?? DEFAULT_RETRY.maxDelayMs;
  const full = Math.min(max, base * 2 ** Math.max(0, retry - 1));
  return Math.round(full / 2 + (full / 2) * random());
}

/**
 * The delay before retry number `retry` after a response: its `Retry-After` when it has one
 * (capped at `maxDelayMs`), else {@linkcode backoffDelay}.
 */
export function retryDelay(
  retry: number,
  options: RetryOptions = {},
  headers?: Headers,
  now: number = Date.now(),
  random: () => number = Math.random,
): number {
  const max = options.maxDelayMs ?? DEFAULT_RETRY.maxDelayMs;
  const asked = parseRetryAfter(headers?.get("retry-after") ?? null, now);
  return asked === undefined ? backoffDelay(retry, options, random) : Math.min(asked, max);
}

/** Waits `ms`, or throws {@linkcode AbortedError} as soon as `signal` fires. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(new AbortedError());
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(new AbortedError());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** What {@linkcode withRetry} tells `onRetry` before it waits. */
export interface RetryEvent {
  /** The attempt that failed (1 for the first). */
  attempt: number;
  /** How long it waits now. */
  delayMs: number;
  /** The status or error that made it retry. */
  reason: string;
}

/** {@linkcode RetryOptions} plus hooks for {@linkcode withRetry}. */
export interface WithRetryOptions extends RetryOptions {
  /** Called before each wait (logging, tests). */
  onRetry?: (event: RetryEvent) => void;
}

/**
 * Calls `fn` until it yields a response that is not retryable, throws an error that is not,
 * or the attempts run out; the last response is returned (its body intact) and the last error
 * thrown. Bodies of responses given up on are cancelled. `fn` receives the attempt number and
 * must build a fresh request each time (a stream body cannot be sent twice: pass
 * `attempts: 1` for those).
 */
export async function withRetry(
  fn: (attempt: number) => Promise<HttpResponse>,
  options: WithRetryOptions = {},
  signal?: AbortSignal,
): Promise<HttpResponse> {
  const attempts = Math.max(1, options.attempts ?? DEFAULT_RETRY.attempts);
  for (let attempt = 1;; attempt++) {
    if (signal?.aborted) throw new AbortedError();
    let delayMs: number;
    let reason: string;
    try {
      const res = await fn(attempt);
      if (attempt >= attempts || !isRetryableStatus(res.status)) return res;
      await res.body?.cancel().catch(() => {});
      delayMs = retryDelay(attempt, options, res.headers);
      reason = `HTTP ${res.status}`;
    } catch (e) {
      if (attempt >= attempts || !isRetryableError(e)) throw e;
      delayMs = backoffDelay(attempt, options);
      reason = (e as Error).message;
    }
    options.onRetry?.({ attempt, delayMs, reason });
    await sleep(delayMs, signal);
  }
}
