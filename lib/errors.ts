/**
 * Typed errors shared by every layer of ocibox. Each class carries a stable `code` that scripts
 * and tests can match on; the message is one line saying what failed, where, and why.
 *
 * @example
 * ```ts
 * import { DigestMismatchError } from "./errors.ts";
 * try {
 *   throw new DigestMismatchError("blob", "sha256:aa", "sha256:bb");
 * } catch (e) {
 *   if (e instanceof DigestMismatchError) console.log(e.code); // "DIGEST_MISMATCH"
 * }
 * ```
 * @module
 */

/** Base class of every error ocibox raises on purpose. */
export class OciboxError extends Error {
  /** Stable machine-readable code, e.g. `DIGEST_MISMATCH`. */
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** The command line was wrong: exit code 2. */
export class UsageError extends OciboxError {
  constructor(message: string) {
    super("USAGE", message);
  }
}

/**
 * Another error, with the exit code ocibox must end with (podman's 125, 126 and 127 for
 * `run IMAGE`); message and code are the cause's.
 */
export class ExitCodeError extends OciboxError {
  constructor(readonly exitCode: number, cause: unknown) {
    super(
      cause instanceof OciboxError ? cause.code : "FAILED",
      cause instanceof Error ? cause.message : String(cause),
      { cause },
    );
  }
}

/** A digest string does not follow the spec's grammar or its algorithm's encoding. */
export class InvalidDigestError extends OciboxError {
  constructor(readonly digest: string, reason: string) {
    super("DIGEST_INVALID", `invalid digest ${JSON.stringify(digest)}: ${reason}`);
  }
}

/** An image reference (`name[:tag][@digest]`, a layout ref name) does not follow its grammar. */
export class InvalidReferenceError extends OciboxError {
  constructor(readonly reference: string, reason: string) {
    super("REFERENCE_INVALID", `invalid reference ${JSON.stringify(reference)}: ${reason}`);
  }
}

/** Content does not hash to the digest that was expected for it. */
export class DigestMismatchError extends OciboxError {
  constructor(readonly what: string, readonly expected: string, readonly actual: string) {
    super("DIGEST_MISMATCH", `${what}: digest mismatch: expected ${expected}, got ${actual}`);
  }
}

/** Content is longer or shorter than the size that was expected for it. */
export class SizeMismatchError extends OciboxError {
  constructor(readonly what: string, readonly expected: number, readonly actual: number) {
    super("SIZE_MISMATCH", `${what}: size mismatch: expected ${expected} bytes, got ${actual}`);
  }
}

/** A manifest, index, config or layout file is not valid per its spec. */
export class InvalidImageError extends OciboxError {
  constructor(readonly what: string, reason: string) {
    super("IMAGE_INVALID", `${what}: ${reason}`);
  }
}

/** A tar stream is malformed (bad checksum, truncated, unsupported entry type ...). */
export class TarFormatError extends OciboxError {
  constructor(reason: string, readonly offset?: number) {
    super(
      "TAR_INVALID",
      offset === undefined ? `tar: ${reason}` : `tar: ${reason} (at byte ${offset})`,
    );
  }
}

/** Compressed data (gzip, zstd) does not decompress. */
export class CorruptCompressionError extends OciboxError {
  constructor(readonly format: string, reason: string, options?: ErrorOptions) {
    super("COMPRESSION_INVALID", `${format} data is corrupt: ${reason}`, options);
  }
}

/** A layer entry would create, change or follow something outside its root. */
export class UnsafePathError extends OciboxError {
  constructor(readonly path: string, reason: string) {
    super("UNSAFE_PATH", `unsafe path ${JSON.stringify(path)}: ${reason}`);
  }
}

/** A layer entry could not be applied to the rootfs (the cause names the system error). */
export class LayerApplyError extends OciboxError {
  constructor(readonly path: string, reason: string, options?: ErrorOptions) {
    super("LAYER_APPLY", `layer entry ${JSON.stringify(path)}: ${reason}`, options);
  }
}

/** Something named by the user does not exist (image, tag, blob, file). */
export class NotFoundError extends OciboxError {
  constructor(message: string) {
    super("NOT_FOUND", message);
  }
}

/** A user or group name in a user spec (e.g. `Config.User`) is not in the container's files. */
export class UserNotFoundError extends OciboxError {
  constructor(readonly kind: "user" | "group", readonly lookupName: string, reason: string) {
    super("USER_NOT_FOUND", `${kind} ${JSON.stringify(lookupName)} not found: ${reason}`);
  }
}

/** The input is valid but asks for something ocibox does not do (yet). */
export class UnsupportedError extends OciboxError {
  constructor(message: string) {
    super("UNSUPPORTED", message);
  }
}

/** An operation was stopped through its AbortSignal (Ctrl-C, timeout). */
export class AbortedError extends OciboxError {
  constructor(message = "operation aborted") {
    super("ABORTED", message);
  }
}

/** Throws {@linkcode AbortedError} when `signal` has fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortedError();
}

/**
 * A registry (or its token server) answered with an error: `status` is the HTTP status and
 * `registryCode` the first code of the spec's error JSON (`MANIFEST_UNKNOWN`, `DENIED` ...) when
 * the body had one. The message is one line, e.g.
 * `registry localhost:5000: GET /v2/x/manifests/y: 404 MANIFEST_UNKNOWN: manifest unknown`.
 */
export class RegistryError extends OciboxError {
  constructor(
    readonly host: string,
    readonly status: number,
    readonly registryCode: string | undefined,
    message: string,
    options?: ErrorOptions,
  ) {
    super("REGISTRY", message, options);
  }
}

/** How a connection failed; `tls` covers certificate verification and handshake failures. */
export type NetworkErrorKind = "connect" | "dns" | "tls" | "reset" | "timeout";

/**
 * A request got no (complete) answer: the connection was refused, reset or timed out, the name
 * did not resolve, or TLS failed. `kind` tells retry policy and users which; `temporary` marks
 * DNS failures worth trying again.
 */
export class NetworkError extends OciboxError {
  /** True for failures that may pass on their own (a DNS server that timed out). */
  readonly temporary: boolean;
  constructor(
    readonly kind: NetworkErrorKind,
    readonly url: string,
    reason: string,
    options?: ErrorOptions & { temporary?: boolean },
  ) {
    super("NETWORK", `${url}: ${reason}`, options);
    this.temporary = options?.temporary ?? false;
  }
}

/**
 * Input goes past a limit ocibox sets to bound time and memory (index nesting, manifests in one
 * copy, members of an archive, pages of a registry listing) or loops where it should end (a
 * next-page link back to a page already read): valid perhaps, but more than any real image or
 * registry needs. `limit` is the number passed, if the bound is one.
 */
export class LimitExceededError extends OciboxError {
  constructor(readonly what: string, readonly limit: number | undefined, reason: string) {
    super("LIMIT_EXCEEDED", `${what}: ${reason}`);
  }
}

/**
 * Something an image is read from is not a regular file where one is expected (a FIFO, socket,
 * device or directory as a layout's `index.json`, a blob, an archive): refused before reading,
 * as a read could block for ever or never end.
 */
export class NotAFileError extends OciboxError {
  constructor(readonly path: string, reason: string) {
    super("NOT_A_FILE", `${path}: ${reason}`);
  }
}

/** A config file ocibox reads (e.g. registries.json) is not in its documented format. */
export class ConfigInvalidError extends OciboxError {
  constructor(readonly path: string, reason: string) {
    super("CONFIG_INVALID", `${path}: ${reason}`);
  }
}

/** An image cannot be removed: containers in the store were made from it (`rmi --force`). */
export class ImageInUseError extends OciboxError {
  constructor(readonly image: string, readonly containers: readonly string[]) {
    super(
      "IMAGE_IN_USE",
      `image ${image} is in use by ${containers.length === 1 ? "container" : "containers"} ` +
        `${containers.join(", ")}; remove ${
          containers.length === 1 ? "it" : "them"
        } first or use --force`,
    );
  }
}

/** A container name (or id) is already taken in the store. */
export class NameInUseError extends OciboxError {
  constructor(readonly containerName: string, readonly holder: string) {
    super(
      "NAME_IN_USE",
      `the container name ${JSON.stringify(containerName)} is already in use by ${holder}; ` +
        "remove that container or choose another name",
    );
  }
}
