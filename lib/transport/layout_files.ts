/**
 * Read access to the files of an image stored as a directory or inside a tar archive, so the
 * same OCI-layout and docker-archive readers serve `oci:`/`oci-archive:` and plain or tarred
 * docker saves. Tar archives are indexed once (headers only) and read in place, never extracted.
 * @module
 */
import { NotFoundError, UnsafePathError } from "../errors.ts";
import { fileStream, readAllBytes } from "../io/file_stream.ts";
import { cleanEntryPath, splitPath } from "../layer/entry_path.ts";
import { scanTarFile, type TarIndexEntry } from "../layer/tar/reader.ts";
import { isFile } from "../io/bytes.ts";

/** Read-only access to named files of a stored image. */
export interface LayoutFiles {
  /** Where the files are, for messages. */
  readonly location: string;
  /** Whether the relative path names a regular file. */
  exists(rel: string): Promise<boolean>;
  /** Size of a regular file; NotFoundError when missing. */
  size(rel: string): Promise<number>;
  /** Whole (small) file; NotFoundError when missing. */
  read(rel: string, limit?: number): Promise<Uint8Array>;
  /** Streams a file; NotFoundError when missing. */
  stream(rel: string): Promise<ReadableStream<Uint8Array>>;
  /** Every regular file's relative path. */
  list(): Promise<string[]>;
}

function missing(location: string, rel: string): NotFoundError {
  return new NotFoundError(`${location}: ${rel} does not exist`);
}

/** Files of a directory. `rel` must be clean (no `..`). */
export class DirFiles implements LayoutFiles {
  constructor(readonly location: string) {}

  #path(rel: string): string {
    if (cleanEntryPath(rel) !== rel || rel === "") {
      throw new UnsafePathError(rel, "not a clean relative path");
    }
    return `${this.location}/${rel}`;
  }

  exists(rel: string): Promise<boolean> {
    return isFile(this.#path(rel));
  }

  async size(rel: string): Promise<number> {
    try {
      return (await Deno.stat(this.#path(rel))).size;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) throw missing(this.location, rel);
      throw e;
    }
  }

  async read(rel: string, limit?: number): Promise<Uint8Array> {
    return readAllBytes(await this.stream(rel), limit);
  }

  async stream(rel: string): Promise<ReadableStream<Uint8Array>> {
    try {
      return await fileStream(this.#path(rel));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) throw missing(this.location, rel);
      throw e;
    }
  }

  async list(): Promise<string[]> {
    const out: string[] = [];
    const walk = async (rel: string) => {
      for await (const e of Deno.readDir(rel ? `${this.location}/${rel}` : this.location)) {
        const p = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory) await walk(p);
        else if (e.isFile) out.push(p);
      }
    };
    await walk("");
    return out.sort();
  }
}

const MAX_LINK_HOPS = 16;

/** Files inside an uncompressed tar archive, read in place through an index of its members. */
export class TarFiles implements LayoutFiles {
  private constructor(
    readonly location: string,
    readonly members: Map<string, TarIndexEntry>,
  ) {}

  /** Indexes the archive at `path`. */
  static async open(path: string): Promise<TarFiles> {
    let entries: TarIndexEntry[];
    try {
      using file = await Deno.open(path, { read: true });
      entries = await scanTarFile(file);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) throw new NotFoundError(`${path} does not exist`);
      throw e;
    }
    const members = new Map<string, TarIndexEntry>();
    for (const m of entries) {
      // Later members win, as when extracting.
      members.set(cleanEntryPath(m.entry.name), m);
    }
    return new TarFiles(path, members);
  }

  /** The regular-file member `rel` names, following symlinks and hardlinks inside the archive. */
  #member(rel: string): TarIndexEntry | undefined {
    let path = cleanEntryPath(rel);
    for (let hop = 0; hop < MAX_LINK_HOPS; hop++) {
      const m = this.members.get(path);
      if (!m) return undefined;
      const e = m.entry;
      if (e.type === "file") return m;
      if (e.type === "hardlink") path = cleanEntryPath(e.linkname);
      else if (e.type === "symlink") {
        const [dir] = splitPath(path);
        path = cleanEntryPath(e.linkname.startsWith("/") ? e.linkname : `${dir}/${e.linkname}`);
      } else return undefined;
    }
    return undefined;
  }

  exists(rel: string): Promise<boolean> {
    return Promise.resolve(this.#member(rel) !== undefined);
  }

  size(rel: string): Promise<number> {
    const m = this.#member(rel);
    if (!m) return Promise.reject(missing(this.location, rel));
    return Promise.resolve(m.entry.size);
  }

  async read(rel: string, limit?: number): Promise<Uint8Array> {
    return readAllBytes(await this.stream(rel), limit);
  }

  stream(rel: string): Promise<ReadableStream<Uint8Array>> {
    const m = this.#member(rel);
    if (!m) return Promise.reject(missing(this.location, rel));
    return fileStream(this.location, { offset: m.dataOffset, length: m.entry.size });
  }

  list(): Promise<string[]> {
    return Promise.resolve(
      [...this.members.keys()].filter((k) => this.#member(k) !== undefined).sort(),
    );
  }
}
