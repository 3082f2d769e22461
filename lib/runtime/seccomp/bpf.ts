/**
 * Classic BPF as seccomp uses it: `struct sock_filter` encoding, the opcodes the seccomp compiler
 * emits, and a small interpreter over `struct seccomp_data` for tests.
 *
 * @example
 * ```ts
 * import { BPF, encodeProgram, runBpf, stmt } from "./bpf.ts";
 * const program = encodeProgram([stmt(BPF.RET_K, 0x7fff0000)]);
 * runBpf(program, { nr: 0, arch: 0xc000003e, args: [] }); // 0x7fff0000 (allow)
 * ```
 * @module
 */

/** One `struct sock_filter`: what the kernel reads, 8 bytes each. */
export interface SockFilter {
  /** Opcode (class | size | mode, or class | op | source). */
  code: number;
  /** Jump offset when the condition holds (0-255, relative to the next instruction). */
  jt: number;
  /** Jump offset when it does not. */
  jf: number;
  /** Constant operand (u32). */
  k: number;
}

/** Opcodes: the BPF_* bits combined the way seccomp programs use them. */
export const BPF = {
  /** `A = *(u32 *)(data + k)` (BPF_LD | BPF_W | BPF_ABS). */
  LD_W_ABS: 0x00 | 0x00 | 0x20,
  /** `A &= k` (BPF_ALU | BPF_AND | BPF_K). */
  ALU_AND_K: 0x04 | 0x50 | 0x00,
  /** `pc += k` (BPF_JMP | BPF_JA): the only jump with a 32-bit offset. */
  JA: 0x05 | 0x00,
  /** `pc += A == k ? jt : jf` (BPF_JMP | BPF_JEQ | BPF_K). */
  JEQ_K: 0x05 | 0x10 | 0x00,
  /** `pc += A > k ? jt : jf`, unsigned (BPF_JMP | BPF_JGT | BPF_K). */
  JGT_K: 0x05 | 0x20 | 0x00,
  /** `pc += A >= k ? jt : jf`, unsigned (BPF_JMP | BPF_JGE | BPF_K). */
  JGE_K: 0x05 | 0x30 | 0x00,
  /** `pc += A & k ? jt : jf` (BPF_JMP | BPF_JSET | BPF_K). */
  JSET_K: 0x05 | 0x40 | 0x00,
  /** `return k` (BPF_RET | BPF_K). */
  RET_K: 0x06 | 0x00,
} as const;

/** Kernel limit on a classic BPF program's length (BPF_MAXINSNS). */
export const BPF_MAXINSNS = 4096;

/** A non-jump instruction. */
export function stmt(code: number, k: number): SockFilter {
  return { code, jt: 0, jf: 0, k: k >>> 0 };
}

/** A conditional jump; `jt`/`jf` must fit in 8 bits. */
export function jump(code: number, k: number, jt: number, jf: number): SockFilter {
  if (jt < 0 || jt > 255 || jf < 0 || jf > 255) {
    throw new RangeError(`bpf: jump offsets ${jt}/${jf} do not fit in 8 bits`);
  }
  return { code, jt, jf, k: k >>> 0 };
}

/** Encodes instructions as consecutive 8-byte little-endian `struct sock_filter` records. */
export function encodeProgram(insns: readonly SockFilter[]): Uint8Array {
  const out = new Uint8Array(insns.length * 8);
  const view = new DataView(out.buffer);
  insns.forEach((ins, i) => {
    view.setUint16(i * 8, ins.code, true);
    view.setUint8(i * 8 + 2, ins.jt);
    view.setUint8(i * 8 + 3, ins.jf);
    view.setUint32(i * 8 + 4, ins.k >>> 0, true);
  });
  return out;
}

/** Decodes `struct sock_filter` records (the inverse of {@linkcode encodeProgram}). */
export function decodeProgram(program: Uint8Array): SockFilter[] {
  if (program.length % 8 !== 0) {
    throw new RangeError(`bpf: program length ${program.length} is not a multiple of 8`);
  }
  const view = new DataView(program.buffer, program.byteOffset, program.byteLength);
  const insns: SockFilter[] = [];
  for (let off = 0; off < program.length; off += 8) {
    insns.push({
      code: view.getUint16(off, true),
      jt: view.getUint8(off + 2),
      jf: view.getUint8(off + 3),
      k: view.getUint32(off + 4, true),
    });
  }
  return insns;
}

/** The fields of `struct seccomp_data` a filter can look at. */
export interface SeccompData {
  /** Syscall number (u32; x32 calls carry bit 0x40000000). */
  nr: number;
  /** AUDIT_ARCH_* value. */
  arch: number;
  /** Instruction pointer; 0 when absent. */
  ip?: bigint;
  /** Up to six u64 arguments; missing ones are 0. */
  args: readonly bigint[];
}

/** `struct seccomp_data` as the kernel lays it out (little-endian): 64 bytes. */
export function seccompDataBytes(data: SeccompData): Uint8Array {
  const out = new Uint8Array(64);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.nr >>> 0, true);
  view.setUint32(4, data.arch >>> 0, true);
  view.setBigUint64(8, BigInt.asUintN(64, data.ip ?? 0n), true);
  for (let i = 0; i < 6; i++) {
    view.setBigUint64(16 + 8 * i, BigInt.asUintN(64, data.args[i] ?? 0n), true);
  }
  return out;
}

/**
 * Runs a seccomp BPF program over `data` and returns its SECCOMP_RET_* value (u32). Throws
 * `RangeError` on what the kernel's checker would reject: unknown opcodes, unaligned or
 * out-of-range loads, jumps past the end, or falling off the end.
 */
export function runBpf(program: Uint8Array, data: SeccompData): number {
  const insns = decodeProgram(program);
  const mem = new DataView(seccompDataBytes(data).buffer);
  let a = 0;
  let pc = 0;
  const target = (offset: number) => {
    const to = pc + 1 + offset;
    if (to >= insns.length) throw new RangeError(`bpf: jump from ${pc} past the end`);
    return to;
  };
  while (pc < insns.length) {
    const { code, jt, jf, k } = insns[pc];
    switch (code) {
      case BPF.LD_W_ABS:
        if (k % 4 !== 0 || k + 4 > 64) throw new RangeError(`bpf: bad load offset ${k} at ${pc}`);
        a = mem.getUint32(k, true);
        pc++;
        break;
      case BPF.ALU_AND_K:
        a = (a & k) >>> 0;
        pc++;
        break;
      case BPF.JA:
        pc = target(k);
        break;
      case BPF.JEQ_K:
        pc = target(a === k ? jt : jf);
        break;
      case BPF.JGT_K:
        pc = target(a > k ? jt : jf);
        break;
      case BPF.JGE_K:
        pc = target(a >= k ? jt : jf);
        break;
      case BPF.JSET_K:
        pc = target((a & k) !== 0 ? jt : jf);
        break;
      case BPF.RET_K:
        return k >>> 0;
      default:
        throw new RangeError(`bpf: unsupported opcode 0x${code.toString(16)} at ${pc}`);
    }
  }
  throw new RangeError("bpf: program ran off its end without returning");
}
