/**
 * Compiles an OCI `linux.seccomp` profile into a classic BPF program for seccomp(2)
 * (SECCOMP_SET_MODE_FILTER), with runc/libseccomp semantics where the spec leaves room.
 *
 * Program layout (a linear chain; conditional jumps that would need more than 8 bits go through
 * `JA` trampolines, see {@linkcode Assembler}):
 *
 * 1. `seccomp_data.arch` is checked first.
 *    - The native arch (AUDIT_ARCH_X86_64 / AUDIT_ARCH_AARCH64) always gets the rules, whether or
 *      not `architectures` lists it (libseccomp filters always include the native arch).
 *    - x86_64 only: x32 calls arrive with the native arch and bit 0x40000000 in `nr`. If
 *      `SCMP_ARCH_X32` is listed the same rules apply to them, matched by the x32 table's numbers
 *      (which differ from `nr | 0x40000000` for ~35 calls such as execve and readv); otherwise x32
 *      calls are treated like an unlisted foreign arch. `nr == -1` (a ptracer skipping the call)
 *      gets the default action, as in libseccomp.
 *    - The one foreign arch this kernel could run, the 32-bit compat ABI (`SCMP_ARCH_X86` on
 *      x86_64, `SCMP_ARCH_ARM` on aarch64), is listed by Docker's default profile, but ocibox has
 *      no syscall table for it, so its rules cannot be applied. Decision: if listed, its calls fail
 *      with ENOSYS (never run, but a 32-bit program sees "not implemented" rather than dying, and a
 *      deny-list profile cannot be bypassed through the compat ABI); a warning says so.
 *    - Every other arch (unlisted compat, anything else) gets SECCOMP_RET_KILL_PROCESS, like
 *      libseccomp's default bad-arch action.
 * 2. Per syscall: the entries that have `args`, in profile order (all args of an entry must match:
 *    AND; the first entry that matches wins), then the first entry without `args` as the fallback,
 *    then the default action. So a specific rule overrides a blanket one for the same call,
 *    whatever their order in the file. Argument comparisons are unsigned 64-bit, done on the two
 *    32-bit halves of `seccomp_data.args[i]`.
 *
 * 3. runc's "-ENOSYS stub": unless the default action allows (ALLOW, LOG, TRACE), a call numbered
 *    above every syscall the profile names (for a listed arch: the native one, x32) fails with
 *    ENOSYS instead of the default action. A profile written before clone3, close_range, openat2
 *    or rseq existed then makes a current libc fall back to the older calls instead of failing
 *    with EPERM, exactly as under runc (which adds the same check in front of libseccomp's
 *    filter). Calls below that number that the profile does not name keep the default action.
 *
 * Errno values: `errnoRet` (EPERM when absent) for `SCMP_ACT_ERRNO`/`SCMP_ACT_TRACE` rules;
 * `defaultErrnoRet` only for the default action (as in the spec and runc). Either one on an action
 * that takes no errno is an error, as the spec requires.
 *
 * @example
 * ```ts
 * import { compileSeccomp } from "./compile.ts";
 * const { program, flags, warnings } = compileSeccomp({
 *   defaultAction: "SCMP_ACT_ALLOW",
 *   syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO" }],
 * }, "x86_64");
 * // program: sock_filter records for seccomp(SECCOMP_SET_MODE_FILTER, flags, &fprog)
 * ```
 * @module
 */
import { InvalidImageError, UnsupportedError } from "../../errors.ts";
import type {
  LinuxSeccomp,
  LinuxSeccompArg,
  SeccompAction,
  SeccompArch,
  SeccompFlag,
  SeccompOperator,
} from "../spec/spec_types.ts";
import { BPF, BPF_MAXINSNS, encodeProgram, jump, type SockFilter, stmt } from "./bpf.ts";
import { SYSCALLS as AARCH64_SYSCALLS } from "./syscalls_aarch64.ts";
import { SYSCALLS as X86_64_SYSCALLS, SYSCALLS_X32 } from "./syscalls_x86_64.ts";

/** Actions ocibox can compile (`SCMP_ACT_NOTIFY` needs a listener and is not supported). */
export const SECCOMP_ACTIONS: readonly SeccompAction[] = [
  "SCMP_ACT_KILL",
  "SCMP_ACT_KILL_PROCESS",
  "SCMP_ACT_KILL_THREAD",
  "SCMP_ACT_TRAP",
  "SCMP_ACT_ERRNO",
  "SCMP_ACT_TRACE",
  "SCMP_ACT_ALLOW",
  "SCMP_ACT_LOG",
];

/** Argument comparison operators. */
export const SECCOMP_OPERATORS: readonly SeccompOperator[] = [
  "SCMP_CMP_NE",
  "SCMP_CMP_LT",
  "SCMP_CMP_LE",
  "SCMP_CMP_EQ",
  "SCMP_CMP_GE",
  "SCMP_CMP_GT",
  "SCMP_CMP_MASKED_EQ",
];

/** Architectures whose calls are checked against the rules (others: see the module doc). */
export const SECCOMP_ARCHES: readonly SeccompArch[] = [
  "SCMP_ARCH_X86_64",
  "SCMP_ARCH_X32",
  "SCMP_ARCH_AARCH64",
];

/**
 * Flags passed on to seccomp(2). `SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV` is accepted in profiles
 * but dropped with a warning: the kernel takes it only with a notify listener.
 */
export const SECCOMP_FLAGS: readonly SeccompFlag[] = [
  "SECCOMP_FILTER_FLAG_TSYNC",
  "SECCOMP_FILTER_FLAG_LOG",
  "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
];

/** Every architecture name the spec allows (libseccomp 2.6). */
const ALL_ARCHES: ReadonlySet<string> = new Set<SeccompArch>([
  "SCMP_ARCH_X86",
  "SCMP_ARCH_X86_64",
  "SCMP_ARCH_X32",
  "SCMP_ARCH_ARM",
  "SCMP_ARCH_AARCH64",
  "SCMP_ARCH_LOONGARCH64",
  "SCMP_ARCH_M68K",
  "SCMP_ARCH_MIPS",
  "SCMP_ARCH_MIPS64",
  "SCMP_ARCH_MIPS64N32",
  "SCMP_ARCH_MIPSEL",
  "SCMP_ARCH_MIPSEL64",
  "SCMP_ARCH_MIPSEL64N32",
  "SCMP_ARCH_PPC",
  "SCMP_ARCH_PPC64",
  "SCMP_ARCH_PPC64LE",
  "SCMP_ARCH_S390",
  "SCMP_ARCH_S390X",
  "SCMP_ARCH_SH",
  "SCMP_ARCH_SHEB",
  "SCMP_ARCH_PARISC",
  "SCMP_ARCH_PARISC64",
  "SCMP_ARCH_RISCV64",
]);

/** seccomp(2) flag bits (linux/seccomp.h). */
const FLAG_BITS: Readonly<Record<SeccompFlag, number>> = {
  SECCOMP_FILTER_FLAG_TSYNC: 1,
  SECCOMP_FILTER_FLAG_LOG: 2,
  SECCOMP_FILTER_FLAG_SPEC_ALLOW: 4,
  SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: 32,
};

/** SECCOMP_RET_* action values (the low 16 bits carry errno / trace data). */
const RET = {
  KILL_PROCESS: 0x80000000,
  KILL_THREAD: 0x00000000,
  TRAP: 0x00030000,
  ERRNO: 0x00050000,
  TRACE: 0x7ff00000,
  LOG: 0x7ffc0000,
  ALLOW: 0x7fff0000,
} as const;

const EPERM = 1;
const ENOSYS = 38;
const X32_SYSCALL_BIT = 0x40000000;
const U64_MAX = (1n << 64n) - 1n;

/** What one arch needs: its audit value, tables, and the compat ABI we cannot check. */
interface ArchInfo {
  audit: number;
  table: Readonly<Record<string, number>>;
  x32?: Readonly<Record<string, number>>;
  compat: { name: SeccompArch; audit: number };
}

const ARCHES: Readonly<Record<"x86_64" | "aarch64", ArchInfo>> = {
  x86_64: {
    audit: 0xc000003e,
    table: X86_64_SYSCALLS,
    x32: SYSCALLS_X32,
    compat: { name: "SCMP_ARCH_X86", audit: 0x40000003 },
  },
  aarch64: {
    audit: 0xc00000b7,
    table: AARCH64_SYSCALLS,
    compat: { name: "SCMP_ARCH_ARM", audit: 0x40000028 },
  },
};

/** `struct seccomp_data` offsets. */
const DATA_NR = 0;
const DATA_ARCH = 4;
const argLow = (i: number) => 16 + 8 * i;
const argHigh = (i: number) => 16 + 8 * i + 4;

/** The result of {@linkcode compileSeccomp}. */
export interface CompiledSeccomp {
  /** `struct sock_filter` records, 8 bytes each, ready for `struct sock_fprog`. */
  program: Uint8Array;
  /** SECCOMP_FILTER_FLAG_* bits for seccomp(2). */
  flags: number;
  /** One line each: skipped syscall names, dropped flags, unchecked arches. */
  warnings: string[];
}

/**
 * Compiles `profile` for `arch` ("x86_64" or "aarch64"). Pure: no I/O.
 *
 * @throws {InvalidImageError} the profile is malformed (unknown action, arch, operator or flag,
 *   bad arg index or value, errnoRet on an action without errno).
 * @throws {UnsupportedError} `SCMP_ACT_NOTIFY` or a listener, an unsupported `arch`, or a program
 *   over the kernel's 4096-instruction limit.
 * @example
 * ```ts
 * import { compileSeccomp } from "./compile.ts";
 * import { runBpf } from "./bpf.ts";
 * const { program } = compileSeccomp({ defaultAction: "SCMP_ACT_ERRNO",
 *   syscalls: [{ names: ["read"], action: "SCMP_ACT_ALLOW" }] }, "x86_64");
 * runBpf(program, { nr: 0, arch: 0xc000003e, args: [] }); // 0x7fff0000
 * ```
 */
export function compileSeccomp(
  profile: LinuxSeccomp,
  arch: string = Deno.build.arch,
): CompiledSeccomp {
  if (arch !== "x86_64" && arch !== "aarch64") {
    throw new UnsupportedError(`seccomp: no syscall table for architecture ${arch}`);
  }
  const info = ARCHES[arch];
  const warnings: string[] = [];
  const where = "linux.seccomp";

  if (profile.listenerPath !== undefined || profile.listenerMetadata !== undefined) {
    throw new UnsupportedError(
      `${where}: listenerPath/listenerMetadata need a seccomp notify agent, which ocibox does not support`,
    );
  }
  const defaultRet = actionValue(
    profile.defaultAction,
    profile.defaultErrnoRet,
    `${where}.defaultAction`,
    "defaultErrnoRet",
  );
  const flags = flagBits(profile.flags, where, warnings);

  const listed = new Set<string>();
  (profile.architectures ?? []).forEach((name, i) => {
    if (!ALL_ARCHES.has(name)) {
      throw new InvalidImageError(`${where}.architectures[${i}]`, `unknown architecture "${name}"`);
    }
    listed.add(name);
  });
  const x32 = info.x32 && listed.has("SCMP_ARCH_X32") ? info.x32 : undefined;
  const compatListed = listed.has(info.compat.name);
  if (compatListed) {
    warnings.push(
      `${where}: ${info.compat.name} is listed but ocibox has no syscall table for it: its calls fail with ENOSYS`,
    );
  }

  const rules = collectRules(profile, info.table, x32, arch, warnings);

  const asm = new Assembler();
  const native = asm.label();
  const foreign = asm.label();
  asm.load(DATA_ARCH);
  asm.jump(BPF.JEQ_K, info.audit, native, foreign);

  asm.place(foreign);
  const killProcess = asm.label();
  if (compatListed) {
    const enosys = asm.label();
    asm.jump(BPF.JEQ_K, info.compat.audit, enosys, killProcess);
    asm.place(enosys);
    asm.ret(RET.ERRNO | ENOSYS);
  }
  asm.place(killProcess);
  asm.ret(RET.KILL_PROCESS);

  asm.place(native);
  asm.load(DATA_NR);
  const x32Calls = asm.label();
  const nativeCalls = asm.label();
  if (info.x32) asm.jump(BPF.JGE_K, X32_SYSCALL_BIT, x32Calls, nativeCalls);
  const stub = enosysThresholds(profile, info, listed, arch, x32 !== undefined);
  const enosys = asm.label();

  // Labels of the native bodies, created up front: the x32 compares (emitted first, since BPF
  // only jumps forward) share them.
  const bodies = new Map<string, Label>();
  for (const [name, rule] of rules) if (rule.nr !== undefined) bodies.set(name, asm.label());

  if (info.x32) {
    asm.place(x32Calls);
    const dflt = asm.label();
    const other = asm.label();
    asm.jump(BPF.JEQ_K, 0xffffffff, dflt, other);
    asm.place(other);
    if (x32 && stub.x32 !== undefined) {
      const known = asm.label();
      asm.jump(BPF.JGT_K, stub.x32, enosys, known);
      asm.place(known);
    }
    if (x32) {
      for (const [name, rule] of rules) {
        if (rule.x32Nr === undefined) continue;
        const shared = bodies.get(name);
        const next = asm.label();
        if (shared !== undefined) {
          asm.jump(BPF.JEQ_K, rule.x32Nr, shared, next);
        } else {
          const body = asm.label();
          asm.jump(BPF.JEQ_K, rule.x32Nr, body, next);
          asm.place(body);
          emitBody(asm, rule.entries, defaultRet);
        }
        asm.place(next);
      }
      asm.ret(defaultRet);
    } else {
      asm.ret(RET.KILL_PROCESS);
    }
    asm.place(dflt);
    asm.ret(defaultRet);
  }

  // Native calls: one compare per syscall; each body follows its compare.
  asm.place(nativeCalls);
  if (stub.native !== undefined) {
    const known = asm.label();
    asm.jump(BPF.JGT_K, stub.native, enosys, known);
    asm.place(known);
  }
  for (const [name, rule] of rules) {
    const body = bodies.get(name);
    if (body === undefined) continue;
    const next = asm.label();
    asm.jump(BPF.JEQ_K, rule.nr!, body, next);
    asm.place(body);
    emitBody(asm, rule.entries, defaultRet);
    asm.place(next);
  }
  asm.ret(defaultRet);
  asm.place(enosys);
  asm.ret(RET.ERRNO | ENOSYS);

  const insns = asm.assemble();
  if (insns.length > BPF_MAXINSNS) {
    throw new UnsupportedError(
      `${where}: the compiled filter has ${insns.length} instructions, over the kernel's limit of ${BPF_MAXINSNS}`,
    );
  }
  return { program: encodeProgram(insns), flags, warnings };
}

/**
 * The numbers above which calls get ENOSYS (runc 1.1's stub): per listed arch, the highest
 * number of any syscall the profile names, whatever its action or arguments. None when the
 * default action allows, or for an arch the profile does not list.
 */
function enosysThresholds(
  profile: LinuxSeccomp,
  info: ArchInfo,
  listed: ReadonlySet<string>,
  arch: "x86_64" | "aarch64",
  x32Listed: boolean,
): { native?: number; x32?: number } {
  const allowing = ["SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_TRACE"];
  if (allowing.includes(profile.defaultAction)) return {};
  const names = (profile.syscalls ?? []).flatMap((sc) =>
    Array.isArray(sc.names) ? sc.names.filter((n) => typeof n === "string") : []
  );
  const highest = (table: Readonly<Record<string, number>>) => {
    const nrs = names.flatMap((n) => Object.hasOwn(table, n) ? [table[n]] : []);
    return nrs.length ? Math.max(...nrs) : undefined;
  };
  const nativeName = arch === "x86_64" ? "SCMP_ARCH_X86_64" : "SCMP_ARCH_AARCH64";
  return {
    native: listed.has(nativeName) ? highest(info.table) : undefined,
    // x32 numbers carry bit 30, as the calls arrive.
    x32: x32Listed && info.x32 ? highest(info.x32) : undefined,
  };
}

/** One profile entry as it applies to one syscall. */
interface Entry {
  ret: number;
  args: Condition[];
}

/** A checked argument comparison with 64-bit values. */
interface Condition {
  index: number;
  op: SeccompOperator;
  value: bigint;
  valueTwo: bigint;
}

/** A syscall's numbers on this arch and its entries in profile order. */
interface Rule {
  nr?: number;
  x32Nr?: number;
  entries: Entry[];
}

/** Validates every entry and groups them per syscall name, in order of first appearance. */
function collectRules(
  profile: LinuxSeccomp,
  table: Readonly<Record<string, number>>,
  x32: Readonly<Record<string, number>> | undefined,
  arch: string,
  warnings: string[],
): Map<string, Rule> {
  const rules = new Map<string, Rule>();
  const unknown = new Set<string>();
  (profile.syscalls ?? []).forEach((sc, i) => {
    const where = `linux.seccomp.syscalls[${i}]`;
    if (!Array.isArray(sc.names) || sc.names.length === 0) {
      throw new InvalidImageError(where, "names must list at least one syscall");
    }
    const ret = actionValue(sc.action, sc.errnoRet, `${where}.action`, "errnoRet");
    const args = (sc.args ?? []).map((a, j) => condition(a, `${where}.args[${j}]`, warnings));
    for (const name of sc.names) {
      if (typeof name !== "string") {
        throw new InvalidImageError(`${where}.names`, `${JSON.stringify(name)} is not a string`);
      }
      const nr = Object.hasOwn(table, name) ? table[name] : undefined;
      const x32Nr = x32 && Object.hasOwn(x32, name) ? x32[name] : undefined;
      if (nr === undefined && x32Nr === undefined) {
        // runc ignores names its libseccomp does not know; say so instead of failing.
        if (!unknown.has(name)) {
          unknown.add(name);
          warnings.push(`${where}: syscall "${name}" is unknown on ${arch}; skipped`);
        }
        continue;
      }
      let rule = rules.get(name);
      if (!rule) rules.set(name, rule = { nr, x32Nr, entries: [] });
      rule.entries.push({ ret, args });
    }
  });
  return rules;
}

/** Checks one `args[]` item and converts its values to u64. */
function condition(arg: LinuxSeccompArg, where: string, warnings: string[]): Condition {
  const { index, op } = arg;
  if (!Number.isInteger(index) || index < 0 || index > 5) {
    throw new InvalidImageError(where, `index ${JSON.stringify(index)} is not 0 to 5`);
  }
  if (!(SECCOMP_OPERATORS as readonly string[]).includes(op)) {
    throw new InvalidImageError(where, `unknown operator ${JSON.stringify(op)}`);
  }
  const value = toU64(arg.value, `${where}.value`, warnings);
  const valueTwo = arg.valueTwo === undefined
    ? 0n
    : toU64(arg.valueTwo, `${where}.valueTwo`, warnings);
  return { index, op, value, valueTwo };
}

/**
 * A profile number as u64. JSON numbers above 2^53 reach us already rounded (a warning says so);
 * 2^64 itself is what `18446744073709551615` rounds to, so it means all ones.
 */
function toU64(v: unknown, where: string, warnings: string[]): bigint {
  if (typeof v === "bigint") {
    if (v < 0n || v > U64_MAX) throw new InvalidImageError(where, `${v} is not a uint64`);
    return v;
  }
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 2 ** 64) {
    throw new InvalidImageError(where, `${JSON.stringify(v)} is not a uint64`);
  }
  if (v > Number.MAX_SAFE_INTEGER) {
    warnings.push(`${where}: ${v} is above 2^53 and may have lost precision as a JSON number`);
  }
  const big = BigInt(v);
  return big > U64_MAX ? U64_MAX : big;
}

/** SECCOMP_RET_* value of an action, with its errno where it takes one. */
function actionValue(
  action: SeccompAction,
  errno: number | undefined,
  where: string,
  errnoField: string,
): number {
  const takesErrno = action === "SCMP_ACT_ERRNO" || action === "SCMP_ACT_TRACE";
  if (errno !== undefined) {
    if (!takesErrno) {
      throw new InvalidImageError(
        where,
        `${errnoField} is only allowed with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not ${action}`,
      );
    }
    if (!Number.isInteger(errno) || errno < 0 || errno > 0xffff) {
      throw new InvalidImageError(
        where,
        `${errnoField} ${JSON.stringify(errno)} is not 0 to 65535`,
      );
    }
  }
  switch (action) {
    case "SCMP_ACT_KILL":
    case "SCMP_ACT_KILL_THREAD":
      return RET.KILL_THREAD;
    case "SCMP_ACT_KILL_PROCESS":
      return RET.KILL_PROCESS;
    case "SCMP_ACT_TRAP":
      return RET.TRAP;
    case "SCMP_ACT_ERRNO":
      return (RET.ERRNO | (errno ?? EPERM)) >>> 0;
    case "SCMP_ACT_TRACE":
      return (RET.TRACE | (errno ?? EPERM)) >>> 0;
    case "SCMP_ACT_LOG":
      return RET.LOG;
    case "SCMP_ACT_ALLOW":
      return RET.ALLOW;
    case "SCMP_ACT_NOTIFY":
      throw new UnsupportedError(
        `${where}: SCMP_ACT_NOTIFY needs a seccomp notify agent, which ocibox does not support`,
      );
    default:
      throw new InvalidImageError(where, `unknown action ${JSON.stringify(action)}`);
  }
}

/** OR of the flag bits; WAIT_KILLABLE_RECV is dropped (it needs NEW_LISTENER, i.e. NOTIFY). */
function flagBits(flags: SeccompFlag[] | undefined, where: string, warnings: string[]): number {
  let bits = 0;
  (flags ?? []).forEach((flag, i) => {
    if (!Object.hasOwn(FLAG_BITS, flag)) {
      throw new InvalidImageError(`${where}.flags[${i}]`, `unknown flag ${JSON.stringify(flag)}`);
    }
    if (flag === "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV") {
      warnings.push(
        `${where}.flags[${i}]: ${flag} ignored: the kernel accepts it only with a notify listener`,
      );
      return;
    }
    bits |= FLAG_BITS[flag];
  });
  return bits;
}

/**
 * A syscall's checks once its number matched: entries with args in order, then the first entry
 * without args, else the default. Every path ends in a RET, so `A` may be clobbered freely.
 */
function emitBody(asm: Assembler, entries: Entry[], defaultRet: number): void {
  for (const entry of entries) {
    if (entry.args.length === 0) continue;
    const fail = asm.label();
    for (const cond of entry.args) {
      const ok = asm.label();
      emitCondition(asm, cond, ok, fail);
      asm.place(ok);
    }
    asm.ret(entry.ret);
    asm.place(fail);
  }
  const fallback = entries.find((e) => e.args.length === 0);
  asm.ret(fallback ? fallback.ret : defaultRet);
}

/** A 64-bit unsigned comparison of `args[index]` as two 32-bit halves; high half first. */
function emitCondition(asm: Assembler, c: Condition, ok: Label, fail: Label): void {
  const hi = Number(c.value >> 32n);
  const lo = Number(c.value & 0xffffffffn);
  const checkLow = asm.label();
  switch (c.op) {
    case "SCMP_CMP_EQ":
    case "SCMP_CMP_NE": {
      const [match, miss] = c.op === "SCMP_CMP_EQ" ? [ok, fail] : [fail, ok];
      asm.load(argHigh(c.index));
      asm.jump(BPF.JEQ_K, hi, checkLow, miss);
      asm.place(checkLow);
      asm.load(argLow(c.index));
      asm.jump(BPF.JEQ_K, lo, match, miss);
      return;
    }
    case "SCMP_CMP_GT":
    case "SCMP_CMP_GE": {
      // high > v.high: ok; high < v.high: fail; equal: decide on the low half.
      const highEqual = asm.label();
      asm.load(argHigh(c.index));
      asm.jump(BPF.JGT_K, hi, ok, highEqual);
      asm.place(highEqual);
      asm.jump(BPF.JEQ_K, hi, checkLow, fail);
      asm.place(checkLow);
      asm.load(argLow(c.index));
      asm.jump(c.op === "SCMP_CMP_GT" ? BPF.JGT_K : BPF.JGE_K, lo, ok, fail);
      return;
    }
    case "SCMP_CMP_LT":
    case "SCMP_CMP_LE": {
      // high < v.high: ok; high > v.high: fail; equal: decide on the low half.
      const highNotBelow = asm.label();
      asm.load(argHigh(c.index));
      asm.jump(BPF.JGE_K, hi, highNotBelow, ok);
      asm.place(highNotBelow);
      asm.jump(BPF.JEQ_K, hi, checkLow, fail);
      asm.place(checkLow);
      asm.load(argLow(c.index));
      // LT: low >= v.low fails; LE: low > v.low fails.
      asm.jump(c.op === "SCMP_CMP_LT" ? BPF.JGE_K : BPF.JGT_K, lo, fail, ok);
      return;
    }
    case "SCMP_CMP_MASKED_EQ": {
      // (arg & value) == valueTwo, as libseccomp: value is the mask, valueTwo the datum.
      const maskHi = Number(c.value >> 32n);
      const maskLo = Number(c.value & 0xffffffffn);
      asm.load(argHigh(c.index));
      asm.stmt(BPF.ALU_AND_K, maskHi);
      asm.jump(BPF.JEQ_K, Number(c.valueTwo >> 32n), checkLow, fail);
      asm.place(checkLow);
      asm.load(argLow(c.index));
      asm.stmt(BPF.ALU_AND_K, maskLo);
      asm.jump(BPF.JEQ_K, Number(c.valueTwo & 0xffffffffn), ok, fail);
      return;
    }
  }
}

/** A jump target, placed once with {@linkcode Assembler.place}. */
type Label = number;

type Item =
  | { kind: "stmt"; ins: SockFilter }
  | { kind: "jump"; code: number; k: number; jt: Label; jf: Label }
  | { kind: "label"; label: Label };

/**
 * Builds a forward-only BPF program with symbolic labels. Conditional jumps have 8-bit offsets;
 * {@linkcode Assembler.assemble} gives any that cannot reach their target a `JA` (32-bit offset)
 * trampoline right after the jump, repeating until every offset fits.
 */
class Assembler {
  #items: Item[] = [];
  #next = 0;

  label(): Label {
    return this.#next++;
  }
  place(label: Label): void {
    this.#items.push({ kind: "label", label });
  }
  stmt(code: number, k: number): void {
    this.#items.push({ kind: "stmt", ins: stmt(code, k) });
  }
  load(offset: number): void {
    this.stmt(BPF.LD_W_ABS, offset);
  }
  ret(value: number): void {
    this.stmt(BPF.RET_K, value);
  }
  jump(code: number, k: number, jt: Label, jf: Label): void {
    this.#items.push({ kind: "jump", code, k, jt, jf });
  }

  assemble(): SockFilter[] {
    const items = this.#items;
    // Per jump item: does jt / jf go through a trampoline?
    const farT = new Set<number>();
    const farF = new Set<number>();
    let at: number[] = [];
    let labels = new Map<Label, number>();
    const layout = () => {
      at = [];
      labels = new Map();
      let pc = 0;
      items.forEach((item, i) => {
        at.push(pc);
        if (item.kind === "label") labels.set(item.label, pc);
        else if (item.kind === "jump") pc += 1 + (farT.has(i) ? 1 : 0) + (farF.has(i) ? 1 : 0);
        else pc++;
      });
    };
    const offset = (from: number, to: Label) => {
      const pos = labels.get(to);
      if (pos === undefined) throw new Error(`bpf assembler: label ${to} never placed`);
      const off = pos - (from + 1);
      if (off < 0) throw new Error(`bpf assembler: backward jump to label ${to}`);
      return off;
    };
    for (let changed = true; changed;) {
      changed = false;
      layout();
      items.forEach((item, i) => {
        if (item.kind !== "jump") return;
        if (!farT.has(i) && offset(at[i], item.jt) > 255) {
          farT.add(i);
          changed = true;
        }
        if (!farF.has(i) && offset(at[i], item.jf) > 255) {
          farF.add(i);
          changed = true;
        }
      });
    }
    const out: SockFilter[] = [];
    items.forEach((item, i) => {
      switch (item.kind) {
        case "label":
          return;
        case "stmt":
          out.push(item.ins);
          return;
        case "jump": {
          const pc = at[i];
          const t = farT.has(i);
          const f = farF.has(i);
          // Trampolines sit right after the jump: jt's first, then jf's.
          const jt = t ? 0 : offset(pc, item.jt);
          const jf = f ? (t ? 1 : 0) : offset(pc, item.jf);
          out.push(jump(item.code, item.k, jt, jf));
          if (t) out.push(stmt(BPF.JA, offset(pc + 1, item.jt)));
          if (f) out.push(stmt(BPF.JA, offset(pc + (t ? 2 : 1), item.jf)));
          return;
        }
      }
    });
    return out;
  }
}
