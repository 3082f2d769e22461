import assert from "node:assert/strict";
import { InvalidImageError } from "../errors.ts";
import {
  callPolicies,
  compareKernel,
  resolveSeccompProfile,
  type SeccompProfileTemplate,
} from "./seccomp_profile.ts";

const TEMPLATE: SeccompProfileTemplate = {
  defaultAction: "SCMP_ACT_ERRNO",
  defaultErrno: "ENOSYS",
  archMap: [
    { architecture: "SCMP_ARCH_X86_64", subArchitectures: ["SCMP_ARCH_X86"] },
    { architecture: "SCMP_ARCH_AARCH64", subArchitectures: ["SCMP_ARCH_ARM"] },
  ],
  syscalls: [
    { names: ["read", "write"], action: "SCMP_ACT_ALLOW", comment: "basic", includes: {} },
    { names: ["chroot"], action: "SCMP_ACT_ALLOW", includes: { caps: ["CAP_SYS_CHROOT"] } },
    {
      names: ["chroot"],
      action: "SCMP_ACT_ERRNO",
      errno: "EPERM",
      excludes: { caps: ["CAP_SYS_CHROOT"] },
    },
    { names: ["arch_prctl"], action: "SCMP_ACT_ALLOW", includes: { arches: ["amd64"] } },
    { names: ["set_tls"], action: "SCMP_ACT_ALLOW", excludes: { arches: ["amd64"] } },
    { names: ["both"], action: "SCMP_ACT_ALLOW", includes: { caps: ["CAP_A", "CAP_B"] } },
    { names: ["newcall"], action: "SCMP_ACT_ALLOW", includes: { minKernel: "5.8" } },
    {
      names: ["personality"],
      action: "SCMP_ACT_ALLOW",
      args: [{ index: 0, value: 8, valueTwo: 0, op: "SCMP_CMP_EQ" }],
    },
    { names: ["empty"], action: "SCMP_ACT_ALLOW", args: null },
  ],
};

Deno.test("seccomp profile: conditions on capabilities, arches and kernel", () => {
  const x86 = resolveSeccompProfile(TEMPLATE, {
    arch: "x86_64",
    capabilities: ["CAP_A"],
    kernel: "5.4.0-1-amd64",
  });
  assert.equal(x86.defaultErrnoRet, 38);
  assert.deepEqual(x86.architectures, ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]);
  assert.deepEqual(x86.syscalls, [
    { names: ["read", "write"], action: "SCMP_ACT_ALLOW" },
    { names: ["chroot"], action: "SCMP_ACT_ERRNO", errnoRet: 1 },
    { names: ["arch_prctl"], action: "SCMP_ACT_ALLOW" },
    {
      names: ["personality"],
      action: "SCMP_ACT_ALLOW",
      args: [{ index: 0, value: 8, op: "SCMP_CMP_EQ" }],
    },
    { names: ["empty"], action: "SCMP_ACT_ALLOW" },
  ]);
  const arm = resolveSeccompProfile(TEMPLATE, {
    arch: "aarch64",
    capabilities: ["CAP_A", "CAP_B", "CAP_SYS_CHROOT"],
    kernel: "6.1",
  });
  assert.deepEqual(arm.architectures, ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]);
  assert.deepEqual(arm.syscalls?.map((s) => s.names[0]), [
    "read",
    "chroot",
    "set_tls",
    "both",
    "newcall",
    "personality",
    "empty",
  ]);
  assert.equal(arm.syscalls?.[1].action, "SCMP_ACT_ALLOW");
});

Deno.test("seccomp profile: a plain OCI profile resolves to itself", () => {
  const oci = {
    defaultAction: "SCMP_ACT_ALLOW" as const,
    architectures: ["SCMP_ARCH_X86_64" as const],
    flags: ["SECCOMP_FILTER_FLAG_LOG" as const],
    syscalls: [{ names: ["mkdir"], action: "SCMP_ACT_ERRNO" as const, errnoRet: 13 }],
  };
  assert.deepEqual(resolveSeccompProfile(oci, { arch: "x86_64", capabilities: [] }), oci);
});

Deno.test("seccomp profile: malformed input is one error", () => {
  const target = { arch: "x86_64" as const, capabilities: [] };
  assert.throws(
    () => resolveSeccompProfile([] as unknown as SeccompProfileTemplate, target),
    InvalidImageError,
  );
  assert.throws(
    () => resolveSeccompProfile({} as SeccompProfileTemplate, target),
    /defaultAction is missing/,
  );
  assert.throws(
    () =>
      resolveSeccompProfile({
        defaultAction: "SCMP_ACT_ALLOW",
        syscalls: [{ names: [], action: "SCMP_ACT_ERRNO" }],
      }, target),
    /syscalls\[0\]: names must list/,
  );
  assert.throws(
    () => resolveSeccompProfile({ defaultAction: "SCMP_ACT_ERRNO", defaultErrno: "EWHAT" }, target),
    /unknown errno name/,
  );
});

Deno.test("seccomp profile: kernel versions compare by their numbers", () => {
  assert.equal(compareKernel("6.1.0-13-amd64", "5.8"), 1);
  assert.equal(compareKernel("5.8", "5.8.0"), 0);
  assert.equal(compareKernel("4.19.2", "4.20"), -1);
});

Deno.test("seccomp profile: call policies ignore order and dead duplicates", () => {
  const a = callPolicies({
    defaultAction: "SCMP_ACT_ERRNO",
    defaultErrnoRet: 38,
    syscalls: [
      { names: ["setns", "read"], action: "SCMP_ACT_ALLOW" },
      { names: ["setns"], action: "SCMP_ACT_ERRNO", errnoRet: 1 },
      { names: ["x"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: 1, op: "SCMP_CMP_EQ" }] },
      { names: ["x"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: 1, op: "SCMP_CMP_EQ" }] },
    ],
  });
  assert.deepEqual(a.get("setns"), { conditional: [], fallback: "SCMP_ACT_ALLOW" });
  assert.deepEqual(a.get("x"), {
    conditional: ["SCMP_ACT_ALLOW if 0 SCMP_CMP_EQ 1 0"],
    fallback: "SCMP_ACT_ERRNO/38",
  });
});
