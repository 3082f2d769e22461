/**
 * Which of two commands sharing a name the arguments ask for: runc's verbs, which podman,
 * containerd and buildah call with bundles and container ids, or podman's, which people type
 * with images and names. The runc forms keep exactly their meaning:
 *
 * - `run` is runc's when it names a bundle (`-b`/`--bundle`), or when every flag is one of
 *   runc's `run` flags, exactly one argument (the id) is left and the current directory holds a
 *   `config.json` (runc's default bundle). Anything else is `run IMAGE [COMMAND]`.
 * - `ps` is runc's when it names a container (`ps [--format F] ID [PS ARGS]`); without an
 *   argument it lists containers as podman does.
 *
 * Pure: the caller says whether ./config.json exists.
 * @module
 */
import { UsageError } from "../errors.ts";
import { parseFlags } from "./args.ts";
import { CREATE_FLAGS } from "./container/create_flags.ts";

/** The flags of runc's `run` (create's and its own). */
export const RUNC_RUN_FLAGS = {
  ...CREATE_FLAGS,
  detach: { type: "boolean", short: "d" },
  keep: { type: "boolean" },
  "no-subreaper": { type: "boolean" },
} as const;

/**
 * "runc" or "image": which `run` `args` mean.
 *
 * @example
 * ```ts
 * import { runForm } from "./verb_forms.ts";
 * runForm(["-b", "/bundle", "c1"], false); // "runc"
 * runForm(["--rm", "busybox", "true"], true); // "image"
 * runForm(["c1"], true); // "runc": an id, in a bundle directory
 * ```
 */
export function runForm(args: readonly string[], cwdHasConfig: boolean): "runc" | "image" {
  for (const a of args) {
    if (a === "--") break;
    // -b (also after runc's one switch: -db) and --bundle only exist in runc's run.
    if (/^-d*b/.test(a) || a === "--bundle" || a.startsWith("--bundle=")) return "runc";
    if (!a.startsWith("-")) break; // flags stop at the first argument in both forms
  }
  if (!cwdHasConfig) return "image";
  try {
    const { positionals } = parseFlags([...args], RUNC_RUN_FLAGS);
    return positionals.length === 1 ? "runc" : "image";
  } catch (e) {
    if (e instanceof UsageError) return "image"; // a flag runc's run does not have
    throw e;
  }
}

/**
 * "runc" or "list": which `ps` `args` mean.
 *
 * @example
 * ```ts
 * import { psForm } from "./verb_forms.ts";
 * psForm(["-a"]); // "list"
 * psForm(["--format", "json", "c1"]); // "runc"
 * ```
 */
export function psForm(args: readonly string[]): "runc" | "list" {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--") return i + 1 < args.length ? "runc" : "list";
    if (a === "-f" || a === "--format") {
      i++; // runc's ps takes a value here
      continue;
    }
    if (!a.startsWith("-")) return "runc";
  }
  return "list";
}
