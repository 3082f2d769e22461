/**
 * Flag parsing for commands: node:util parseArgs with errors turned into {@linkcode UsageError}
 * and `--help` handled the same way everywhere.
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "../errors.ts";

type Options = NonNullable<ParseArgsConfig["options"]>;

/** Parsed flags and positionals of one command line. */
export interface Parsed<T extends Options> {
  values: ReturnType<typeof parseArgs<{ options: T; allowPositionals: true; strict: true }>>[
    "values"
  ];
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
  const all = { ...options, help: { type: "boolean", short: "h" } } as T;
  try {
    const r = parseArgs({ args, options: all, allowPositionals: true, strict: true });
    const values = r.values as Record<string, unknown>;
    const help = values.help === true;
    delete values.help;
    return { values: r.values, positionals: r.positionals, help };
  } catch (e) {
    // node's messages span lines (the hint about --flag=-value is on the last): join them.
    const msg = e instanceof Error ? e.message : String(e);
    throw new UsageError(msg.split("\n").map((l) => l.trim()).filter(Boolean).join(" "));
  }
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
