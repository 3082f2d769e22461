/**
 * Pure edits of an image config's JSON for `append`: every field the base had is kept verbatim
 * (unknown ones too), only the named ones change.
 * @module
 */
import { UsageError } from "../errors.ts";
import type { Platform } from "./platform.ts";

/** A config as generic JSON, so unknown fields survive. */
export type ConfigJson = Record<string, unknown>;

/** Changes to `config.config` (the container defaults). */
export interface ConfigEdits {
  entrypoint?: string[];
  cmd?: string[];
  /** `NAME=value` entries; an existing NAME is replaced in place, new ones are appended. */
  env?: string[];
  workdir?: string;
  user?: string;
  /** Added to (or replacing in) `Labels`. */
  labels?: Record<string, string>;
}

/** A history entry for a new layer. */
export interface HistoryStep {
  created: string;
  created_by: string;
  comment?: string;
}

/**
 * The config of an empty image for `platform` (append onto scratch).
 *
 * @example
 * ```ts
 * import { scratchConfig } from "./config_edit.ts";
 * scratchConfig({ os: "linux", architecture: "amd64" }, "2024-01-01T00:00:00Z");
 * ```
 */
export function scratchConfig(platform: Platform, created: string): ConfigJson {
  const c: ConfigJson = { created, architecture: platform.architecture, os: platform.os };
  if (platform.variant) c.variant = platform.variant;
  c.config = {};
  c.rootfs = { type: "layers", diff_ids: [] };
  c.history = [];
  return c;
}

function envName(entry: string): string {
  const i = entry.indexOf("=");
  if (i <= 0) throw new UsageError(`environment entry ${JSON.stringify(entry)} is not NAME=value`);
  return entry.slice(0, i);
}

/**
 * A copy of `config` with `edits` applied to its container defaults.
 *
 * @example
 * ```ts
 * import { editConfig } from "./config_edit.ts";
 * const c = editConfig({ config: { Env: ["PATH=/bin", "A=1"] } }, { env: ["A=2", "B=3"] });
 * // c.config.Env: ["PATH=/bin", "A=2", "B=3"]
 * ```
 */
export function editConfig(config: ConfigJson, edits: ConfigEdits): ConfigJson {
  const inner = { ...((config.config as ConfigJson | null | undefined) ?? {}) };
  if (edits.entrypoint !== undefined) inner.Entrypoint = edits.entrypoint;
  if (edits.cmd !== undefined) inner.Cmd = edits.cmd;
  if (edits.workdir !== undefined) inner.WorkingDir = edits.workdir;
  if (edits.user !== undefined) inner.User = edits.user;
  if (edits.env?.length) {
    const env = [...((inner.Env as string[] | null | undefined) ?? [])];
    for (const entry of edits.env) {
      const name = envName(entry);
      const at = env.findIndex((e) => e.split("=", 1)[0] === name);
      if (at >= 0) env[at] = entry;
      else env.push(entry);
    }
    inner.Env = env;
  }
  if (edits.labels && Object.keys(edits.labels).length) {
    inner.Labels = {
      ...((inner.Labels as Record<string, string> | null | undefined) ?? {}),
      ...edits.labels,
    };
  }
  return { ...config, config: inner };
}

/**
 * A copy of `config` with one more layer: its diff_id appended to rootfs, a history entry, and
 * `created` set to the step's time.
 */
export function appendLayerToConfig(
  config: ConfigJson,
  diffId: string,
  step: HistoryStep,
): ConfigJson {
  const rootfs = (config.rootfs as ConfigJson | undefined) ?? { type: "layers", diff_ids: [] };
  const diffIds = [...((rootfs.diff_ids as string[] | undefined) ?? []), diffId];
  const history = [...((config.history as unknown[] | null | undefined) ?? []), step];
  return { ...config, created: step.created, rootfs: { ...rootfs, diff_ids: diffIds }, history };
}
