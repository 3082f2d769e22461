/**
 * `image prune` as one step under the store's exclusive lock: images (dangling, or with `all`
 * every one no container uses), the blobs nothing refers to any more, then the cached layers
 * that no image left and no container uses (the layer cache's `pruneLayers`, which keeps every
 * layer below a kept one).
 *
 * @example
 * ```ts
 * import { pruneStore } from "./prune.ts";
 * const r = await pruneStore("/var/lib/ocibox", { all: true });
 * console.log(r.images, r.layers);
 * ```
 * @module
 */
import { chainIdsInUse } from "./container_records.ts";
import { pruneImages, type PruneResult } from "./image_store.ts";

/** What {@linkcode pruneStore} removed. */
export interface StorePruneResult extends PruneResult {
  /** Chain ids of the cached layers removed. */
  layers: string[];
  /** Bytes of file data those layers held. */
  layerBytes: number;
}

/**
 * Prunes images, blobs and the layer cache of `store`.
 *
 * @example
 * ```ts
 * await pruneStore(store); // dangling images only
 * ```
 */
export async function pruneStore(
  store: string,
  options: { all?: boolean } = {},
): Promise<StorePruneResult> {
  let layers: string[] = [];
  let layerBytes = 0;
  const result = await pruneImages(store, {
    all: options.all,
    then: async (left) => {
      // Loaded only here: the cache module brings the mount and layer-writing code with it.
      const [{ pruneLayers }, { chainIds }] = await Promise.all([
        import("./layer_cache.ts"),
        import("./layer_chain.ts"),
      ]);
      const keep = await chainIdsInUse(store);
      for (const image of left) for (const id of chainIds(image.diffIds)) keep.add(id);
      const pruned = await pruneLayers(store, keep);
      layers = pruned.removed;
      layerBytes = pruned.bytes;
    },
  });
  return { ...result, layers, layerBytes };
}
