/**
 * Host sides of a one-liner's bind mounts: a `-v` source that does not exist is created as a
 * directory (docker's behaviour; podman refuses), except with `:ro`, where there would be
 * nothing to read; a `--mount type=bind` source must exist (as in podman and docker).
 * @module
 */
import { NotFoundError } from "../errors.ts";
import type { MountRequest } from "./run_request.ts";

/**
 * Checks (and where allowed creates) the sources of `mounts`; returns the directories it
 * created, so a failed `run` can remove them again.
 *
 * @throws {NotFoundError} a source is missing and may not be created (one line naming it).
 * @example
 * ```ts
 * import { prepareBindSources } from "./volumes.ts";
 * import { parseRunArgs } from "./run_flags.ts";
 * const created = await prepareBindSources(parseRunArgs(["-v", "/tmp/new-dir:/data", "img"]).mounts);
 * ```
 */
export async function prepareBindSources(mounts: readonly MountRequest[]): Promise<string[]> {
  const created: string[] = [];
  for (const m of mounts) {
    if (m.type !== "bind") continue;
    try {
      await Deno.stat(m.source);
      continue;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    const flag = m.createSource ? "--volume" : "--mount";
    if (!m.createSource || m.readonly) {
      throw new NotFoundError(
        `${flag} ${m.source}:${m.destination}: the host path ${m.source} does not exist` +
          (m.createSource ? " (a read-only volume is not created)" : ""),
      );
    }
    // Record the topmost directory that did not exist, for removal after a failure.
    let top = m.source;
    for (
      let parent = top.slice(0, top.lastIndexOf("/"));
      parent;
      parent = parent.slice(0, parent.lastIndexOf("/"))
    ) {
      try {
        await Deno.stat(parent);
        break;
      } catch {
        top = parent;
      }
    }
    await Deno.mkdir(m.source, { recursive: true, mode: 0o755 });
    created.push(top);
  }
  return created;
}
