/**
 * Read access to the files of an image stored as a directory or inside a tar archive, so the
 * same OCI-layout and docker-archive readers serve `oci:`/`oci-archive:` and plain or tarred
 * docker saves. This module has the interface and the directory case; tar archives are in
 * tar_files.ts, so reading a directory never loads the tar code.
 * @module
 */
import { NotFoundError, UnsafePathError } from "../errors.ts";
import { readAllBytes } from "../io/file_stream.ts";
import { cleanEntryPath } from "../archive/entry_path.ts";
import { notRegular, statBeneath, streamBeneath } from "./safe_open.ts";

/** Read-only access to named files of a stored image. */
export interface LayoutFiles {
  /** Where the files are, for messages. */
  readonly location: string;
  /**
   * Whether the relative path names a regular file; false when nothing is there. Something
   * else there (a directory, a FIFO, a link leading outside) is an error, not a missing file.
   */
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

/** The error for a file that is not there. */
export function missing(location: string, rel: string): NotFoundError {
  return new NotFoundError(`${location}: ${rel} does not exist`);
}

/**
 * Files of a directory. `rel` must be clean (no `..`). Every file is resolved beneath the
 * directory and must be a regular file (see safe_open.ts): symbolic links inside the directory
 * are followed (docker saves link `<id>/layer.tar` to `../<hex>.tar`), ones leading out of it,
 * FIFOs, devices and sockets are refused.
 */
export class DirFiles implements LayoutFiles {
  constructor(readonly location: string) {}

  #check(rel: string): string {
    if (cleanEntryPath(rel) !== rel || rel === "") {
      throw new UnsafePathError(rel, "not a clean relative path");
    }
    return rel;
  }

  /** The size of the regular file `rel`, or undefined when nothing is there. */
  #size(rel: string): number | undefined {
    const facts = statBeneath(this.location, this.#check(rel));
    if (facts === undefined) return undefined;
    if (facts.kind !== "regular file") throw notRegular(`${this.location}/${rel}`, facts.kind);
    return facts.size;
  }

  exists(rel: string): Promise<boolean> {
    try {
      return Promise.resolve(this.#size(rel) !== undefined);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  size(rel: string): Promise<number> {
    try {
      const size = this.#size(rel);
      return size === undefined
        ? Promise.reject(missing(this.location, rel))
        : Promise.resolve(size);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  async read(rel: string, limit?: number): Promise<Uint8Array> {
    return readAllBytes(await this.stream(rel), limit);
  }

  stream(rel: string): Promise<ReadableStream<Uint8Array>> {
    return streamBeneath(this.location, this.#check(rel));
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
