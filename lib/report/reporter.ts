/**
 * One interface for everything long-running work tells the user: narrative lines, warnings and
 * per-blob progress. Commands pick an implementation (plain lines on stderr, or quiet); later a
 * TTY progress-bar or JSON-events reporter plugs in without touching the work itself.
 * @module
 */

/** What kind of blob a progress event is about. */
export type BlobKind = "config" | "layer" | "manifest" | "blob";

/** Receives progress from copy, unpack and append. */
export interface Reporter {
  /** Whether byte counts are shown (when false, nobody counts them). */
  readonly wantsProgress?: boolean;
  /** A step of the work, e.g. "Writing manifest to image destination". */
  info(message: string): void;
  /** Something the user should know that did not stop the work. */
  warn(message: string): void;
  /** A blob transfer starts (or is skipped because the destination has it). */
  blobStart(kind: BlobKind, digest: string, size: number, skipped: boolean): void;
  /** Bytes of a blob moved so far. */
  blobProgress(digest: string, done: number): void;
  /** A blob transfer finished. */
  blobDone(digest: string): void;
}

/** Writes skopeo-style lines to stderr (or `write`). */
export function plainReporter(write: (line: string) => void = (l) => console.error(l)): Reporter {
  return {
    info: write,
    warn: (m) => write(`warning: ${m}`),
    blobStart(kind, digest, _size, skipped) {
      const noun = kind === "layer" ? "blob" : kind;
      write(
        skipped ? `Copying ${noun} ${digest} skipped: already exists` : `Copying ${noun} ${digest}`,
      );
    },
    blobProgress() {},
    blobDone() {},
  };
}

/** Says nothing but warnings. */
export function quietReporter(warn: (line: string) => void = (l) => console.error(l)): Reporter {
  return {
    info() {},
    warn: (m) => warn(`warning: ${m}`),
    blobStart() {},
    blobProgress() {},
    blobDone() {},
  };
}

/** Collects every event; for tests. */
export function recordingReporter(): Reporter & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    info: (m) => lines.push(m),
    warn: (m) => lines.push(`warning: ${m}`),
    blobStart: (kind, digest, _size, skipped) =>
      lines.push(`${kind} ${digest}${skipped ? " skipped" : ""}`),
    blobProgress() {},
    blobDone() {},
  };
}
