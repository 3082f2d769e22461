/**
 * Runs lifecycle hooks (config.md "POSIX-platform Hooks"): each hook gets the container's state
 * JSON on stdin, its own args and env, and is killed after its timeout. prestart,
 * createRuntime, poststart and poststop hooks run in the runtime's namespaces;
 * createContainer and startContainer hooks in the container's (joined through the syscall
 * runner, so no runtime code enters the container).
 * @module
 */
import { kill, pipe, spawnSyscalls, waitPid, writeFd } from "../../../ffi/process.ts";
import { closeFd } from "../../../ffi/process.ts";
import { SYS } from "../../../ffi/syscall_numbers.ts";
import { OciboxError } from "../../errors.ts";
import type { Op } from "../plan/ops.ts";
import type { Hook } from "../spec/spec_types.ts";
import { closeNamespaces, openNamespacesOf } from "./join.ts";

/** A hook that failed or timed out. */
export class HookError extends OciboxError {
  constructor(point: string, hook: Hook, reason: string) {
    super("HOOK", `${point} hook ${hook.path} ${reason}`);
  }
}

/**
 * Runs `hooks` in order; the first failure throws {@linkcode HookError}. With `inContainer`
 * (the container's init pid) each runs in that process's namespaces.
 */
export async function runHooks(
  hooks: readonly Hook[] | undefined,
  state: Record<string, unknown>,
  point: string,
  inContainer?: number,
): Promise<void> {
  for (const hook of hooks ?? []) {
    if (inContainer === undefined) await runHook(hook, state, point);
    else await runHookIn(inContainer, hook, state, point);
  }
}

async function runHook(hook: Hook, state: Record<string, unknown>, point: string) {
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

/** Runs one hook in the namespaces of process `pid` (forking into its pid namespace). */
async function runHookIn(pid: number, hook: Hook, state: Record<string, unknown>, point: string) {
  const { lowerOps } = await import("../init/lower.ts");
  const namespaces = openNamespacesOf(pid);
  const [stdin, stateW] = pipe(false);
  let report;
  try {
    const ops: Op[] = [{ op: "dumpable", on: false }];
    for (const ns of namespaces) ops.push({ op: "joinNamespace", ...ns });
    if (namespaces.some((ns) => ns.type === "pid" || ns.type === "time")) ops.push({ op: "fork" });
    ops.push({ op: "resetSignals" });
    const program = lowerOps(ops);
    program.push(
      { nr: SYS.dup3, args: [stdin, 0, 0], label: "the state as stdin" },
      ...lowerOps([{
        op: "exec",
        path: hook.path,
        args: hook.args ?? [hook.path],
        env: hook.env ?? [],
      }]),
    );
    report = spawnSyscalls(0, program, undefined, {
      shareMemory: !namespaces.some((ns) => ns.type === "time"),
    });
  } finally {
    closeNamespaces(namespaces);
    closeFd(stdin);
  }
  try {
    writeFd(stateW, new TextEncoder().encode(JSON.stringify(state)));
  } catch { /* the hook does not read it */ }
  closeFd(stateW);
  if (report.failed) {
    waitPid(report.pid);
    const { describeFailure } = await import("../../../ffi/runner_program.ts");
    throw new HookError(
      point,
      hook,
      `could not start: ${describeFailure(report.failed.step, report.failed.errno)}`,
    );
  }
  const deadline = hook.timeout ? Date.now() + hook.timeout * 1000 : Infinity;
  for (let delay = 1;; delay = Math.min(delay * 2, 20)) {
    const status = waitPid(report.pid, true);
    if ("exited" in status) {
      if (status.code === 0) return;
      throw new HookError(point, hook, `failed with exit code ${status.code}`);
    }
    if ("signaled" in status) {
      throw new HookError(point, hook, `was killed by signal ${status.signal}`);
    }
    if (Date.now() > deadline) {
      kill(report.pid, 9);
      waitPid(report.pid);
      throw new HookError(point, hook, `timed out after ${hook.timeout} s`);
    }
    await new Promise((r) => setTimeout(r, delay));
  }
}
