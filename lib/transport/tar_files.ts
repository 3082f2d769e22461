/**
 * The files of an image inside an uncompressed tar archive (oci-archive:, docker-archive:):
 * indexed once (headers only) and read in place, never extracted.
 * @module
 */
import { NotFoundError } from "../errors.ts";
import { fileStream, readAllBytes } from "../io/file_stream.ts";
import { cleanEntryPath, splitPath } from "../layer/entry_path.ts";
import { scanTarFile, type TarIndexEntry } from "../layer/tar/reader.ts";
import { type LayoutFiles, missing } from "./layout_files.ts";

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
