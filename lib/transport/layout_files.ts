/**
 * Read access to the files of an image stored as a directory or inside a tar archive, so the
 * same OCI-layout and docker-archive readers serve `oci:`/`oci-archive:` and plain or tarred
 * docker saves. This module has the interface and the directory case; tar archives are in
 * tar_files.ts, so reading a directory never loads the tar code.
 * @module
 */
import { NotFoundError, UnsafePathError } from "../errors.ts";
import { fileStream, readAllBytes } from "../io/file_stream.ts";
import { cleanEntryPath } from "../layer/entry_path.ts";
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

/** The error for a file that is not there. */
export function missing(location: string, rel: string): NotFoundError {
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
