import assert from "node:assert/strict";
import { InvalidImageError, UnsupportedError } from "../../errors.ts";
import type { LinuxSeccomp, LinuxSeccompArg, SeccompOperator } from "../spec/spec_types.ts";
import { BPF, decodeProgram, encodeProgram, jump, runBpf, seccompDataBytes, stmt } from "./bpf.ts";
import { compileSeccomp } from "./compile.ts";
import { SYSCALLS as AARCH64 } from "./syscalls_aarch64.ts";
import { SYSCALLS as X86_64, SYSCALLS_X32 } from "./syscalls_x86_64.ts";

const AUDIT_X86_64 = 0xc000003e;
const AUDIT_AARCH64 = 0xc00000b7;
const AUDIT_I386 = 0x40000003;
const ALLOW = 0x7fff0000;
const KILL_PROCESS = 0x80000000;
const errno = (n: number) => (0x00050000 | n) >>> 0;

type Arch = "x86_64" | "aarch64";

/** Compiles `profile` and runs it for syscall `name` (or a raw number) on `arch`. */
function run(
  profile: LinuxSeccomp,
  name: string | number,
  args: bigint[] = [],
  arch: Arch = "x86_64",
): number {
  const { program } = compileSeccomp(profile, arch);
  const table = arch === "x86_64" ? X86_64 : AARCH64;
  const nr = typeof name === "number" ? name : table[name];
  assert.notEqual(nr, undefined, `no syscall ${name}`);
  return runBpf(program, { nr, arch: arch === "x86_64" ? AUDIT_X86_64 : AUDIT_AARCH64, args });
}

Deno.test("bpf: sock_filter is 8 little-endian bytes; runBpf rejects what the kernel would", () => {
  const bytes = encodeProgram([jump(BPF.JEQ_K, 0x01020304, 1, 2), stmt(BPF.RET_K, 0x7fff0000)]);
  assert.deepEqual([...bytes.slice(0, 8)], [0x15, 0x00, 1, 2, 0x04, 0x03, 0x02, 0x01]);
  assert.deepEqual(decodeProgram(bytes)[1], { code: 0x06, jt: 0, jf: 0, k: 0x7fff0000 });
  assert.throws(() => jump(BPF.JEQ_K, 0, 256, 0), RangeError);
  const data = { nr: 0, arch: 0, args: [] };
  assert.throws(() => runBpf(encodeProgram([stmt(BPF.LD_W_ABS, 2)]), data), RangeError);
  assert.throws(() => runBpf(encodeProgram([stmt(BPF.LD_W_ABS, 64)]), data), RangeError);
  assert.throws(() => runBpf(encodeProgram([stmt(BPF.LD_W_ABS, 0)]), data), /off its end/);
  assert.throws(() => runBpf(encodeProgram([stmt(BPF.JA, 5)]), data), /past the end/);
  // seccomp_data layout: nr @0, arch @4, ip @8, args[i] low @16+8i, high @20+8i.
  const view = new DataView(
    seccompDataBytes({ nr: 7, arch: 9, ip: 0x1122334455667788n, args: [1n, 0xaaaabbbbccccddddn] })
      .buffer,
  );
  assert.deepEqual(
    [0, 4, 8, 12, 16, 20, 24, 28].map((o) => view.getUint32(o, true)),
    [7, 9, 0x55667788, 0x11223344, 1, 0, 0xccccdddd, 0xaaaabbbb],
  );
  const loadArg1High = encodeProgram([
    stmt(BPF.LD_W_ABS, 28),
    jump(BPF.JEQ_K, 0xaaaabbbb, 0, 1),
    stmt(BPF.RET_K, 1),
    stmt(BPF.RET_K, 2),
  ]);
  assert.equal(runBpf(loadArg1High, { nr: 0, arch: 0, args: [0n, 0xaaaabbbbccccddddn] }), 1);
  assert.equal(runBpf(loadArg1High, { nr: 0, arch: 0, args: [0n, 0xccccddddn] }), 2);
  // 0x16 is BPF_RET|BPF_A: not something the compiler emits, so runBpf rejects it.
  assert.throws(() => runBpf(encodeProgram([stmt(0x16, 0)]), data), /unsupported opcode/);
});

Deno.test("allow-list: default ERRNO (EPERM, or defaultErrnoRet) for everything not listed", () => {
  const profile: LinuxSeccomp = {
    defaultAction: "SCMP_ACT_ERRNO",
    syscalls: [{ names: ["read", "write", "exit_group"], action: "SCMP_ACT_ALLOW" }],
  };
  assert.equal(run(profile, "read"), ALLOW);
  assert.equal(run(profile, "exit_group"), ALLOW);
  assert.equal(run(profile, "openat"), errno(1));
  assert.equal(run(profile, 9999), errno(1));
  assert.equal(run({ ...profile, defaultErrnoRet: 38 }, "openat"), errno(38));
  assert.equal(run({ ...profile, defaultErrnoRet: 38 }, "write"), ALLOW);
  assert.equal(run(profile, "read", [], "aarch64"), ALLOW);
  assert.equal(run(profile, "openat", [], "aarch64"), errno(1));
});

Deno.test("deny-list: default ALLOW; errnoRet per rule, EPERM without it", () => {
  const profile: LinuxSeccomp = {
    defaultAction: "SCMP_ACT_ALLOW",
    defaultErrnoRet: undefined,
    syscalls: [
      { names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 13 },
      { names: ["unshare"], action: "SCMP_ACT_ERRNO" },
      { names: ["ptrace"], action: "SCMP_ACT_KILL_PROCESS" },
      { names: ["reboot"], action: "SCMP_ACT_KILL" },
      { names: ["setns"], action: "SCMP_ACT_TRAP" },
      { names: ["personality"], action: "SCMP_ACT_LOG" },
      { names: ["kcmp"], action: "SCMP_ACT_TRACE", errnoRet: 7 },
      { names: ["bpf"], action: "SCMP_ACT_TRACE" },
      { names: ["acct"], action: "SCMP_ACT_KILL_THREAD" },
    ],
  };
  assert.equal(run(profile, "mkdir"), errno(13));
  assert.equal(run(profile, "mkdirat"), errno(13));
  assert.equal(run(profile, "unshare"), errno(1));
  assert.equal(run(profile, "ptrace"), KILL_PROCESS);
  assert.equal(run(profile, "reboot"), 0);
  assert.equal(run(profile, "acct"), 0);
  assert.equal(run(profile, "setns"), 0x00030000);
  assert.equal(run(profile, "personality"), 0x7ffc0000);
  assert.equal(run(profile, "kcmp"), 0x7ff00007);
  assert.equal(run(profile, "bpf"), 0x7ff00001);
  assert.equal(run(profile, "read"), ALLOW);
  assert.equal(run(profile, "mkdirat", [], "aarch64"), errno(13));
  assert.equal(run(profile, "getpid", [], "aarch64"), ALLOW);
  // defaultErrnoRet is for the default action only.
  const p2: LinuxSeccomp = { ...profile, defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: 5 };
  assert.equal(run(p2, "unshare"), errno(1));
  assert.equal(run(p2, "read"), errno(5));
});

Deno.test("errnoRet/defaultErrnoRet on an action without errno is an error", () => {
  assert.throws(
    () =>
      compileSeccomp({
        defaultAction: "SCMP_ACT_ALLOW",
        syscalls: [{ names: ["read"], action: "SCMP_ACT_KILL", errnoRet: 1 }],
      }, "x86_64"),
    (e) =>
      e instanceof InvalidImageError && /syscalls\[0\].*errnoRet.*SCMP_ACT_KILL/.test(e.message),
  );
  assert.throws(
    () => compileSeccomp({ defaultAction: "SCMP_ACT_ALLOW", defaultErrnoRet: 1 }, "x86_64"),
    (e) => e instanceof InvalidImageError && /defaultErrnoRet/.test(e.message),
  );
  assert.throws(
    () => compileSeccomp({ defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: 70000 }, "x86_64"),
    InvalidImageError,
  );
});

/** A profile returning errno 99 when `arg` matches for `getpid`, else ALLOW. */
function argProfile(...args: LinuxSeccompArg[]): LinuxSeccomp {
  return {
    defaultAction: "SCMP_ACT_ALLOW",
    syscalls: [{ names: ["getpid"], action: "SCMP_ACT_ERRNO", errnoRet: 99, args }],
  };
}

Deno.test("operators: unsigned 64-bit comparisons, values above 2^32", () => {
  const big = 0x1_0000_0005; // high half 1, low half 5
  const cases: [SeccompOperator, bigint, boolean][] = [
    ["SCMP_CMP_EQ", 0x1_0000_0005n, true],
    ["SCMP_CMP_EQ", 0x0_0000_0005n, false], // same low half
    ["SCMP_CMP_EQ", 0x2_0000_0005n, false],
    ["SCMP_CMP_NE", 0x1_0000_0005n, false],
    ["SCMP_CMP_NE", 0x0_0000_0005n, true],
    ["SCMP_CMP_NE", 0x1_0000_0006n, true],
    ["SCMP_CMP_GT", 0x1_0000_0006n, true],
    ["SCMP_CMP_GT", 0x1_0000_0005n, false],
    ["SCMP_CMP_GT", 0x2_0000_0000n, true],
    ["SCMP_CMP_GT", 0x0_ffff_ffffn, false], // bigger low half, smaller high half
    ["SCMP_CMP_GE", 0x1_0000_0005n, true],
    ["SCMP_CMP_GE", 0x1_0000_0004n, false],
    ["SCMP_CMP_GE", 0x0_ffff_ffffn, false],
    ["SCMP_CMP_LT", 0x1_0000_0004n, true],
    ["SCMP_CMP_LT", 0x1_0000_0005n, false],
    ["SCMP_CMP_LT", 0x0_ffff_ffffn, true],
    ["SCMP_CMP_LT", 0x2_0000_0000n, false],
    ["SCMP_CMP_LE", 0x1_0000_0005n, true],
    ["SCMP_CMP_LE", 0x1_0000_0006n, false],
    ["SCMP_CMP_LE", 0x0_0000_0009n, true],
    ["SCMP_CMP_LE", 0xffff_ffff_ffff_ffffn, false], // unsigned: all ones is the largest
    ["SCMP_CMP_GT", 0xffff_ffff_ffff_ffffn, true],
  ];
  for (const [op, arg, matches] of cases) {
    for (const arch of ["x86_64", "aarch64"] as const) {
      const got = run(argProfile({ index: 2, value: big, op }), "getpid", [0n, 0n, arg], arch);
      assert.equal(got, matches ? errno(99) : ALLOW, `${op} ${big} vs ${arg} on ${arch}`);
    }
  }
  // Only args[2] is compared.
  assert.equal(
    run(argProfile({ index: 2, value: 5, op: "SCMP_CMP_EQ" }), "getpid", [5n, 5n, 6n, 5n]),
    ALLOW,
  );
  assert.equal(run(argProfile({ index: 5, value: 0, op: "SCMP_CMP_EQ" }), "getpid"), errno(99));
});

Deno.test("SCMP_CMP_MASKED_EQ: (arg & value) == valueTwo over both halves", () => {
  // CLONE_NEWUSER-style check plus a high-half bit.
  const p = argProfile({
    index: 0,
    value: 0x8000_0000_1000_0000,
    valueTwo: 0x8000_0000_0000_0000,
    op: "SCMP_CMP_MASKED_EQ",
  });
  assert.equal(run(p, "getpid", [0x8000_0000_0000_0000n]), errno(99));
  assert.equal(run(p, "getpid", [0xffff_ffff_efff_ffffn]), errno(99));
  assert.equal(run(p, "getpid", [0x8000_0000_1000_0000n]), ALLOW);
  assert.equal(run(p, "getpid", [0x0000_0000_0000_0000n]), ALLOW);
  // valueTwo absent means 0: "none of the mask bits set".
  const none = argProfile({ index: 1, value: 0x7e020000, op: "SCMP_CMP_MASKED_EQ" });
  assert.equal(run(none, "getpid", [0n, 0x11n]), errno(99));
  assert.equal(run(none, "getpid", [0n, 0x10000000n]), ALLOW);
});

Deno.test("args of one entry are ANDed, also on the same index", () => {
  const p = argProfile(
    { index: 0, value: 10, op: "SCMP_CMP_GE" },
    { index: 0, value: 20, op: "SCMP_CMP_LE" },
    { index: 1, value: 0, op: "SCMP_CMP_NE" },
  );
  assert.equal(run(p, "getpid", [15n, 1n]), errno(99));
  assert.equal(run(p, "getpid", [10n, 1n]), errno(99));
  assert.equal(run(p, "getpid", [20n, 7n]), errno(99));
  assert.equal(run(p, "getpid", [9n, 1n]), ALLOW);
  assert.equal(run(p, "getpid", [21n, 1n]), ALLOW);
  assert.equal(run(p, "getpid", [15n, 0n]), ALLOW);
});

Deno.test("entries for one syscall are ORed: first matching args entry, then the blanket one", () => {
  const profile: LinuxSeccomp = {
    defaultAction: "SCMP_ACT_ERRNO",
    syscalls: [
      { names: ["personality"], action: "SCMP_ACT_ALLOW" }, // blanket: the fallback
      {
        names: ["personality", "getpid"],
        action: "SCMP_ACT_ERRNO",
        errnoRet: 11,
        args: [{ index: 0, value: 8, op: "SCMP_CMP_EQ" }],
      },
      {
        names: ["personality"],
        action: "SCMP_ACT_ERRNO",
        errnoRet: 12,
        args: [{ index: 0, value: 8, op: "SCMP_CMP_GE" }],
      },
      { names: ["personality"], action: "SCMP_ACT_KILL" }, // later blanket: never used
    ],
  };
  assert.equal(run(profile, "personality", [8n]), errno(11));
  assert.equal(run(profile, "personality", [9n]), errno(12));
  assert.equal(run(profile, "personality", [7n]), ALLOW);
  assert.equal(run(profile, "getpid", [8n]), errno(11));
  assert.equal(run(profile, "getpid", [7n]), errno(1)); // no match: default
});

Deno.test("arch: unlisted foreign arches are killed, a listed compat arch gets ENOSYS", () => {
  const profile: LinuxSeccomp = {
    defaultAction: "SCMP_ACT_ALLOW",
    syscalls: [{ names: ["mkdir"], action: "SCMP_ACT_ERRNO" }],
  };
  const { program, warnings } = compileSeccomp(profile, "x86_64");
  assert.deepEqual(warnings, []);
  assert.equal(runBpf(program, { nr: 83, arch: AUDIT_X86_64, args: [] }), errno(1));
  assert.equal(runBpf(program, { nr: 83, arch: AUDIT_I386, args: [] }), KILL_PROCESS);
  assert.equal(runBpf(program, { nr: 83, arch: AUDIT_AARCH64, args: [] }), KILL_PROCESS);
  assert.equal(runBpf(program, { nr: 0, arch: 0, args: [] }), KILL_PROCESS);

  const withX86 = compileSeccomp(
    { ...profile, architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"] },
    "x86_64",
  );
  assert.match(withX86.warnings.join("\n"), /SCMP_ARCH_X86 is listed .* ENOSYS/);
  assert.equal(runBpf(withX86.program, { nr: 39, arch: AUDIT_I386, args: [] }), errno(38));
  assert.equal(runBpf(withX86.program, { nr: 39, arch: AUDIT_AARCH64, args: [] }), KILL_PROCESS);

  const a64 = compileSeccomp({ ...profile, architectures: ["SCMP_ARCH_ARM"] }, "aarch64");
  assert.equal(runBpf(a64.program, { nr: 1, arch: 0x40000028, args: [] }), errno(38));
  assert.equal(runBpf(a64.program, { nr: 1, arch: AUDIT_X86_64, args: [] }), KILL_PROCESS);
  assert.equal(runBpf(a64.program, { nr: 172, arch: AUDIT_AARCH64, args: [] }), ALLOW);
  // The native arch gets the rules even when architectures lists only others.
  assert.match(a64.warnings.join("\n"), /"mkdir" is unknown on aarch64/);
});

Deno.test("x32: treated as foreign unless SCMP_ARCH_X32 is listed, then matched by x32 numbers", () => {
  const profile: LinuxSeccomp = {
    defaultAction: "SCMP_ACT_ALLOW",
    architectures: ["SCMP_ARCH_X86_64"],
    syscalls: [{ names: ["mkdir", "execve"], action: "SCMP_ACT_ERRNO" }],
  };
  const x32 = (p: LinuxSeccomp, nr: number) =>
    runBpf(compileSeccomp(p, "x86_64").program, { nr, arch: AUDIT_X86_64, args: [] });
  assert.equal(x32(profile, SYSCALLS_X32.mkdir), KILL_PROCESS);
  assert.equal(x32(profile, SYSCALLS_X32.read), KILL_PROCESS);
  assert.equal(x32(profile, 0xffffffff), ALLOW); // nr -1: default, as libseccomp
  const listed: LinuxSeccomp = { ...profile, architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X32"] };
  assert.equal(SYSCALLS_X32.mkdir, 0x40000000 | X86_64.mkdir);
  assert.equal(x32(listed, SYSCALLS_X32.mkdir), errno(1));
  // x32's execve is 520 | X32, not 59 | X32.
  assert.equal(SYSCALLS_X32.execve, 0x40000208);
  assert.equal(x32(listed, SYSCALLS_X32.execve), errno(1));
  assert.equal(x32(listed, 0x40000000 | X86_64.execve), ALLOW);
  assert.equal(x32(listed, SYSCALLS_X32.read), ALLOW);
  assert.equal(x32(listed, 0xffffffff), ALLOW);
  assert.equal(x32(listed, X86_64.execve), errno(1));
  // On aarch64 SCMP_ARCH_X32 means nothing: bit 30 numbers are just unknown syscalls.
  const a64 = compileSeccomp({ defaultAction: "SCMP_ACT_ERRNO" }, "aarch64");
  assert.equal(runBpf(a64.program, { nr: 0x40000022, arch: AUDIT_AARCH64, args: [] }), errno(1));
});

Deno.test("a profile with 400+ names and args: far jumps go through JA trampolines", () => {
  for (const arch of ["x86_64", "aarch64"] as const) {
    const table = arch === "x86_64" ? X86_64 : AARCH64;
    const names = Object.keys(table);
    const extra = Array.from({ length: 100 }, (_, i) => `no_such_call_${i}`);
    const profile: LinuxSeccomp = {
      defaultAction: "SCMP_ACT_KILL_PROCESS",
      architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64"],
      syscalls: [
        // Every third call: ERRNO(nr % 4096) when args[1] is in [nr, nr + 2^40].
        ...names.filter((_, i) => i % 3 === 0).map((name) => ({
          names: [name],
          action: "SCMP_ACT_ERRNO" as const,
          errnoRet: table[name] % 4096,
          args: [
            { index: 1, value: table[name], op: "SCMP_CMP_GE" as const },
            { index: 1, value: table[name] + 2 ** 40, op: "SCMP_CMP_LE" as const },
          ],
        })),
        { names: [...names, ...extra], action: "SCMP_ACT_ALLOW" },
        // A body over 255 instructions: its compare's jf needs a trampoline on both arches.
        {
          names: [names[1]],
          action: "SCMP_ACT_ERRNO",
          errnoRet: 777,
          args: [
            { index: 4, value: 5, op: "SCMP_CMP_EQ" },
            ...Array.from({ length: 70 }, (_, i) => ({
              index: 3,
              value: 1000 + i,
              op: "SCMP_CMP_NE" as const,
            })),
          ],
        },
      ],
    };
    assert.ok(names.length + extra.length > 400);
    const { program, warnings } = compileSeccomp(profile, arch);
    assert.equal(warnings.length, 100);
    const insns = decodeProgram(program);
    assert.ok(insns.length > 1000 && insns.length <= 4096, `${insns.length} instructions`);
    assert.ok(insns.some((i) => i.code === BPF.JA && i.k > 255), "expected long JA trampolines");
    const nr1 = table[names[1]];
    const call1 = (a3: bigint, a4: bigint) =>
      runBpf(program, {
        nr: nr1,
        arch: arch === "x86_64" ? AUDIT_X86_64 : AUDIT_AARCH64,
        args: [0n, 0n, 0n, a3, a4],
      });
    assert.equal(call1(999n, 5n), errno(777));
    assert.equal(call1(1069n, 5n), ALLOW);
    assert.equal(call1(1070n, 5n), errno(777));
    assert.equal(call1(999n, 6n), ALLOW);
    const audit = arch === "x86_64" ? AUDIT_X86_64 : AUDIT_AARCH64;
    names.forEach((name, i) => {
      const nr = table[name];
      const inRange = runBpf(program, { nr, arch: audit, args: [0n, BigInt(nr) + 2n ** 39n] });
      const below = runBpf(program, { nr, arch: audit, args: [0n, BigInt(nr) - 1n] });
      assert.equal(inRange, i % 3 === 0 ? errno(nr % 4096) : ALLOW, `${arch} ${name} in range`);
      assert.equal(below, ALLOW, `${arch} ${name} below range`);
    });
    // Above every syscall the profile names: ENOSYS (runc's stub), not the default action.
    assert.equal(runBpf(program, { nr: 1000, arch: audit, args: [] }), errno(38));
    if (arch === "x86_64") {
      // x32 numbers reach the same bodies as their x86_64 names.
      for (const [name, nr] of Object.entries(SYSCALLS_X32)) {
        const args = [0n, BigInt(table[name] ?? 0) + 1n];
        const native = Object.hasOwn(table, name)
          ? runBpf(program, { nr: table[name], arch: audit, args })
          : ALLOW;
        assert.equal(runBpf(program, { nr, arch: audit, args }), native, `x32 ${name}`);
      }
    }
  }
});

Deno.test("unknown syscall names are skipped with one warning each", () => {
  const { program, warnings } = compileSeccomp({
    defaultAction: "SCMP_ACT_ALLOW",
    syscalls: [
      { names: ["frobnicate", "mkdir", "frobnicate"], action: "SCMP_ACT_ERRNO" },
      { names: ["frobnicate"], action: "SCMP_ACT_KILL" },
    ],
  }, "x86_64");
  assert.deepEqual(warnings, [
    'linux.seccomp.syscalls[0]: syscall "frobnicate" is unknown on x86_64; skipped',
  ]);
  assert.equal(runBpf(program, { nr: 83, arch: AUDIT_X86_64, args: [] }), errno(1));
});

Deno.test("SCMP_ACT_NOTIFY and listeners are unsupported; malformed profiles are invalid", () => {
  const notify: LinuxSeccomp = {
    defaultAction: "SCMP_ACT_ALLOW",
    syscalls: [{ names: ["read"], action: "SCMP_ACT_NOTIFY" }],
  };
  assert.throws(() => compileSeccomp(notify, "x86_64"), UnsupportedError);
  assert.throws(
    () => compileSeccomp({ defaultAction: "SCMP_ACT_NOTIFY" }, "x86_64"),
    UnsupportedError,
  );
  assert.throws(
    () =>
      compileSeccomp({ defaultAction: "SCMP_ACT_ALLOW", listenerPath: "/run/a.sock" }, "x86_64"),
    UnsupportedError,
  );
  assert.throws(
    () => compileSeccomp({ defaultAction: "SCMP_ACT_ALLOW" }, "riscv64"),
    UnsupportedError,
  );
  const bad = (p: unknown, re: RegExp) =>
    assert.throws(
      () => compileSeccomp(p as LinuxSeccomp, "x86_64"),
      (e) => e instanceof InvalidImageError && re.test(e.message),
    );
  bad({ defaultAction: "SCMP_ACT_MAYBE" }, /defaultAction: unknown action "SCMP_ACT_MAYBE"/);
  bad({ defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_VAX"] }, /architectures\[0\]/);
  bad(
    { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: [], action: "SCMP_ACT_ALLOW" }] },
    /names/,
  );
  const arg = (a: unknown) => ({
    defaultAction: "SCMP_ACT_ALLOW",
    syscalls: [{ names: ["read"], action: "SCMP_ACT_ERRNO", args: [a] }],
  });
  bad(arg({ index: 6, value: 0, op: "SCMP_CMP_EQ" }), /args\[0\]: index 6 is not 0 to 5/);
  bad(arg({ index: 0, value: 0, op: "SCMP_CMP_LIKE" }), /unknown operator/);
  bad(arg({ index: 0, value: -1, op: "SCMP_CMP_EQ" }), /value: -1 is not a uint64/);
  bad(arg({ index: 0, value: 1.5, op: "SCMP_CMP_EQ" }), /not a uint64/);
});

Deno.test("numbers above 2^53 warn; 2^64 (what JSON makes of 2^64-1) means all ones", () => {
  const { program, warnings } = compileSeccomp(
    JSON.parse(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],
      "action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":18446744073709551615,"op":"SCMP_CMP_EQ"}]}]}`),
    "x86_64",
  );
  assert.match(warnings[0], /args\[0\]\.value: .* above 2\^53/);
  assert.equal(runBpf(program, { nr: 0, arch: AUDIT_X86_64, args: [(1n << 64n) - 1n] }), errno(1));
  assert.equal(runBpf(program, { nr: 0, arch: AUDIT_X86_64, args: [(1n << 64n) - 2n] }), ALLOW);
});

Deno.test("flags: bits per seccomp.h; WAIT_KILLABLE_RECV dropped; unknown is invalid", () => {
  const base: LinuxSeccomp = { defaultAction: "SCMP_ACT_ALLOW" };
  assert.equal(compileSeccomp(base, "x86_64").flags, 0);
  const all = compileSeccomp({
    ...base,
    flags: [
      "SECCOMP_FILTER_FLAG_TSYNC",
      "SECCOMP_FILTER_FLAG_LOG",
      "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
      "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
    ],
  }, "x86_64");
  assert.equal(all.flags, 7);
  assert.match(all.warnings.join("\n"), /WAIT_KILLABLE_RECV ignored/);
  assert.throws(
    () =>
      compileSeccomp(
        { ...base, flags: ["SECCOMP_FILTER_FLAG_BOGUS"] } as unknown as LinuxSeccomp,
        "x86_64",
      ),
    (e) => e instanceof InvalidImageError && /flags\[0\]: unknown flag/.test(e.message),
  );
});

Deno.test("syscall tables: spot checks", () => {
  assert.equal(X86_64.read, 0);
  assert.equal(X86_64.write, 1);
  assert.equal(X86_64.openat, 257);
  assert.equal(X86_64.mkdir, 83);
  assert.equal(AARCH64.openat, 56);
  assert.equal(AARCH64.mkdirat, 34);
  assert.equal(AARCH64.renameat, 38);
  assert.equal(AARCH64.newfstatat, 79);
  assert.equal(AARCH64.getrlimit, 163);
  assert.equal(AARCH64.clone3, 435);
  assert.equal(AARCH64.mmap, 222);
  assert.equal(AARCH64.sync_file_range, 84);
  for (const gone of ["mkdir", "open", "stat", "fork", "sync_file_range2", "syscalls"]) {
    assert.equal(Object.hasOwn(AARCH64, gone), false, gone);
  }
});

Deno.test({
  name: "kernel: a compiled filter loads and makes mkdir fail with EPERM (child process)",
  ignore: Deno.build.os !== "linux",
  async fn() {
    // The profile of the runtime tests' fixture seccomp/deny_mkdir.json.
    const profile: LinuxSeccomp = {
      defaultAction: "SCMP_ACT_ALLOW",
      architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64"],
      syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 1 }],
    };
    profile.syscalls!.push({ names: ["getppid"], action: "SCMP_ACT_ERRNO", errnoRet: 42 });
    const { program, flags, warnings } = compileSeccomp(profile);
    assert.deepEqual(warnings.filter((w) => !/"mkdir" is unknown on aarch64/.test(w)), []);
    const dir = await Deno.makeTempDir();
    try {
      // The child loads the filter on its main thread only (no TSYNC), then checks its effect.
      const code = `
        const lib = Deno.dlopen("libc.so.6", {
          prctl: { parameters: ["i32", "u64", "u64", "u64", "u64"], result: "i32" },
          syscall: { parameters: ["i64", "i64", "i64", "pointer"], result: "i64" },
          __errno_location: { parameters: [], result: "pointer" },
        }).symbols;
        const errno = () => new Deno.UnsafePointerView(lib.__errno_location()).getInt32();
        const prog = Uint8Array.from(atob(Deno.env.get("PROG")), (c) => c.charCodeAt(0));
        const fprog = new BigUint64Array(2);
        fprog[0] = BigInt(prog.length / 8);
        fprog[1] = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(prog)));
        if (lib.prctl(38, 1n, 0n, 0n, 0n) !== 0) throw new Error("prctl errno " + errno());
        const sys = Deno.build.arch === "x86_64" ? 317n : 277n;
        const r = lib.syscall(sys, 1n, BigInt(Deno.env.get("FLAGS")), Deno.UnsafePointer.of(fprog));
        if (r !== 0n) throw new Error("seccomp errno " + errno());
        let denied = false;
        try { Deno.mkdirSync(Deno.env.get("DIR") + "/x"); } catch (e) {
          denied = e instanceof Deno.errors.PermissionDenied;
        }
        if (!denied) throw new Error("mkdir was not denied");
        const ppid = lib.syscall(Deno.build.arch === "x86_64" ? 110n : 173n, 0n, 0n, null);
        if (ppid !== -1n || errno() !== 42) throw new Error("getppid gave " + ppid + "/" + errno());
        Deno.writeTextFileSync(Deno.env.get("DIR") + "/ok", "1");
        console.log("OK");
      `;
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["eval", code],
        env: {
          PROG: btoa(String.fromCharCode(...program)),
          FLAGS: String(flags),
          DIR: dir,
          NO_COLOR: "1",
        },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(new TextDecoder().decode(out.stdout).trim(), "OK", stderr);
      assert.ok(out.success, stderr);
      assert.equal(await Deno.readTextFile(`${dir}/ok`), "1");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("runc's ENOSYS stub: calls newer than the profile fail with ENOSYS", () => {
  // A profile written before Linux 5.9: nothing newer than pidfd_getfd (438 is newer).
  const old = ["read", "write", "close", "execve", "exit_group", "openat", "clone", "futex"];
  const profile: LinuxSeccomp = {
    defaultAction: "SCMP_ACT_ERRNO",
    architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64"],
    syscalls: [{ names: old, action: "SCMP_ACT_ALLOW" }, {
      names: ["pidfd_getfd"],
      action: "SCMP_ACT_ERRNO",
    }],
  };
  for (const arch of ["x86_64", "aarch64"] as const) {
    const table = arch === "x86_64" ? X86_64 : AARCH64;
    const audit = arch === "x86_64" ? AUDIT_X86_64 : AUDIT_AARCH64;
    const { program } = compileSeccomp(profile, arch);
    const call = (name: string) => runBpf(program, { nr: table[name], arch: audit, args: [] });
    assert.equal(call("openat"), ALLOW);
    // Not named but older than pidfd_getfd (the highest named): the default action.
    assert.equal(call("mkdirat"), errno(1));
    assert.equal(call("pidfd_getfd"), errno(1));
    // Newer than anything named: ENOSYS, so a libc falls back to older calls.
    for (
      const name of ["faccessat2", "process_madvise", "epoll_pwait2", "landlock_create_ruleset"]
    ) {
      assert.equal(call(name), errno(38), `${arch} ${name}`);
    }
    // An allowing default has no stub; an unlisted native arch has none either (runc 1.1).
    const allowing = compileSeccomp({ ...profile, defaultAction: "SCMP_ACT_LOG" }, arch);
    assert.equal(
      runBpf(allowing.program, { nr: table.faccessat2, arch: audit, args: [] }),
      0x7ffc0000,
    );
    const unlisted = compileSeccomp({ ...profile, architectures: [] }, arch);
    assert.equal(
      runBpf(unlisted.program, { nr: table.faccessat2, arch: audit, args: [] }),
      errno(1),
    );
  }
  // x32 calls are measured against the x32 numbers the profile names (x32's execve is 520,
  // above most newer calls, so this profile leaves execve out).
  const { program } = compileSeccomp({
    ...profile,
    syscalls: [{ names: ["read", "openat"], action: "SCMP_ACT_ALLOW" }],
  }, "x86_64");
  assert.equal(
    runBpf(program, { nr: SYSCALLS_X32.faccessat2, arch: AUDIT_X86_64, args: [] }),
    errno(38),
  );
  assert.equal(
    runBpf(program, { nr: SYSCALLS_X32.openat, arch: AUDIT_X86_64, args: [] }),
    ALLOW,
  );
});
