/**
 * Which container a runtime verb (`exec`, `kill`, `state`, `pause`, `resume`, runc's `ps`)
 * means: a container id of the runtime's state directory, as podman and containerd pass it, or
 * else a container of the local store by name or id prefix, as people type it. The store is
 * only read when the runtime has no container by that id, so the runc path stays as light.
 * @module
 */
import { runtimeGlobals } from "../runtime_globals.ts";

/** A container as the runtime knows it. */
export interface RuntimeTarget {
  /** The runtime's state directory. */
  root: string;
  id: string;
  /** True when it was found through the store (podman's meaning of the verb applies). */
  fromStore: boolean;
}

/** The container `idOrName` names (see the module doc). */
export async function runtimeTarget(idOrName: string): Promise<RuntimeTarget> {
  const root = runtimeGlobals.root;
  if (!idOrName.includes("/")) {
    try {
      Deno.statSync(`${root}/${idOrName}/state.json`);
      return { root, id: idOrName, fromStore: false };
    } catch { /* not the runtime's */ }
  }
  const [{ readContainer }, { storeRoot }] = await Promise.all([
    import("../../store/container_records.ts"),
    import("../../store/store_root.ts"),
  ]);
  let rec;
  try {
    rec = await readContainer(storeRoot(), idOrName);
  } catch {
    // Neither: the runtime's own error (runc's words) says it best.
    return { root, id: idOrName, fromStore: false };
  }
  return { root: rec.runtimeRoot, id: rec.id, fromStore: true };
}
