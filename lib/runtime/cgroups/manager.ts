/**
 * Cgroup manager for the container runtime: creates, configures, populates, freezes and removes
 * one container cgroup on cgroup v1, hybrid (v1 + controller-less v2) and v2 hosts. All I/O is
 * synchronous; the pure parts live in mode.ts, path.ts and convert.ts.
 *
 * @example
 * ```ts
 * import { cgroupManager, resolveCgroupsPath } from "./manager.ts";
 * const cg = cgroupManager(resolveCgroupsPath(undefined, "c1", { systemd: false }));
 * cg.create();
 * cg.apply({ memory: { limit: 64 << 20 } });
 * cg.addProcess(1234);
 * cg.destroy();
 * ```
 * @module
 */
import type { LinuxResources } from "../spec/spec_types.ts";
import { type CgroupWrite, v1Writes, v2Writes } from "./convert.ts";
import { CgroupError, reason } from "./errors.ts";
import { type CgroupMode, type CgroupMount, detectCgroupMode, parseCgroupMounts } from "./mode.ts";
import { cleanCgroupPath } from "./path.ts";

export { type CgroupMode, detectCgroupMode } from "./mode.ts";
export { resolveCgroupsPath } from "./path.ts";
export { V2_DEVICE_RULES_ENFORCED } from "./convert.ts";
export { CgroupError } from "./errors.ts";

/** Default mount point of the cgroup filesystem(s). */
export const DEFAULT_CGROUP_ROOT = "/sys/fs/cgroup";

/** Operations on one container cgroup, the same path in every hierarchy. */
export interface CgroupManager {
  /** The resolved cgroup path (absolute, relative to each hierarchy's root). */
  readonly path: string;
  readonly mode: CgroupMode;
  /** Creates the cgroup directory in every hierarchy (parents included). */
  create(): void;
  /** Writes the resource limits; `undefined` changes nothing. */
  apply(resources: LinuxResources | undefined): void;
  /** Moves a process into the cgroup in every hierarchy. */
  addProcess(pid: number): void;
  /** Every pid in the cgroup and its descendants; empty when the cgroup is gone. */
  pids(): number[];
  /** Freezes every task and waits until the kernel reports the cgroup frozen. */
  freeze(): void;
  /** Thaws the cgroup and waits until it is. */
  thaw(): void;
  state(): "frozen" | "thawed";
  /** Sends `signal` (a number, e.g. 9) to every process, freezing meanwhile so none can fork away. */
  killAll(signal: number): void;
  /** Removes the cgroup (descendants first) everywhere; missing directories are fine. */
  destroy(): void;
  /** Current memory limit in bytes, `undefined` when unlimited or not available. */
  memoryLimit(): number | undefined;
}

/** Options of {@link cgroupManager}. */
export interface CgroupManagerOptions {
  /** Mode to assume; detected (from mountinfo, or from the files under `root`) when omitted. */
  mode?: CgroupMode;
  /** Cgroup filesystem root, default `/sys/fs/cgroup`; a directory scan replaces mountinfo when set. */
  root?: string;
}

/** Signal numbers (Linux, x86/arm) to the names Deno.kill takes. */
const SIGNALS: Record<number, Deno.Signal> = {
  1: "SIGHUP",
  2: "SIGINT",
  3: "SIGQUIT",
  4: "SIGILL",
  5: "SIGTRAP",
  6: "SIGABRT",
  7: "SIGBUS",
  8: "SIGFPE",
  9: "SIGKILL",
  10: "SIGUSR1",
  11: "SIGSEGV",
  12: "SIGUSR2",
  13: "SIGPIPE",
  14: "SIGALRM",
  15: "SIGTERM",
  16: "SIGSTKFLT",
  17: "SIGCHLD",
  18: "SIGCONT",
  19: "SIGSTOP",
  20: "SIGTSTP",
  21: "SIGTTIN",
  22: "SIGTTOU",
  23: "SIGURG",
  24: "SIGXCPU",
  25: "SIGXFSZ",
  26: "SIGVTALRM",
  27: "SIGPROF",
  28: "SIGWINCH",
  29: "SIGIO",
  30: "SIGPWR",
  31: "SIGSYS",
};

const WAIT_STEP_MS = 5;
const FREEZE_TIMEOUT_MS = 5000;
const RMDIR_TIMEOUT_MS = 3000;

/** Blocks the thread; the manager is synchronous by design. */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function exists(p: string): boolean {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
}

function readOr(p: string, fallback: string): string {
  try {
    return Deno.readTextFileSync(p);
  } catch {
    return fallback;
  }
}

/** Writes a cgroup file that must already exist (cgroupfs never creates files). */
function writeFile(file: string, value: string, what: string): void {
  try {
    Deno.writeTextFileSync(file, value, { create: false });
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound ? "file absent (controller missing?)" : reason(e);
    throw new CgroupError(`cannot ${what}: write ${JSON.stringify(value)} to ${file}: ${why}`, {
      cause: e,
    });
  }
}

/** Hierarchies found by scanning a root directory (tests and non-standard roots). */
function scanRoot(root: string, mode: CgroupMode): CgroupMount[] {
  if (mode === "v2") return [{ mountPoint: root, v2: true, controllers: [] }];
  const out: CgroupMount[] = [];
  for (const e of Deno.readDirSync(root)) {
    // Co-mounted hierarchies show up as e.g. "cpu,cpuacct" plus symlinks "cpu" and "cpuacct".
    if (!e.isDirectory || e.isSymlink) continue;
    if (e.name === "unified") {
      if (mode === "hybrid") out.push({ mountPoint: `${root}/unified`, v2: true, controllers: [] });
      continue;
    }
    const controllers = e.name === "systemd" ? ["name=systemd"] : e.name.split(",");
    out.push({ mountPoint: `${root}/${e.name}`, v2: false, controllers });
  }
  return out.sort((a, b) => a.mountPoint.localeCompare(b.mountPoint));
}

/** Mode of a scanned root: a v2 root has cgroup.controllers, a hybrid one a `unified` subtree. */
function modeOfRoot(root: string): CgroupMode {
  if (exists(`${root}/cgroup.controllers`)) return "v2";
  return exists(`${root}/unified/cgroup.controllers`) ? "hybrid" : "v1";
}

class Manager implements CgroupManager {
  readonly path: string;
  readonly mode: CgroupMode;
  /** v1 hierarchies (empty on v2). */
  readonly #v1: CgroupMount[];
  /** The v2 tree: the whole hierarchy on v2, the controller-less one on hybrid. */
  readonly #v2: CgroupMount | undefined;

  constructor(path: string, mode: CgroupMode, mounts: CgroupMount[]) {
    this.path = path;
    this.mode = mode;
    this.#v1 = mode === "v2" ? [] : mounts.filter((m) => !m.v2);
    this.#v2 = mode === "v1" ? undefined : mounts.find((m) => m.v2);
    if (mode === "v2" && !this.#v2) {
      throw new CgroupError(`cannot manage cgroup ${path}: no cgroup2 hierarchy mounted`);
    }
    if (mode !== "v2" && this.#v1.length === 0) {
      throw new CgroupError(`cannot manage cgroup ${path}: no cgroup v1 hierarchy mounted`);
    }
  }

  #dir(m: CgroupMount): string {
    return this.path === "/" ? m.mountPoint : m.mountPoint + this.path;
  }

  /** Every directory of this cgroup, one per hierarchy. */
  #dirs(): string[] {
    return [...this.#v1, ...(this.#v2 ? [this.#v2] : [])].map((m) => this.#dir(m));
  }

  #v1For(controller: string): CgroupMount | undefined {
    return this.#v1.find((m) => m.controllers.includes(controller));
  }

  /** The hierarchy that answers pids()/freezer questions. */
  #primary(): string {
    if (this.mode === "v2") return this.#dir(this.#v2!);
    const m = ["freezer", "pids", "memory", "cpu", "devices"].map((c) => this.#v1For(c))
      .find((x) => x !== undefined) ?? this.#v1[0];
    return this.#dir(m);
  }

  /** Whether the cgroup directory exists in the primary hierarchy (used by loadCgroupManager). */
  exists(): boolean {
    return exists(this.#primary());
  }

  create(): void {
    const parts = this.path.split("/").filter((p) => p !== "");
    for (const m of this.#v1) {
      const cpuset = m.controllers.includes("cpuset");
      let dir = m.mountPoint;
      for (const part of parts) {
        const parent = dir;
        dir = `${dir}/${part}`;
        this.#mkdir(dir);
        // A new cpuset starts with empty cpus/mems and refuses tasks until they are filled in.
        if (cpuset) {
          for (const f of ["cpuset.cpus", "cpuset.mems"]) {
            if (readOr(`${dir}/${f}`, "x").trim() === "") {
              writeFile(`${dir}/${f}`, readOr(`${parent}/${f}`, "").trim(), `init ${f}`);
            }
          }
        }
      }
    }
    if (this.#v2) {
      let dir = this.#v2.mountPoint;
      for (const part of parts) {
        // Only full v2 delegates controllers; the hybrid tree has none to enable.
        if (this.mode === "v2") this.#enableControllers(dir);
        dir = `${dir}/${part}`;
        this.#mkdir(dir);
      }
    }
  }

  #mkdir(dir: string): void {
    try {
      Deno.mkdirSync(dir);
    } catch (e) {
      if (e instanceof Deno.errors.AlreadyExists) return;
      throw new CgroupError(`cannot create cgroup ${dir}: ${reason(e)}`, { cause: e });
    }
  }

  /** Enables every controller available in `dir` for its children (v2 subtree_control). */
  #enableControllers(dir: string): void {
    const available = readOr(`${dir}/cgroup.controllers`, "").trim().split(/\s+/).filter(Boolean);
    const enabled = readOr(`${dir}/cgroup.subtree_control`, "").trim().split(/\s+/);
    const wanted = available.filter((c) => !enabled.includes(c));
    if (wanted.length === 0) return;
    const file = `${dir}/cgroup.subtree_control`;
    try {
      Deno.writeTextFileSync(file, wanted.map((c) => `+${c}`).join(" "), { create: false });
    } catch {
      // One refused controller (e.g. a threaded/populated parent) fails the whole write: go one
      // by one; a controller left disabled surfaces later as a clear "file absent" in apply().
      for (const c of wanted) {
        try {
          Deno.writeTextFileSync(file, `+${c}`, { create: false });
        } catch { /* see above */ }
      }
    }
  }

  apply(resources: LinuxResources | undefined): void {
    if (!resources) return;
    const writes: [string, CgroupWrite][] = [];
    if (this.mode === "v2") {
      const dir = this.#dir(this.#v2!);
      for (const w of v2Writes(resources, { has: (f) => exists(`${dir}/${f}`) })) {
        writes.push([dir, w]);
      }
    } else {
      const dirOf = (controller: string): string => {
        const m = this.#v1For(controller);
        if (!m) {
          throw new CgroupError(
            `cannot apply resources to cgroup ${this.path}: v1 controller ${controller} is not mounted`,
          );
        }
        return this.#dir(m);
      };
      const list = v1Writes(resources, {
        has: (c, f) => this.#v1For(c) !== undefined && exists(`${dirOf(c)}/${f}`),
        currentMemoryLimit: () => {
          const m = this.#v1For("memory");
          const v = m ? Number(readOr(`${this.#dir(m)}/memory.limit_in_bytes`, "").trim()) : NaN;
          return Number.isFinite(v) && v > 0 ? v : Infinity;
        },
      });
      for (const w of list) writes.push([dirOf(w.controller), w]);
    }
    const retry: [string, CgroupWrite][] = [];
    for (const [dir, w] of writes) {
      const file = `${dir}/${w.file}`;
      if (w.optional && !exists(file)) continue;
      if (w.retryLast) {
        try {
          Deno.writeTextFileSync(file, w.value, { create: false });
        } catch {
          retry.push([dir, w]);
        }
        continue;
      }
      writeFile(file, w.value, `apply ${w.controller} limit`);
    }
    for (const [dir, w] of retry) writeFile(`${dir}/${w.file}`, w.value, `apply ${w.controller}`);
  }

  addProcess(pid: number): void {
    for (const dir of this.#dirs()) writeFile(`${dir}/cgroup.procs`, String(pid), `add pid ${pid}`);
  }

  pids(): number[] {
    const out = new Set<number>();
    const walk = (dir: string) => {
      let text: string;
      try {
        text = Deno.readTextFileSync(`${dir}/cgroup.procs`);
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) return;
        throw new CgroupError(`cannot list pids of cgroup ${dir}: ${reason(e)}`, { cause: e });
      }
      for (const l of text.split("\n")) if (l.trim()) out.add(Number(l));
      for (const e of Deno.readDirSync(dir)) if (e.isDirectory) walk(`${dir}/${e.name}`);
    };
    walk(this.#primary());
    return [...out].sort((a, b) => a - b);
  }

  /** The freezer file and the values meaning frozen/thawed for this mode. */
  #freezer(): { file: string; frozen: string; thawed: string; v2: boolean } {
    if (this.mode === "v2") {
      return { file: `${this.#dir(this.#v2!)}/cgroup.freeze`, frozen: "1", thawed: "0", v2: true };
    }
    const m = this.#v1For("freezer");
    if (!m) throw new CgroupError(`cannot freeze cgroup ${this.path}: v1 freezer is not mounted`);
    return { file: `${this.#dir(m)}/freezer.state`, frozen: "FROZEN", thawed: "THAWED", v2: false };
  }

  /** Reads the effective state: v2 cgroup.events "frozen", v1 freezer.state. */
  #current(f: { file: string; v2: boolean }): string {
    if (f.v2) {
      const events = readOr(f.file.replace(/cgroup\.freeze$/, "cgroup.events"), "");
      const line = events.split("\n").find((l) => l.startsWith("frozen "));
      return line ? line.slice(7).trim() : readOr(f.file, "").trim();
    }
    return readOr(f.file, "").trim();
  }

  #setFrozen(frozen: boolean): void {
    const f = this.#freezer();
    const want = frozen ? f.frozen : f.thawed;
    const what = frozen ? "freeze" : "thaw";
    writeFile(f.file, want, `${what} cgroup`);
    const deadline = Date.now() + FREEZE_TIMEOUT_MS;
    for (let i = 1; this.#current(f) !== want; i++) {
      if (Date.now() > deadline) {
        if (frozen) {
          try {
            Deno.writeTextFileSync(f.file, f.thawed, { create: false });
          } catch { /* best effort: do not leave it half frozen */ }
        }
        throw new CgroupError(
          `cannot ${what} cgroup ${this.path}: ${f.file} not ${want} after ${FREEZE_TIMEOUT_MS} ms`,
        );
      }
      // v1 can stay FREEZING when a task raced in; writing FROZEN again retries.
      if (!f.v2 && frozen && i % 20 === 0) writeFile(f.file, want, `${what} cgroup`);
      sleepSync(WAIT_STEP_MS);
    }
  }

  freeze(): void {
    this.#setFrozen(true);
  }

  thaw(): void {
    this.#setFrozen(false);
  }

  state(): "frozen" | "thawed" {
    const f = this.#freezer();
    return this.#current(f) === f.frozen ? "frozen" : "thawed";
  }

  killAll(signal: number): void {
    const name = SIGNALS[signal];
    if (!name) throw new CgroupError(`cannot signal cgroup ${this.path}: unknown signal ${signal}`);
    // cgroup.kill (v2, also the unified part of a hybrid host) needs no freezing, which on v1
    // could leave killed tasks stuck FREEZING/THAWING.
    if (this.#v2 && signal === 9) {
      const kill = `${this.#dir(this.#v2)}/cgroup.kill`;
      if (exists(kill)) return writeFile(kill, "1", "kill cgroup");
    }
    let frozen = false;
    try {
      this.freeze();
      frozen = true;
    } catch { /* no freezer: signal anyway, a forking task may escape */ }
    try {
      for (const pid of this.pids()) {
        try {
          Deno.kill(pid, name);
        } catch { /* already exited */ }
      }
    } finally {
      if (frozen) this.thaw();
    }
  }

  destroy(): void {
    const failures: string[] = [];
    for (const dir of this.#dirs()) {
      try {
        removeCgroupTree(dir);
      } catch (e) {
        failures.push(reason(e));
      }
    }
    if (failures.length > 0) {
      throw new CgroupError(`cannot remove cgroup ${this.path}: ${failures.join("; ")}`);
    }
  }

  memoryLimit(): number | undefined {
    let text: string;
    if (this.mode === "v2") {
      text = readOr(`${this.#dir(this.#v2!)}/memory.max`, "");
    } else {
      const m = this.#v1For("memory");
      text = m ? readOr(`${this.#dir(m)}/memory.limit_in_bytes`, "") : "";
    }
    const v = Number(text.trim());
    // v1 reports "unlimited" as PAGE_COUNTER_MAX pages (~2^63); v2 says "max".
    return text.trim() === "" || !Number.isFinite(v) || v >= 2 ** 62 ? undefined : v;
  }
}

/** rmdir a cgroup and its sub-cgroups, deepest first, retrying while exiting tasks linger. */
function removeCgroupTree(dir: string): void {
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw new CgroupError(`cannot read cgroup ${dir}: ${reason(e)}`, { cause: e });
  }
  for (const e of entries) if (e.isDirectory) removeCgroupTree(`${dir}/${e.name}`);
  const deadline = Date.now() + RMDIR_TIMEOUT_MS;
  for (;;) {
    try {
      Deno.removeSync(dir); // cgroupfs: rmdir of a directory that only holds control files
      return;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return;
      // Deno 2.9 reports EBUSY as a plain Error with code "EBUSY", not Deno.errors.Busy.
      const busy = e instanceof Deno.errors.Busy || (e as { code?: string }).code === "EBUSY";
      if (!busy || Date.now() > deadline) {
        throw new CgroupError(`cannot remove cgroup ${dir}: ${reason(e)}`, { cause: e });
      }
      sleepSync(10);
    }
  }
}

function mountsFor(mode: CgroupMode, root: string | undefined): CgroupMount[] {
  if (root !== undefined) return scanRoot(root, mode);
  const base = DEFAULT_CGROUP_ROOT;
  return parseCgroupMounts(Deno.readTextFileSync("/proc/self/mountinfo"))
    .filter((m) => m.mountPoint === base || m.mountPoint.startsWith(base + "/"));
}

/**
 * Returns the manager of cgroup `path` (an absolute, resolved cgroupsPath). Nothing is touched
 * until a method is called. Without `root`, hierarchies come from /proc/self/mountinfo; with it,
 * from a scan of that directory (v2: the root itself; v1: its subdirectories, `unified` = hybrid).
 */
export function cgroupManager(path: string, opts: CgroupManagerOptions = {}): CgroupManager {
  const clean = cleanCgroupPath(path);
  const mode = opts.mode ??
    (opts.root !== undefined ? modeOfRoot(opts.root) : detectCgroupMode());
  return new Manager(clean, mode, mountsFor(mode, opts.root));
}

/** Re-opens the manager of an existing cgroup (for state, ps, pause, delete in a later process). */
export function loadCgroupManager(path: string): CgroupManager {
  const m = cgroupManager(path);
  if (!(m as Manager).exists()) {
    throw new CgroupError(`cannot load cgroup ${m.path}: no such cgroup in ${m.mode} hierarchy`);
  }
  return m;
}
