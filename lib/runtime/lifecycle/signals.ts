/**
 * Signal names and numbers (Linux x86_64 and aarch64 share them), for `kill ID SIGNAL`.
 * @module
 */
import { UsageError } from "../../errors.ts";

/** Linux signal numbers by name (without the SIG prefix). */
export const SIGNALS: Readonly<Record<string, number>> = {
  HUP: 1,
  INT: 2,
  QUIT: 3,
  ILL: 4,
  TRAP: 5,
  ABRT: 6,
  IOT: 6,
  BUS: 7,
  FPE: 8,
  KILL: 9,
  USR1: 10,
  SEGV: 11,
  USR2: 12,
  PIPE: 13,
  ALRM: 14,
  TERM: 15,
  STKFLT: 16,
  CHLD: 17,
  CONT: 18,
  STOP: 19,
  TSTP: 20,
  TTIN: 21,
  TTOU: 22,
  URG: 23,
  XCPU: 24,
  XFSZ: 25,
  VTALRM: 26,
  PROF: 27,
  WINCH: 28,
  IO: 29,
  POLL: 29,
  PWR: 30,
  SYS: 31,
};

/**
 * Parses a signal as `kill` takes it: a number, `TERM`, `SIGTERM` (any case) or `RTMIN+n`.
 *
 * @example
 * ```ts
 * import { parseSignal } from "./signals.ts";
 * parseSignal("SIGKILL"); // 9
 * parseSignal("15"); // 15
 * ```
 */
export function parseSignal(text: string): number {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    // 0 only checks that the process is there (kill(2)), as runc allows.
    if (n >= 0 && n <= 64) return n;
  } else {
    const name = text.toUpperCase().replace(/^SIG/, "");
    if (name in SIGNALS) return SIGNALS[name];
    const rt = /^RTMIN(?:\+(\d+))?$/.exec(name) ?? /^RTMAX(?:-(\d+))?$/.exec(name);
    if (rt) {
      const n = name.startsWith("RTMIN") ? 34 + Number(rt[1] ?? 0) : 64 - Number(rt[1] ?? 0);
      if (n >= 34 && n <= 64) return n;
    }
  }
  throw new UsageError(`unknown signal ${JSON.stringify(text)}: use a name (TERM) or 0-64`);
}
