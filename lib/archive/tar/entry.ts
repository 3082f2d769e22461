/**
 * The shape of one tar entry as ocibox sees it, after PAX and GNU extensions are applied.
 * Shared by the tar reader, the tar writer and the layer code.
 * @module
 */

/** Entry kinds ocibox reads and writes. */
export type TarEntryType = "file" | "hardlink" | "symlink" | "char" | "block" | "dir" | "fifo";

/** One archive member's metadata. */
export interface TarEntry {
  /** Path as stored in the archive (PAX `path` / GNU long name applied), not cleaned. */
  name: string;
  type: TarEntryType;
  /** Permission bits including setuid, setgid and sticky (masked to 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  /** Number of data bytes that follow the header (0 for everything but files). */
  size: number;
  /** Modification time, whole seconds since the epoch (may be negative). */
  mtime: number;
  /** Nanoseconds part of the modification time, 0..999999999. */
  mtimeNsec: number;
  /** Link target of symlinks and hardlinks, "" otherwise. */
  linkname: string;
  devmajor: number;
  devminor: number;
  /** Extended attributes from `SCHILY.xattr.*` (and `LIBARCHIVE.xattr.*`) records. */
  xattrs: Map<string, Uint8Array>;
}

/** Receives a tar stream's entries from the push parser, synchronously and in order. */
export interface TarSink {
  /** A header was parsed; `size` bytes of data follow through {@linkcode TarSink.data}. */
  entry(entry: TarEntry, headerOffset: number): void;
  /** A slice of the current entry's data; a view valid only during this call. */
  data(chunk: Uint8Array): void;
  /** The current entry's data is complete. */
  entryEnd(): void;
}

/** A TarEntry with every optional-looking field defaulted, for writers and tests. */
export function makeEntry(partial: Partial<TarEntry> & Pick<TarEntry, "name" | "type">): TarEntry {
  return {
    mode: partial.type === "dir" ? 0o755 : 0o644,
    uid: 0,
    gid: 0,
    uname: "",
    gname: "",
    size: 0,
    mtime: 0,
    mtimeNsec: 0,
    linkname: "",
    devmajor: 0,
    devminor: 0,
    xattrs: new Map(),
    ...partial,
  };
}
