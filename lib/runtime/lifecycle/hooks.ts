/**
 * Runs lifecycle hooks (config.md "POSIX-platform Hooks"): each hook gets the container's state
 * JSON on stdin, its own args and env, and is killed after its timeout.
 * @module
 */
import { OciboxError } from "../../errors.ts";
import type { Hook } from "../spec_types.ts";

/** A hook that failed or timed out. */
export class HookError extends OciboxError {
  constructor(point: string, hook: Hook, reason: string) {
    super("HOOK", `${point} hook ${hook.path} ${reason}`);
  }
}

/** Runs `hooks` in order; the first failure throws {@linkcode HookError}. */
export async function runHooks(
  hooks: readonly Hook[] | undefined,
  state: Record<string, unknown>,
  point: string,
): Promise<void> {
  for (const hook of hooks ?? []) {
    const env = Object.fromEntries((hook.env ?? []).map((e) => {
      const i = e.indexOf("=");
      return i < 0 ? [e, ""] : [e.slice(0, i), e.slice(i + 1)];
    }));
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(hook.path, {
        args: (hook.args ?? [hook.path]).slice(1),
        env,
        clearEnv: true,
        stdin: "piped",
        stdout: "inherit",
        stderr: "inherit",
      }).spawn();
    } catch (e) {
      throw new HookError(point, hook, `could not start: ${(e as Error).message}`);
    }
    let timedOut = false;
    const timer = hook.timeout
      ? setTimeout(() => {
        timedOut = true;
        child.kill("SIGKILL");
      }, hook.timeout * 1000)
      : undefined;
    try {
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode(JSON.stringify(state))).catch(() => {});
      await w.close().catch(() => {});
      const status = await child.status;
      if (timedOut) throw new HookError(point, hook, `timed out after ${hook.timeout} s`);
      if (!status.success) {
        throw new HookError(
          point,
          hook,
          status.signal ? `was killed by ${status.signal}` : `failed with exit code ${status.code}`,
        );
      }
    } finally {
      clearTimeout(timer);
    }
  }
}
