/**
 * Writes a layer's directory tree into a staging directory with synchronous calls: files with
 * modes, owners and mtimes, symlinks, hardlinks and OCI whiteouts (`.wh.NAME`, `.wh..wh..opq`).
 * GNU tar then turns the staging directory into the layer (see oci_layout_writer.ts).
 *
 * @example
 * ```ts
 * import { TreeBuilder } from "./tree_builder.ts";
 * const t = new TreeBuilder(await Deno.makeTempDir(), { chown: false });
 * t.file("/etc/hostname", new TextEncoder().encode("box\n"));
 * t.symlink("/bin", "usr/bin");
 * t.whiteout("/usr/share/doc/old");
 * ```
 * @module
 */

/** Options of {@linkcode TreeBuilder}. */
export interface TreeBuilderOptions {
  /** Apply the uid/gid given to entries (needs root); otherwise owners are left as created. */
  chown: boolean;
}

/** Per-entry attributes. */
export interface EntryAttrs {
  mode?: number;
  uid?: number;
  gid?: number;
  /** Modification time in seconds since the epoch (regular files only). */
  mtime?: number;
}

/** What a builder wrote. */
export interface TreeStats {
  files: number;
  dirs: number;
  symlinks: number;
  hardlinks: number;
  whiteouts: number;
  bytes: number;
}

/** Builds one layer's tree under a staging root; paths are image paths such as "/usr/bin/ls". */
export class TreeBuilder {
  /** Counts of what was written. */
  readonly stats: TreeStats = {
    files: 0,
    dirs: 0,
    symlinks: 0,
    hardlinks: 0,
    whiteouts: 0,
    bytes: 0,
  };
  readonly #root: string;
  readonly #chown: boolean;
  readonly #dirs = new Set<string>([""]);
  readonly #files: string[] = [];

  /** Starts a builder writing under `root` (which must exist). */
  constructor(root: string, options: TreeBuilderOptions) {
    this.#root = root.replace(/\/+$/, "");
    this.#chown = options.chown;
  }

  /** Regular files written so far (image paths), in order, for picking link targets. */
  get files(): readonly string[] {
    return this.#files;
  }

  /** Absolute host path of image path `p` inside the staging root. */
  host(p: string): string {
    return `${this.#root}/${norm(p)}`;
  }

  /** Creates directory `p` (and missing parents with mode 0755) with `attrs`. */
  dir(p: string, attrs: EntryAttrs = {}): void {
    const rel = norm(p);
    this.#ensureDir(rel);
    this.#apply(this.host(rel), attrs.mode ?? 0o755, attrs);
  }

  /** Writes regular file `p` with `data`. Overwrites a file written earlier in this layer. */
  file(p: string, data: Uint8Array, attrs: EntryAttrs = {}): void {
    const rel = norm(p);
    this.#ensureDir(parentOf(rel));
    const path = this.host(rel);
    Deno.writeFileSync(path, data);
    this.#apply(path, attrs.mode ?? 0o644, attrs);
    if (attrs.mtime !== undefined) Deno.utimeSync(path, attrs.mtime, attrs.mtime);
    this.#files.push(`/${rel}`);
    this.stats.files++;
    this.stats.bytes += data.length;
  }

  /** Creates symlink `p` pointing at `target` (stored verbatim). */
  symlink(p: string, target: string): void {
    const rel = norm(p);
    this.#ensureDir(parentOf(rel));
    Deno.symlinkSync(target, this.host(rel));
    this.stats.symlinks++;
  }

  /** Creates `p` as a hardlink to the existing regular file `existing` of this layer. */
  hardlink(p: string, existing: string): void {
    const rel = norm(p);
    this.#ensureDir(parentOf(rel));
    Deno.linkSync(this.host(existing), this.host(rel));
    this.stats.hardlinks++;
  }

  /** Marks `p` (a file or directory of a lower layer) deleted: writes `.wh.NAME` beside it. */
  whiteout(p: string): void {
    const rel = norm(p);
    const parent = parentOf(rel);
    this.#ensureDir(parent);
    const name = rel.slice(rel.lastIndexOf("/") + 1);
    Deno.writeFileSync(`${this.host(parent)}/.wh.${name}`, new Uint8Array(0));
    this.stats.whiteouts++;
  }

  /** Marks directory `p` opaque: lower layers' contents of it are hidden. */
  opaque(p: string): void {
    const rel = norm(p);
    this.#ensureDir(rel);
    Deno.writeFileSync(`${this.host(rel)}/.wh..wh..opq`, new Uint8Array(0));
    this.stats.whiteouts++;
  }

  #ensureDir(rel: string): void {
    if (this.#dirs.has(rel)) return;
    this.#ensureDir(parentOf(rel));
    try {
      Deno.mkdirSync(this.host(rel), { mode: 0o755 });
      Deno.chmodSync(this.host(rel), 0o755);
      this.stats.dirs++;
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    }
    this.#dirs.add(rel);
  }

  #apply(path: string, mode: number, attrs: EntryAttrs): void {
    if (this.#chown && (attrs.uid !== undefined || attrs.gid !== undefined)) {
      Deno.chownSync(path, attrs.uid ?? 0, attrs.gid ?? 0);
    }
    Deno.chmodSync(path, mode);
  }
}

function norm(p: string): string {
  return p.replace(/^\/+/, "").replace(/\/+$/, "");
}

function parentOf(rel: string): string {
  const i = rel.lastIndexOf("/");
  return i < 0 ? "" : rel.slice(0, i);
}
