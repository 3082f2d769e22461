/**
 * Runs the ocibox command line (`deno run -A main.ts ...`) the way a user does, in a child
 * process, returning its exit code, stdout as bytes and text, and stderr. For the
 * kill tests, {@linkcode spawnOcibox} starts it without waiting.
 *
 * @example
 * ```ts
 * import { ocibox } from "./ocibox_cli.ts";
 * const r = await ocibox(["inspect", "oci:/tmp/layout:v1"]);
 * if (r.code === 0) JSON.parse(r.stdout);
 * ```
 * @module
 */

/** The path of main.ts. */
export const MAIN_TS: string = new URL("../../main.ts", import.meta.url).pathname;

/** What one ocibox run produced. */
export interface OciboxResult {
  /** Exit code (128+N when killed by signal N). */
  code: number;
  /** The signal that killed it, or null when it exited. */
  signal: Deno.Signal | null;
  /** stdout decoded as UTF-8. */
  stdout: string;
  /** stdout exactly as written. */
  stdoutBytes: Uint8Array;
  stderr: string;
}

/** Options of {@linkcode ocibox} and {@linkcode spawnOcibox}. */
export interface OciboxOptions {
  /** Extra environment variables (the rest of the environment is inherited). */
  env?: Record<string, string>;
  cwd?: string;
}

function command(args: readonly string[], options: OciboxOptions): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-lock", MAIN_TS, ...args],
    env: { NO_COLOR: "1", ...options.env },
    cwd: options.cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

/** Decodes a finished child's output into an {@linkcode OciboxResult}. */
export function toResult(out: Deno.CommandOutput): OciboxResult {
  const dec = new TextDecoder();
  return {
    code: out.code,
    signal: out.signal,
    stdout: dec.decode(out.stdout),
    stdoutBytes: out.stdout,
    stderr: dec.decode(out.stderr),
  };
}

/** Runs `ocibox ARGS...` to the end, whatever its outcome. */
export async function ocibox(
  args: readonly string[],
  options: OciboxOptions = {},
): Promise<OciboxResult> {
  return toResult(await command(args, options).output());
}

/** Runs `ocibox ARGS...` and returns stdout; throws with stderr unless it exits 0. */
export async function ociboxOk(
  args: readonly string[],
  options: OciboxOptions = {},
): Promise<string> {
  const r = await ocibox(args, options);
  if (r.code !== 0) {
    throw new Error(`ocibox ${args.join(" ")} failed (${r.code}): ${r.stderr.trim()}`);
  }
  return r.stdout;
}

/** Starts `ocibox ARGS...` without waiting; read its end with `child.output()`. */
export function spawnOcibox(
  args: readonly string[],
  options: OciboxOptions = {},
): Deno.ChildProcess {
  return command(args, options).spawn();
}

/**
 * Runs `ocibox --root ROOT ARGS...` for a command whose container inherits its stdio (create,
 * run --detach): only the exit status is awaited (waiting for output would wait for the
 * container) and a failure is reported from the `--log` file, ROOT.log.
 */
export async function ociboxDetached(root: string, args: string[], cwd?: string): Promise<void> {
  const log = `${root}.log`;
  const status = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-lock", MAIN_TS, "--root", root, "--log", log, ...args],
    cwd,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn().status;
  if (!status.success) {
    throw new Error(
      `ocibox ${args.join(" ")} failed: ${await Deno.readTextFile(log).catch(() => "")}`,
    );
  }
}

/**
 * Writes an executable `ocibox` runtime wrapper at `path` (what podman, containerd and buildah
 * are given as their OCI runtime): it runs main.ts with Deno, from / when its working directory
 * was deleted (buildah runs its runtime in one, and Deno refuses to start there), and can log
 * every invocation's arguments to `logFile`.
 */
export async function writeRuntimeWrapper(path: string, logFile?: string): Promise<string> {
  const log = logFile ? `echo "$*" >> ${logFile}\n` : "";
  await Deno.writeTextFile(
    path,
    `#!/bin/sh\n${log}/bin/pwd >/dev/null 2>&1 || cd /\n` +
      `exec ${Deno.execPath()} run -A --no-lock --quiet ${MAIN_TS} "$@"\n`,
  );
  await Deno.chmod(path, 0o755);
  return path;
}
