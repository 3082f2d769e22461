/**
 * ocibox's default seccomp profile for one-liners: the same policy as podman 4.3's default (the
 * `seccomp.json` of containers-common, as podman resolves it for a container), kept here as
 * ocibox's own table, grouped by what the calls do.
 *
 * The policy:
 * - default action `SCMP_ACT_ERRNO` with ENOSYS (38): a call the table does not know looks
 *   "not implemented", so libc falls back to an older call instead of failing hard;
 * - every call in {@linkcode ALWAYS_ALLOWED} is allowed (the mount, namespace and tracing calls
 *   among them are still checked by the kernel against the container's capabilities);
 * - {@linkcode ALWAYS_DENIED} fail with EPERM (obsolete, host-wide or memory-placement calls);
 * - the calls of {@linkcode CAPABILITY_GATED} are allowed only when the capability is in the
 *   bounding set, and fail with EPERM otherwise;
 * - architecture-specific calls (`arch_prctl`, `modify_ldt` on x86_64; the ARM cache and TLS
 *   calls on aarch64);
 * - `personality` only for PER_LINUX, PER_LINUX32, UNAME26, both, and the query 0xffffffff;
 * - without CAP_AUDIT_WRITE, `socket(AF_NETLINK, *, NETLINK_AUDIT)` fails with EINVAL.
 *
 * One difference in form, none in effect: containers-common lists `setns` both among the calls
 * every container may make and among those that need CAP_SYS_ADMIN; the first rule wins under
 * libseccomp (checked: `nsenter` into a namespace the container made works under podman with
 * runc) and under ocibox's compiler, so `setns` is simply always allowed here.
 *
 * The comparison with podman is `tests/containers_seccomp_test.ts`: the profile podman writes to
 * `config.json` for the default capabilities, `--cap-add SYS_ADMIN`, `--cap-add SYS_PTRACE` and
 * `--cap-add ALL` must allow and refuse exactly what this one does.
 *
 * @example
 * ```ts
 * import { defaultSeccomp } from "./default_seccomp.ts";
 * const profile = defaultSeccomp({ arch: "x86_64", capabilities: ["CAP_CHOWN"] });
 * console.log(profile.defaultAction, profile.defaultErrnoRet); // SCMP_ACT_ERRNO 38
 * ```
 * @module
 */
import type { LinuxSeccomp } from "../runtime/spec/spec_types.ts";
import {
  resolveSeccompProfile,
  type SeccompProfileTemplate,
  type SeccompRuleTemplate,
  type SeccompTarget,
} from "./seccomp_profile.ts";

const EPERM = 1;
const EINVAL = 22;
const ENOSYS = 38;

/** Calls every container may make, whatever its capabilities, by what they do. */
export const ALWAYS_ALLOWED: Readonly<Record<string, readonly string[]>> = {
  paths: [
    "access",
    "chdir",
    "chmod",
    "chown",
    "chown32",
    "creat",
    "faccessat",
    "faccessat2",
    "fchdir",
    "fchmod",
    "fchmodat",
    "fchown",
    "fchown32",
    "fchownat",
    "fstatat64",
    "futimesat",
    "getcwd",
    "lchown",
    "lchown32",
    "link",
    "linkat",
    "lstat",
    "lstat64",
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "name_to_handle_at",
    "newfstatat",
    "open",
    "openat",
    "openat2",
    "readlink",
    "readlinkat",
    "rename",
    "renameat",
    "renameat2",
    "rmdir",
    "stat",
    "stat64",
    "statfs",
    "statfs64",
    "statx",
    "symlink",
    "symlinkat",
    "truncate",
    "truncate64",
    "umask",
    "unlink",
    "unlinkat",
    "utime",
    "utimensat",
    "utimensat_time64",
    "utimes",
  ],
  descriptors: [
    "_llseek",
    "close",
    "close_range",
    "copy_file_range",
    "dup",
    "dup2",
    "dup3",
    "fadvise64",
    "fadvise64_64",
    "fallocate",
    "fcntl",
    "fcntl64",
    "fdatasync",
    "flock",
    "fstat",
    "fstat64",
    "fstatfs",
    "fstatfs64",
    "fsync",
    "ftruncate",
    "ftruncate64",
    "getdents",
    "getdents64",
    "ioctl",
    "lseek",
    "pipe",
    "pipe2",
    "pread64",
    "preadv",
    "preadv2",
    "pwrite64",
    "pwritev",
    "pwritev2",
    "read",
    "readahead",
    "readdir",
    "readv",
    "sendfile",
    "sendfile64",
    "splice",
    "sync",
    "sync_file_range",
    "syncfs",
    "tee",
    "write",
    "writev",
  ],
  xattrs: [
    "fgetxattr",
    "flistxattr",
    "fremovexattr",
    "fsetxattr",
    "getxattr",
    "lgetxattr",
    "listxattr",
    "llistxattr",
    "lremovexattr",
    "lsetxattr",
    "removexattr",
    "setxattr",
  ],
  waiting: [
    "_newselect",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_ctl_old",
    "epoll_pwait",
    "epoll_pwait2",
    "epoll_wait",
    "epoll_wait_old",
    "eventfd",
    "eventfd2",
    "fanotify_mark",
    "inotify_add_watch",
    "inotify_init",
    "inotify_init1",
    "inotify_rm_watch",
    "io_cancel",
    "io_destroy",
    "io_getevents",
    "io_setup",
    "io_submit",
    "poll",
    "ppoll",
    "ppoll_time64",
    "pselect6",
    "pselect6_time64",
    "select",
    "signalfd",
    "signalfd4",
    "timerfd",
    "timerfd_create",
    "timerfd_gettime",
    "timerfd_gettime64",
    "timerfd_settime",
    "timerfd_settime64",
  ],
  memory: [
    "brk",
    "get_mempolicy",
    "madvise",
    "mbind",
    "membarrier",
    "memfd_create",
    "memfd_secret",
    "mincore",
    "mlock",
    "mlock2",
    "mlockall",
    "mmap",
    "mmap2",
    "mprotect",
    "mremap",
    "msync",
    "munlock",
    "munlockall",
    "munmap",
    "pkey_alloc",
    "pkey_free",
    "pkey_mprotect",
    "remap_file_pages",
    "set_mempolicy",
  ],
  processes: [
    "capget",
    "capset",
    "clone",
    "clone3",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "fork",
    "futex",
    "futex_time64",
    "get_robust_list",
    "get_thread_area",
    "getcpu",
    "getpgid",
    "getpgrp",
    "getpid",
    "getppid",
    "getpriority",
    "getrlimit",
    "getrusage",
    "getsid",
    "gettid",
    "ioprio_get",
    "ioprio_set",
    "keyctl",
    "landlock_add_rule",
    "landlock_create_ruleset",
    "landlock_restrict_self",
    "pidfd_getfd",
    "pidfd_open",
    "pidfd_send_signal",
    "prctl",
    "prlimit64",
    "process_mrelease",
    "process_vm_readv",
    "process_vm_writev",
    "ptrace",
    "restart_syscall",
    "rseq",
    "seccomp",
    "set_robust_list",
    "set_thread_area",
    "set_tid_address",
    "setns",
    "setpgid",
    "setpriority",
    "setrlimit",
    "setsid",
    "syscall",
    "times",
    "ugetrlimit",
    "unshare",
    "vfork",
    "wait4",
    "waitid",
    "waitpid",
  ],
  ids: [
    "getegid",
    "getegid32",
    "geteuid",
    "geteuid32",
    "getgid",
    "getgid32",
    "getgroups",
    "getgroups32",
    "getresgid",
    "getresgid32",
    "getresuid",
    "getresuid32",
    "getuid",
    "getuid32",
    "setfsgid",
    "setfsgid32",
    "setfsuid",
    "setfsuid32",
    "setgid",
    "setgid32",
    "setgroups",
    "setgroups32",
    "setregid",
    "setregid32",
    "setresgid",
    "setresgid32",
    "setresuid",
    "setresuid32",
    "setreuid",
    "setreuid32",
    "setuid",
    "setuid32",
  ],
  scheduling: [
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_getaffinity",
    "sched_getattr",
    "sched_getparam",
    "sched_getscheduler",
    "sched_rr_get_interval",
    "sched_rr_get_interval_time64",
    "sched_setaffinity",
    "sched_setattr",
    "sched_setparam",
    "sched_setscheduler",
    "sched_yield",
  ],
  signals: [
    "alarm",
    "kill",
    "pause",
    "rt_sigaction",
    "rt_sigpending",
    "rt_sigprocmask",
    "rt_sigqueueinfo",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_sigtimedwait_time64",
    "rt_tgsigqueueinfo",
    "sigaction",
    "sigaltstack",
    "signal",
    "sigpending",
    "sigprocmask",
    "sigreturn",
    "sigsuspend",
    "tgkill",
    "tkill",
  ],
  time: [
    "adjtimex",
    "clock_adjtime",
    "clock_adjtime64",
    "clock_getres",
    "clock_getres_time64",
    "clock_gettime",
    "clock_gettime64",
    "clock_nanosleep",
    "clock_nanosleep_time64",
    "getitimer",
    "gettimeofday",
    "nanosleep",
    "setitimer",
    "time",
    "timer_create",
    "timer_delete",
    "timer_getoverrun",
    "timer_gettime",
    "timer_gettime64",
    "timer_settime",
    "timer_settime64",
  ],
  ipc: [
    "ipc",
    "mq_getsetattr",
    "mq_notify",
    "mq_open",
    "mq_timedreceive",
    "mq_timedreceive_time64",
    "mq_timedsend",
    "mq_timedsend_time64",
    "mq_unlink",
    "msgctl",
    "msgget",
    "msgrcv",
    "msgsnd",
    "semctl",
    "semget",
    "semop",
    "semtimedop",
    "semtimedop_time64",
    "shmat",
    "shmctl",
    "shmdt",
    "shmget",
  ],
  sockets: [
    "accept",
    "accept4",
    "bind",
    "connect",
    "getpeername",
    "getsockname",
    "getsockopt",
    "listen",
    "recv",
    "recvfrom",
    "recvmmsg",
    "recvmmsg_time64",
    "recvmsg",
    "send",
    "sendmmsg",
    "sendmsg",
    "sendto",
    "setsockopt",
    "shutdown",
    "socketcall",
    "socketpair",
  ],
  mounts: [
    "fsconfig",
    "fsmount",
    "fsopen",
    "fspick",
    "mount",
    "mount_setattr",
    "move_mount",
    "open_tree",
    "pivot_root",
    "umount",
    "umount2",
  ],
  system: ["getrandom", "reboot", "sysinfo", "syslog", "uname"],
};

/** Calls that fail with EPERM whatever the capabilities. */
export const ALWAYS_DENIED: readonly string[] = [
  // Obsolete or long removed from the kernel.
  "bdflush",
  "nfsservctl",
  "oldfstat",
  "oldlstat",
  "oldolduname",
  "oldstat",
  "olduname",
  "sgetmask",
  "ssetmask",
  "sysfs",
  "uselib",
  "ustat",
  "vm86",
  "vm86old",
  // Host-wide: kernels, swap, PCI.
  "kexec_file_load",
  "kexec_load",
  "pciconfig_iobase",
  "pciconfig_read",
  "pciconfig_write",
  "swapoff",
  "swapon",
  // Placement across NUMA nodes, and calls with a history of exploits.
  "io_pgetevents",
  "migrate_pages",
  "move_pages",
  "nice",
  "swapcontext",
  "userfaultfd",
  "vmsplice",
];

/** Calls allowed only with a capability in the bounding set (EPERM without it). */
export const CAPABILITY_GATED: readonly { capability: string; calls: readonly string[] }[] = [
  { capability: "CAP_DAC_READ_SEARCH", calls: ["open_by_handle_at"] },
  {
    capability: "CAP_SYS_ADMIN",
    calls: [
      "bpf",
      "fanotify_init",
      "lookup_dcookie",
      "perf_event_open",
      "quotactl",
      "setdomainname",
      "sethostname",
    ],
  },
  { capability: "CAP_SYS_CHROOT", calls: ["chroot"] },
  {
    capability: "CAP_SYS_MODULE",
    calls: ["delete_module", "finit_module", "init_module", "query_module"],
  },
  { capability: "CAP_SYS_PACCT", calls: ["acct"] },
  { capability: "CAP_SYS_PTRACE", calls: ["kcmp", "process_madvise"] },
  { capability: "CAP_SYS_RAWIO", calls: ["ioperm", "iopl"] },
  {
    capability: "CAP_SYS_TIME",
    calls: ["clock_settime", "clock_settime64", "settimeofday", "stime"],
  },
  { capability: "CAP_SYS_TTY_CONFIG", calls: ["vhangup"] },
];

/** Calls of one architecture (Go names, as in profile conditions). */
const ARCH_CALLS: readonly { arches: string[]; calls: string[] }[] = [
  { arches: ["amd64", "x32"], calls: ["arch_prctl"] },
  { arches: ["amd64", "x32", "x86"], calls: ["modify_ldt"] },
  {
    arches: ["arm", "arm64"],
    calls: [
      "arm_fadvise64_64",
      "arm_sync_file_range",
      "breakpoint",
      "cacheflush",
      "set_tls",
      "sync_file_range2",
    ],
  },
];

/** personality(2) domains a container may switch to (PER_LINUX, PER_LINUX32, UNAME26 ...). */
const PERSONALITIES = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];

const AF_NETLINK = 16;
const NETLINK_AUDIT = 9;

/**
 * The profile as a containers-format template (with capability and arch conditions), before
 * it is resolved for a container.
 */
export function defaultSeccompTemplate(): SeccompProfileTemplate {
  const rules: SeccompRuleTemplate[] = [
    { names: [...ALWAYS_DENIED], action: "SCMP_ACT_ERRNO", errnoRet: EPERM },
    {
      names: Object.values(ALWAYS_ALLOWED).flat().sort(),
      action: "SCMP_ACT_ALLOW",
    },
    ...PERSONALITIES.map((value): SeccompRuleTemplate => ({
      names: ["personality"],
      action: "SCMP_ACT_ALLOW",
      args: [{ index: 0, value, op: "SCMP_CMP_EQ" }],
    })),
    ...ARCH_CALLS.map(({ arches, calls }): SeccompRuleTemplate => ({
      names: [...calls],
      action: "SCMP_ACT_ALLOW",
      includes: { arches: [...arches] },
    })),
  ];
  for (const { capability, calls } of CAPABILITY_GATED) {
    rules.push(
      { names: [...calls], action: "SCMP_ACT_ALLOW", includes: { caps: [capability] } },
      {
        names: [...calls],
        action: "SCMP_ACT_ERRNO",
        errnoRet: EPERM,
        excludes: { caps: [capability] },
      },
    );
  }
  // Without CAP_AUDIT_WRITE: no audit netlink socket (EINVAL, as if unsupported), else any.
  const noAudit = { caps: ["CAP_AUDIT_WRITE"] };
  rules.push(
    {
      names: ["socket"],
      action: "SCMP_ACT_ERRNO",
      errnoRet: EINVAL,
      args: [
        { index: 0, value: AF_NETLINK, op: "SCMP_CMP_EQ" },
        { index: 2, value: NETLINK_AUDIT, op: "SCMP_CMP_EQ" },
      ],
      excludes: noAudit,
    },
    {
      names: ["socket"],
      action: "SCMP_ACT_ALLOW",
      args: [{ index: 2, value: NETLINK_AUDIT, op: "SCMP_CMP_NE" }],
      excludes: noAudit,
    },
    {
      names: ["socket"],
      action: "SCMP_ACT_ALLOW",
      args: [{ index: 0, value: AF_NETLINK, op: "SCMP_CMP_NE" }],
      excludes: noAudit,
    },
    { names: ["socket"], action: "SCMP_ACT_ALLOW", includes: noAudit },
  );
  return {
    defaultAction: "SCMP_ACT_ERRNO",
    defaultErrnoRet: ENOSYS,
    archMap: [
      { architecture: "SCMP_ARCH_X86_64", subArchitectures: ["SCMP_ARCH_X86", "SCMP_ARCH_X32"] },
      { architecture: "SCMP_ARCH_AARCH64", subArchitectures: ["SCMP_ARCH_ARM"] },
    ],
    syscalls: rules,
  };
}

/**
 * The default profile resolved for a container: its architecture and bounding capabilities.
 *
 * @example
 * ```ts
 * import { defaultSeccomp } from "./default_seccomp.ts";
 * const p = defaultSeccomp({ arch: "aarch64", capabilities: ["CAP_SYS_CHROOT"] });
 * console.log(p.architectures); // ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
 * ```
 */
export function defaultSeccomp(target: SeccompTarget): LinuxSeccomp {
  return resolveSeccompProfile(defaultSeccompTemplate(), target);
}
