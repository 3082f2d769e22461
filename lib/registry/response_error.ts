/**
 * Turns a registry's error response into a one-line {@linkcode RegistryError}, reading the
 * Distribution Spec's error JSON (`{"errors":[{"code","message","detail"}]}`) when the body has
 * it and the first line of the body otherwise. What the registry wrote is quoted with escapes
 * when it holds control or bidi characters (see safe_text.ts).
 *
 * @example
 * ```ts
 * import { registryErrorFrom } from "./response_error.ts";
 * const body = new Blob(['{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}'])
 *   .stream();
 * const e = await registryErrorFrom("localhost:5000", "GET", "/v2/x/manifests/y",
 *   { status: 404, headers: new Headers(), body, url: new URL("http://localhost:5000/") });
 * e.message; // "registry localhost:5000: GET /v2/x/manifests/y: 404 MANIFEST_UNKNOWN: manifest unknown"
 * ```
 * @module
 */
import { RegistryError } from "../errors.ts";
import type { HttpResponse } from "../http/types.ts";
import { safeText } from "../report/safe_text.ts";

const STATUS_TEXT: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  413: "Payload Too Large",
  414: "URI Too Long",
  416: "Range Not Satisfiable",
  429: "Too Many Requests",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

const BODY_LIMIT = 64 << 10;

/** Up to `limit` bytes of a body as text; the rest is cancelled. */
async function readSome(body: ReadableStream<Uint8Array> | null, limit: number): Promise<string> {
  if (!body) return "";
  const reader = body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      size += value.length;
    }
  } catch {
    // A body cut short still says what it said so far.
  } finally {
    await reader.cancel().catch(() => {});
  }
  const all = new Uint8Array(size);
  let off = 0;
  for (const p of parts) {
    all.set(p, off);
    off += p.length;
  }
  return new TextDecoder().decode(all.subarray(0, limit));
}

interface SpecError {
  code: string;
  message?: string;
}

function specErrors(text: string): SpecError[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return [];
  }
  const errors = (doc as { errors?: unknown } | null)?.errors;
  if (!Array.isArray(errors)) return [];
  return errors
    .filter((e): e is { code: unknown; message?: unknown } => typeof e === "object" && e !== null)
    .filter((e) => typeof e.code === "string" && e.code !== "")
    .map((e) => ({
      code: safeText(e.code as string),
      ...(typeof e.message === "string" && e.message !== ""
        ? { message: safeText(e.message) }
        : {}),
    }));
}

/** The status and its reason phrase, e.g. `404 Not Found`. */
export function statusLine(status: number): string {
  const text = STATUS_TEXT[status];
  return text ? `${status} ${text}` : String(status);
}

/**
 * Reads (at most 64 KiB of) `response`'s body and builds the error:
 * `registry HOST: METHOD WHERE: STATUS CODE: message[; CODE: message...][ (hint)]`. `where` is a
 * path for the registry's own URLs and a full URL for others. The body is consumed.
 */
export async function registryErrorFrom(
  host: string,
  method: string,
  where: string,
  response: HttpResponse,
  hint?: string,
): Promise<RegistryError> {
  const text = await readSome(response.body, BODY_LIMIT);
  const errors = specErrors(text);
  let what: string;
  if (errors.length) {
    what = `${response.status} ` +
      errors.map((e) => e.message ? `${e.code}: ${e.message}` : e.code).join("; ");
  } else {
    const first = text.trim().split("\n")[0].trim();
    // An HTML error page says nothing its status does not.
    const useful = first && !first.startsWith("<") ? `: ${safeText(first.slice(0, 200))}` : "";
    what = `${statusLine(response.status)}${useful}`;
  }
  const tail = hint ? ` (${hint})` : "";
  return new RegistryError(
    host,
    response.status,
    errors[0]?.code,
    `registry ${host}: ${method} ${safeText(where)}: ${what}${tail}`,
  );
}
