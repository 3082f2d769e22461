/**
 * The program builder lowering uses: steps, jump marks, and init's fixed descriptors with the
 * one way init opens things inside the rootfs before pivot_root (openat2 relative to a handle
 * on it, missing directories made on the way).
 *
 * Init's handles live at fixed numbers so that mount(2) can name them as /proc/self/fd/N in
 * plain data; they are reserved at init's start, so no descriptor opened on the way lands on
 * one and is replaced when a handle is moved there.
 * @module
 */
import {
  O_CLOEXEC,
  O_CREAT,
  O_DIRECTORY,
  O_EXCL,
  O_NOFOLLOW,
  O_PATH,
  O_WRONLY,
  RESOLVE_BENEATH,
  RESOLVE_IN_ROOT,
  RESOLVE_NO_MAGICLINKS,
} from "../../../ffi/constants.ts";
import { Errno } from "../../../ffi/errno.ts";
import { type Buf, cstrBuf, type Item, slot, type Step } from "../../../ffi/runner_program.ts";
import { SYS } from "../../../ffi/syscall_numbers.ts";
import { openHow } from "./structs.ts";

/**
 * Init's own descriptors, at fixed numbers: the runtime's pipes and FIFO handle as it passes
 * them, then scratch handles from `scratch` on.
 */
export interface InitFds {
  /** Records to the runtime (sync points, created, failures). */
  status: number;
  /** Answers from the runtime (continue; the program's path). */
  control: number;
  /** The exec FIFO, open O_PATH. */
  fifo?: number;
  /** The first of {@linkcode SCRATCH_FDS} numbers init may use for its handles. */
  scratch: number;
}

/** How many scratch descriptors init uses. */
export const SCRATCH_FDS = 5;

/** Slots the programs keep results in. */
export const SLOT = { tmp: 0, dir: 1, master: 2, slave: 3 } as const;

/** How mount targets (no symlink out of the rootfs) and other container paths are resolved. */
export const BENEATH = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
export const IN_ROOT = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;

const ENOENT = Errno.ENOENT, EEXIST = Errno.EEXIST;

/** A container path as openat2 takes it relative to the rootfs handle. */
export function relative(path: string): string {
  return path.replace(/^\/+/, "") || ".";
}

/** A runner program under construction. */
export class InitBuilder {
  readonly items: Item[] = [];
  #marks = 0;
  /** The buffer the runtime writes the program's path into (at the "program" pause). */
  programPath: Buf | undefined;

  constructor(readonly initFds?: InitFds) {}

  get fds(): InitFds {
    if (!this.initFds) throw new Error("this operation needs init's descriptors");
    return this.initFds;
  }

  /** The rootfs handle. */
  get root(): number {
    return this.fds.scratch;
  }
  /** What a mount goes onto (or what is masked, made read-only...). */
  get target(): number {
    return this.fds.scratch + 1;
  }
  /** What is bound from (the container's /dev/null). */
  get source(): number {
    return this.fds.scratch + 2;
  }
  /** The host's /proc/self/fd, to reopen the exec FIFO after pivot_root. */
  get procFds(): number {
    return this.fds.scratch + 3;
  }
  /** The pty master, at a fixed number so its SCM_RIGHTS message is plain data. */
  get master(): number {
    return this.fds.scratch + 4;
  }

  /** A path naming descriptor `fd` for calls that take paths (mount). */
  fdPath(fd: number): Buf {
    return cstrBuf(`/proc/self/fd/${fd}`);
  }

  /** A new mark name for jumps. */
  mark(): string {
    return `m${this.#marks++}`;
  }

  step(s: Step): void {
    this.items.push(s);
  }

  /** Places `mark` before the next step. */
  at(mark: string): void {
    this.items.push({ mark });
  }

  /**
   * Opens `path` (openat2 from `dirfd`) at the fixed descriptor `fd`. `ensure` creates missing
   * directories (and a last file) first; `missing` jumps there when it does not exist.
   */
  openFixed(
    fd: number,
    o: {
      label: string;
      dirfd?: number;
      path: string;
      flags: number;
      resolve: number;
      ensure?: "dir" | "file";
      missing?: string;
      allowMissing?: number[];
    },
  ): void {
    const dirfd = o.dirfd ?? this.root;
    const rel = dirfd === this.root ? relative(o.path) : o.path;
    const how = openHow(o.flags, o.resolve);
    const open: Step = {
      nr: SYS.openat2,
      args: [dirfd, cstrBuf(rel), how, 24],
      label: o.label,
      save: SLOT.tmp,
      explain: { [Errno.EXDEV]: "the path leaves the rootfs through a symlink" },
    };
    const got = this.mark();
    if (o.ensure) {
      const make = this.mark();
      this.step({ ...open, allow: [ENOENT], onError: make, onOk: got });
      this.at(make);
      this.mkdirs(rel, o.ensure, o.resolve, o.label);
      this.step(open);
    } else if (o.missing) {
      this.step({ ...open, allow: o.allowMissing ?? [ENOENT], onError: o.missing });
    } else this.step(open);
    this.at(got);
    this.step({ nr: SYS.dup3, args: [slot(SLOT.tmp), fd, O_CLOEXEC], label: o.label });
    this.step({ nr: SYS.close, args: [slot(SLOT.tmp)], label: o.label });
  }
  /** mkdir -p of `rel` inside the rootfs (the last component a file for "file"). */
  mkdirs(rel: string, kind: "dir" | "file", resolve: number, label: string): void {
    const parts = rel.split("/").filter((p) => p && p !== ".");
    parts.forEach((name, i) => {
      const parent = parts.slice(0, i).join("/") || ".";
      this.step({
        nr: SYS.openat2,
        args: [this.root, cstrBuf(parent), openHow(O_PATH | O_DIRECTORY, resolve), 24],
        label,
        save: SLOT.dir,
        explain: { [Errno.EXDEV]: "the path leaves the rootfs through a symlink" },
      });
      if (i === parts.length - 1 && kind === "file") {
        const made = this.mark();
        this.step({
          nr: SYS.openat,
          args: [
            slot(SLOT.dir),
            cstrBuf(name),
            O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
            O_CLOEXEC,
            0o644,
          ],
          label,
          allow: [EEXIST],
          onError: made,
          save: SLOT.tmp,
        });
        this.step({ nr: SYS.close, args: [slot(SLOT.tmp)], label });
        this.at(made);
      } else {
        this.step({
          nr: SYS.mkdirat,
          args: [slot(SLOT.dir), cstrBuf(name), 0o755],
          label,
          allow: [EEXIST],
        });
      }
      this.step({ nr: SYS.close, args: [slot(SLOT.dir)], label });
    });
  }
  /** The parent directory of `path` (created as needed) in the `dir` slot, and the last name. */
  parent(path: string, label: string): string {
    const i = path.lastIndexOf("/");
    const parent = i <= 0 ? "/" : path.slice(0, i);
    const base = path.slice(i + 1);
    if (!base || base === "." || base === "..") throw new Error(`bad path ${path}`);
    const rel = relative(parent);
    const open: Step = {
      nr: SYS.openat2,
      args: [this.root, cstrBuf(rel), openHow(O_PATH | O_DIRECTORY, IN_ROOT), 24],
      label,
      save: SLOT.dir,
    };
    const got = this.mark(), make = this.mark();
    this.step({ ...open, allow: [ENOENT], onError: make, onOk: got });
    this.at(make);
    this.mkdirs(rel, "dir", IN_ROOT, label);
    this.step(open);
    this.at(got);
    return base;
  }
  mount(
    source: string | Buf | null,
    target: number,
    fstype: string | null,
    flags: number,
    data: string | null,
    label: string,
    extra: Partial<Step> = {},
  ): void {
    this.step({
      nr: SYS.mount,
      args: [
        typeof source === "string" ? cstrBuf(source) : source,
        this.fdPath(target),
        fstype === null ? null : cstrBuf(fstype),
        flags,
        data === null ? null : cstrBuf(data),
      ],
      label,
      ...extra,
    });
  }
  /** write(2) of `text`, all of it. */
  write(fd: number | ReturnType<typeof slot>, text: string, label: string): void {
    const bytes = cstrBuf(text);
    this.step({
      nr: SYS.write,
      args: [fd, bytes, bytes.bytes.length - 1],
      label,
      expect: bytes.bytes.length - 1,
    });
  }
}
