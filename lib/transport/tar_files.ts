/**
 * The files of an image inside an uncompressed tar archive (oci-archive:, docker-archive:):
 * indexed once (headers only) and read in place, never extracted.
 *
 * The index keeps, per member that can be read (files and links), its name, where its data is
 * and a link's target, nothing else; directories and special files are passed over. It holds at
 * most {@linkcode MAX_ARCHIVE_MEMBERS} members and {@linkcode MAX_ARCHIVE_NAME_CHARS} characters
 * of names, so that an archive of a million members cannot take memory in proportion: real image
 * archives have a few per blob.
 * @module
 */
import { LimitExceededError, NotFoundError } from "../errors.ts";
import { fileStream, readAllBytes } from "../io/file_stream.ts";
import { cleanEntryPath, splitPath } from "../archive/entry_path.ts";
import type { TarEntry } from "../archive/tar/entry.ts";
import { scanTarHeaders } from "../archive/tar/reader.ts";
import { type LayoutFiles, missing } from "./layout_files.ts";

const MAX_LINK_HOPS = 16;

/** Members (of every type) an archive may have. */
export const MAX_ARCHIVE_MEMBERS = 100_000;

/** Characters of member names and link targets the index keeps at most. */
export const MAX_ARCHIVE_NAME_CHARS = 16 << 20;

/** What the index keeps of one member. */
interface Member {
  type: "file" | "hardlink" | "symlink";
  /** A file's size (0 for links). */
  size: number;
  /** A file's first data byte. */
  dataOffset: number;
  /** A link's target, as stored. */
  linkname: string;
}

/** Files inside an uncompressed tar archive, read in place through an index of its members. */
export class TarFiles implements LayoutFiles {
  private constructor(
    readonly location: string,
    readonly readPath: string,
    readonly members: ReadonlyMap<string, Member>,
  ) {}

  /**
   * Indexes the archive `location` names, reading it from `readPath` (by default the same; an
   * open descriptor's /proc name, or a decompressed copy, otherwise).
   *
   * @throws {LimitExceededError} past {@linkcode MAX_ARCHIVE_MEMBERS} members or
   *   {@linkcode MAX_ARCHIVE_NAME_CHARS} characters of names.
   */
  static async open(location: string, readPath: string = location): Promise<TarFiles> {
    let members: Map<string, Member>;
    try {
      using file = await Deno.open(readPath, { read: true });
      members = await indexArchive(file, location);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) throw new NotFoundError(`${location} does not exist`);
      throw e;
    }
    return new TarFiles(location, readPath, members);
  }

  /**
   * The regular-file member `rel` names, following symlinks and hardlinks inside the archive;
   * a link that climbs out of it is an `UnsafePathError`.
   */
  #member(rel: string): Member | undefined {
    let path = cleanEntryPath(rel);
    for (let hop = 0; hop < MAX_LINK_HOPS; hop++) {
      const m = this.members.get(path);
      if (!m) return undefined;
      if (m.type === "file") return m;
      if (m.type === "hardlink") path = cleanEntryPath(m.linkname);
      else {
        const [dir] = splitPath(path);
        path = cleanEntryPath(m.linkname.startsWith("/") ? m.linkname : `${dir}/${m.linkname}`);
      }
    }
    return undefined;
  }

  exists(rel: string): Promise<boolean> {
    return settle(() => this.#member(rel) !== undefined);
  }

  size(rel: string): Promise<number> {
    return settle(() => {
      const m = this.#member(rel);
      if (!m) throw missing(this.location, rel);
      return m.size;
    });
  }

  async read(rel: string, limit?: number): Promise<Uint8Array> {
    return readAllBytes(await this.stream(rel), limit);
  }

  async stream(rel: string): Promise<ReadableStream<Uint8Array>> {
    const m = this.#member(rel);
    if (!m) throw missing(this.location, rel);
    return await fileStream(this.readPath, { offset: m.dataOffset, length: m.size });
  }

  list(): Promise<string[]> {
    const readable = (k: string) => {
      try {
        return this.#member(k) !== undefined;
      } catch {
        return false; // a link climbing out names nothing that can be read
      }
    };
    return Promise.resolve([...this.members.keys()].filter(readable).sort());
  }
}

/** `f()` as a promise: settled with its value, or rejected with what it threw. */
function settle<T>(f: () => T): Promise<T> {
  try {
    return Promise.resolve(f());
  } catch (e) {
    return Promise.reject(e);
  }
}

/**
 * Reads the headers of the tar `file` from its start, seeking over data, into the index. Later
 * members of one name replace earlier ones, as when extracting.
 */
async function indexArchive(file: Deno.FsFile, location: string): Promise<Map<string, Member>> {
  const members = new Map<string, Member>();
  let count = 0;
  let chars = 0;
  const keep = (entry: TarEntry, dataOffset: number) => {
    if (++count > MAX_ARCHIVE_MEMBERS) {
      throw new LimitExceededError(
        location,
        MAX_ARCHIVE_MEMBERS,
        `has more than ${MAX_ARCHIVE_MEMBERS} members; an image archive has a few per blob`,
      );
    }
    if (entry.type !== "file" && entry.type !== "hardlink" && entry.type !== "symlink") return;
    const name = cleanEntryPath(entry.name);
    chars += name.length + entry.linkname.length;
    if (chars > MAX_ARCHIVE_NAME_CHARS) {
      throw new LimitExceededError(
        location,
        MAX_ARCHIVE_NAME_CHARS,
        `its member names add up to more than ${MAX_ARCHIVE_NAME_CHARS} characters`,
      );
    }
    members.set(name, {
      type: entry.type,
      size: entry.type === "file" ? entry.size : 0,
      dataOffset,
      linkname: entry.linkname,
    });
  };
  await scanTarHeaders(file, (m) => keep(m.entry, m.dataOffset));
  return members;
}
