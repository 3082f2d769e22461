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
import { closeFd, kill, pipe, readRecords, waitPid, writeFd } from "../../../ffi/process.ts";
import { describeFailure, type Step } from "../../../ffi/runner_program.ts";
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

/** Creates container `id` from the bundle. */
export async function createContainer(id: string, options: CreateOptions): Promise<Created> {
  checkId(id);
  const bundle = absoluteBundle(options.bundle);
  const spec = options.spec ?? readBundleSpec(bundle);
  const where = `${bundle}/config.json`;
  checkFree(options.root, id);
  const rootless = Deno.uid() !== 0;
  const rootfs = rootfsOf(bundle, spec);
  const hooks = spec.hooks ?? {};
  const hasInitHooks = [hooks.prestart, hooks.createRuntime, hooks.createContainer]
    .some((h) => h?.length);
  // startContainer hooks run at `start`, while init waits on the exec FIFO: `run` waits too.
  const startNow = options.startNow && !hooks.startContainer?.length;

  let compiled: { program: Uint8Array; flags: number; warnings: string[] } | undefined;
  if (spec.linux?.seccomp) {
    const { compileSeccomp } = await import("../seccomp/compile.ts");
    compiled = compileSeccomp(spec.linux.seccomp);
  }
  const ns = namespaceSetup(where, spec.linux?.namespaces ?? []);
  const userns = (ns.flags & CLONE.NEWUSER) !== 0 || ns.join.some((j) => j.type === "user");
  const layout = initFdLayout(options.preserveFds ?? 0);
  const dir = containerDir(options.root, id);

  const opened: number[] = ns.join.map((j) => j.fd);
  let consoleFd = options.consoleFd ?? -1;
  const shared: string[] = [];
  let cgroup: CgroupManager | undefined;
  let madeDir = false;
  let pid = -1;
  let statusR = -1, controlW = -1;
  try {
    if (options.consoleSocket && spec.process?.terminal) {
      const { connectUnix } = await import("../../../ffi/socket.ts");
      consoleFd = connectUnix(options.consoleSocket);
      opened.push(consoleFd);
    }
    cgroup = await openCgroup(spec, id, options.systemdCgroup ?? false, rootless);
    const cgroupV2 = isCgroupV2();
    const sources = await cgroupSources(cgroup?.path);
    const offsets = timeOffsetsText(spec);
    const plan: Plan = planContainer(spec, {
      bundle,
      rootless,
      userns,
      noPivot: options.noPivot,
      preserveFds: options.preserveFds,
      cgroupV2,
      cgroupV1Hierarchies: cgroupV2 ? undefined : sources.v1,
      cgroupV2Source: sources.v2,
      rootfsParentMount: spec.linux?.rootfsPropagation ? mountPointOf(rootfs) : undefined,
      isFile: (p: string) => {
        try {
          return Deno.statSync(p).isFile;
        } catch {
          return false;
        }
      },
      consoleSocketFd: consoleFd >= 0 ? layout.console : undefined,
      startNow,
      hooks: hasInitHooks,
      compileSeccomp: compiled ? () => compiled! : undefined,
    });
    checkMountTargets(rootfs, plan.ops);
    if (plan.ops.some((o) => o.op === "pivotRoot" && o.mode === "chroot")) {
      // No mount namespace: the container's mounts are the host's; delete takes them away.
      shared.push(...plan.ops.flatMap((o) => o.op === "mount" ? [`${rootfs}${o.target}`] : []));
    }
    const program = [
      ...initPrologue(layout, { fifo: !startNow, console: consoleFd >= 0 }),
      ...lowerOps(plan.ops, { fds: layout }),
    ];

    await Deno.mkdir(options.root, { recursive: true, mode: 0o711 });
    await Deno.mkdir(dir, { mode: 0o711 });
    madeDir = true;
    let fifo: number | undefined;
    if (!startNow) {
      // Writable by anyone (init may be any user, in any user namespace); init reaches it
      // through this descriptor, so the state directory's own permissions do not matter.
      const path = fifoPath(options.root, id);
      mknodat(AT_FDCWD, path, S_IFIFO | 0o622, 0, 0);
      Deno.chmodSync(path, 0o622);
      fifo = openat(AT_FDCWD, path, O_PATH | O_CLOEXEC);
      opened.push(fifo);
    }
    const [sr, statusW] = pipe(false);
    const [controlR, cw] = pipe(false);
    statusR = sr;
    controlW = cw;
    opened.push(statusW, controlR);
    cgroup?.apply(withDeviceDefaults(spec));

    const newUserns = (ns.flags & CLONE.NEWUSER) !== 0;
    const [mapsR, mapsW] = newUserns ? pipe(false) : [-1, -1];
    const [offsetsR, offsetsW] = offsets ? pipe(false) : [-1, -1];
    if (newUserns) opened.push(mapsR, mapsW);
    if (offsets) opened.push(offsetsR, offsetsW);
    const report = launchInit({
      cloneFlags: ns.flags & ~CLONE.NEWCGROUP & ~childOnlyNamespaces(ns).unshare,
      setup: initSteps(ns, {
        mapsReady: newUserns ? mapsR : undefined,
        offsetsReady: offsets ? offsetsR : undefined,
      }),
      program,
      layout,
      passed: {
        status: statusW,
        control: controlR,
        fifo,
        console: consoleFd >= 0 ? consoleFd : undefined,
      },
      afterClone: (child) => {
        if (newUserns) {
          writeIdMaps(child, spec, rootless);
          writeFd(mapsW, new Uint8Array([1]));
        }
        if (offsets) {
          writeTimeOffsets(child, offsets);
          writeFd(offsetsW, new Uint8Array([1]));
        }
      },
      shareMemory: !ns.join.some((j) => j.type === "time"),
    });
    // Only init holds these now: its end closes the pipes.
    for (const fd of opened.splice(0)) close(fd);
    pid = report.pid;
    if (report.failed) {
      throw initError(report.failed.step, report.failed.errno);
    }
    // Into the cgroup while init works on another CPU; it waits for this before anything of
    // the container's own can run (its pauses below). cgroup v1 moves are slow (10-30 ms here).
    cgroup?.addProcess(pid);
    const startTime = processStartTime(pid) ?? "";
    const state = {
      ociVersion: spec.ociVersion,
      id,
      status: "creating",
      pid,
      bundle,
      annotations: spec.annotations ?? {},
    };
    let created = false;
    for (const [word, value] of readRecords(statusR)) {
      if (word === RECORD.created) {
        created = true;
        // Waiting for start: nothing more comes. Starting now: until the program's exec
        // closes the pipe, a failure of the last steps (seccomp, exec) still reaches us.
        if (!startNow) break;
        continue;
      }
      if (word !== RECORD.sync) throw initError(report.program[Number(word)], Number(value));
      const point = SYNC_POINTS[Number(value)];
      if (point === "hooks") {
        await runHooks(hooks.prestart, state, "prestart");
        await runHooks(hooks.createRuntime, state, "createRuntime");
        await runHooks(hooks.createContainer, state, "createContainer", pid);
      }
      if (point === "program") {
        const p = spec.process!;
        const path = findProgram(pid, p.args![0], p.env ?? [], p.cwd);
        const answer = new Uint8Array(PROGRAM_PATH_MAX);
        const { written } = new TextEncoder().encodeInto(path, answer);
        if (written >= PROGRAM_PATH_MAX) {
          throw new OciboxError("INIT", `exec: ${JSON.stringify(path)}: file name too long`);
        }
        writeFd(controlW, answer);
      } else writeFd(controlW, new Uint8Array([1]));
    }
    if (!created) {
      throw new OciboxError("INIT", "container init exited before the container was created");
    }
    closeFd(statusR);
    closeFd(controlW);
    statusR = controlW = -1;
    const record: ContainerRecord = {
      id,
      bundle,
      pid,
      startTime,
      created: new Date().toISOString(),
      annotations: spec.annotations,
      cgroupPath: cgroup?.path,
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
      sharedMounts: shared.length ? shared : undefined,
    };
    await writeRecord(options.root, record);
    if (options.pidFile) await Deno.writeTextFile(options.pidFile, String(pid));
    return { record, pid, isChild: true };
  } catch (e) {
    for (const fd of opened) close(fd);
    if (statusR >= 0) closeFd(statusR);
    if (controlW >= 0) closeFd(controlW);
    if (pid > 0) {
      try {
        kill(pid, 9);
      } catch { /* gone */ }
      try {
        waitPid(pid);
      } catch { /* reaped */ }
    }
    if (cgroup) {
      try {
        cgroup.destroy();
      } catch { /* best effort */ }
    }
    unmountShared(shared);
    if (madeDir) await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw e;
  }
}
