import assert from "node:assert/strict";
import { runBpf } from "../runtime/seccomp/bpf.ts";
import { compileSeccomp } from "../runtime/seccomp/compile.ts";
import { SYSCALLS as AARCH64 } from "../runtime/seccomp/syscalls_aarch64.ts";
import { SYSCALLS as X86_64 } from "../runtime/seccomp/syscalls_x86_64.ts";
import { CAPABILITIES } from "../runtime/plan/capabilities.ts";
import {
  ALWAYS_ALLOWED,
  ALWAYS_DENIED,
  CAPABILITY_GATED,
  defaultSeccomp,
} from "./default_seccomp.ts";
import { callPolicies } from "./seccomp_profile.ts";

const PODMAN_CAPS = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_FOWNER",
  "CAP_FSETID",
  "CAP_KILL",
  "CAP_NET_BIND_SERVICE",
  "CAP_SETFCAP",
  "CAP_SETGID",
  "CAP_SETPCAP",
  "CAP_SETUID",
  "CAP_SYS_CHROOT",
];

const AUDIT = { x86_64: 0xc000003e, aarch64: 0xc00000b7 } as const;
const RET_ALLOW = 0x7fff0000;
const errno = (n: number) => 0x00050000 | n;

function verdict(
  caps: string[],
  arch: "x86_64" | "aarch64",
  name: string,
  args: bigint[] = [],
): number {
  const { program } = compileSeccomp(defaultSeccomp({ arch, capabilities: caps }), arch);
  const table = arch === "x86_64" ? X86_64 : AARCH64;
  return runBpf(program, { nr: table[name], arch: AUDIT[arch], args });
}

Deno.test("default seccomp: ENOSYS by default, podman's architectures", () => {
  const x86 = defaultSeccomp({ arch: "x86_64", capabilities: PODMAN_CAPS });
  assert.equal(x86.defaultAction, "SCMP_ACT_ERRNO");
  assert.equal(x86.defaultErrnoRet, 38);
  assert.deepEqual(x86.architectures, ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]);
  const arm = defaultSeccomp({ arch: "aarch64", capabilities: PODMAN_CAPS });
  assert.deepEqual(arm.architectures, ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]);
});

Deno.test("default seccomp: the table names each call once", () => {
  const all = [
    ...Object.values(ALWAYS_ALLOWED).flat(),
    ...ALWAYS_DENIED,
    ...CAPABILITY_GATED.flatMap((g) => g.calls),
  ];
  const seen = new Set<string>();
  for (const name of all) {
    assert.ok(!seen.has(name), `${name} listed twice`);
    seen.add(name);
  }
  for (const { capability } of CAPABILITY_GATED) assert.ok(CAPABILITIES.includes(capability));
});

Deno.test("default seccomp: capability-gated calls follow the bounding set", () => {
  const plain = callPolicies(defaultSeccomp({ arch: "x86_64", capabilities: PODMAN_CAPS }));
  assert.equal(plain.get("chroot")?.fallback, "SCMP_ACT_ALLOW");
  for (const name of ["bpf", "sethostname", "kcmp", "ioperm", "clock_settime", "acct"]) {
    assert.equal(plain.get(name)?.fallback, "SCMP_ACT_ERRNO/1", name);
  }
  const admin = callPolicies(
    defaultSeccomp({ arch: "x86_64", capabilities: [...PODMAN_CAPS, "CAP_SYS_ADMIN"] }),
  );
  assert.equal(admin.get("bpf")?.fallback, "SCMP_ACT_ALLOW");
  assert.equal(admin.get("kcmp")?.fallback, "SCMP_ACT_ERRNO/1");
  const none = callPolicies(defaultSeccomp({ arch: "x86_64", capabilities: [] }));
  assert.equal(none.get("chroot")?.fallback, "SCMP_ACT_ERRNO/1");
  assert.equal(none.get("setns")?.fallback, "SCMP_ACT_ALLOW");
  assert.equal(none.get("mount")?.fallback, "SCMP_ACT_ALLOW");
});

Deno.test("default seccomp: architecture calls only on their architecture", () => {
  const x86 = callPolicies(defaultSeccomp({ arch: "x86_64", capabilities: [] }));
  const arm = callPolicies(defaultSeccomp({ arch: "aarch64", capabilities: [] }));
  assert.equal(x86.get("arch_prctl")?.fallback, "SCMP_ACT_ALLOW");
  assert.equal(x86.get("modify_ldt")?.fallback, "SCMP_ACT_ALLOW");
  assert.equal(x86.get("cacheflush"), undefined);
  assert.equal(arm.get("arch_prctl"), undefined);
  assert.equal(arm.get("set_tls")?.fallback, "SCMP_ACT_ALLOW");
});

Deno.test("default seccomp: compiled, it allows, refuses and stubs as podman's", () => {
  for (const arch of ["x86_64", "aarch64"] as const) {
    const compiled = compileSeccomp(defaultSeccomp({ arch, capabilities: PODMAN_CAPS }), arch);
    assert.ok(compiled.program.length / 8 < 4096);
    assert.equal(verdict(PODMAN_CAPS, arch, "openat"), RET_ALLOW);
    assert.equal(verdict(PODMAN_CAPS, arch, "bpf"), errno(1));
    assert.equal(verdict([...PODMAN_CAPS, "CAP_SYS_ADMIN"], arch, "bpf"), RET_ALLOW);
    assert.equal(verdict(PODMAN_CAPS, arch, "kexec_load"), errno(1));
    // Known to the kernel, named nowhere in the profile: the default, ENOSYS.
    assert.equal(verdict(PODMAN_CAPS, arch, "io_uring_setup"), errno(38));
    // personality: PER_LINUX yes, PER_BSD (6) no.
    assert.equal(verdict(PODMAN_CAPS, arch, "personality", [0n]), RET_ALLOW);
    assert.equal(verdict(PODMAN_CAPS, arch, "personality", [6n]), errno(38));
    // Audit netlink sockets need CAP_AUDIT_WRITE; other sockets do not.
    assert.equal(verdict(PODMAN_CAPS, arch, "socket", [16n, 3n, 9n]), errno(22));
    assert.equal(verdict(PODMAN_CAPS, arch, "socket", [16n, 3n, 0n]), RET_ALLOW);
    assert.equal(verdict(PODMAN_CAPS, arch, "socket", [2n, 1n, 9n]), RET_ALLOW);
    assert.equal(
      verdict([...PODMAN_CAPS, "CAP_AUDIT_WRITE"], arch, "socket", [16n, 3n, 9n]),
      RET_ALLOW,
    );
  }
});
