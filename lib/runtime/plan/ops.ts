/**
 * What the container's init process must do, as plain JSON data: an ordered list of operations with every
 * argument resolved from config.json. The planner (pure, unit-tested without root) produces
 * it; lib/runtime/init turns it into a syscall-runner program that the container's init (or
 * `exec`'s new process) performs. Paths named `path`/`target` are inside the container: before
 * `pivotRoot` they are resolved relative to the rootfs without following anything out of it;
 * after it, relative to the new `/`.
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
   * container's cgroup (a `sync` at "cgroup" comes before), so that cgroup is the namespace's root.
   */
  | { op: "cgroupNamespace" }
  /** Change the propagation of a mount (`/`, or the mount holding the rootfs). */
  | { op: "propagation"; target: string; flags: number }
  /** Bind the rootfs onto itself so it is a mount point pivot_root accepts; keep a handle. */
  | { op: "bindRootfs"; rootfs: string }
  /** Keep a handle on the rootfs without binding it (no mount namespace of its own). */
  | { op: "openRootfs"; rootfs: string }
  /** Bring the loopback interface of a new network namespace up, as runc does. */
  | { op: "loopback" }
  /**
   * Mount inside the rootfs. `kind` says what to create at the target if it is missing:
   * a directory, or a file for a bind mount of a file. `propagation` flags are applied after
   * the mount; `remountFlags`, when set, are applied with MS_REMOUNT|MS_BIND (read-only binds).
   * A target reached through a symlink that leaves the rootfs is refused.
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
  /** Create a device node (`type` c, b, u, p) with owner and mode. */
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
  /** Create a directory and its parents (a missing working directory, as runc does). */
  | { op: "mkdirAll"; path: string }
  /**
   * Pause for the runtime. "cgroup": until init is in its cgroup; "hooks": the runtime runs
   * the prestart, createRuntime and createContainer hooks; "program": the runtime finds the
   * program in the container's root and sends its path.
   */
  | { op: "sync"; point: "cgroup" | "hooks" | "program" }
  /** Hide a path: /dev/null over a file, an empty read-only tmpfs over a directory. */
  | { op: "mask"; path: string }
  /** Make a path read-only (bind onto itself, remount read-only). */
  | { op: "readonly"; path: string }
  /** Remount the rootfs read-only (root.readonly). */
  | { op: "readonlyRoot" }
  /**
   * Make a pty from the container's /dev/ptmx, make its slave the controlling terminal, stdio
   * and /dev/console, and send its master over the unix socket inherited as `socketFd`
   * (runc's --console-socket protocol).
   */
  | { op: "console"; socketFd: number; rows?: number; cols?: number }
  | { op: "oomScoreAdj"; value: number }
  /**
   * Make the rootfs `/`: pivot_root with the old root detached, MS_MOVE + chroot (noPivot),
   * or chroot alone (no mount namespace of its own).
   */
  | { op: "pivotRoot"; rootfs: string; mode: "pivot" | "move" | "chroot" }
  | { op: "sethostname"; name: string }
  | { op: "setdomainname"; name: string }
  /** Write `value` to /proc/sys/<key with dots as slashes>. */
  | { op: "sysctl"; key: string; value: string }
  /** `soft`/`hard` -1 means unlimited (RLIM_INFINITY). */
  | { op: "setrlimit"; resource: number; soft: number; hard: number }
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
  /**
   * The other four capability sets as bit masks, applied after the uid changes. Effective and
   * permitted may hold more than the config asks (CAP_SYS_ADMIN, to load a seccomp filter
   * without no_new_privs as the very last step): execve recomputes both from the bounding,
   * inheritable and ambient sets, so nothing extra reaches the program.
   */
  | {
    op: "capabilities";
    effective: number;
    permitted: number;
    inheritable: number;
    ambient: number;
  }
  /** Keep capabilities across setresuid (PR_SET_KEEPCAPS) until the final set is applied. */
  | { op: "keepCaps"; on: boolean }
  /** Mark every descriptor from 3 on close-on-exec except the first `preserve`. */
  | { op: "closeFds"; preserve: number }
  /** Tell the runtime the container is created. */
  | { op: "created" }
  /** Block until `start` opens the exec FIFO (create/start split). */
  | { op: "waitStart" }
  /** Give the program a clean signal state (default SIGPIPE, nothing blocked). */
  | { op: "resetSignals" }
  | { op: "noNewPrivileges" }
  /**
   * Load a classic BPF seccomp program: 8-byte sock_filter records, base64-encoded so the plan
   * stays plain JSON; `flags` are SECCOMP_FILTER_FLAG_* bits.
   */
  | { op: "seccomp"; program: string; flags: number }
  /**
   * Replace init with the user's program. `path` is its resolved path in the container; null
   * when the runtime sends it at the "program" sync.
   */
  | { op: "exec"; path: string | null; args: string[]; env: string[] }
  // `exec` into a running container: the new process joins it first.
  /** PR_SET_DUMPABLE: an undumpable process's /proc files are out of the container's reach. */
  | { op: "dumpable"; on: boolean }
  /** Join the container's cgroup through an open cgroup.procs file (writes "0"). */
  | { op: "joinCgroup"; fd: number }
  /** setns(2) into the namespace open as `fd` (`flag`: its CLONE_NEW* bit). */
  | { op: "joinNamespace"; type: string; fd: number; flag: number }
  /** Fork, the child going on (joined pid and time namespaces only reach children). */
  | { op: "fork" }
  /** A pty slave (open as `fd`) as stdio and controlling terminal, in a new session. */
  | { op: "terminal"; fd: number };

/** The whole plan handed to init. */
export interface Plan {
  ops: Op[];
  /** Namespaces init must find itself in (for messages and checks). */
  namespaces: string[];
  /** Things the planner ignored on purpose (unknown syscall names, options), for the log. */
  warnings: string[];
}
