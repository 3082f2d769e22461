/**
 * Programs for the syscall runner (ffi/asm): a list of system-call steps and the memory they
 * point into (strings, structs, arrays of pointers), laid out as one block the runner reads.
 * Steps can save a result (a descriptor) in a slot and pass it to later steps, allow given
 * errnos, jump on success or on an allowed failure, fork, or insist on an exact result.
 *
 * The same program runs in a clone()d copy of the runtime (laid out in the runtime's memory)
 * or as the whole container init (laid out at a fixed address inside a tiny ELF). Pure: this
 * module only computes bytes; {@linkcode simulateProgram} runs a program against a fake kernel
 * so the order and arguments of what the runner would do can be tested without root.
 *
 * @example
 * ```ts
 * import { cstrBuf, layoutProgram, slot } from "./runner_program.ts";
 * const layout = layoutProgram([
 *   { nr: 257, args: [-100, cstrBuf("/etc"), 0o10000000, 0], label: "open /etc", save: 0 },
 *   { nr: 3, args: [slot(0)], label: "close /etc" },
 * ], { statusFd: 2 });
 * const image = new Uint8Array(layout.size);
 * layout.write(image, 0x10000000n);
 * ```
 * @module
 */
import { ErrnoError } from "./errno.ts";

/**
 * Bytes placed in the program's memory. `point` makes 8 of its bytes hold another buffer's
 * address once the program is laid out (argv arrays, struct msghdr, struct sock_fprog).
 */
export class Buf {
  readonly relocs: { at: number; target: Buf }[] = [];
  constructor(readonly bytes: Uint8Array, readonly align = 8) {}

  /** Stores `target`'s address in the 8 bytes at `at` when laid out. */
  point(at: number, target: Buf): this {
    if (at < 0 || at + 8 > this.bytes.length || at % 8) {
      throw new RangeError(`bad pointer at ${at}`);
    }
    this.relocs.push({ at, target });
    return this;
  }
}

const encoder = new TextEncoder();

/** A NUL-terminated UTF-8 string. */
export function cstrBuf(s: string): Buf {
  if (s.includes("\0")) throw new TypeError(`a NUL in ${JSON.stringify(s)}`);
  return new Buf(encoder.encode(s + "\0"), 1);
}

/** A copy of a typed array's bytes. */
export function bytesBuf(view: ArrayBufferView): Buf {
  return new Buf(new Uint8Array(view.buffer, view.byteOffset, view.byteLength).slice());
}

/** `n` zero bytes (a buffer the kernel writes into). */
export function zerosBuf(n: number): Buf {
  return new Buf(new Uint8Array(n));
}

/** 64-bit little-endian integers. */
export function u64Buf(values: readonly (number | bigint)[]): Buf {
  const a = new BigUint64Array(values.map((v) => BigInt.asUintN(64, BigInt(v))));
  return new Buf(new Uint8Array(a.buffer));
}

/** A NULL-terminated array of pointers (argv, envp). */
export function pointerArray(items: readonly (Buf | null)[]): Buf {
  const buf = new Buf(new Uint8Array((items.length + 1) * 8));
  items.forEach((b, i) => b && buf.point(i * 8, b));
  return buf;
}

/** A NULL-terminated array of pointers to C strings. */
export function cstrArray(items: readonly string[]): Buf {
  return pointerArray(items.map(cstrBuf));
}

/** An argument taken from a slot an earlier step saved its result in. */
export interface SlotRef {
  slot: number;
}

/** The argument that is slot `n`'s value. */
export const slot = (n: number): SlotRef => ({ slot: n });

/** A syscall argument: an integer, a buffer (passed by address; NULL for null), or a slot. */
export type Arg = number | bigint | null | Buf | SlotRef | ArrayBufferView;

/** One system call of a program. */
export interface Step {
  nr: number;
  args: readonly Arg[];
  /** What the step does, for error messages ("mount proc on /proc"). */
  label: string;
  /**
   * `fork`: a raw fork whose parent reports the child's pid and exits, so the rest runs in the
   * child; `ignore`: any failure goes on. Default: a failure not allowed stops the program.
   */
  mode?: "strict" | "fork" | "ignore";
  /** errnos (below 64) that count as an allowed outcome. */
  allow?: readonly number[];
  /** Where an allowed failure goes (a mark's name; default the next step). */
  onError?: string;
  /** Where success goes (a mark's name; default the next step). */
  onOk?: string;
  /** Save the result in this slot. */
  save?: number;
  /** The result must be exactly this (a short read is a failure with errno 0). */
  expect?: number | bigint;
  /** Plainer words for some errnos of this step, for its error message. */
  explain?: Readonly<Record<number, string>>;
}

/** A named position between steps, for jumps. */
export interface Mark {
  mark: string;
}

/** What a program is made of. */
export type Item = Step | Mark;

/** A program laid out: its size, its steps by index, and a writer for a given load address. */
export interface Layout {
  size: number;
  steps: readonly Step[];
  /** Writes the block into `into` (at least `size` bytes), as if `into` were at `base`. */
  write(into: Uint8Array, base: bigint): void;
}

/** Options of {@linkcode layoutProgram}. */
export interface LayoutOptions {
  /** Where the runner writes fork and failure records. */
  statusFd: number;
  /** Added to a failing step's index in its record (tells two programs on one pipe apart). */
  indexBase?: number;
  /** How many slots the program may use (default 32). */
  slots?: number;
}

/** Size of the block's header and of one entry (see ffi/asm). */
export const HEADER_SIZE = 32;
export const ENTRY_SIZE = 96;
const MODE = { strict: 0, fork: 1, ignore: 2 } as const;
const NEXT_STEP = 0xffffffff;

/** A fork record's first word, and the first word of the records a program writes itself. */
export const FORK_RECORD = 0xffffffffffffffffn;

const isMark = (item: Item): item is Mark => "mark" in item;
const isSlot = (a: Arg): a is SlotRef =>
  typeof a === "object" && a !== null && !(a instanceof Buf) && !ArrayBuffer.isView(a);

/** Lays out `items` (steps and marks) as one block of runner memory. */
export function layoutProgram(items: readonly Item[], options: LayoutOptions): Layout {
  const nslots = options.slots ?? 32;
  const steps: Step[] = [];
  const marks = new Map<string, number>();
  for (const item of items) {
    if (isMark(item)) {
      if (marks.has(item.mark)) throw new Error(`mark ${item.mark} is defined twice`);
      marks.set(item.mark, steps.length);
    } else steps.push(item);
  }
  const target = (name: string | undefined, step: Step): number => {
    if (name === undefined) return NEXT_STEP;
    const at = marks.get(name);
    if (at === undefined) throw new Error(`${step.label}: no mark ${name}`);
    return at;
  };

  // Buffers: every one reachable from an argument, each placed once.
  const bufs = new Map<Buf, number>();
  const argBufs = new Map<ArrayBufferView, Buf>();
  const slotsAt = HEADER_SIZE + steps.length * ENTRY_SIZE;
  let size = slotsAt + nslots * 8;
  const place = (b: Buf): void => {
    if (bufs.has(b)) return;
    size = Math.ceil(size / b.align) * b.align;
    bufs.set(b, size);
    size += b.bytes.length;
    for (const r of b.relocs) place(r.target);
  };
  const asBuf = (a: ArrayBufferView): Buf => {
    let b = argBufs.get(a);
    if (!b) argBufs.set(a, b = bytesBuf(a));
    return b;
  };
  for (const step of steps) {
    if (step.args.length > 6) throw new Error(`${step.label}: more than 6 arguments`);
    for (const a of step.args) {
      if (a instanceof Buf) place(a);
      else if (ArrayBuffer.isView(a)) place(asBuf(a));
      else if (isSlot(a) && !(Number.isInteger(a.slot) && a.slot >= 0 && a.slot < nslots)) {
        throw new Error(`${step.label}: no slot ${a.slot}`);
      }
    }
    if (step.save !== undefined && !(step.save >= 0 && step.save < nslots)) {
      throw new Error(`${step.label}: no slot ${step.save}`);
    }
    for (const e of step.allow ?? []) {
      if (!(e > 0 && e < 64)) throw new Error(`${step.label}: errno ${e} cannot be allowed`);
    }
  }
  size = Math.ceil(size / 8) * 8;

  return {
    size,
    steps,
    write(into: Uint8Array, base: bigint): void {
      if (into.length < size) throw new RangeError("the block does not fit");
      into.fill(0, 0, size);
      const view = new DataView(into.buffer, into.byteOffset, size);
      // Plain numbers where they fit (everything but addresses and huge values): BigInt
      // arithmetic per field made laying out an init program take ~10 ms.
      const u64 = (at: number, v: number | bigint) => {
        if (typeof v === "number" && Number.isSafeInteger(v)) {
          view.setUint32(at, v >>> 0, true);
          view.setUint32(at + 4, v < 0 ? 0xffffffff : Math.floor(v / 0x100000000) >>> 0, true);
        } else view.setBigUint64(at, BigInt.asUintN(64, BigInt(v)), true);
      };
      // User-space addresses have 47 or 48 bits: exact as numbers.
      const baseNumber = Number(base);
      if (!Number.isSafeInteger(baseNumber)) throw new RangeError("base address out of range");
      const address = (b: Buf) => baseNumber + bufs.get(b)!;
      u64(0, steps.length);
      u64(8, options.statusFd);
      u64(16, baseNumber + slotsAt);
      u64(24, options.indexBase ?? 0);
      for (let i = 0; i < steps.length; i++) {
        const step = steps[i];
        const at = HEADER_SIZE + i * ENTRY_SIZE;
        // Bits 0-1 mode, 8-13 slot arguments, 14 exact result, 15-23 saved slot: < 2^24.
        let control = MODE[step.mode ?? "strict"];
        u64(at, step.nr);
        const args = step.args;
        for (let j = 0; j < args.length; j++) {
          const a = args[j];
          const where = at + 8 + j * 8;
          if (a === null) continue; // already zero
          if (typeof a === "number" || typeof a === "bigint") u64(where, a);
          else if (a instanceof Buf) u64(where, address(a));
          else if (ArrayBuffer.isView(a)) u64(where, address(asBuf(a)));
          else {
            u64(where, a.slot);
            control |= 1 << (8 + j);
          }
        }
        if (step.expect !== undefined) {
          control |= 1 << 14;
          u64(at + 80, step.expect);
        }
        if (step.save !== undefined) control |= (1 << 15) | (step.save << 16);
        u64(at + 56, control);
        if (step.allow?.length) {
          let lo = 0, hi = 0;
          for (const e of step.allow) e < 32 ? (lo |= 1 << e) : (hi |= 1 << (e - 32));
          view.setUint32(at + 64, lo >>> 0, true);
          view.setUint32(at + 68, hi >>> 0, true);
        }
        const ok = step.onOk === undefined ? i + 1 : target(step.onOk, step);
        const err = step.onError === undefined ? i + 1 : target(step.onError, step);
        view.setUint32(at + 72, ok === NEXT_STEP ? i + 1 : ok, true);
        view.setUint32(at + 76, err === NEXT_STEP ? i + 1 : err, true);
      }
      for (const [b, at] of bufs) {
        into.set(b.bytes, at);
        for (const r of b.relocs) u64(at + r.at, address(r.target));
      }
    },
  };
}

/** One line for a failed step: what it did, and why it failed (errno 0: a short result). */
export function describeFailure(step: Step, errno: number): string {
  if (errno === 0) return `${step.label}: an unexpected result (the runtime went away?)`;
  const why = step.explain?.[errno];
  const text = new ErrnoError(errno, step.label).message;
  return why ? `${step.label}: ${why} (${new ErrnoError(errno, "").code})` : text;
}

/** What a fake kernel sees of one step: integers, buffers as given, slot values resolved. */
export type SimArg = bigint | Buf | null;

/** A step the simulated runner made, with its outcome. */
export interface SimCall {
  index: number;
  step: Step;
  args: SimArg[];
  result: bigint | { errno: number };
}

/** How a simulated program ended. */
export type SimEnd =
  | { exit: 127 }
  | { failed: number; errno: number }
  | { forked: true }
  | { stopped: string };

/**
 * Runs a program the way the runner does, against `kernel` (which returns a result or an
 * errno for each call); returns every call made and how the program ended. Used by unit tests
 * as the recording double of the real runner. A fork continues as the child; `stop` ends the
 * simulation at a step whose label matches (execve, say).
 */
export function simulateProgram(
  items: readonly Item[],
  kernel: (step: Step, args: SimArg[]) => bigint | number | { errno: number },
  options: { stop?: (step: Step) => boolean; maxCalls?: number } = {},
): { calls: SimCall[]; end: SimEnd } {
  const layout = layoutProgram(items, { statusFd: -1 });
  const steps = layout.steps;
  const marks = new Map<string, number>();
  let n = 0;
  for (const item of items) {
    if (isMark(item)) marks.set(item.mark, n);
    else n++;
  }
  const slots = new Map<number, bigint>();
  const calls: SimCall[] = [];
  for (let i = 0; i < steps.length;) {
    if (calls.length >= (options.maxCalls ?? 100_000)) throw new Error("the program loops");
    const step = steps[i];
    if (options.stop?.(step)) return { calls, end: { stopped: step.label } };
    const args: SimArg[] = step.args.map((a) => {
      if (a === null) return null;
      if (typeof a === "number" || typeof a === "bigint") return BigInt.asUintN(64, BigInt(a));
      if (a instanceof Buf) return a;
      if (ArrayBuffer.isView(a)) return bytesBuf(a);
      return slots.get(a.slot) ?? 0n;
    });
    const raw = kernel(step, args);
    const result = typeof raw === "object" ? raw : BigInt(raw);
    calls.push({ index: i, step, args, result });
    const jump = (name: string | undefined) => name === undefined ? i + 1 : marks.get(name)!;
    if (typeof result === "object") {
      const allowed = step.mode === "ignore" || (step.allow ?? []).includes(result.errno);
      if (!allowed) return { calls, end: { failed: i, errno: result.errno } };
      i = jump(step.onError);
      continue;
    }
    if (step.mode === "fork" && result !== 0n) return { calls, end: { forked: true } };
    if (step.expect !== undefined && result !== BigInt(step.expect)) {
      return { calls, end: { failed: i, errno: 0 } };
    }
    if (step.save !== undefined) slots.set(step.save, result);
    i = jump(step.onOk);
  }
  return { calls, end: { exit: 127 } };
}
