/**
 * Turns what fetch and node:http(s) throw for a failed connection into one typed
 * {@linkcode NetworkError} whose `kind` the retry policy can trust: a TLS verification failure
 * must never look like a dropped connection.
 *
 * @example
 * ```ts
 * import { toNetworkError } from "./network_error.ts";
 * const e = toNetworkError(new Error("connect ECONNREFUSED 127.0.0.1:9"), "http://127.0.0.1:9/");
 * e.kind; // "connect"
 * ```
 * @module
 */
import { AbortedError, NetworkError, type NetworkErrorKind, OciboxError } from "../errors.ts";
import { safeText } from "../report/safe_text.ts";

// Node's error codes for certificate and handshake problems (node:tls and OpenSSL names).
const TLS_CODES = /^(ERR_SSL_|ERR_TLS_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_)/;
const CONNECT_CODES = new Set([
  "ECONNREFUSED",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EHOSTDOWN",
  "ETIMEDOUT",
  "EADDRNOTAVAIL",
]);
const RESET_CODES = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED", "ERR_STREAM_PREMATURE_CLOSE"]);

function errorCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

// fetch wraps the interesting text in `cause`; node puts it in `message`.
function rawText(e: unknown): string {
  const cause = (e as { cause?: unknown } | null)?.cause;
  return cause instanceof Error ? cause.message : e instanceof Error ? e.message : String(e);
}

// Deno prefixes "error sending request for url (URL): client error (Connect): "; keep the end.
// What the server sent can be in it (a status line, a certificate's names): made safe to print.
function detailOf(raw: string): string {
  const m = /client error \([^)]*\): (.*)$/s.exec(raw);
  return safeText((m ? m[1] : raw).split("\n")[0].trim());
}

function classify(
  e: unknown,
  raw: string,
  detail: string,
): { kind: NetworkErrorKind; temporary?: boolean } {
  const code = errorCode(e) ?? errorCode((e as { cause?: unknown } | null)?.cause);
  if (code && TLS_CODES.test(code)) return { kind: "tls" };
  if (code === "ENOTFOUND" || code === "EAI_NONAME") return { kind: "dns" };
  if (code === "EAI_AGAIN") return { kind: "dns", temporary: true };
  if (code && CONNECT_CODES.has(code)) return { kind: "connect" };
  if (code && RESET_CODES.has(code)) return { kind: "reset" };
  const d = detail.toLowerCase();
  if (/certificate|tls|ssl|handshake|corrupt message|alert|wrong version number/.test(d)) {
    return { kind: "tls" };
  }
  if (/dns error|failed to lookup|name or service not known|no address associated/.test(d)) {
    return { kind: "dns", temporary: /temporary failure|try again/.test(d) };
  }
  // hyper names the phase: "(Connect)" failed before any byte of the request went out.
  if (
    raw.includes("client error (Connect)") || /tcp connect|refused|unreachable|are blocked/.test(d)
  ) {
    return { kind: "connect" };
  }
  // Everything else (closed before the message completed, a body cut short, a reset) is a
  // connection that went away mid-exchange.
  return { kind: "reset" };
}

const KIND_TEXT: Record<NetworkErrorKind, string> = {
  connect: "cannot connect",
  dns: "cannot resolve the host name",
  tls: "TLS failed",
  reset: "connection lost",
  timeout: "timed out",
};

/**
 * Wraps a transport failure for `url` as a {@linkcode NetworkError}. OciboxErrors (already
 * typed, e.g. {@linkcode AbortedError}) pass through unchanged; DOM abort errors become
 * AbortedError.
 */
export function toNetworkError(e: unknown, url: string | URL): OciboxError {
  if (e instanceof OciboxError) return e;
  const name = (e as { name?: unknown } | null)?.name;
  if (name === "AbortError" || name === "TimeoutError") return new AbortedError();
  const raw = rawText(e);
  const detail = detailOf(raw);
  const { kind, temporary } = classify(e, raw, detail);
  let hint = "";
  if (kind === "tls" && /certificaterequired|certificate required/i.test(detail)) {
    hint = " (the server wants a client certificate: NAME.cert and NAME.key in --cert-dir)";
  } else if (
    kind === "tls" &&
    /invalid peer certificate|issuer|self.signed|unable to verify|expired|not valid for/i.test(
      detail,
    )
  ) {
    hint = " (trust its CA with --cert-dir, or use --tls-verify=false)";
  }
  return new NetworkError(kind, String(url), `${KIND_TEXT[kind]}: ${detail}${hint}`, {
    cause: e,
    temporary,
  });
}
