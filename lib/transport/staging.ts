/**
 * Staging directories of destinations that publish everything at once (`dir:`, `oci-archive:`,
 * `docker-archive:`): a `.tmp-<name>-<random>` directory beside the target, on its file system so
 * the result can be renamed into place, plus the writes in flight into it. Removal stops those
 * writes and waits for them: when a copy fails, its other blob transfers may still be running,
 * and removing the directory under them would let them create it again and leave it behind.
 * @module
 */
import { OciboxError } from "../errors.ts";

/** A staging directory and the work in flight into it. */
export class StagingDir {
  readonly #pending = new Set<Promise<unknown>>();
  readonly #stop = new AbortController();
  #sealed = false;

  private constructor(readonly path: string, readonly owner: string) {}

  /**
   * Creates an empty staging directory in `parent` for the target named `base`; `owner` names
   * the destination in errors.
   *
   * @example
   * ```ts
   * const staging = await StagingDir.create("/tmp", "out.tar", "oci-archive:/tmp/out.tar");
   * staging.path; // "/tmp/.tmp-out.tar-k3j2…"
   * await staging.remove();
   * ```
   */
  static async create(parent: string, base: string, owner: string): Promise<StagingDir> {
    const path = await Deno.makeTempDir({ dir: parent, prefix: `.tmp-${base.slice(0, 40)}-` });
    return new StagingDir(path, owner);
  }

  /** Whether {@linkcode StagingDir.seal} (or remove) has been called. */
  get sealed(): boolean {
    return this.#sealed;
  }

  /**
   * Runs `fn`, a write into the directory, keeping track of it until it settles. `fn` gets a
   * signal that fires when `outer` does or when the directory is removed. Once the directory is
   * sealed, `fn` is not run: `onRefused` is (e.g. to cancel a stream nobody will read).
   *
   * @throws {OciboxError} (code `DESTINATION_CLOSED`) once the directory is sealed.
   * @example
   * ```ts
   * const staging = await StagingDir.create("/tmp", "x", "dir:/tmp/x");
   * await staging.run(() => Deno.writeTextFile(`${staging.path}/f`, "data"));
   * await staging.remove();
   * ```
   */
  run<T>(
    fn: (signal: AbortSignal) => Promise<T>,
    outer?: AbortSignal,
    onRefused?: () => unknown,
  ): Promise<T> {
    if (this.#sealed) {
      onRefused?.();
      return Promise.reject(
        new OciboxError(
          "DESTINATION_CLOSED",
          `${this.owner}: the destination is already committed or closed`,
        ),
      );
    }
    const own = this.#stop.signal;
    const p = fn(outer ? AbortSignal.any([outer, own]) : own);
    this.#pending.add(p);
    const settle = () => this.#pending.delete(p);
    p.then(settle, settle);
    return p;
  }

  /**
   * Refuses new work and waits until the work in flight has settled.
   *
   * @example
   * ```ts
   * const staging = await StagingDir.create("/tmp", "x", "dir:/tmp/x");
   * await staging.seal(); // now nothing writes into staging.path any more
   * await staging.remove();
   * ```
   */
  async seal(): Promise<void> {
    this.#sealed = true;
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  /**
   * Stops the work in flight, seals the directory and removes it with everything in it (fine
   * when it was moved away).
   *
   * @example
   * ```ts
   * const staging = await StagingDir.create("/tmp", "x", "dir:/tmp/x");
   * await staging.remove();
   * ```
   */
  async remove(): Promise<void> {
    this.#stop.abort();
    await this.seal();
    await removeTree(this.path);
  }
}

/**
 * Removes a directory tree; a missing one is fine.
 *
 * @example
 * ```ts
 * await removeTree("/tmp/.tmp-out.tar-k3j2");
 * ```
 */
export async function removeTree(path: string): Promise<void> {
  try {
    await Deno.remove(path, { recursive: true });
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}
