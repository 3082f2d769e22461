/**
 * Image config -> runtime `config.json`, per the image spec's conversion.md, starting from
 * {@linkcode defaultSpec}. Pure: the caller passes the container's `/etc/passwd` and
 * `/etc/group` contents.
 *
 * @example
 * ```ts
 * import { specFromImageConfig } from "./image_to_spec.ts";
 * const spec = specFromImageConfig({
 *   architecture: "amd64",
 *   os: "linux",
 *   config: { Entrypoint: ["/bin/echo"], Cmd: ["hi"], Env: ["PATH=/bin"] },
 * });
 * console.log(spec.process?.args); // ["/bin/echo", "hi"]
 * ```
 * @module
 */

import { InvalidImageError, UnsupportedError } from "../errors.ts";
import { defaultSpec, type DefaultSpecOptions } from "../runtime/spec/default_spec.ts";
import { resolveUser } from "./passwd.ts";
import type { Mount, Spec } from "../runtime/spec/spec_types.ts";

/**
 * The parts of an OCI image configuration (`application/vnd.oci.image.config.v1+json`) that the
 * conversion reads. Structural, so a full parsed image config can be passed as is.
 */
export interface ImageConfigInput {
  architecture: string;
  os: string;
  variant?: string;
  "os.version"?: string;
  "os.features"?: string[];
  author?: string;
  created?: string;
  config?: {
    User?: string;
    Env?: string[] | null;
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    WorkingDir?: string;
    Labels?: Record<string, string> | null;
    StopSignal?: string;
    ExposedPorts?: Record<string, unknown> | null;
    Volumes?: Record<string, unknown> | null;
  };
}

/** Options of {@linkcode specFromImageConfig}. */
export interface SpecFromImageOptions extends Omit<DefaultSpecOptions, "args" | "terminal"> {
  /** Text of the rootfs's `/etc/passwd`; absent when the file does not exist. */
  passwd?: string;
  /** Text of the rootfs's `/etc/group`; absent when the file does not exist. */
  group?: string;
  /** `process.terminal`; false when absent. */
  terminal?: boolean;
  /** `root.readonly`; false when absent (images expect a writable root, as with umoci/docker). */
  readonlyRootfs?: boolean;
  /**
   * `Config.Volumes` handling. `"ignore"` (default) leaves the image's paths alone; `"tmpfs"`
   * mounts an empty tmpfs on each (sorted by path), exactly as umoci does, which hides whatever
   * the image has there.
   */
  volumes?: "ignore" | "tmpfs";
  /**
   * When both `Entrypoint` and `Cmd` are empty: false (default) keeps the default spec's `["sh"]`
   * like umoci; true throws {@linkcode InvalidImageError}, for callers about to run the image.
   */
  requireArgs?: boolean;
  /**
   * Manifest annotations to copy into `annotations` with the lowest precedence (below the
   * implicit ones and `Config.Labels`). conversion.md says converters SHOULD NOT do this by
   * default, so it only happens when the caller passes them.
   */
  manifestAnnotations?: Record<string, string>;
}

/** Annotation keys conversion.md derives from image config fields. */
export const IMAGE_ANNOTATIONS = {
  os: "org.opencontainers.image.os",
  architecture: "org.opencontainers.image.architecture",
  variant: "org.opencontainers.image.variant",
  osVersion: "org.opencontainers.image.os.version",
  osFeatures: "org.opencontainers.image.os.features",
  author: "org.opencontainers.image.author",
  created: "org.opencontainers.image.created",
  stopSignal: "org.opencontainers.image.stopSignal",
  exposedPorts: "org.opencontainers.image.exposedPorts",
} as const;

const VOLUME_TMPFS_OPTIONS = ["rw", "nosuid", "nodev", "noexec", "relatime"];

/**
 * Builds a runtime spec from an image config:
 *
 * - `process.args` = `Entrypoint` + `Cmd`; `process.cwd` = `WorkingDir` or `/`.
 * - `process.env` = the default `PATH`/`TERM`, each replaced in place by an image entry of the
 *   same name, then the image's other entries in order; `HOME` from the passwd entry is appended
 *   only when the image does not set it.
 * - `process.user` from `Config.User` via {@linkcode resolveUser} (empty means uid 0); in
 *   rootless mode `additionalGids` is dropped because setgroups(2) is denied in a user namespace
 *   that maps a single id.
 * - `annotations`: os, architecture, variant, os.version, os.features (comma separated), author,
 *   created (verbatim), stopSignal and exposedPorts (sorted keys, comma separated), each only when
 *   set in the image, then `Config.Labels`, which take precedence.
 *
 * Differences from umoci 0.4.7, all deliberate: Labels win over implicit annotations (umoci
 * overwrites them, against conversion.md); `created` is copied verbatim (umoci re-formats it);
 * absent fields give no annotation (umoci writes ""); variant/os.version/os.features are added;
 * an image `HOME` is kept (umoci overwrites it); volumes are not mounted unless asked; `terminal`
 * is false; the hostname and capability sets are runc's, not umoci's template.
 *
 * @throws {UnsupportedError} the image is not for Linux.
 * @throws {InvalidImageError} a `Config.Env` entry is not `NAME=value`, or args are required and
 *   missing.
 * @throws {UserNotFoundError} `Config.User` names an unknown user or group.
 * @example
 * ```ts
 * import { specFromImageConfig } from "./image_to_spec.ts";
 * const spec = specFromImageConfig(
 *   { architecture: "amd64", os: "linux", config: { User: "app", Cmd: ["./serve"] } },
 *   { passwd: "app:x:100:101::/srv:/bin/sh\n", group: "web:x:33:app\n" },
 * );
 * console.log(spec.process?.user); // { uid: 100, gid: 101, additionalGids: [33] }
 * ```
 */
export function specFromImageConfig(
  image: ImageConfigInput,
  options: SpecFromImageOptions = {},
): Spec {
  if (image.os !== "linux") {
    throw new UnsupportedError(
      `image config: os ${JSON.stringify(image.os)} is not supported, only "linux" images run`,
    );
  }
  const config = image.config ?? {};
  const spec = defaultSpec({
    rootless: options.rootless,
    cgroupNamespace: options.cgroupNamespace,
    hostUid: options.hostUid,
    hostGid: options.hostGid,
    terminal: options.terminal ?? false,
  });
  const proc = spec.process!;
  spec.root = { path: "rootfs", readonly: options.readonlyRootfs ?? false };

  const args = [...(config.Entrypoint ?? []), ...(config.Cmd ?? [])];
  if (args.length > 0) {
    proc.args = args;
  } else if (options.requireArgs) {
    throw new InvalidImageError("image config", "neither Config.Entrypoint nor Config.Cmd is set");
  }

  const cwd = config.WorkingDir || "/";
  if (!cwd.startsWith("/")) {
    // Docker and the runtime spec both need an absolute path: a relative one names nothing.
    throw new InvalidImageError(
      "image config",
      `Config.WorkingDir ${JSON.stringify(cwd)} is not an absolute path`,
    );
  }
  proc.cwd = cwd;

  const env = new EnvList(proc.env ?? []);
  const imageNames = new Set<string>();
  for (const entry of config.Env ?? []) {
    const name = envName(entry);
    imageNames.add(name);
    env.set(name, entry);
  }

  const user = resolveUser(config.User ?? "", options.passwd, options.group);
  proc.user = { uid: user.uid, gid: user.gid };
  if (user.additionalGids.length > 0 && !options.rootless) {
    proc.user.additionalGids = user.additionalGids;
  }
  if (user.home !== undefined && !imageNames.has("HOME")) env.set("HOME", `HOME=${user.home}`);
  proc.env = env.entries;

  spec.annotations = imageAnnotations(image, options.manifestAnnotations);

  if (options.volumes === "tmpfs") {
    const volumes = Object.keys(config.Volumes ?? {}).sort();
    spec.mounts = [...(spec.mounts ?? []), ...volumes.map(volumeMount)];
  }
  return spec;
}

function envName(entry: string): string {
  const eq = entry.indexOf("=");
  if (eq < 0) {
    throw new InvalidImageError(
      "image config",
      `Config.Env entry ${JSON.stringify(entry)} is not of the form NAME=value`,
    );
  }
  if (eq === 0) {
    throw new InvalidImageError(
      "image config",
      `Config.Env entry ${JSON.stringify(entry)} has an empty name`,
    );
  }
  return entry.slice(0, eq);
}

/**
 * `NAME=value` entries with one per name. Set replaces in place, so the default PATH keeps its
 * position when the image overrides it, as umoci does; a later duplicate in the image's Env
 * therefore wins, like in a shell. Indexed by name: an image's Env can have 100k entries.
 */
class EnvList {
  readonly entries: string[] = [];
  readonly #at = new Map<string, number>();

  constructor(initial: readonly string[]) {
    for (const e of initial) this.set(e.slice(0, Math.max(0, e.indexOf("="))), e);
  }

  set(name: string, entry: string): void {
    const index = this.#at.get(name);
    if (index !== undefined) this.entries[index] = entry;
    else {
      this.#at.set(name, this.entries.length);
      this.entries.push(entry);
    }
  }
}

function imageAnnotations(
  image: ImageConfigInput,
  manifestAnnotations: Record<string, string> | undefined,
): Record<string, string> {
  const annotations: Record<string, string> = { ...manifestAnnotations };
  const config = image.config ?? {};
  const set = (key: string, value: string | undefined) => {
    if (value !== undefined) annotations[key] = value;
  };
  set(IMAGE_ANNOTATIONS.os, image.os);
  set(IMAGE_ANNOTATIONS.architecture, image.architecture);
  set(IMAGE_ANNOTATIONS.variant, image.variant);
  set(IMAGE_ANNOTATIONS.osVersion, image["os.version"]);
  const features = image["os.features"];
  if (features !== undefined && features.length > 0) {
    set(IMAGE_ANNOTATIONS.osFeatures, features.join(","));
  }
  set(IMAGE_ANNOTATIONS.author, image.author);
  set(IMAGE_ANNOTATIONS.created, image.created);
  set(IMAGE_ANNOTATIONS.stopSignal, config.StopSignal);
  // Sorted because JSON object key order is not meaningful (and JS moves integer-like keys such
  // as "80" to the front), while the annotation should not depend on it.
  const ports = Object.keys(config.ExposedPorts ?? {}).sort();
  if (ports.length > 0) set(IMAGE_ANNOTATIONS.exposedPorts, ports.join(","));
  Object.assign(annotations, config.Labels ?? {});
  return annotations;
}

function volumeMount(destination: string): Mount {
  return { destination, type: "tmpfs", source: "none", options: [...VOLUME_TMPFS_OPTIONS] };
}
