/**
 * The `--store DIR` flag every image command takes (the global `ocibox --store DIR` works for
 * all commands; see lib/store/store_root.ts for the default).
 * @module
 */
import { storeRoot } from "../../store/store_root.ts";

/** parseFlags declaration of `--store`. */
export const STORE_OPTION = { store: { type: "string" } } as const;

/** Help line of `--store`. */
export const STORE_HELP =
  "  --store DIR                 the image store (default: $OCIBOX_STORE, /var/lib/ocibox as\n" +
  "                              root, else $XDG_DATA_HOME/ocibox)";

/** The store a command works on: its own --store, else the global one, env or default. */
export function storeFromFlag(value: string | undefined): string {
  return storeRoot(value);
}
