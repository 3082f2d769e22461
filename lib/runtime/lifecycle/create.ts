/**
 * `create`: builds a container up to, not including, the user's program (runtime.md step 2).
 * The runtime plans the container (lib/runtime/plan), lowers the plan to a syscall-runner
 * program (lib/runtime/init/lower.ts) and launches it as the container's init
 * (lib/runtime/init/launch.ts): no JavaScript runs in the container. While init works, the
 * runtime puts it in its cgroup, answers its pauses (hooks; the program's path, found in the
 * container's root so a missing command fails here, as with runc) and returns once init
 * reports `created`. On any failure everything is undone: the process, the cgroup and the state
 * dir.
 * @module
 */
import { AT_FDCWD, CLONE, O_CLOEXEC, O_PATH, S_IFIFO } from "../../../ffi/constants.ts";
import { mknodat, openat } from "../../../ffi/fs.ts";
import { close } from "../../../ffi/fs.ts";
import { kill, pipe, readRecords, waitPid, writeFd } from "../../../ffi/process.ts";
import { describeFailure, type Item, type Step } from "../../../ffi/runner_program.ts";
import { OciboxError } from "../../errors.ts";
import type { CgroupManager } from "../cgroups/manager.ts";
import { initFdLayout, initPrologue, launchInit } from "../init/launch.ts";
import { lowerOps, PROGRAM_PATH_MAX, RECORD, SYNC_POINTS } from "../init/lower.ts";
import type { Plan } from "../plan/ops.ts";
import { planContainer } from "../plan/planner.ts";
import { timeOffsetsText } from "../plan/time_offsets.ts";
import type { Spec } from "../spec/spec_types.ts";
import { absoluteBundle, readBundleSpec, rootfsOf } from "./bundle.ts";
import { cgroupSources, isCgroupV2, openCgroup, withDeviceDefaults } from "./container_cgroup.ts";
import { runHooks } from "./hooks.ts";
import {
  childOnlyNamespaces,
  initSteps,
  namespaceSetup,
  writeIdMaps,
  writeTimeOffsets,
} from "../init/setup.ts";
import { checkMountTargets } from "./mount_targets.ts";
import { findProgram } from "./program.ts";
import { unmountShared } from "./shared_mounts.ts";
import {
  checkFree,
  checkId,
  containerDir,
  type ContainerRecord,
  fifoPath,
  processStartTime,
  writeRecord,
} from "./state_store.ts";

/** How to create. */
export interface CreateOptions {
  root: string;
  bundle: string;
  pidFile?: string;
  /** A unix socket path to send the pty master to (runc's --console-socket). */
  consoleSocket?: string;
  /** Or an already connected socket (run's own pty relay). */
  consoleFd?: number;
  noPivot?: boolean;
  preserveFds?: number;
  systemdCgroup?: boolean;
  /** Leave the exec FIFO out: `run` starts the program right away. */
  startNow?: boolean;
  /** The bundle's config, when the caller has read it already (with readBundleSpec). */
  spec?: Spec;
}

/** A created container. */
export interface Created {
  record: ContainerRecord;
  pid: number;
  /** Whether `pid` is this process's child (it always is: forks hand it to us). */
  isChild: boolean;
}

/** A step of init that failed, as one line. */
function initError(step: Step | undefined, errno: number): OciboxError {
  return new OciboxError(
    "INIT",
    `container init: ${step ? describeFailure(step, errno) : `failed (errno ${errno})`}`,
  );
}

/** The mount point (as mountinfo lists it) holding `path`. */
function mountPointOf(path: string): string | undefined {
  let real: string;
  try {
    real = Deno.realPathSync(path);
  } catch {
    return undefined;
  }
  let best: string | undefined;
  for (const line of Deno.readTextFileSync("/proc/self/mountinfo").split("\n")) {
    const point = line.split(" ")[4]?.replace(
      /\\([0-7]{3})/g,
      (_, o) => String.fromCharCode(parseInt(o, 8)),
    );
    if (!point) continue;
    const within = point === "/" || real === point || real.startsWith(point + "/");
    if (within && (best === undefined || point.length > best.length)) best = point;
  }
  return best;
}

/** What a creation holds until it is done, so a failure can undo all of it. */
class Undo {
  readonly fds: number[] = [];
  readonly sharedMounts: string[] = [];
  cgroup: CgroupManager | undefined;
  dir: string | undefined;
  pid = -1;

  /** Kills init, removes the cgroup, the host mounts and the state directory. */
  async run(): Promise<void> {
    for (const fd of this.fds.splice(0)) close(fd);
    if (this.pid > 0) {
      try {
        kill(this.pid, 9);
      } catch { /* gone */ }
      try {
        waitPid(this.pid);
      } catch { /* reaped */ }
    }
    try {
      this.cgroup?.destroy();
    } catch { /* best effort */ }
    unmountShared(this.sharedMounts);
    if (this.dir) await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

/** The config's hooks, and which of them make init pause or wait. */
function hookPlan(spec: Spec, startNow: boolean | undefined) {
  const hooks = spec.hooks ?? {};
  return {
    hooks,
    duringCreate: [hooks.prestart, hooks.createRuntime, hooks.createContainer]
      .some((h) => h?.length),
    // startContainer hooks run at `start`, while init waits on the exec FIFO: `run` waits too.
    startNow: !!startNow && !hooks.startContainer?.length,
  };
}

/** Creates container `id` from the bundle. */
export async function createContainer(id: string, options: CreateOptions): Promise<Created> {
  checkId(id);
  const bundle = absoluteBundle(options.bundle);
  const spec = options.spec ?? readBundleSpec(bundle);
  checkFree(options.root, id);
  const rootless = Deno.uid() !== 0;
  const rootfs = rootfsOf(bundle, spec);
  const { hooks, duringCreate, startNow } = hookPlan(spec, options.startNow);
  let compiled: CompiledSeccomp | undefined;
  if (spec.linux?.seccomp) {
    const { compileSeccomp } = await import("../seccomp/compile.ts");
    compiled = compileSeccomp(spec.linux.seccomp);
  }
  const ns = namespaceSetup(`${bundle}/config.json`, spec.linux?.namespaces ?? []);
  const layout = initFdLayout(options.preserveFds ?? 0);
  const undo = new Undo();
  undo.fds.push(...ns.join.map((j) => j.fd));
  try {
    let consoleFd = options.consoleFd;
    if (options.consoleSocket && spec.process?.terminal) {
      const { connectUnix } = await import("../../../ffi/socket.ts");
      consoleFd = connectUnix(options.consoleSocket);
      undo.fds.push(consoleFd);
    }
    undo.cgroup = await openCgroup(spec, id, options.systemdCgroup ?? false, rootless);
    const plan = await planFor(spec, bundle, {
      rootless,
      userns: (ns.flags & CLONE.NEWUSER) !== 0 || ns.join.some((j) => j.type === "user"),
      options,
      cgroupPath: undo.cgroup?.path,
      consoleSocketFd: consoleFd !== undefined ? layout.console : undefined,
      startNow,
      hooks: duringCreate,
      compiled,
    });
    checkMountTargets(rootfs, plan.ops);
    if (plan.ops.some((o) => o.op === "pivotRoot" && o.mode === "chroot")) {
      // No mount namespace: the container's mounts are the host's; delete takes them away.
      undo.sharedMounts.push(
        ...plan.ops.flatMap((o) => o.op === "mount" ? [`${rootfs}${o.target}`] : []),
      );
    }
    const program = [
      ...initPrologue(layout, { fifo: !startNow, console: consoleFd !== undefined }),
      ...lowerOps(plan.ops, { fds: layout }),
    ];

    await Deno.mkdir(options.root, { recursive: true, mode: 0o711 });
    undo.dir = containerDir(options.root, id);
    await Deno.mkdir(undo.dir, { mode: 0o711 });
    const fifo = startNow ? undefined : openExecFifo(options.root, id);
    if (fifo !== undefined) undo.fds.push(fifo);
    undo.cgroup?.apply(withDeviceDefaults(spec));

    const init = startInit({ spec, ns, rootless, program, layout, fifo, consoleFd, undo });
    const state = {
      ociVersion: spec.ociVersion,
      id,
      status: "creating",
      pid: init.pid,
      bundle,
      annotations: spec.annotations ?? {},
    };
    await serveInit(init, spec, state, startNow);
    for (const fd of undo.fds.splice(0)) close(fd);
    const record: ContainerRecord = {
      id,
      bundle,
      pid: init.pid,
      startTime: init.startTime,
      created: new Date().toISOString(),
      annotations: spec.annotations,
      cgroupPath: undo.cgroup?.path,
      rootless,
      owner: String(Deno.uid()),
      rootfs,
      hooks: {
        poststart: hooks.poststart ?? [],
        poststop: hooks.poststop ?? [],
        startContainer: hooks.startContainer ?? [],
      },
      process: spec.process!,
      seccomp: compiled
        ? {
          program: plan.ops.find((o) => o.op === "seccomp")?.program ?? "",
          flags: compiled.flags,
        }
        : undefined,
      sharedMounts: undo.sharedMounts.length ? [...undo.sharedMounts] : undefined,
    };
    await writeRecord(options.root, record);
    if (options.pidFile) await Deno.writeTextFile(options.pidFile, String(init.pid));
    return { record, pid: init.pid, isChild: true };
  } catch (e) {
    await undo.run();
    throw e;
  }
}

type CompiledSeccomp = { program: Uint8Array; flags: number; warnings: string[] };

/** The plan, with the host facts the planner asks for. */
async function planFor(
  spec: Spec,
  bundle: string,
  c: {
    rootless: boolean;
    userns: boolean;
    options: CreateOptions;
    cgroupPath?: string;
    consoleSocketFd?: number;
    startNow: boolean;
    hooks: boolean;
    compiled?: CompiledSeccomp;
  },
): Promise<Plan> {
  const cgroupV2 = isCgroupV2();
  const sources = await cgroupSources(c.cgroupPath);
  return planContainer(spec, {
    bundle,
    rootless: c.rootless,
    userns: c.userns,
    noPivot: c.options.noPivot,
    preserveFds: c.options.preserveFds,
    cgroupV2,
    cgroupV1Hierarchies: cgroupV2 ? undefined : sources.v1,
    cgroupV2Source: sources.v2,
    rootfsParentMount: spec.linux?.rootfsPropagation
      ? mountPointOf(rootfsOf(bundle, spec))
      : undefined,
    isFile: (p: string) => {
      try {
        return Deno.statSync(p).isFile;
      } catch {
        return false;
      }
    },
    consoleSocketFd: c.consoleSocketFd,
    startNow: c.startNow,
    hooks: c.hooks,
    compileSeccomp: c.compiled ? () => c.compiled! : undefined,
  });
}

/**
 * The exec FIFO, open O_PATH: writable by anyone (init may be any user, in any user namespace);
 * init reaches it through this descriptor, so the state directory's own permissions do not
 * matter.
 */
function openExecFifo(root: string, id: string): number {
  const path = fifoPath(root, id);
  mknodat(AT_FDCWD, path, S_IFIFO | 0o622, 0, 0);
  Deno.chmodSync(path, 0o622);
  return openat(AT_FDCWD, path, O_PATH | O_CLOEXEC);
}

/** A started init: its pid and the pipes the runtime talks to it over. */
interface StartedInit {
  pid: number;
  startTime: string;
  statusR: number;
  controlW: number;
  /** Its program's steps by index (failure records name them). */
  program: readonly Step[];
}

/** Clones init, writes its id maps and time offsets, and puts it in its cgroup. */
function startInit(c: {
  spec: Spec;
  ns: ReturnType<typeof namespaceSetup>;
  rootless: boolean;
  program: Item[];
  layout: ReturnType<typeof initFdLayout>;
  fifo?: number;
  consoleFd?: number;
  undo: Undo;
}): StartedInit {
  const { ns, spec, undo } = c;
  const offsets = timeOffsetsText(spec);
  const newUserns = (ns.flags & CLONE.NEWUSER) !== 0;
  // Everything opened here goes to init; the runtime keeps the status read end and the
  // control write end.
  const passed: number[] = [];
  const open = () => {
    const fds = pipe(false);
    passed.push(...fds);
    return fds;
  };
  const [statusR, statusW] = pipe(false);
  const [controlR, controlW] = pipe(false);
  undo.fds.push(statusR, controlW);
  passed.push(statusW, controlR);
  const [mapsR, mapsW] = newUserns ? open() : [-1, -1];
  const [offsetsR, offsetsW] = offsets ? open() : [-1, -1];
  let report;
  try {
    report = launchInit({
      cloneFlags: ns.flags & ~CLONE.NEWCGROUP & ~childOnlyNamespaces(ns).unshare,
      setup: initSteps(ns, {
        mapsReady: newUserns ? mapsR : undefined,
        offsetsReady: offsets ? offsetsR : undefined,
      }),
      program: c.program,
      layout: c.layout,
      passed: { status: statusW, control: controlR, fifo: c.fifo, console: c.consoleFd },
      afterClone: (child) => {
        if (newUserns) {
          writeIdMaps(child, spec, c.rootless);
          writeFd(mapsW, new Uint8Array([1]));
        }
        if (offsets) {
          writeTimeOffsets(child, offsets);
          writeFd(offsetsW, new Uint8Array([1]));
        }
      },
      shareMemory: !ns.join.some((j) => j.type === "time"),
    });
  } finally {
    // Only init holds these now (and the runtime's own copies of the FIFO, console socket and
    // namespaces): its end closes the pipes.
    for (const fd of passed) close(fd);
    const keep = new Set([statusR, controlW]);
    for (const fd of undo.fds.splice(0)) keep.has(fd) ? undo.fds.push(fd) : close(fd);
  }
  undo.pid = report.pid;
  if (report.failed) throw initError(report.failed.step, report.failed.errno);
  // Into the cgroup while init works on another CPU; it waits for this before anything of
  // the container's own can run (its pauses). cgroup v1 moves are slow (10-30 ms here).
  undo.cgroup?.addProcess(report.pid);
  return {
    pid: report.pid,
    startTime: processStartTime(report.pid) ?? "",
    statusR,
    controlW,
    program: report.program,
  };
}

/**
 * Answers init until it reports `created`: the hooks at its "hooks" pause, the program's path
 * (found in the container's root) at its "program" pause. A failure record becomes the error.
 */
async function serveInit(
  init: StartedInit,
  spec: Spec,
  state: Record<string, unknown>,
  startNow: boolean,
): Promise<void> {
  const hooks = spec.hooks ?? {};
  let created = false;
  for (const [word, value] of readRecords(init.statusR)) {
    if (word === RECORD.created) {
      created = true;
      // Waiting for start: nothing more comes. Starting now: until the program's exec closes
      // the pipe, a failure of the last steps (seccomp, exec) still reaches us.
      if (!startNow) break;
      continue;
    }
    if (word !== RECORD.sync) throw initError(init.program[Number(word)], Number(value));
    const point = SYNC_POINTS[Number(value)];
    if (point === "hooks") {
      await runHooks(hooks.prestart, state, "prestart");
      await runHooks(hooks.createRuntime, state, "createRuntime");
      await runHooks(hooks.createContainer, state, "createContainer", init.pid);
    }
    if (point === "program") {
      const p = spec.process!;
      const path = findProgram(init.pid, p.args![0], p.env ?? [], p.cwd);
      const answer = new Uint8Array(PROGRAM_PATH_MAX);
      const { written } = new TextEncoder().encodeInto(path, answer);
      if (written >= PROGRAM_PATH_MAX) {
        throw new OciboxError("INIT", `exec: ${JSON.stringify(path)}: file name too long`);
      }
      writeFd(init.controlW, answer);
    } else writeFd(init.controlW, new Uint8Array([1]));
  }
  if (!created) {
    throw new OciboxError("INIT", "container init exited before the container was created");
  }
}
