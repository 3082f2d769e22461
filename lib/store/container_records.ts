/**
 * Container records: `STORE/containers/<id>/container.json`, one per container made by
 * `ocibox run`, written atomically (temporary file, fsync, rename). The container manager
 * writes them; `rmi` and `image prune` read them to keep images and layers in use.
 *
 * Parsing and serialising are pure ({@linkcode parseContainerRecord},
 * {@linkcode serializeContainerRecord}); the rest reads and writes the store.
 * @module
 */
import { ConfigInvalidError, ImageInUseError, NameInUseError, NotFoundError } from "../errors.ts";
import { writeFileAtomic } from "../io/atomic_file.ts";
import { withStoreLock } from "./store_lock.ts";
import { containersDir } from "./store_root.ts";

/** A port published from the host into the container. */
export interface PortMapping {
  hostIp?: string;
  hostPort: number;
  containerPort: number;
  protocol: "tcp" | "udp";
}

/** What the store knows about one container. */
export interface ContainerRecord {
  /** 64 hex digits; also the runtime's container id. */
  id: string;
  /** Unique in the store. */
  name: string;
  /** The image name as resolved, e.g. `docker.io/library/busybox:latest`. */
  image: string;
  /** `sha256:<hex>` of the image config (podman's image id). */
  imageId: string;
  manifestDigest: string;
  /** Layer cache keys, bottom first. */
  chainIds: string[];
  /** process.args. */
  command: string[];
  /** RFC 3339. */
  created: string;
  /** The runtime state directory used (default /run/ocibox). */
  runtimeRoot: string;
  rootfs: "overlay" | "copy";
  /** --rm. */
  autoRemove: boolean;
  detached: boolean;
  ports: PortMapping[];
  network: "private" | "none" | "host";
}

/** The file name of a record inside its container directory. */
export const RECORD_FILE = "container.json";

const ID = /^[0-9a-f]{64}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;
// podman's rule for names: [a-zA-Z0-9][a-zA-Z0-9_.-]*
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/**
 * True for a valid container name (podman's rule: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`).
 *
 * @example
 * ```ts
 * isValidContainerName("web-1"); // true
 * isValidContainerName("-x"); // false
 * ```
 */
export function isValidContainerName(name: string): boolean {
  return NAME.test(name) && name.length <= 253;
}

/**
 * Checks a parsed `container.json` and returns it typed; `where` names it in errors.
 *
 * @throws {ConfigInvalidError} for a field missing or of the wrong type.
 * @example
 * ```ts
 * const rec = parseContainerRecord(JSON.parse(text), "containers/<id>/container.json");
 * ```
 */
export function parseContainerRecord(json: unknown, where: string): ContainerRecord {
  const bad = (field: string, want: string): never => {
    throw new ConfigInvalidError(where, `${field} must be ${want}`);
  };
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    bad("the record", "an object");
  }
  const o = json as Record<string, unknown>;
  const str = (k: string, re?: RegExp): string => {
    const v = o[k];
    if (typeof v !== "string" || (re && !re.test(v))) {
      bad(k, re ? `a string matching ${re}` : "a string");
    }
    return v as string;
  };
  const strings = (k: string, re?: RegExp): string[] => {
    const v = o[k];
    if (!Array.isArray(v) || v.some((s) => typeof s !== "string" || (re && !re.test(s)))) {
      bad(k, "a list of strings");
    }
    return [...(v as string[])];
  };
  const bool = (k: string): boolean => {
    if (typeof o[k] !== "boolean") bad(k, "true or false");
    return o[k] as boolean;
  };
  const oneOf = <T extends string>(k: string, values: readonly T[]): T => {
    const v = o[k];
    if (typeof v !== "string" || !values.includes(v as T)) bad(k, `one of ${values.join(", ")}`);
    return v as T;
  };
  const ports = o.ports;
  if (!Array.isArray(ports)) bad("ports", "a list");
  const port = (v: unknown, i: number): PortMapping => {
    const p = v as Record<string, unknown>;
    const isPort = (n: unknown) =>
      Number.isInteger(n) && (n as number) >= 0 && (n as number) <= 65535;
    if (typeof p !== "object" || p === null) bad(`ports[${i}]`, "an object");
    if (!isPort(p.hostPort) || !isPort(p.containerPort)) bad(`ports[${i}]`, "ports 0-65535");
    if (p.protocol !== "tcp" && p.protocol !== "udp") bad(`ports[${i}].protocol`, "tcp or udp");
    if (p.hostIp !== undefined && typeof p.hostIp !== "string") {
      bad(`ports[${i}].hostIp`, "a string");
    }
    const out: PortMapping = {
      hostPort: p.hostPort as number,
      containerPort: p.containerPort as number,
      protocol: p.protocol as "tcp" | "udp",
    };
    if (p.hostIp !== undefined) out.hostIp = p.hostIp as string;
    return out;
  };
  return {
    id: str("id", ID),
    name: str("name", NAME),
    image: str("image"),
    imageId: str("imageId", DIGEST),
    manifestDigest: str("manifestDigest", DIGEST),
    chainIds: strings("chainIds", DIGEST),
    command: strings("command"),
    created: str("created"),
    runtimeRoot: str("runtimeRoot"),
    rootfs: oneOf("rootfs", ["overlay", "copy"] as const),
    autoRemove: bool("autoRemove"),
    detached: bool("detached"),
    ports: (ports as unknown[]).map(port),
    network: oneOf("network", ["private", "none", "host"] as const),
  };
}

/**
 * The bytes of `container.json` for a record (JSON, 2-space indent, final newline).
 *
 * @example
 * ```ts
 * const bytes = serializeContainerRecord(rec);
 * ```
 */
export function serializeContainerRecord(rec: ContainerRecord): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(rec, null, 2) + "\n");
}

/** `STORE/containers/<id>`. */
export function containerDir(store: string, id: string): string {
  if (!ID.test(id)) throw new ConfigInvalidError(id, "is not a container id (64 hex digits)");
  return `${containersDir(store)}/${id}`;
}

async function readRecordFile(store: string, id: string): Promise<ContainerRecord | undefined> {
  const path = `${containerDir(store, id)}/${RECORD_FILE}`;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    // A directory without its record is one being made or removed: not (yet) a container.
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ConfigInvalidError(path, "is not valid JSON");
  }
  return parseContainerRecord(json, path);
}

/**
 * Every container of the store, oldest first. Directories without a record (being made or
 * removed) are skipped.
 *
 * @example
 * ```ts
 * for (const c of await listContainers(store)) console.log(c.name, c.image);
 * ```
 */
export async function listContainers(store: string): Promise<ContainerRecord[]> {
  const out: ContainerRecord[] = [];
  try {
    for await (const e of Deno.readDir(containersDir(store))) {
      if (!e.isDirectory || !ID.test(e.name)) continue;
      const rec = await readRecordFile(store, e.name);
      if (rec) out.push(rec);
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return out.sort((a, b) => a.created < b.created ? -1 : a.created > b.created ? 1 : 0);
}

/**
 * The container named by its full id, its name, or a unique id prefix (podman's order).
 *
 * @throws {NotFoundError} when none matches, or a prefix matches several.
 * @example
 * ```ts
 * const rec = await readContainer(store, "web");
 * ```
 */
export async function readContainer(store: string, idOrName: string): Promise<ContainerRecord> {
  if (ID.test(idOrName)) {
    const rec = await readRecordFile(store, idOrName);
    if (rec) return rec;
  }
  const all = await listContainers(store);
  const byName = all.find((c) => c.name === idOrName);
  if (byName) return byName;
  if (/^[0-9a-f]+$/.test(idOrName)) {
    const byPrefix = all.filter((c) => c.id.startsWith(idOrName));
    if (byPrefix.length === 1) return byPrefix[0];
    if (byPrefix.length > 1) {
      throw new NotFoundError(
        `${idOrName} matches ${byPrefix.length} containers; give more of the id or the name`,
      );
    }
  }
  throw new NotFoundError(`no container named ${JSON.stringify(idOrName)}`);
}

/**
 * Writes (or replaces) a container's record atomically, creating its directory. Use
 * {@linkcode reserveContainer} for a new container: it also checks the name is free.
 *
 * @example
 * ```ts
 * await writeContainer(store, { ...rec, detached: true });
 * ```
 */
export async function writeContainer(store: string, rec: ContainerRecord): Promise<void> {
  parseContainerRecord(rec, "the container record"); // never write what cannot be read back
  const dir = containerDir(store, rec.id);
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(`${dir}/${RECORD_FILE}`, serializeContainerRecord(rec), { mode: 0o600 });
}

/** Options of {@linkcode reserveContainer}. */
export interface ReserveOptions {
  /**
   * Called under the store's exclusive lock before the record is written, e.g. to check that
   * the image is still in the store (so an `rmi` cannot slip between resolving and reserving).
   */
  check?: () => Promise<void> | void;
}

/**
 * Creates a new container's directory and record under the store's exclusive lock, refusing a
 * name or id already taken.
 *
 * @throws {NameInUseError} when another container has the name (or the id).
 * @example
 * ```ts
 * await reserveContainer(store, rec, { check: () => assertImagePresent(store, rec.imageId) });
 * ```
 */
export async function reserveContainer(
  store: string,
  rec: ContainerRecord,
  options: ReserveOptions = {},
): Promise<void> {
  parseContainerRecord(rec, "the container record");
  await withStoreLock(store, "exclusive", async () => {
    const taken = (await listContainers(store)).find((c) => c.name === rec.name || c.id === rec.id);
    if (taken) throw new NameInUseError(rec.name, taken.id.slice(0, 12));
    await options.check?.();
    await Deno.mkdir(containersDir(store), { recursive: true, mode: 0o700 });
    // mkdir without recursive fails when the directory exists: two runs never share one.
    try {
      await Deno.mkdir(containerDir(store, rec.id), { mode: 0o700 });
    } catch (e) {
      if (e instanceof Deno.errors.AlreadyExists) {
        throw new NameInUseError(rec.name, rec.id.slice(0, 12));
      }
      throw e;
    }
    await writeContainer(store, rec);
  });
}

/**
 * Removes a container's directory (record, bundle, upper and work dirs, logs). The record goes
 * first, so a crash half-way leaves a directory nobody lists rather than a record of nothing.
 * A missing directory is fine. Mounts below it must be gone already.
 *
 * @example
 * ```ts
 * await removeContainerDir(store, rec.id);
 * ```
 */
export async function removeContainerDir(store: string, id: string): Promise<void> {
  const dir = containerDir(store, id);
  try {
    await Deno.remove(`${dir}/${RECORD_FILE}`);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  try {
    await Deno.remove(dir, { recursive: true });
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

/**
 * The image ids (`sha256:<config hex>`) containers of the store were made from.
 *
 * @example
 * ```ts
 * if ((await imagesInUse(store)).has(imageId)) console.log("in use");
 * ```
 */
export async function imagesInUse(store: string): Promise<Set<string>> {
  return new Set((await listContainers(store)).map((c) => c.imageId));
}

/**
 * The containers made from each image id: id → container names.
 *
 * @example
 * ```ts
 * (await containersByImage(store)).get(imageId); // ["web", "db"]
 * ```
 */
export async function containersByImage(store: string): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const c of await listContainers(store)) {
    const names = out.get(c.imageId) ?? [];
    names.push(c.name);
    out.set(c.imageId, names);
  }
  return out;
}

/**
 * The layer cache keys (chain ids) containers of the store use.
 *
 * @example
 * ```ts
 * const keep = await chainIdsInUse(store);
 * ```
 */
export async function chainIdsInUse(store: string): Promise<Set<string>> {
  const out = new Set<string>();
  for (const c of await listContainers(store)) for (const id of c.chainIds) out.add(id);
  return out;
}

/** Throws {@linkcode ImageInUseError} when containers use `imageId`. */
export async function assertImageUnused(store: string, imageId: string, image: string) {
  const users = (await containersByImage(store)).get(imageId);
  if (users?.length) throw new ImageInUseError(image, users);
}
