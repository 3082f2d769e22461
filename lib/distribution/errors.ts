/**
 * The Distribution Spec's error codes (spec.md "Error Codes"), the HTTP status each goes with,
 * and the JSON error body `{"errors":[{"code","message","detail"}]}`, for the server to write
 * and the client to read.
 *
 * @example
 * ```ts
 * import { errorResponse } from "./errors.ts";
 * const r = errorResponse("MANIFEST_UNKNOWN", "manifest unknown", { tag: "v9" });
 * console.log(r.status); // 404
 * ```
 * @module
 */

/** The codes spec.md lists (code-1 to code-14). */
export type DistributionErrorCode =
  | "BLOB_UNKNOWN"
  | "BLOB_UPLOAD_INVALID"
  | "BLOB_UPLOAD_UNKNOWN"
  | "DIGEST_INVALID"
  | "MANIFEST_BLOB_UNKNOWN"
  | "MANIFEST_INVALID"
  | "MANIFEST_UNKNOWN"
  | "NAME_INVALID"
  | "NAME_UNKNOWN"
  | "SIZE_INVALID"
  | "UNAUTHORIZED"
  | "DENIED"
  | "UNSUPPORTED"
  | "TOOMANYREQUESTS";

/**
 * Each code's usual HTTP status (as distribution's errcode registrations give them) and the
 * spec's description, used as the default message.
 */
export const ERROR_CODES: Readonly<
  Record<DistributionErrorCode, { readonly status: number; readonly message: string }>
> = Object.freeze({
  BLOB_UNKNOWN: { status: 404, message: "blob unknown to registry" },
  BLOB_UPLOAD_INVALID: { status: 400, message: "blob upload invalid" },
  BLOB_UPLOAD_UNKNOWN: { status: 404, message: "blob upload unknown to registry" },
  DIGEST_INVALID: { status: 400, message: "provided digest did not match uploaded content" },
  MANIFEST_BLOB_UNKNOWN: {
    status: 400,
    message: "manifest references a manifest or blob unknown to registry",
  },
  MANIFEST_INVALID: { status: 400, message: "manifest invalid" },
  MANIFEST_UNKNOWN: { status: 404, message: "manifest unknown to registry" },
  NAME_INVALID: { status: 400, message: "invalid repository name" },
  NAME_UNKNOWN: { status: 404, message: "repository name not known to registry" },
  SIZE_INVALID: { status: 400, message: "provided length did not match content length" },
  UNAUTHORIZED: { status: 401, message: "authentication required" },
  DENIED: { status: 403, message: "requested access to the resource is denied" },
  UNSUPPORTED: { status: 405, message: "the operation is unsupported" },
  TOOMANYREQUESTS: { status: 429, message: "too many requests" },
});

/** One entry of an error body. */
export interface DistributionErrorEntry {
  code: string;
  message: string;
  detail?: unknown;
}

/**
 * True for the codes of spec.md's table.
 *
 * @example
 * ```ts
 * isDistributionErrorCode("DENIED"); // true
 * isDistributionErrorCode("TAG_INVALID"); // false: a legacy Docker code
 * ```
 */
export function isDistributionErrorCode(code: string): code is DistributionErrorCode {
  return Object.hasOwn(ERROR_CODES, code);
}

/**
 * The JSON text of an error body.
 *
 * @example
 * ```ts
 * errorBody([{ code: "NAME_UNKNOWN", message: "repository name not known to registry" }]);
 * // '{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}'
 * ```
 */
export function errorBody(entries: readonly DistributionErrorEntry[]): string {
  return JSON.stringify({
    errors: entries.map((e) => ({
      code: e.code,
      message: e.message,
      ...(e.detail !== undefined ? { detail: e.detail } : {}),
    })),
  });
}

/**
 * An error Response: `status` defaults to the code's status, `message` to the spec's
 * description. `headers` are added (e.g. `WWW-Authenticate`, `Retry-After`).
 *
 * @example
 * ```ts
 * const r = errorResponse("UNAUTHORIZED", undefined, undefined, {
 *   headers: { "www-authenticate": 'Basic realm="ocibox"' },
 * });
 * r.status; // 401
 * ```
 */
export function errorResponse(
  code: DistributionErrorCode,
  message?: string,
  detail?: unknown,
  options: { status?: number; headers?: HeadersInit; more?: DistributionErrorEntry[] } = {},
): Response {
  const info = ERROR_CODES[code];
  const headers = new Headers(options.headers);
  headers.set("content-type", "application/json");
  const body = errorBody([
    { code, message: message ?? info.message, detail },
    ...(options.more ?? []),
  ]);
  return new Response(body, { status: options.status ?? info.status, headers });
}

/**
 * Reads the entries of an error body; undefined when `text` is not one (the spec allows 4xx
 * bodies in any format).
 *
 * @example
 * ```ts
 * parseErrorBody('{"errors":[{"code":"DENIED","message":"no"}]}'); // [{ code: "DENIED", ... }]
 * parseErrorBody("<html>"); // undefined
 * ```
 */
export function parseErrorBody(text: string): DistributionErrorEntry[] | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof json !== "object" || json === null) return undefined;
  const errors = (json as { errors?: unknown }).errors;
  if (!Array.isArray(errors)) return undefined;
  const out: DistributionErrorEntry[] = [];
  for (const e of errors) {
    if (typeof e !== "object" || e === null) continue;
    const { code, message, detail } = e as Record<string, unknown>;
    if (typeof code !== "string") continue;
    out.push({
      code,
      message: typeof message === "string" ? message : "",
      ...(detail !== undefined ? { detail } : {}),
    });
  }
  return out;
}
