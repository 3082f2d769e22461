/**
 * Responses the endpoint modules share: the spec's error for an exception thrown by the store
 * or a body check, and the headers every response of the API carries.
 *
 * @example
 * ```ts
 * import { errorForException } from "./respond.ts";
 * import { DigestMismatchError } from "../../errors.ts";
 * errorForException(new DigestMismatchError("blob", "sha256:a", "sha256:b"), "BLOB_UNKNOWN").status; // 400
 * ```
 * @module
 */

import {
  AbortedError,
  DigestMismatchError,
  InvalidDigestError,
  InvalidImageError,
  LimitExceededError,
  NotFoundError,
  OciboxError,
  SizeMismatchError,
  UnsupportedError,
} from "../../errors.ts";
import {
  type DistributionErrorCode,
  errorBody,
  errorResponse,
  isDistributionErrorCode,
} from "../../distribution/errors.ts";
import { uploadRange } from "../../distribution/range.ts";
import {
  ManifestRejectedError,
  TooManyUploadsError,
  UploadOffsetError,
} from "../storage/store_errors.ts";
import { BodyTimeoutError, BodyTooLargeError } from "./body.ts";

/** The header every `/v2/` response carries (distribution's, which clients check for). */
export const API_VERSION_HEADER = ["docker-distribution-api-version", "registry/2.0"] as const;

/**
 * A spec error code carried by an error (the store's ManifestRejectedError names the code it
 * maps to as `specCode`, `registryCode` or `distributionCode`).
 */
function carriedCode(e: unknown): DistributionErrorCode | undefined {
  if (typeof e !== "object" || e === null) return undefined;
  for (const key of ["specCode", "distributionCode", "registryCode", "errorCode"]) {
    const v = (e as Record<string, unknown>)[key];
    if (typeof v === "string" && isDistributionErrorCode(v)) return v;
  }
  const code = (e as { code?: unknown }).code;
  if (typeof code === "string" && isDistributionErrorCode(code) && code !== "UNSUPPORTED") {
    return code;
  }
  return undefined;
}

/**
 * The spec's error Response for `e`. `notFound` is the code a NotFoundError stands for here
 * (BLOB_UNKNOWN, MANIFEST_UNKNOWN, BLOB_UPLOAD_UNKNOWN or NAME_UNKNOWN). Anything unexpected
 * is a 500 with distribution's `UNKNOWN` code, its message kept to one line.
 *
 * @example
 * ```ts
 * errorForException(new Error("disk on fire"), "BLOB_UNKNOWN").status; // 500
 * ```
 */
export function errorForException(e: unknown, notFound: DistributionErrorCode): Response {
  const message = e instanceof Error ? e.message : String(e);
  if (e instanceof ManifestRejectedError) return errorResponse(e.code, message, e.detail);
  if (e instanceof TooManyUploadsError) {
    return errorResponse("TOOMANYREQUESTS", message, { limit: e.limit }, {
      headers: { "retry-after": "5" },
    });
  }
  if (e instanceof UploadOffsetError) {
    return errorResponse("BLOB_UPLOAD_INVALID", message, { size: e.size }, {
      status: 416,
      headers: { range: uploadRange(e.size) },
    });
  }
  const carried = carriedCode(e);
  if (carried) return errorResponse(carried, message);
  if (e instanceof BodyTooLargeError) {
    return errorResponse("SIZE_INVALID", message, { limit: e.limit }, { status: 413 });
  }
  if (e instanceof BodyTimeoutError) {
    return errorResponse("BLOB_UPLOAD_INVALID", message, undefined, { status: 408 });
  }
  if (e instanceof DigestMismatchError || e instanceof InvalidDigestError) {
    return errorResponse("DIGEST_INVALID", message);
  }
  if (e instanceof SizeMismatchError) return errorResponse("SIZE_INVALID", message);
  if (e instanceof NotFoundError) return errorResponse(notFound, message);
  if (e instanceof InvalidImageError) return errorResponse("MANIFEST_INVALID", message);
  if (e instanceof LimitExceededError) return errorResponse("SIZE_INVALID", message);
  if (e instanceof UnsupportedError) return errorResponse("UNSUPPORTED", message);
  if (e instanceof AbortedError || (e instanceof DOMException && e.name === "AbortError")) {
    // The client went away; nobody reads this.
    return errorResponse("BLOB_UPLOAD_INVALID", "request aborted", undefined, { status: 400 });
  }
  const status = e instanceof OciboxError && typeof (e as { status?: unknown }).status === "number"
    ? (e as unknown as { status: number }).status
    : 500;
  return new Response(
    errorBody([{ code: "UNKNOWN", message: message.split("\n")[0] }]),
    { status: status >= 400 && status < 600 ? status : 500, headers: jsonHeaders() },
  );
}

/** `content-type: application/json` headers. */
export function jsonHeaders(extra?: HeadersInit): Headers {
  const h = new Headers(extra);
  h.set("content-type", "application/json");
  return h;
}

/**
 * A JSON Response (compact), with its Content-Length.
 *
 * @example
 * ```ts
 * jsonResponse({ name: "a", tags: [] }).status; // 200
 * ```
 */
export function jsonResponse(
  value: unknown,
  init: { status?: number; headers?: HeadersInit; contentType?: string } = {},
): Response {
  const body = new TextEncoder().encode(JSON.stringify(value));
  const headers = new Headers(init.headers);
  headers.set("content-type", init.contentType ?? "application/json");
  headers.set("content-length", String(body.length));
  return new Response(body, { status: init.status ?? 200, headers });
}

/** An empty Response with `content-length: 0`. */
export function emptyResponse(status: number, headers?: HeadersInit): Response {
  const h = new Headers(headers);
  h.set("content-length", "0");
  return new Response(null, { status, headers: h });
}

/**
 * The Response for an error thrown by the pull-through fallback: the upstream's status and
 * spec code when the error carries them (a RegistryError), else 502 Bad Gateway.
 *
 * @example
 * ```ts
 * fallbackErrorResponse(new Error("upstream unreachable")).status; // 502
 * ```
 */
export function fallbackErrorResponse(e: unknown): Response {
  const message = e instanceof Error ? e.message.split("\n")[0] : String(e);
  const rec = (typeof e === "object" && e !== null ? e : {}) as Record<string, unknown>;
  const status = typeof rec.status === "number" && rec.status >= 400 && rec.status < 600
    ? rec.status
    : 502;
  const code = typeof rec.registryCode === "string" && isDistributionErrorCode(rec.registryCode)
    ? rec.registryCode
    : undefined;
  if (code) return errorResponse(code, message, undefined, { status });
  return new Response(errorBody([{ code: "UNKNOWN", message }]), {
    status,
    headers: jsonHeaders(),
  });
}
