/**
 * `deno run -A ensure_layers_main.ts STORE REF`: caches the layers of the image at REF in the
 * layer cache of STORE and prints one JSON line per layer ({index, chainId, built}). For tests
 * that run several builders at once in separate processes.
 * @module
 */
import { ensureLayers } from "../../lib/store/layer_cache.ts";
import { openSource } from "../../lib/transport/open.ts";
import { resolveImage } from "../../lib/transport/resolve.ts";

const [store, ref] = Deno.args;
const src = await openSource(ref);
try {
  const image = await resolveImage(src);
  await ensureLayers(store, src, image, {
    onLayer: (e) => console.log(JSON.stringify(e)),
  });
} finally {
  await src.close();
}
