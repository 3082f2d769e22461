/**
 * Everything `run IMAGE` does before the runtime: the image (pulled as `--pull` says), the
 * container's record reserved under its name, its rootfs (the cached layers under an overlay of
 * its own, or a copy where overlay cannot be mounted), its /etc files and its config.json. The
 * result is a bundle in STORE/containers/<id>/bundle that the runtime runs like any other.
 * On failure nothing is left: no record, no mount, no directory.
 * @module
 */
import type { Spec } from "../runtime/spec/spec_types.ts";
import { readRootfsText } from "../layer/rootfs_read.ts";
import type { Reporter } from "../report/reporter.ts";
import type { RegistryOptions } from "../transport/docker_registry.ts";
import {
  containerDir,
  type ContainerRecord,
  listContainers,
  removeContainerDir,
  reserveContainer,
  writeContainer,
} from "../store/container_records.ts";
import { hasImageId } from "../store/image_store.ts";
import { chainIds, layerDir } from "../store/layer_chain.ts";
import { isLayerMediaType } from "../image/media_types.ts";
import { ensureImage } from "../store/pull.ts";
import { NameInUseError, NotFoundError } from "../errors.ts";
import { writeFileAtomic } from "../io/atomic_file.ts";
import { containerSpec } from "./container_spec.ts";
import { readHostResolvConf, writeEtcFiles } from "./etc_files.ts";
import { hostDevices, readHostFacts } from "./host_facts.ts";
import { findInitBinary } from "./init_binary.ts";
import { generateName, newContainerId } from "./names.ts";
import { checkPortsFree, chooseNetwork, findNetworkHelper, type NetworkHelper } from "./network.ts";
import { resolveRunEnv } from "./run_flags.ts";
import type { NetworkMode, RunRequest } from "./run_request.ts";
import { prepareBindSources } from "./volumes.ts";
import { parsePlatform } from "../image/platform.ts";

/** Options of {@linkcode prepareContainer}. */
export interface PrepareOptions {
  store: string;
  /** The runtime's state directory the container will live in. */
  runtimeRoot: string;
  reporter: Reporter;
  registry?: RegistryOptions;
  signal?: AbortSignal;
}

/** A container ready for the runtime. */
export interface PreparedContainer {
  record: ContainerRecord;
  /** STORE/containers/<id>. */
  dir: string;
  /** `dir`/bundle: config.json and the rootfs mount point. */
  bundle: string;
  spec: Spec;
  network: { mode: NetworkMode; helper?: NetworkHelper };
}

/** Warnings said once per process (the overlay fallback, the missing network helper). */
const said = new Set<string>();
function warnOnce(reporter: Reporter, text: string): void {
  if (said.has(text)) return;
  said.add(text);
  reporter.warn(text);
}

/** Makes the container `request` asks for, up to a bundle the runtime can create. */
export async function prepareContainer(
  request: RunRequest,
  options: PrepareOptions,
): Promise<PreparedContainer> {
  const { store, reporter } = options;
  for (const w of request.warnings) reporter.warn(w);
  const network = chooseNetwork(request.network, findNetworkHelper());
  if (network.warning) warnOnce(reporter, network.warning);
  // Cheap checks first: a taken port or a missing `:ro` source fails before any pull.
  if (network.mode === "private") checkPortsFree(request.publish);
  const env = resolveRunEnv(request, {
    hostEnv: (n) => Deno.env.get(n),
    readTextFile: (p) => Deno.readTextFileSync(p),
  });
  const seccompProfile = request.seccomp.kind === "file"
    ? JSON.parse(await Deno.readTextFile(request.seccomp.path))
    : undefined;
  const initBinary = request.init ? findInitBinary() : undefined;

  const image = await ensureImage(store, request.image, request.pull, {
    registry: options.registry,
    platform: request.platform ? parsePlatform(request.platform) : undefined,
    reporter,
    signal: options.signal,
  });
  const id = newContainerId();
  const freshName = async () =>
    generateName(new Set((await listContainers(store)).map((c) => c.name)));
  const record: ContainerRecord = {
    id,
    name: request.name ?? await freshName(),
    image: image.name,
    imageId: image.imageId,
    manifestDigest: image.imageManifestDigest,
    chainIds: chainIds(image.diffIds),
    command: [],
    created: new Date().toISOString(),
    runtimeRoot: options.runtimeRoot,
    rootfs: "overlay",
    autoRemove: request.rm,
    detached: request.detach,
    ports: request.publish.map((p) => ({ ...p })),
    network: network.mode,
  };
  const check = async () => {
    if (!(await hasImageId(store, image.imageId, image.manifestDigest))) {
      throw new NotFoundError(`image ${image.name} was removed while the container was made`);
    }
  };
  await reserveNamed(store, record, {
    check,
    rename: request.name === undefined ? freshName : undefined,
  });
  const name = record.name;
  const dir = containerDir(store, id);
  const bundle = `${dir}/bundle`;
  const rootfs = `${bundle}/rootfs`;
  let madeSources: string[] = [];
  try {
    record.rootfs = await makeRootfs(store, image, dir, rootfs, options);
    madeSources = await prepareBindSources(request.mounts);
    const host = readHostFacts();
    const hostname = request.hostname ??
      (network.mode === "host" ? Deno.hostname() : id.slice(0, 12));
    const etc = await writeEtcFiles(dir, {
      hostname,
      name,
      network: network.mode,
      hostResolvConf: readHostResolvConf(),
      hostHosts: network.mode === "host" ? readOptional("/etc/hosts") : undefined,
    });
    const spec = containerSpec({
      id,
      image: image.config,
      passwd: readRootfsText(rootfs, "/etc/passwd"),
      group: readRootfsText(rootfs, "/etc/group"),
      request: { ...request, network: network.mode, hostname: request.hostname ?? hostname },
      env,
      etc,
      host,
      rootfs,
      seccompProfile,
      initBinary,
      devices: request.privileged ? hostDevices() : undefined,
    });
    await writeFileAtomic(
      `${bundle}/config.json`,
      new TextEncoder().encode(JSON.stringify(spec, null, "\t") + "\n"),
      { mode: 0o600 },
    );
    record.command = spec.process?.args ?? [];
    await writeContainer(store, record);
    return { record, dir, bundle, spec, network };
  } catch (e) {
    await releaseRootfs(record, dir).catch(() => {});
    await removeContainerDir(store, id).catch(() => {});
    for (const made of madeSources) await Deno.remove(made, { recursive: true }).catch(() => {});
    throw e;
  }
}

/**
 * Reserves `record` under its name (reserveContainer); when the name is made up (`rename`
 * given) and another `run` took it meanwhile, makes up another and tries again, as podman
 * does. A name the user chose stays an error.
 *
 * @throws {NameInUseError} the chosen name is taken (or 20 made-up ones were).
 * @example
 * ```ts
 * await reserveNamed(store, record, { rename: async () => "calm_otter" });
 * ```
 */
export async function reserveNamed(
  store: string,
  record: ContainerRecord,
  options: { check?: () => Promise<void>; rename?: () => Promise<string> },
): Promise<void> {
  for (let attempt = 1;; attempt++) {
    try {
      await reserveContainer(store, record, { check: options.check });
      return;
    } catch (e) {
      if (!options.rename || !(e instanceof NameInUseError) || attempt === 20) throw e;
      record.name = await options.rename();
    }
  }
}

function readOptional(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}

/**
 * The container's rootfs at `rootfs`: its own overlay on the cached layers, or a copy (said
 * once) where overlay cannot be mounted.
 */
async function makeRootfs(
  store: string,
  image: Awaited<ReturnType<typeof ensureImage>>,
  dir: string,
  rootfs: string,
  options: PrepareOptions,
): Promise<"overlay" | "copy"> {
  // A second container of an image (every layer cached): mount at once. Opening the image's
  // snapshot (its blobs hard-linked under the store lock) and loading the layer-building modules
  // cost ~30 ms of a ~290 ms `run --rm IMAGE true` here (scripts/bench/run_image.ts), and
  // mounting cached layers needs neither. The checks are ensureLayers' own; anything else takes
  // the full path below, which fails or falls back exactly as before.
  const cached = await cachedChainIds(store, image);
  if (cached) {
    const overlay = await import("../store/overlay_mount.ts");
    try {
      const { signal } = options;
      await overlay.mountRootfs(store, cached, `${dir}/upper`, `${dir}/work`, rootfs, { signal });
      return "overlay";
    } catch (e) {
      if (!(e instanceof overlay.OverlayUnavailableError)) throw e;
    }
  }
  const [{ openStoreSource }, cache, overlay] = await Promise.all([
    import("../transport/store.ts"),
    import("../store/layer_cache.ts"),
    import("../store/overlay_mount.ts"),
  ]);
  // A snapshot of the image's blobs (hard links): readable without holding the store's lock,
  // whatever an `rmi --force` does meanwhile.
  const src = await openStoreSource(`store:${image.name}`, store, image.imageId.slice(7));
  const layers = { manifest: { manifest: image.manifest }, config: image.config };
  try {
    try {
      const ids = await cache.ensureLayers(store, src, layers, {
        reporter: options.reporter,
        signal: options.signal,
      });
      await overlay.mountRootfs(store, ids, `${dir}/upper`, `${dir}/work`, rootfs, {
        signal: options.signal,
      });
      return "overlay";
    } catch (e) {
      if (!(e instanceof overlay.OverlayUnavailableError)) throw e;
      warnOnce(options.reporter, `${e.message}: copying the image's files for each container`);
    }
    const { copyRootfs } = await import("../store/rootfs_copy.ts");
    await Deno.remove(rootfs, { recursive: true }).catch(() => {});
    await copyRootfs(store, src, layers, rootfs, {
      reporter: options.reporter,
      signal: options.signal,
    });
    return "copy";
  } finally {
    await src.close();
  }
}

/**
 * The chain ids of `image` when every layer is in the layer cache and its manifest pairs with
 * its config as ensureLayers requires (as many layers as diff_ids, each a file-system layer);
 * undefined otherwise.
 */
async function cachedChainIds(
  store: string,
  image: Awaited<ReturnType<typeof ensureImage>>,
): Promise<string[] | undefined> {
  const diffIds = image.config.rootfs.diff_ids;
  const layers = image.manifest.layers;
  if (layers.length !== diffIds.length) return undefined;
  if (!layers.every((l) => isLayerMediaType(l.mediaType))) return undefined;
  const ids = chainIds(diffIds);
  for (const id of ids) {
    try {
      await Deno.lstat(layerDir(store, id));
    } catch {
      return undefined;
    }
  }
  return ids;
}

/** Unmounts a container's overlay rootfs (nothing for a copy, or when not mounted). */
export async function releaseRootfs(record: ContainerRecord, dir: string): Promise<void> {
  if (record.rootfs !== "overlay") return;
  const { unmountRootfs } = await import("../store/overlay_mount.ts");
  unmountRootfs(`${dir}/bundle/rootfs`);
}
