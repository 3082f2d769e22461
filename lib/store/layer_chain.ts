/**
 * The layer cache's keys and paths, and how a stack of cached layers is laid out for overlayfs.
 * Pure: strings in, strings out (the digest is computed in memory).
 *
 * A layer's unpacked form depends on everything under it (a whiteout removes a lower file, a
 * hardlink copies a lower file up), so the cache is keyed by the **chain id** of image-spec
 * config.md: ChainID(L0) = DiffID(L0), ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln)).
 *
 * ```
 * STORE/layers/sha256/<chainid-hex>/diff/        the layer as an overlay upper dir
 * STORE/layers/sha256/<chainid-hex>/layer.json   {chainId, diffId, parent, size, files, entries}
 * STORE/layers/sha256/<chainid-hex>/flat/        (rare) layers 0..n merged into one tree
 * STORE/layers/empty/                            the lower dir of an image without layers
 * ```
 * @module
 */
import { digestOf } from "../digest/digester.ts";
import { parseDigest } from "../digest/digest.ts";

/** The most lower dirs one overlay mount takes (the kernel's OVL_MAX_STACK). */
export const OVERLAY_MAX_STACK = 500;

/**
 * Flattening merges the bottom layers in multiples of this many, so the few flat dirs an image
 * ever needs are shared by every layer built on top of them.
 */
export const FLATTEN_STEP = 100;

/**
 * The chain ids of a list of diff_ids (bottom layer first).
 *
 * @example
 * ```ts
 * import { chainIds } from "./layer_chain.ts";
 * const [a, b] = chainIds(["sha256:aa…", "sha256:bb…"]);
 * // a === "sha256:aa…", b === sha256 of "sha256:aa… sha256:bb…"
 * ```
 */
export function chainIds(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  for (const diffId of diffIds) {
    parseDigest(diffId); // refuses a malformed diff_id before it becomes a path
    const parent = out.at(-1);
    out.push(
      parent === undefined ? diffId : digestOf(new TextEncoder().encode(`${parent} ${diffId}`)),
    );
  }
  return out;
}

/** `STORE/layers/sha256/<hex>`: the cache directory of a chain id. */
export function layerDir(store: string, chainId: string): string {
  const { algorithm, encoded } = parseDigest(chainId);
  return `${store}/layers/${algorithm}/${encoded}`;
}

/** The overlay-ready tree of a cached layer. */
export function diffDir(store: string, chainId: string): string {
  return `${layerDir(store, chainId)}/diff`;
}

/** The merged tree of every layer up to and including `chainId` (made only when needed). */
export function flatDir(store: string, chainId: string): string {
  return `${layerDir(store, chainId)}/flat`;
}

/** The empty lower dir of an image with no layers (overlay needs at least one). */
export function emptyLowerDir(store: string): string {
  return `${store}/layers/empty`;
}

/**
 * How many of `count` layers (bottom first) to merge into one flat dir so that the rest plus
 * the flat dir fit in `maxLowers` lower dirs: 0 when they fit as they are, else the smallest
 * multiple of `step` that is enough.
 *
 * @example
 * ```ts
 * import { layersToFlatten } from "./layer_chain.ts";
 * layersToFlatten(120, 500); // 0
 * layersToFlatten(501, 500); // 100: layers 0..99 flat, then 401 more lowers
 * layersToFlatten(650, 500); // 200
 * ```
 */
export function layersToFlatten(
  count: number,
  maxLowers: number = OVERLAY_MAX_STACK,
  step: number = FLATTEN_STEP,
): number {
  if (maxLowers < 2) throw new RangeError(`maxLowers must be at least 2, not ${maxLowers}`);
  if (count <= maxLowers) return 0;
  // After flattening f layers: (count - f) diff dirs + 1 flat dir <= maxLowers.
  const need = count - maxLowers + 1;
  const unit = Math.max(1, Math.min(step, maxLowers - 1));
  return Math.min(count, Math.ceil(need / unit) * unit);
}

/** What a stack of lower dirs is made of, top first. */
export interface LowerStackPlan {
  /** Chain ids whose diff dirs are lowers, top first. */
  diffs: string[];
  /** The chain id whose flat dir is the bottom lower, when the bottom layers are flattened. */
  flat?: string;
  /** How many bottom layers that flat dir holds. */
  flattened: number;
}

/**
 * The lower dirs for the layers `chain` (bottom first) within `maxLowers`.
 *
 * @example
 * ```ts
 * import { planLowerStack } from "./layer_chain.ts";
 * planLowerStack(["sha256:a", "sha256:b"], 500); // { diffs: ["sha256:b", "sha256:a"], flattened: 0 }
 * ```
 */
export function planLowerStack(
  chain: readonly string[],
  maxLowers: number = OVERLAY_MAX_STACK,
  step: number = FLATTEN_STEP,
): LowerStackPlan {
  const f = layersToFlatten(chain.length, maxLowers, step);
  const diffs = chain.slice(f).reverse();
  // (f is never 1: flattening happens only when at least two layers are too many.)
  return f === 0 ? { diffs, flattened: 0 } : { diffs, flat: chain[f - 1], flattened: f };
}
