/**
 * What the container's init process must do, as plain JSON data: an ordered list of operations with every
 * argument resolved from config.json. The planner (pure, unit-tested without root) produces
 * it; the executor performs it inside the new namespaces. Paths named `path`/`target` are
 * inside the container: before `pivotRoot` they are resolved relative to the rootfs without
 * following anything out of it; after it, relative to the new `/`.
 * @module
 */

/** mount(2) flag bits (MS_*), as numbers so the plan is plain JSON. */
export const MS = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  SYNCHRONOUS: 0x10,
  REMOUNT: 0x20,
  MANDLOCK: 0x40,
  DIRSYNC: 0x80,
  NOSYMFOLLOW: 0x100,
  NOATIME: 0x400,
  NODIRATIME: 0x800,
  BIND: 0x1000,
  MOVE: 0x2000,
  REC: 0x4000,
  SILENT: 0x8000,
  UNBINDABLE: 0x20000,
  PRIVATE: 0x40000,
  SLAVE: 0x80000,
  SHARED: 0x100000,
  RELATIME: 0x200000,
  STRICTATIME: 0x1000000,
  LAZYTIME: 0x2000000,
} as const;

/** One step of the plan. */
export type Op =
  /**
   * Make a new cgroup namespace. Init does it first, once the runtime has moved it into the
   * container's cgroup, so that cgroup is the namespace's root.
   */
  | { op: "cgroupNamespace" }
  /** Change the propagation of `/` (or another mount) in the new mount namespace. */
  | { op: "propagation"; target: "/" | string; flags: number }
  /** Bind the rootfs onto itself so it is a mount point pivot_root accepts. */
  | { op: "bindRootfs"; rootfs: string }
  /**
   * Mount inside the rootfs. `kind` says what to create at the target if it is missing:
   * a directory, or a file for a bind mount of a file. `propagation` flags are applied after
   * the mount; `remountFlags`, when set, are applied with MS_REMOUNT|MS_BIND (read-only binds).
   */
  | {
    op: "mount";
    source: string | null;
    target: string;
    fstype: string | null;
    flags: number;
    data: string | null;
    kind: "dir" | "file";
    propagation: number[];
    remountFlags?: number;
  }
  /** Create a device node (`type` c, b, p, u) with owner and mode. */
  | {
    op: "mknod";
    path: string;
    type: "c" | "b" | "u" | "p";
    major: number;
    minor: number;
    mode: number;
    uid: number;
    gid: number;
  }
  /** Bind-mount the host's device node onto `path` (inside a user namespace, mknod is denied). */
  | { op: "bindDevice"; path: string; source: string }
  /** Create a symlink at `path` pointing to `target` (e.g. /dev/fd -> /proc/self/fd). */
  | { op: "symlink"; path: string; target: string }
  /** Make the rootfs `/`: pivot_root with the old root detached, or MS_MOVE + chroot. */
  | { op: "pivotRoot"; rootfs: string; noPivot: boolean }
  /** Hide a path: /dev/null over a file, an empty read-only tmpfs over a directory. */
  | { op: "mask"; path: string }
  /** Make a path read-only (bind onto itself, remount read-only). */
  | { op: "readonly"; path: string }
  /** Remount `/` read-only (root.readonly). */
  | { op: "readonlyRoot" }
  | { op: "sethostname"; name: string }
  | { op: "setdomainname"; name: string }
  /** Write `value` to /proc/sys/<key with dots as slashes>. */
  | { op: "sysctl"; key: string; value: string }
  /** `soft`/`hard` -1 means unlimited (RLIM_INFINITY). */
  | { op: "setrlimit"; resource: number; soft: number; hard: number }
  | { op: "oomScoreAdj"; value: number }
  | { op: "chdir"; path: string }
  | { op: "umask"; mask: number }
  | { op: "setgroups"; gids: number[] }
  | { op: "setresgid"; gid: number }
  | { op: "setresuid"; uid: number }
  /**
   * Drop every capability not in `keep` from the bounding set (bit n = CAP number n; all fit in
   * 53 bits). Needs CAP_SETPCAP, so it comes before the uid changes.
   */
  | { op: "dropBounding"; keep: number }
  /** The other four capability sets as bit masks, applied after the uid changes. */
  | {
    op: "capabilities";
    effective: number;
    permitted: number;
    inheritable: number;
    ambient: number;
  }
  /** Keep capabilities across setresuid (PR_SET_KEEPCAPS) until the final set is applied. */
  | { op: "keepCaps"; on: boolean }
  | { op: "noNewPrivileges" }
  /**
   * Load a classic BPF seccomp program: 8-byte sock_filter records, base64-encoded so the plan
   * stays plain JSON; `flags` are SECCOMP_FILTER_FLAG_* bits.
   */
  | { op: "seccomp"; program: string; flags: number }
  /**
   * Pause for the runtime, before pivot_root: it runs the prestart and createRuntime hooks in
   * its namespaces, then init runs the createContainer hooks in the container's.
   */
  | { op: "sync"; point: "createRuntime" }
  /**
   * Make a pty (after pivot_root, from the container's /dev/ptmx), make its slave the
   * controlling terminal and stdin/stdout/stderr, and send the master over the unix socket
   * inherited as `socketFd` (runc's --console-socket protocol).
   */
  | { op: "console"; socketFd: number; rows?: number; cols?: number }
  /** Block until `start` (create/start split); nothing after this runs before then. */
  | { op: "waitStart" }
  /** Close every descriptor from 3 on except the first `preserve` (LISTEN_FDS style). */
  | { op: "closeFds"; preserve: number }
  /** Replace init with the user's program. `path` is resolved through `env`'s PATH. */
  | { op: "exec"; path: string; args: string[]; env: string[] };

/** The whole plan handed to init. */
export interface Plan {
  ops: Op[];
  /** Namespaces init must find itself in (for messages and checks). */
  namespaces: string[];
  /** Things the planner ignored on purpose (unknown syscall names, options), for the log. */
  warnings: string[];
}
