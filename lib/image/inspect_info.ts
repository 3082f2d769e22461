/**
 * The JSON object `skopeo inspect` prints, built from a manifest and its config, with the same
 * fields, order and null/omitted conventions, so scripts written against skopeo keep working.
 *
 * @example
 * ```ts
 * import { buildInspectInfo, formatInspectInfo } from "./inspect_info.ts";
 * const manifest = {
 *   schemaVersion: 2 as const,
 *   config: {
 *     mediaType: "application/vnd.oci.image.config.v1+json",
 *     digest: "sha256:7640be529cc3c38da0eb61e86ac2cd94df1ca5d93dca48089d9a7d465d1ec19f",
 *     size: 134,
 *   },
 *   layers: [],
 * };
 * const config = {
 *   architecture: "amd64", os: "linux", rootfs: { type: "layers" as const, diff_ids: [] },
 * };
 * const digest = "sha256:503704688180bfab96e403d05d2426983ac81dcaaf35fc4c278061f666ef3649";
 * const info = buildInspectInfo({ digest, repoTags: [], manifest, config });
 * console.log(formatInspectInfo(info));
 * ```
 * @module
 */

import type { Digest } from "../digest/digest.ts";
import type { ImageConfig } from "./config.ts";
import type { ImageManifest } from "./manifest.ts";

/** One entry of `LayersData`. */
export interface InspectLayer {
  MIMEType: string;
  Digest: Digest;
  Size: number;
  /** null when the layer descriptor has no annotations. */
  Annotations: Record<string, string> | null;
}

/** skopeo's inspect output; key order is part of the contract. */
export interface InspectInfo {
  /** Omitted when undefined. */
  Name?: string;
  /** Digest of the manifest (of the top-level manifest, for multi-platform images). */
  Digest: Digest;
  RepoTags: string[];
  /** RFC 3339 with nanoseconds, as Go formats it; null when the config has no date. */
  Created: string | null;
  DockerVersion: string;
  Labels: Record<string, string> | null;
  Architecture: string;
  /** Omitted when empty. */
  Variant?: string;
  Os: string;
  Layers: Digest[];
  LayersData: InspectLayer[];
  Env: string[] | null;
}

/** What {@linkcode buildInspectInfo} needs. */
export interface InspectInput {
  /** The repository name (skopeo prints it for registry images). */
  name?: string;
  /** Digest of the manifest bytes. */
  digest: Digest;
  /** Tags of the repository (skopeo lists them for registry images; [] otherwise). */
  repoTags: string[];
  manifest: ImageManifest;
  config: ImageConfig;
}

const RFC3339 = /^(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * Re-formats an RFC 3339 date-time the way Go's `time.RFC3339Nano` prints it after parsing:
 * fraction truncated to nanoseconds without trailing zeros, `Z` for a zero offset. Returns the
 * input unchanged when it does not parse.
 *
 * @example
 * ```ts
 * goTimeString("2023-01-02T03:04:05.120000Z"); // "2023-01-02T03:04:05.12Z"
 * goTimeString("2023-01-02T03:04:05+00:00"); // "2023-01-02T03:04:05Z"
 * ```
 */
export function goTimeString(s: string): string {
  const m = RFC3339.exec(s);
  if (!m) return s;
  const [, date, time, fraction = "", zone] = m;
  const frac = fraction.slice(0, 9).replace(/0+$/, "");
  const z = zone === "Z" || zone === "z" || zone === "+00:00" || zone === "-00:00" ? "Z" : zone;
  return `${date}T${time}${frac ? "." + frac : ""}${z}`;
}

/**
 * Builds the inspect object. Field order follows skopeo: Name, Digest, RepoTags, Created,
 * DockerVersion, Labels, Architecture, Variant, Os, Layers, LayersData, Env.
 *
 * @example
 * ```ts
 * const manifest = {
 *   schemaVersion: 2 as const,
 *   config: {
 *     mediaType: "application/vnd.oci.image.config.v1+json",
 *     digest: "sha256:7640be529cc3c38da0eb61e86ac2cd94df1ca5d93dca48089d9a7d465d1ec19f",
 *     size: 134,
 *   },
 *   layers: [],
 * };
 * const config = {
 *   architecture: "amd64", os: "linux", rootfs: { type: "layers" as const, diff_ids: [] },
 * };
 * const digest = "sha256:503704688180bfab96e403d05d2426983ac81dcaaf35fc4c278061f666ef3649";
 * const info = buildInspectInfo({ digest, repoTags: [], manifest, config });
 * info.Labels; // null
 * ```
 */
export function buildInspectInfo(input: InspectInput): InspectInfo {
  const { manifest, config } = input;
  const info: InspectInfo = {
    ...(input.name ? { Name: input.name } : {}),
    Digest: input.digest,
    RepoTags: [...input.repoTags],
    Created: config.created !== undefined ? goTimeString(config.created) : null,
    DockerVersion: config.docker_version ?? "",
    Labels: config.config?.Labels ?? null,
    Architecture: config.architecture,
    ...(config.variant ? { Variant: config.variant } : {}),
    Os: config.os,
    Layers: manifest.layers.map((l) => l.digest),
    LayersData: manifest.layers.map((l) => ({
      MIMEType: l.mediaType,
      Digest: l.digest,
      Size: l.size,
      Annotations: l.annotations ?? null,
    })),
    Env: config.config?.Env ?? null,
  };
  return info;
}

/**
 * Formats the inspect object as skopeo prints it: Go's `json.MarshalIndent` with 4 spaces,
 * including its escaping of `<`, `>`, `&`, U+2028 and U+2029. No trailing newline.
 *
 * @example
 * ```ts
 * const manifest = {
 *   schemaVersion: 2 as const,
 *   config: {
 *     mediaType: "application/vnd.oci.image.config.v1+json",
 *     digest: "sha256:7640be529cc3c38da0eb61e86ac2cd94df1ca5d93dca48089d9a7d465d1ec19f",
 *     size: 134,
 *   },
 *   layers: [],
 * };
 * const config = {
 *   architecture: "amd64", os: "linux", rootfs: { type: "layers" as const, diff_ids: [] },
 * };
 * const digest = "sha256:503704688180bfab96e403d05d2426983ac81dcaaf35fc4c278061f666ef3649";
 * const info = buildInspectInfo({ digest, repoTags: [], manifest, config });
 * console.log(formatInspectInfo(info)); // {\n    "Digest": "sha256:5037…", …
 * ```
 */
export function formatInspectInfo(info: InspectInfo | Record<string, unknown>): string {
  return JSON.stringify(info, null, 4).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/**
 * The config as `skopeo inspect --config` prints it: converted to the OCI image config shape
 * (Docker-only fields dropped), in Go's field order, times as Go prints them.
 *
 * @example
 * ```ts
 * const view = buildInspectConfig({
 *   created: "2024-01-02T03:04:05.100Z", architecture: "amd64", os: "linux",
 *   rootfs: { type: "layers", diff_ids: [] },
 * });
 * view.created; // "2024-01-02T03:04:05.1Z"
 * ```
 */
export function buildInspectConfig(config: ImageConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const put = (key: string, value: unknown) => {
    if (value !== undefined && value !== "" && !(Array.isArray(value) && value.length === 0)) {
      out[key] = value;
    }
  };
  put("created", config.created === undefined ? undefined : goTimeString(config.created));
  put("author", config.author);
  put("architecture", config.architecture);
  put("variant", config.variant);
  put("os", config.os);
  put("os.version", config["os.version"]);
  put("os.features", config["os.features"]);
  const c = config.config ?? {};
  const inner: Record<string, unknown> = {};
  for (
    const key of [
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
    ] as const
  ) {
    const v = c[key];
    if (v !== undefined && v !== "" && v !== false) inner[key] = v;
  }
  out.config = inner;
  out.rootfs = { type: config.rootfs.type, diff_ids: config.rootfs.diff_ids };
  if (config.history?.length) {
    out.history = config.history.map((h) => {
      const e: Record<string, unknown> = {};
      if (h.created !== undefined) e.created = goTimeString(h.created);
      if (h.created_by) e.created_by = h.created_by;
      if (h.author) e.author = h.author;
      if (h.comment) e.comment = h.comment;
      if (h.empty_layer) e.empty_layer = true;
      return e;
    });
  }
  return out;
}
