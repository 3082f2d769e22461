/**
 * `linux.sysctl` → `sysctl` operations, checked the way runc does: a key may only be written when
 * the container has its own instance of the namespace that key belongs to; anything else would
 * change the host.
 * @module
 */
import { InvalidImageError } from "../../errors.ts";
import type { Op } from "./ops.ts";

// kernel.msg*, kernel.sem*, kernel.shm* and fs.mqueue.* are per ipc namespace.
const IPC_KEY = /^(kernel\.(msg|sem|shm)|fs\.mqueue\.)/;
// A key becomes a path under /proc/sys: dots are its only separators.
const KEY = /^[\w@:+-]+(\.[\w@:+-]+)*$/;

/** The namespace a sysctl key belongs to, or undefined when it is not namespaced. */
export function sysctlNamespace(key: string): "network" | "ipc" | "uts" | undefined {
  if (key.startsWith("net.")) return "network";
  if (IPC_KEY.test(key)) return "ipc";
  if (key === "kernel.hostname" || key === "kernel.domainname") return "uts";
  return undefined;
}

/**
 * Plans `linux.sysctl`, in key order of the object. `namespaces` are the config's namespace types.
 *
 * @throws {InvalidImageError} for a key outside the container's own namespaces, or a bad key/value.
 * @example
 * ```ts
 * import { planSysctl } from "./sysctl.ts";
 * planSysctl({ "net.ipv4.ip_forward": "1" }, new Set(["network"]));
 * // [{ op: "sysctl", key: "net.ipv4.ip_forward", value: "1" }]
 * ```
 */
export function planSysctl(
  sysctl: Readonly<Record<string, string>> | undefined,
  namespaces: ReadonlySet<string>,
): Op[] {
  if (sysctl === undefined) return [];
  if (typeof sysctl !== "object" || sysctl === null || Array.isArray(sysctl)) {
    throw new InvalidImageError("config.json linux.sysctl", "must be an object");
  }
  const ops: Op[] = [];
  for (const [key, value] of Object.entries(sysctl)) {
    const where = `config.json linux.sysctl[${JSON.stringify(key)}]`;
    if (!KEY.test(key)) throw new InvalidImageError(where, "is not a sysctl key");
    if (typeof value !== "string") throw new InvalidImageError(where, "value must be a string");
    const ns = sysctlNamespace(key);
    if (ns === undefined) {
      throw new InvalidImageError(
        where,
        "is not in a namespace of its own: it would change the host",
      );
    }
    if (!namespaces.has(ns)) {
      throw new InvalidImageError(where, `needs a new ${ns} namespace: it would change the host's`);
    }
    ops.push({ op: "sysctl", key, value });
  }
  return ops;
}
