/**
 * Flag parsing for commands: GNU-style long and short flags (`--name value`, `--name=value`,
 * `-n value`, grouped `-ab`, repeatable flags, `--` ending them), errors as
 * {@linkcode UsageError}, and `--help` handled the same way everywhere. Written here rather
 * than taken from node:util's parseArgs, whose import alone costs ~10 ms of every start.
 * @module
 */
import { UsageError } from "../errors.ts";

/** One flag: a string value or a switch, maybe repeatable, maybe with a one-letter alias. */
export interface FlagOption {
  readonly type: "string" | "boolean";
  readonly short?: string;
  readonly multiple?: boolean;
}

type Options = Readonly<Record<string, FlagOption>>;

type ValueOf<O extends FlagOption> = O["type"] extends "string" ? string : boolean;

/** The parsed values: a flag's value (an array for repeatable ones), absent when not given. */
export type FlagValues<T extends Options> = {
  -readonly [K in keyof T]?: T[K]["multiple"] extends true ? ValueOf<T[K]>[] : ValueOf<T[K]>;
};

/** Parsed flags and positionals of one command line. */
export interface Parsed<T extends Options> {
  values: FlagValues<T>;
  positionals: string[];
  help: boolean;
}

/**
 * Parses `args` against `options` (plus `--help`/`-h`).
 *
 * @example
 * ```ts
 * import { parseFlags } from "./args.ts";
 * const p = parseFlags(["--raw", "oci:x"], { raw: { type: "boolean" } });
 * console.log(p.values.raw, p.positionals); // true [ "oci:x" ]
 * ```
 */
export function parseFlags<T extends Options>(args: string[], options: T): Parsed<T> {
  const all: Record<string, FlagOption> = { ...options, help: { type: "boolean", short: "h" } };
  const byShort = new Map<string, string>();
  for (const [name, o] of Object.entries(all)) if (o.short) byShort.set(o.short, name);
  const values: Record<string, unknown> = {};
  const positionals: string[] = [];
  const set = (name: string, value: string | boolean) => {
    if (all[name].multiple) ((values[name] ??= []) as unknown[]).push(value);
    else values[name] = value;
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      positionals.push(arg);
      continue;
    }
    // The value of a string flag: after "=", or the next argument.
    const takeValue = (flag: string, inline: string | undefined): string => {
      if (inline !== undefined) return inline;
      if (i + 1 >= args.length) throw new UsageError(`option ${flag} needs a value`);
      return args[++i];
    };
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = arg.slice(2, eq < 0 ? undefined : eq);
      const inline = eq < 0 ? undefined : arg.slice(eq + 1);
      const o = all[name];
      if (!o) throw new UsageError(`unknown option --${name}`);
      if (o.type === "boolean") {
        if (inline !== undefined) throw new UsageError(`option --${name} takes no value`);
        set(name, true);
      } else set(name, takeValue(`--${name}`, inline));
      continue;
    }
    // -abc: switches in a row; a string flag takes the rest of the word or the next argument.
    for (let j = 1; j < arg.length; j++) {
      const name = byShort.get(arg[j]);
      if (!name) throw new UsageError(`unknown option -${arg[j]}`);
      if (all[name].type === "boolean") {
        set(name, true);
        continue;
      }
      set(name, takeValue(`-${arg[j]}`, j + 1 < arg.length ? arg.slice(j + 1) : undefined));
      break;
    }
  }
  const help = values.help === true;
  delete values.help;
  return { values: values as FlagValues<T>, positionals, help };
}

/** Throws a usage error unless exactly `n` positionals were given. */
export function expectPositionals(positionals: string[], n: number, usage: string): void {
  if (positionals.length !== n) {
    throw new UsageError(
      `expected ${n} argument${n === 1 ? "" : "s"}, got ${positionals.length}; usage: ${usage}`,
    );
  }
}

/** Returns the last value of a possibly repeated string flag. */
export function lastString(v: unknown): string | undefined {
  if (Array.isArray(v)) return v.length ? String(v[v.length - 1]) : undefined;
  return typeof v === "string" ? v : undefined;
}

/** Returns all values of a repeatable string flag. */
export function allStrings(v: unknown): string[] {
  if (Array.isArray(v)) return v.map(String);
  return typeof v === "string" ? [v] : [];
}
