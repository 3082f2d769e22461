/**
 * Where the local store lives: `--store DIR` > `OCIBOX_STORE` > `/var/lib/ocibox` for root >
 * `$XDG_DATA_HOME/ocibox` (default `~/.local/share/ocibox`), and the paths inside it.
 *
 * The global `--store DIR` flag (main.ts) puts DIR into `OCIBOX_STORE` for the process, so every
 * command and transport (`store:NAME`), and any ocibox it starts, sees the same store.
 * @module
 */

/** The store of root when nothing else is said. */
export const ROOT_STORE = "/var/lib/ocibox";

/** What decides the store root; {@linkcode chooseStoreRoot} is pure over it. */
export interface StoreRootInputs {
  /** `--store DIR`. */
  flag?: string;
  /** `OCIBOX_STORE`. */
  env?: string;
  /** The effective user id (0 picks /var/lib/ocibox). */
  uid: number;
  xdgDataHome?: string;
  home?: string;
}

/**
 * The store root for the given inputs (trailing slashes removed).
 *
 * @throws {Error} when a non-root user has neither XDG_DATA_HOME nor HOME.
 * @example
 * ```ts
 * chooseStoreRoot({ uid: 0 }); // "/var/lib/ocibox"
 * chooseStoreRoot({ uid: 1000, home: "/home/a" }); // "/home/a/.local/share/ocibox"
 * chooseStoreRoot({ uid: 0, env: "/srv/store/" }); // "/srv/store"
 * ```
 */
export function chooseStoreRoot(inputs: StoreRootInputs): string {
  const clean = (p: string) => p.replace(/(.)\/+$/, "$1");
  if (inputs.flag) return clean(inputs.flag);
  if (inputs.env) return clean(inputs.env);
  if (inputs.uid === 0) return ROOT_STORE;
  if (inputs.xdgDataHome) return `${clean(inputs.xdgDataHome)}/ocibox`;
  if (inputs.home) return `${clean(inputs.home)}/.local/share/ocibox`;
  throw new Error("neither XDG_DATA_HOME nor HOME is set: give the store with --store DIR");
}

/**
 * The store root of this process (`flag` is a command's own `--store`, if it has one).
 *
 * @example
 * ```ts
 * const store = storeRoot();
 * ```
 */
export function storeRoot(flag?: string): string {
  const env = (n: string) => Deno.env.get(n);
  return chooseStoreRoot({
    flag,
    env: env("OCIBOX_STORE"),
    // Deno gives the real uid; ocibox is never set-uid, so it is the effective one.
    uid: Deno.uid() ?? 0,
    xdgDataHome: env("XDG_DATA_HOME"),
    home: env("HOME"),
  });
}

/** `STORE/images`: the OCI image layout holding the images. */
export function imagesDir(store: string): string {
  return `${store}/images`;
}

/** `STORE/tmp`: staging for everything that is renamed into the store. */
export function tmpDir(store: string): string {
  return `${store}/tmp`;
}

/** `STORE/containers`: one directory per container. */
export function containersDir(store: string): string {
  return `${store}/containers`;
}

/** `STORE/layers`: the unpacked-layer cache. */
export function layersDir(store: string): string {
  return `${store}/layers`;
}

/** `STORE/lock`: the flock(2) target of {@linkcode withStoreLock}. */
export function lockFile(store: string): string {
  return `${store}/lock`;
}
