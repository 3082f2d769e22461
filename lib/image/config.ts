/**
 * Image configuration: OCI config.md plus the Docker Image Spec v1.3 fields found in real
 * images (Healthcheck, OnBuild, Shell, docker_version, container_config …).
 *
 * @example
 * ```ts
 * import { parseImageConfig } from "./config.ts";
 * const config = parseImageConfig({
 *   architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] },
 * }, "config");
 * console.log(config.os); // "linux"
 * ```
 * @module
 */

import type { Digest } from "../digest/digest.ts";
import { expectDigest } from "./descriptor.ts";
import {
  expectArray,
  expectObject,
  GoFieldNames,
  type JsonObject,
  type JsonPath,
  optArray,
  optBoolean,
  optInteger,
  optObject,
  optObjectMap,
  optString,
  optStringArray,
  optStringMap,
  refuseCaseVariants,
  reqString,
  required,
  toPath,
  type Where,
} from "./json_fields.ts";

/** Docker's health check settings (reserved in OCI). Durations are in nanoseconds. */
export interface HealthConfig {
  /** `[]` inherit, `["NONE"]` disable, `["CMD", …]` exec, `["CMD-SHELL", cmd]` shell. */
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

/** Execution defaults for containers of the image (`config` in config.md). */
export interface ContainerConfig {
  /** `user`, `uid`, `user:group`, `uid:gid`, `uid:group` or `user:gid`. */
  User?: string;
  /** Keys `port/tcp`, `port/udp` or `port`; values are empty objects. */
  ExposedPorts?: Record<string, JsonObject>;
  /** `VARNAME=VARVALUE` entries. */
  Env?: string[];
  Entrypoint?: string[];
  Cmd?: string[];
  /** Keys are paths; values are empty objects. */
  Volumes?: Record<string, JsonObject>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  /** A signal name such as `SIGTERM` or `SIGRTMIN+3`. */
  StopSignal?: string;
  /** Deprecated Windows-only Docker extension. */
  ArgsEscaped?: boolean;
  /** Reserved by OCI for Docker compatibility. */
  Memory?: number;
  /** Reserved by OCI for Docker compatibility. */
  MemorySwap?: number;
  /** Reserved by OCI for Docker compatibility. */
  CpuShares?: number;
  /** Reserved by OCI for Docker compatibility. */
  Healthcheck?: HealthConfig;
  /** Docker: build triggers for images built FROM this one. */
  OnBuild?: string[];
  /** Docker: shell for the shell form of build commands. */
  Shell?: string[];
}

/** One entry of `history`, base first. */
export interface HistoryEntry {
  /** RFC 3339 date-time. */
  created?: string;
  author?: string;
  created_by?: string;
  comment?: string;
  /** True when the step made no filesystem layer. */
  empty_layer?: boolean;
}

/** An image config (OCI or Docker). Unknown fields of the JSON are not kept. */
export interface ImageConfig {
  /** RFC 3339 date-time the image was created. */
  created?: string;
  author?: string;
  /** CPU architecture (`GOARCH`). */
  architecture: string;
  /** Operating system (`GOOS`). */
  os: string;
  "os.version"?: string;
  "os.features"?: string[];
  /** CPU variant. */
  variant?: string;
  config?: ContainerConfig;
  rootfs: {
    /** Always `layers`. */
    type: "layers";
    /** Digests of the uncompressed layer tars, base first. */
    diff_ids: Digest[];
  };
  history?: HistoryEntry[];
  /** Docker: version of the daemon that built the image. */
  docker_version?: string;
  /** Docker: free-form comment. */
  comment?: string;
  /** Docker: ID of the build container. */
  container?: string;
  /** Docker: config of the build container (kept as raw JSON). */
  container_config?: JsonObject;
  /** Docker: ID of the parent image in the local store. */
  parent?: string;
}

// RFC 3339 section 5.6 date-time (the T and Z may be lowercase per its section 5.6 note).
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/;

function optDateTime(obj: JsonObject, key: string, path: JsonPath): string | undefined {
  const v = optString(obj, key, path);
  if (v !== undefined && !DATE_TIME.test(v)) {
    throw path.key(key).error(`${JSON.stringify(v)} is not an RFC 3339 date-time`);
  }
  return v;
}

// Adds `value` under `key` unless it is undefined, keeping absent fields absent.
function put<T extends object, K extends keyof T>(target: T, key: K, value: T[K] | undefined) {
  if (value !== undefined) target[key] = value;
}

// The fields ocibox reads, as named by the Go structs (image-spec's v1.Image, v1.ImageConfig,
// v1.RootFS, v1.History; Docker's V1Image, container.Config, HealthConfig) that fill them.
const IMAGE_FIELDS = new GoFieldNames([
  "created",
  "author",
  "architecture",
  "os",
  "os.version",
  "os.features",
  "variant",
  "config",
  "rootfs",
  "history",
  "docker_version",
  "comment",
  "container",
  "container_config",
  "parent",
]);
const CONTAINER_CONFIG_FIELDS = new GoFieldNames([
  "User",
  "ExposedPorts",
  "Env",
  "Entrypoint",
  "Cmd",
  "Volumes",
  "WorkingDir",
  "Labels",
  "StopSignal",
  "ArgsEscaped",
  "Memory",
  "MemorySwap",
  "CpuShares",
  "Healthcheck",
  "OnBuild",
  "Shell",
]);
const HEALTH_FIELDS = new GoFieldNames([
  "Test",
  "Interval",
  "Timeout",
  "StartPeriod",
  "StartInterval",
  "Retries",
]);
const ROOTFS_FIELDS = new GoFieldNames(["type", "diff_ids"]);
const HISTORY_FIELDS = new GoFieldNames([
  "created",
  "author",
  "created_by",
  "comment",
  "empty_layer",
]);

function parseHealthcheck(obj: JsonObject, path: JsonPath): HealthConfig {
  refuseCaseVariants(obj, HEALTH_FIELDS, path);
  const h: HealthConfig = {};
  put(h, "Test", optStringArray(obj, "Test", path));
  for (const key of ["Interval", "Timeout", "StartPeriod", "StartInterval", "Retries"] as const) {
    put(h, key, optInteger(obj, key, path));
  }
  return h;
}

function parseContainerConfig(obj: JsonObject, path: JsonPath): ContainerConfig {
  refuseCaseVariants(obj, CONTAINER_CONFIG_FIELDS, path);
  const c: ContainerConfig = {};
  put(c, "User", optString(obj, "User", path));
  put(c, "ExposedPorts", optObjectMap(obj, "ExposedPorts", path));
  put(c, "Env", optStringArray(obj, "Env", path));
  put(c, "Entrypoint", optStringArray(obj, "Entrypoint", path));
  put(c, "Cmd", optStringArray(obj, "Cmd", path));
  put(c, "Volumes", optObjectMap(obj, "Volumes", path));
  put(c, "WorkingDir", optString(obj, "WorkingDir", path));
  put(c, "Labels", optStringMap(obj, "Labels", path));
  put(c, "StopSignal", optString(obj, "StopSignal", path));
  put(c, "ArgsEscaped", optBoolean(obj, "ArgsEscaped", path));
  put(c, "Memory", optInteger(obj, "Memory", path));
  put(c, "MemorySwap", optInteger(obj, "MemorySwap", path));
  put(c, "CpuShares", optInteger(obj, "CpuShares", path));
  const health = optObject(obj, "Healthcheck", path);
  if (health !== undefined) c.Healthcheck = parseHealthcheck(health, path.key("Healthcheck"));
  put(c, "OnBuild", optStringArray(obj, "OnBuild", path));
  put(c, "Shell", optStringArray(obj, "Shell", path));
  return c;
}

function parseHistoryEntry(value: unknown, path: JsonPath): HistoryEntry {
  const obj = expectObject(value, path);
  refuseCaseVariants(obj, HISTORY_FIELDS, path);
  const h: HistoryEntry = {};
  put(h, "created", optDateTime(obj, "created", path));
  put(h, "author", optString(obj, "author", path));
  put(h, "created_by", optString(obj, "created_by", path));
  put(h, "comment", optString(obj, "comment", path));
  put(h, "empty_layer", optBoolean(obj, "empty_layer", path));
  return h;
}

/**
 * Validates a parsed JSON value as an image config and returns a typed copy of the known
 * fields: `architecture` and `os` required, `rootfs.type` must be `layers`, `rootfs.diff_ids`
 * digests, `history` entries and the `config` fields typed as config.md and the Docker spec
 * say. `null` optional fields count as absent (config.md); unknown fields are ignored, but a key
 * that differs from a known field's name only in case is refused (see
 * {@linkcode refuseCaseVariants}).
 *
 * @param where names the document in error messages, e.g. `config sha256:…`.
 * @throws {InvalidImageError} when the config breaks config.md.
 * @example
 * ```ts
 * const text = '{"architecture":"amd64","os":"linux","config":{"Entrypoint":["/bin/app"]},' +
 *   '"rootfs":{"type":"layers","diff_ids":[]}}';
 * const c = parseImageConfig(JSON.parse(text), "config");
 * c.config?.Entrypoint; // ["/bin/app"]
 * ```
 */
export function parseImageConfig(json: unknown, where: Where = "config"): ImageConfig {
  const path = toPath(where);
  const obj = expectObject(json, path);
  refuseCaseVariants(obj, IMAGE_FIELDS, path);
  const created = optDateTime(obj, "created", path);
  const author = optString(obj, "author", path);
  const architecture = reqString(obj, "architecture", path);
  const os = reqString(obj, "os", path);

  const rootfsPath = path.key("rootfs");
  const rootfsObj = expectObject(required(obj, "rootfs", path), rootfsPath);
  refuseCaseVariants(rootfsObj, ROOTFS_FIELDS, rootfsPath);
  const type = reqString(rootfsObj, "type", rootfsPath);
  if (type !== "layers") {
    throw rootfsPath.key("type").error(`must be "layers", got ${JSON.stringify(type)}`);
  }
  const diffIdsPath = rootfsPath.key("diff_ids");
  const diffIds = expectArray(required(rootfsObj, "diff_ids", rootfsPath), diffIdsPath).map(
    (d, i) => expectDigest(d, diffIdsPath.index(i)),
  );

  const config: ImageConfig = { architecture, os, rootfs: { type: "layers", diff_ids: diffIds } };
  put(config, "created", created);
  put(config, "author", author);
  put(config, "os.version", optString(obj, "os.version", path));
  put(config, "os.features", optStringArray(obj, "os.features", path));
  put(config, "variant", optString(obj, "variant", path));
  const containerConfig = optObject(obj, "config", path);
  if (containerConfig !== undefined) {
    config.config = parseContainerConfig(containerConfig, path.key("config"));
  }
  const history = optArray(obj, "history", path);
  if (history !== undefined) {
    const historyPath = path.key("history");
    config.history = history.map((h, i) => parseHistoryEntry(h, historyPath.index(i)));
  }
  put(config, "docker_version", optString(obj, "docker_version", path));
  put(config, "comment", optString(obj, "comment", path));
  put(config, "container", optString(obj, "container", path));
  put(config, "container_config", optObject(obj, "container_config", path));
  put(config, "parent", optString(obj, "parent", path));
  return config;
}

/**
 * The number of `history` entries that made a layer (those without `empty_layer: true`); it
 * should equal the number of `rootfs.diff_ids`.
 *
 * @example
 * ```ts
 * nonEmptyHistoryCount({ architecture: "amd64", os: "linux",
 *   rootfs: { type: "layers", diff_ids: [] }, history: [{ empty_layer: true }] }); // 0
 * ```
 */
export function nonEmptyHistoryCount(config: ImageConfig): number {
  return (config.history ?? []).filter((h) => h.empty_layer !== true).length;
}
