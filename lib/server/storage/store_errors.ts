/**
 * Errors of the registry store that have no general lib/errors.ts class: a manifest PUT that
 * fails its checks (with the spec code the protocol code answers with) and an upload chunk at
 * the wrong offset. Kept apart from registry_store.ts so the protocol code can match on them
 * without loading the store.
 *
 * @example
 * ```ts
 * import { ManifestRejectedError } from "./store_errors.ts";
 * const e = new ManifestRejectedError("MANIFEST_BLOB_UNKNOWN", "blob sha256:ab… is unknown");
 * e.code; // "MANIFEST_BLOB_UNKNOWN"
 * ```
 * @module
 */

import { OciboxError } from "../../errors.ts";

/** The spec codes a rejected manifest maps to. */
export type ManifestRejectionCode = "MANIFEST_INVALID" | "MANIFEST_BLOB_UNKNOWN";

/**
 * A manifest PUT failed its checks. `code` is the spec's error code; `detail` is what the
 * error body's `detail` should carry (e.g. `{ digests: [...] }` for unknown blobs).
 */
export class ManifestRejectedError extends OciboxError {
  constructor(
    override readonly code: ManifestRejectionCode,
    message: string,
    readonly detail?: unknown,
  ) {
    super(code, message);
  }
}

/**
 * An upload chunk did not start where the session ends (the protocol answers 416 with the
 * session's `Range`). `size` is the session's size.
 */
export class UploadOffsetError extends OciboxError {
  constructor(readonly offset: number, readonly size: number) {
    super(
      "UPLOAD_OFFSET",
      `upload chunk starts at byte ${offset} but the session holds ${size} bytes`,
    );
  }
}

/**
 * As many upload sessions as the server allows are open (`uploads.maxSessions`): the protocol
 * answers 429 TOOMANYREQUESTS with `Retry-After`, and the client retries once some finished
 * or expired.
 */
export class TooManyUploadsError extends OciboxError {
  constructor(readonly limit: number) {
    super("TOOMANYREQUESTS", `${limit} upload sessions are open already; retry later`);
  }
}
