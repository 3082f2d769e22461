/**
 * A synchronous, incremental tar parser: push byte chunks of any size in, get entries and
 * zero-copy data views out through a {@linkcode TarSink}. Reads v7, ustar, GNU (long names and
 * links, base-256 numbers) and PAX (local and global headers, xattrs) archives; refuses sparse
 * files and GNU multi-volume/dump-dir entries.
 *
 * Semantics follow GNU tar where tars disagree:
 * - the end-of-archive marker is two zero blocks, but one zero block ends the archive too, and so
 *   does EOF right at a header boundary (as in Go's archive/tar); bytes after the end are ignored;
 * - data following symlinks, devices and FIFOs is skipped; hardlinks skip only a PAX `size` (their
 *   header size field is ignored); directories never have data. Such entries report `size` 0;
 * - GNU long names/links override PAX `path`/`linkpath`; extension headers are limited to 1 MiB
 *   as in Go's archive/tar.
 *
 * @example
 * ```ts
 * import { TarReader } from "./reader.ts";
 * const reader = new TarReader({
 *   entry: (e) => console.log(e.name, e.size),
 *   data: (_chunk) => {},
 *   entryEnd: () => {},
 * });
 * // for (const chunk of chunks) reader.push(chunk);
 * reader.end();
 * ```
 * @module
 */

import { TarFormatError } from "../../errors.ts";
import type { TarEntry, TarEntryType, TarSink } from "./entry.ts";
import {
  BLOCK_SIZE,
  checkHeaderBlock,
  cstringEnd,
  decodeEntryHeader,
  decodeSizeField,
  decodeTarString,
  TypeFlag,
} from "./header.ts";
import { applyPax, parsePax, type PaxAttributes } from "./pax.ts";

/** Largest PAX or GNU long-name payload accepted, like Go's archive/tar. */
const MAX_EXTENSION_SIZE = 1 << 20;

const State = {
  HEADER: 0,
  DATA: 1,
  SKIP: 2,
  EXTENSION: 3,
  DONE: 4,
} as const;
type State = typeof State[keyof typeof State];

const Ext = { PAX: 0, PAX_GLOBAL: 1, LONG_NAME: 2, LONG_LINK: 3 } as const;
type Ext = typeof Ext[keyof typeof Ext];

function padding(size: number): number {
  return (BLOCK_SIZE - (size % BLOCK_SIZE)) % BLOCK_SIZE;
}

function entryTypeOf(flag: number): TarEntryType | undefined {
  switch (flag) {
    case TypeFlag.FILE:
    case TypeFlag.OLD_FILE:
    case TypeFlag.CONTIGUOUS:
      return "file";
    case TypeFlag.LINK:
      return "hardlink";
    case TypeFlag.SYMLINK:
      return "symlink";
    case TypeFlag.CHAR:
      return "char";
    case TypeFlag.BLOCK:
      return "block";
    case TypeFlag.DIR:
      return "dir";
    case TypeFlag.FIFO:
      return "fifo";
  }
  return undefined;
}

/**
 * Push parser for tar streams. Calls `sink.entry(entry, headerOffset)`, then `sink.data(view)`
 * zero or more times (views into the pushed chunk, valid only during the call), then
 * `sink.entryEnd()`, for every entry in order. `headerOffset` is where the entry's first header
 * block starts (its PAX or GNU extension header, if it has one).
 */
export class TarReader {
  #sink: TarSink;
  #state: State = State.HEADER;
  #pos = 0;
  /** Partial header block when a header straddles chunks. */
  #hdr = new Uint8Array(BLOCK_SIZE);
  #hdrFill = 0;
  /** Bytes left in DATA (entry data), SKIP (padding or ignored data) or EXTENSION. */
  #remaining = 0;
  /** Padding to skip after the current entry's data. */
  #pad = 0;
  #ext: Ext = Ext.PAX;
  #extAt = 0;
  #extBuf: Uint8Array | null = null;
  #extFill = 0;
  #local: PaxAttributes | null = null;
  #global: PaxAttributes | null = null;
  #longName: string | null = null;
  #longLink: string | null = null;
  /** Offset of the first extension header of the entry being assembled, or -1. */
  #memberStart = -1;
  #sawEnd = false;
  /** The current SKIP run is the padding after an entry's data. */
  #inPadding = false;

  /** Creates a parser that reports to `sink`. */
  constructor(sink: TarSink) {
    this.#sink = sink;
  }

  /**
   * Bytes consumed so far. Inside `sink.entry` it is the offset of the entry's first data byte;
   * inside `sink.data` the offset just past the given view.
   */
  get offset(): number {
    return this.#pos;
  }

  /** True once an end-of-archive marker (a zero block) was read. */
  get sawEndOfArchive(): boolean {
    return this.#sawEnd;
  }

  /**
   * How many of the next bytes are entry data or padding that {@linkcode TarReader.skip} may pass
   * over, letting a seekable source avoid reading them. 0 when a header comes next.
   */
  get skippableBytes(): number {
    if (this.#state === State.DATA) return this.#remaining + this.#pad;
    if (this.#state === State.SKIP) return this.#remaining;
    return 0;
  }

  /**
   * Advances over `count` bytes (at most {@linkcode TarReader.skippableBytes}) that the caller did
   * not read, for seekable sources; `sink.data` is not called for them, `sink.entryEnd` is.
   */
  skip(count: number): void {
    if (!(count >= 0 && count <= this.skippableBytes)) {
      throw new RangeError(`skip(${count}) beyond the ${this.skippableBytes} skippable bytes`);
    }
    let left = count;
    while (left > 0) {
      const take = Math.min(left, this.#remaining);
      this.#remaining -= take;
      this.#pos += take;
      left -= take;
      if (this.#remaining === 0) this.#finishRun();
    }
  }

  /** Parses `chunk`; the chunk may end anywhere, even inside a header or PAX record. */
  push(chunk: Uint8Array): void {
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      switch (this.#state) {
        case State.HEADER: {
          const at = this.#pos;
          if (this.#hdrFill === 0 && n - i >= BLOCK_SIZE) {
            this.#pos += BLOCK_SIZE;
            i += BLOCK_SIZE;
            this.#header(chunk, i - BLOCK_SIZE, at);
          } else {
            const take = Math.min(BLOCK_SIZE - this.#hdrFill, n - i);
            this.#hdr.set(chunk.subarray(i, i + take), this.#hdrFill);
            this.#hdrFill += take;
            this.#pos += take;
            i += take;
            if (this.#hdrFill === BLOCK_SIZE) {
              this.#hdrFill = 0;
              this.#header(this.#hdr, 0, at + take - BLOCK_SIZE);
            }
          }
          break;
        }
        case State.DATA: {
          const take = Math.min(this.#remaining, n - i);
          this.#remaining -= take;
          this.#pos += take;
          this.#sink.data(chunk.subarray(i, i + take));
          i += take;
          if (this.#remaining === 0) this.#finishRun();
          break;
        }
        case State.SKIP: {
          const take = Math.min(this.#remaining, n - i);
          this.#remaining -= take;
          this.#pos += take;
          i += take;
          if (this.#remaining === 0) {
            this.#state = State.HEADER;
            this.#inPadding = false;
          }
          break;
        }
        case State.EXTENSION: {
          const take = Math.min(this.#remaining, n - i);
          if (this.#extBuf === null && take === this.#remaining) {
            // The whole payload is in this chunk: parse it in place.
            this.#pos += take;
            i += take;
            this.#remaining = 0;
            this.#extension(chunk, i - take, i);
          } else {
            this.#extBuf ??= new Uint8Array(this.#remaining);
            this.#extBuf.set(chunk.subarray(i, i + take), this.#extFill);
            this.#extFill += take;
            this.#remaining -= take;
            this.#pos += take;
            i += take;
            if (this.#remaining === 0) {
              const buf = this.#extBuf;
              this.#extBuf = null;
              this.#extFill = 0;
              this.#extension(buf, 0, buf.length);
            }
          }
          break;
        }
        case State.DONE:
          // Trailing bytes after the end-of-archive marker (record padding, junk) are ignored.
          this.#pos += n - i;
          i = n;
          break;
      }
    }
  }

  /**
   * Declares the end of input. Throws {@linkcode TarFormatError} "truncated" when the stream
   * stopped inside a header, extension payload, entry data or padding, or between an extension
   * header and the entry it belongs to.
   */
  end(): void {
    switch (this.#state) {
      case State.DONE:
        return;
      case State.HEADER:
        if (this.#hdrFill > 0) throw new TarFormatError("truncated in a header", this.#pos);
        if (this.#memberStart >= 0) {
          throw new TarFormatError("truncated after an extension header", this.#pos);
        }
        this.#state = State.DONE;
        return;
      case State.EXTENSION:
        throw new TarFormatError("truncated in an extension header", this.#pos);
      case State.SKIP:
        // The last entry's data is complete and only its padding is missing: umoci 0.4's
        // `insert` writes layers like that and Go's reader accepts them, so do we.
        if (this.#inPadding) {
          this.#state = State.DONE;
          return;
        }
        throw new TarFormatError("truncated in entry data", this.#pos);
      default:
        throw new TarFormatError("truncated in entry data", this.#pos);
    }
  }

  /** Data or a skip run ended: padding next (DATA only), else the next header. */
  #finishRun(): void {
    if (this.#state === State.DATA) {
      this.#sink.entryEnd();
      if (this.#pad > 0) {
        this.#state = State.SKIP;
        this.#remaining = this.#pad;
        this.#pad = 0;
        this.#inPadding = true;
        return;
      }
    }
    this.#state = State.HEADER;
    this.#inPadding = false;
  }

  #skipThen(bytes: number): void {
    this.#inPadding = false;
    this.#remaining = bytes;
    this.#state = bytes > 0 ? State.SKIP : State.HEADER;
  }

  #header(block: Uint8Array, off: number, at: number): void {
    if (!checkHeaderBlock(block, off, at)) {
      // A lone zero block ends the archive for GNU tar and Python too; what follows is ignored.
      if (this.#memberStart >= 0) {
        throw new TarFormatError("end of archive after an extension header", at);
      }
      this.#sawEnd = true;
      this.#state = State.DONE;
      return;
    }
    const flag = block[off + 156];
    const type = entryTypeOf(flag);
    if (type !== undefined) return this.#entry(block, off, at, type);
    switch (flag) {
      case TypeFlag.PAX_LOCAL:
      case TypeFlag.SOLARIS_PAX:
        return this.#startExtension(block, off, at, Ext.PAX);
      case TypeFlag.PAX_GLOBAL:
        return this.#startExtension(block, off, at, Ext.PAX_GLOBAL);
      case TypeFlag.GNU_LONG_NAME:
        return this.#startExtension(block, off, at, Ext.LONG_NAME);
      case TypeFlag.GNU_LONG_LINK:
        return this.#startExtension(block, off, at, Ext.LONG_LINK);
      case TypeFlag.GNU_SPARSE:
        throw new TarFormatError("sparse files are not supported", at);
      case TypeFlag.GNU_VOLUME: {
        // A volume label names the tape, not a file.
        const size = decodeSizeField(block, off, at);
        return this.#skipThen(size + padding(size));
      }
    }
    const shown = flag >= 0x20 && flag < 0x7f
      ? `'${String.fromCharCode(flag)}'`
      : `0x${flag.toString(16).padStart(2, "0")}`;
    throw new TarFormatError(`unsupported entry type ${shown}`, at);
  }

  #startExtension(block: Uint8Array, off: number, at: number, kind: Ext): void {
    const size = decodeSizeField(block, off, at);
    if (size > MAX_EXTENSION_SIZE) {
      throw new TarFormatError(`extension header of ${size} bytes exceeds 1 MiB`, at);
    }
    if (kind !== Ext.PAX_GLOBAL && this.#memberStart < 0) this.#memberStart = at;
    this.#ext = kind;
    this.#extAt = at;
    this.#pad = padding(size);
    this.#remaining = size;
    if (size === 0) this.#extension(block, 0, 0);
    else this.#state = State.EXTENSION;
  }

  #extension(buf: Uint8Array, start: number, end: number): void {
    const at = this.#extAt;
    switch (this.#ext) {
      case Ext.PAX:
        parsePax(buf, start, end, at, this.#local ??= {}, false);
        break;
      case Ext.PAX_GLOBAL:
        parsePax(buf, start, end, at, this.#global ??= {}, true);
        break;
      case Ext.LONG_NAME:
        this.#longName = decodeTarString(buf, start, cstringEnd(buf, start, end - start));
        break;
      case Ext.LONG_LINK:
        this.#longLink = decodeTarString(buf, start, cstringEnd(buf, start, end - start));
        break;
    }
    const pad = this.#pad;
    this.#pad = 0;
    this.#skipThen(pad);
  }

  #entry(block: Uint8Array, off: number, at: number, type: TarEntryType): void {
    const entry: TarEntry = decodeEntryHeader(block, off, at, type);
    let start = at;
    if (this.#memberStart >= 0 || this.#global !== null) {
      if (this.#local !== null || this.#global !== null) {
        applyPax(entry, this.#local, this.#global);
      }
      if (this.#longName !== null) entry.name = this.#longName;
      if (this.#longLink !== null) entry.linkname = this.#longLink;
      if (this.#memberStart >= 0) start = this.#memberStart;
      this.#local = null;
      this.#longName = null;
      this.#longLink = null;
      this.#memberStart = -1;
    }
    // Directories never skip data: writers store a directory's st_size without any following.
    const size = type === "dir" ? 0 : entry.size;
    // GNU and BSD tar read a file entry whose name ends in "/" as a directory (old tars wrote
    // directories that way); its data, if any, is still skipped.
    if (type === "file" && entry.name.endsWith("/")) entry.type = "dir";
    if (entry.type !== "file") entry.size = 0;
    this.#sink.entry(entry, start);
    if (entry.type === "file" && size > 0) {
      this.#state = State.DATA;
      this.#remaining = size;
      this.#pad = padding(size);
      return;
    }
    this.#sink.entryEnd();
    this.#skipThen(size + padding(size));
  }
}

/** One member of an archive read by {@linkcode readTarEntries}. */
export interface TarItem {
  /** The member's metadata. */
  entry: TarEntry;
  /** The file's data (empty for every other type). */
  body: Uint8Array;
}

/**
 * Reads every entry of a tar stream, collecting each file's data in memory: for small archives
 * and tests, not for layers (use {@linkcode TarReader} there).
 *
 * @example
 * ```ts
 * import { readTarEntries } from "./reader.ts";
 * const file = await Deno.open("archive.tar");
 * for await (const { entry, body } of readTarEntries(file.readable)) {
 *   console.log(entry.name, body.length);
 * }
 * ```
 */
export async function* readTarEntries(
  stream: ReadableStream<Uint8Array>,
): AsyncGenerator<TarItem, void, undefined> {
  const ready: TarItem[] = [];
  let current: TarEntry | null = null;
  let body = new Uint8Array(0);
  let fill = 0;
  const parser = new TarReader({
    entry(entry) {
      current = entry;
      body = new Uint8Array(entry.size);
      fill = 0;
    },
    data(chunk) {
      body.set(chunk, fill);
      fill += chunk.length;
    },
    entryEnd() {
      ready.push({ entry: current!, body });
    },
  });
  const reader = stream.getReader();
  let finished = false;
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      parser.push(value);
      for (const item of ready.splice(0)) yield item;
    }
    finished = true;
    parser.end();
  } finally {
    if (!finished) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

/** Where one member of a tar file is, from {@linkcode scanTarFile}. */
export interface TarIndexEntry {
  /** The member's metadata. */
  entry: TarEntry;
  /** Offset of the member's first header block (its extension header, if any). */
  headerOffset: number;
  /** Offset of the member's first data byte; `entry.size` bytes follow for files. */
  dataOffset: number;
}

/** Reads below this many skippable bytes are cheaper than a seek. */
const SCAN_BUFFER = 64 * 1024;

/**
 * Indexes a tar file from its start by reading only headers and seeking over data, so that the
 * blobs of a docker-archive or oci-archive can be read in place. Checks that the file is long
 * enough for every entry's data.
 *
 * @example
 * ```ts
 * import { scanTarFile } from "./reader.ts";
 * using file = await Deno.open("image.tar");
 * const index = await scanTarFile(file);
 * const manifest = index.find((m) => m.entry.name === "manifest.json");
 * ```
 */
export async function scanTarFile(file: Deno.FsFile): Promise<TarIndexEntry[]> {
  const index: TarIndexEntry[] = [];
  await file.seek(0, Deno.SeekMode.Start);
  await scanTarHeaders(file, (m) => index.push(m));
  return index;
}

/**
 * Calls `visit` for each member of the tar `file`, from where the file is positioned, reading
 * only headers and seeking over data; what `visit` throws stops the scan.
 */
export async function scanTarHeaders(
  file: Deno.FsFile,
  visit: (member: TarIndexEntry) => void,
): Promise<void> {
  const parser: TarReader = new TarReader({
    entry(entry, headerOffset) {
      visit({ entry, headerOffset, dataOffset: parser.offset });
    },
    data() {},
    entryEnd() {},
  });
  const fileSize = (await file.stat()).size;
  const buf = new Uint8Array(SCAN_BUFFER);
  while (!parser.sawEndOfArchive) {
    const skippable = parser.skippableBytes;
    if (skippable > SCAN_BUFFER) {
      const target = parser.offset + skippable;
      if (target > fileSize) throw new TarFormatError("truncated in entry data", fileSize);
      await file.seek(target, Deno.SeekMode.Start);
      parser.skip(skippable);
      continue;
    }
    const n = await file.read(buf);
    if (n === null) break;
    parser.push(buf.subarray(0, n));
  }
  parser.end();
}
