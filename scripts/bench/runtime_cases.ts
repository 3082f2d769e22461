/**
 * The runtime suite's measurements besides `run`: the create → start → wait → delete cycle as
 * podman and containerd drive a runtime (separate processes), each verb's start-up and module
 * count, `podman run --rm` with each runtime, and the memory of 50 containers created and
 * waiting for `start`. Each compares ocibox with runc (and crun where it runs) in the same run.
 * @module
 */
import { CommandFailed, median } from "./measure.ts";

const decoder = new TextDecoder();

/** A runtime as a command prefix: `[...argv, "--root", STATE]` comes before the verb. */
export interface RuntimeCli {
  name: string;
  argv: string[];
  state: string;
}

/** Runs `cmd` to its end (stdin null); throws with its stderr unless it exits 0. */
export async function run(cmd: string[], cwd?: string, env?: Record<string, string>) {
  const out = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    cwd,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new CommandFailed(cmd, out.code, decoder.decode(out.stderr) + decoder.decode(out.stdout));
  }
  return decoder.decode(out.stdout);
}

/** Milliseconds `cmd` takes from spawn to exit. */
export async function timed(cmd: string[], cwd?: string): Promise<number> {
  const t = performance.now();
  await run(cmd, cwd);
  return performance.now() - t;
}

/**
 * Milliseconds a `create` takes. Its output goes nowhere: the created container keeps
 * create's stdio for its program (as runc's does), so pipes would not end before it does.
 */
export async function timedCreate(cmd: string[]): Promise<number> {
  const t = performance.now();
  const status = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn().status;
  if (!status.success) throw new CommandFailed(cmd, status.code, "(stderr not kept)");
  return performance.now() - t;
}

const verb = (rt: RuntimeCli, ...args: string[]) => [...rt.argv, "--root", rt.state, ...args];

/** Whether process `pid` has ended (gone, or a zombie nobody reaps yet). */
function ended(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true;
  }
}

/** Per-verb and total medians of the create → start → wait → delete cycle. */
export interface CycleResult {
  create: number[];
  start: number[];
  wait: number[];
  delete: number[];
  total: number[];
}

/**
 * The lifecycle as podman and containerd drive it: `create --pid-file`, `start`, wait for the
 * container's process to end (polled, as a shim's waitpid would see it), `delete`: each a
 * process of its own. The bundle's program is `true`.
 */
export async function lifecycleCycle(
  rt: RuntimeCli,
  bundle: string,
  id: string,
  into: CycleResult,
): Promise<void> {
  const pidFile = `${rt.state}-${id}.pid`;
  const t0 = performance.now();
  into.create.push(
    await timedCreate(verb(rt, "create", "--bundle", bundle, "--pid-file", pidFile, id)),
  );
  const pid = Number(await Deno.readTextFile(pidFile));
  into.start.push(await timed(verb(rt, "start", id)));
  const t1 = performance.now();
  while (!ended(pid)) await new Promise((r) => setTimeout(r, 1));
  into.wait.push(performance.now() - t1);
  into.delete.push(await timed(verb(rt, "delete", id)));
  into.total.push(performance.now() - t0);
  await Deno.remove(pidFile).catch(() => {});
}

/** An empty {@linkcode CycleResult}. */
export const emptyCycle = (): CycleResult => ({
  create: [],
  start: [],
  wait: [],
  delete: [],
  total: [],
});

/** Median ms of `state` and `list` against a created container, per runtime. */
export async function verbTimes(
  rt: RuntimeCli,
  bundle: string,
  runs: number,
): Promise<{ state: number; list: number; kill: number }> {
  const id = `verbs-${Deno.pid}`;
  await timedCreate(verb(rt, "create", "--bundle", bundle, id));
  const state: number[] = [], list: number[] = [], kill: number[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      state.push(await timed(verb(rt, "state", id)));
      list.push(await timed(verb(rt, "list")));
      // Signal 0 checks the process without disturbing it.
      kill.push(await timed(verb(rt, "kill", id, "0")).catch(() => NaN));
    }
  } finally {
    await run(verb(rt, "delete", "--force", id)).catch(() => {});
  }
  return { state: median(state), list: median(list), kill: median(kill) };
}

/** How many modules `deno info` lists for an entry module (dynamic imports included). */
export async function moduleCount(entry: string): Promise<number> {
  const info = JSON.parse(await run([Deno.execPath(), "info", "--json", entry])) as {
    modules: unknown[];
  };
  return info.modules.length;
}

/**
 * Creates `count` containers waiting for `start` and sums the proportional set size (Pss,
 * from /proc/PID/smaps_rollup) of their init processes; then deletes them.
 */
export async function waitingInitsMemory(
  rt: RuntimeCli,
  bundle: string,
  count: number,
): Promise<{ totalMb: number; perInitKb: number }> {
  const ids = Array.from({ length: count }, (_, i) => `wait-${Deno.pid}-${i}`);
  let totalKb = 0;
  try {
    for (const id of ids) {
      await timedCreate(
        verb(rt, "create", "--bundle", bundle, "--pid-file", `${rt.state}-${id}.pid`, id),
      );
    }
    for (const id of ids) {
      const pid = Number(await Deno.readTextFile(`${rt.state}-${id}.pid`));
      const rollup = await Deno.readTextFile(`/proc/${pid}/smaps_rollup`);
      totalKb += Number(rollup.match(/^Pss:\s+(\d+) kB/m)?.[1] ?? NaN);
    }
  } finally {
    for (const id of ids) {
      await run(verb(rt, "delete", "--force", id)).catch(() => {});
      await Deno.remove(`${rt.state}-${id}.pid`).catch(() => {});
    }
  }
  return { totalMb: totalKb / 1024, perInitKb: totalKb / count };
}

/**
 * `podman run --rm IMAGE true` with each runtime, alternating; median ms per runtime. `podman`
 * is the command prefix (storage, containers.conf) set up by the caller.
 */
export async function podmanRuns(
  podman: (args: string[]) => Promise<number>,
  image: string,
  runtimes: readonly string[],
  runs: number,
  warmup: number,
): Promise<Record<string, number[]>> {
  const samples: Record<string, number[]> = Object.fromEntries(runtimes.map((r) => [r, []]));
  for (let i = 0; i < warmup + runs; i++) {
    // The order rotates so that no runtime always follows the same one.
    for (let k = 0; k < runtimes.length; k++) {
      const r = runtimes[(k + i) % runtimes.length];
      const ms = await podman(["--runtime", r, "run", "--rm", "--network=none", image, "true"]);
      if (i >= warmup) samples[r].push(ms);
    }
  }
  return samples;
}
