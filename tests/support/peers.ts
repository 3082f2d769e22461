/**
 * Real peer tools for interop tests. Outside CI a test whose peer is missing is skipped with
 * the reason in its name; in CI (CI=true) it runs and fails, because a missing peer there is a
 * broken machine, not a reason to pass.
 * @module
 */

const found = new Map<string, string | undefined>();

/** The absolute path of `tool` on PATH, or undefined. */
export function which(tool: string): string | undefined {
  if (found.has(tool)) return found.get(tool);
  let path: string | undefined;
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      const p = `${dir}/${tool}`;
      const st = Deno.statSync(p);
      if (st.isFile && (st.mode ?? 0) & 0o111) {
        path = p;
        break;
      }
    } catch { /* not here */ }
  }
  found.set(tool, path);
  return path;
}

/** True when running in CI, where missing peers are failures. */
export const IN_CI = Deno.env.get("CI") === "true";

/** True when the tests run as root (namespaces, devices, chown). */
export const IS_ROOT = Deno.uid() === 0;

/** Options for {@linkcode peerTest}. */
export interface PeerTestOptions {
  /** Tools that must be on PATH. */
  peers?: string[];
  /** The test needs root. */
  root?: boolean;
}

/**
 * Registers a Deno test that needs peer tools (and maybe root).
 *
 * @example
 * ```ts
 * import { peerTest } from "./peers.ts";
 * peerTest("skopeo reads our layout", { peers: ["skopeo"] }, async () => {});
 * ```
 */
export function peerTest(
  name: string,
  options: PeerTestOptions,
  fn: (t: Deno.TestContext) => void | Promise<void>,
): void {
  const missing = (options.peers ?? []).filter((p) => !which(p));
  const needsRoot = options.root === true && !IS_ROOT;
  const reasons = [
    ...missing.map((m) => `${m} not installed`),
    ...(needsRoot ? ["needs root"] : []),
  ];
  if (reasons.length && !IN_CI) {
    Deno.test({ name: `${name} (skipped: ${reasons.join(", ")})`, ignore: true, fn: () => {} });
    return;
  }
  Deno.test(name, async (t) => {
    if (reasons.length) {
      throw new Error(`CI machine lacks what this test needs: ${reasons.join(", ")}`);
    }
    await fn(t);
  });
}

/** Runs a command, returning stdout; throws with stderr when it fails. */
export async function run(
  cmd: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; stdin?: Uint8Array } = {},
): Promise<string> {
  const out = await runRaw(cmd, args, options);
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed (${out.code}): ${out.stderr.trim()}`);
  }
  return out.stdout;
}

/** Runs a command and returns its exit code and output, whatever the outcome. */
export async function runRaw(
  cmd: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; stdin?: Uint8Array } = {},
): Promise<{ success: boolean; code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(cmd, {
    args,
    cwd: options.cwd,
    env: options.env,
    stdin: options.stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin) {
    const w = child.stdin.getWriter();
    await w.write(options.stdin);
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return {
    success: out.success,
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

/** What a peer tool printed and how it ended. */
export interface PeerResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a peer tool to its end with stdin closed, under `timeout(1)`: a hang (a runtime holding
 * the caller's pipes, say) fails the test instead of stopping CI.
 */
export async function runPeer(
  cmd: string,
  args: string[],
  options: { env?: Record<string, string>; timeoutSeconds?: number } = {},
): Promise<PeerResult> {
  const out = await new Deno.Command("timeout", {
    args: ["-k", "5", String(options.timeoutSeconds ?? 120), cmd, ...args],
    env: options.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}
