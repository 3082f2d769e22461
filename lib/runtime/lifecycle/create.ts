/**
 * `create`: builds a container up to, not including, the user's program (runtime.md step 2).
 * The container's init is cloned into the new namespaces by ffi's syscall runner, which joins
 * namespaces given by path, protects the runtime's binary and re-runs ocibox as `init`; the
 * runtime writes its uid/gid maps, puts it in its cgroup, sends it the plan, runs the prestart
 * and createRuntime hooks when init reaches that point, and returns once init reports
 * `created`. On any failure everything is undone: the process, the cgroup and the state dir.
 * @module
 */
import { AT_FDCWD, S_IFIFO } from "../../../ffi/constants.ts";
import { ErrnoError } from "../../../ffi/errno.ts";
import { close, mknodat } from "../../../ffi/fs.ts";
import {
  CLONE,
  closeFd,
  execveStep,
  kill,
  pipe,
  setCloexec,
  spawnSyscalls,
  waitPid,
  writeFd,
} from "../../../ffi/process.ts";
import { OciboxError } from "../../errors.ts";
import type { CgroupManager } from "../cgroups/manager.ts";
import type { Plan } from "../plan/ops.ts";
import { planContainer } from "../plan/planner.ts";
import { initCommand } from "../self_command.ts";
import type { Spec } from "../spec_types.ts";
import { absoluteBundle, readBundleSpec, rootfsOf } from "./bundle.ts";
import {
  cgroupV1Controllers,
  isCgroupV2,
  openCgroup,
  withDeviceDefaults,
} from "./container_cgroup.ts";
import { runHooks } from "./hooks.ts";
import {
  childOnlyNamespaces,
  initSteps,
  namespaceSetup,
  writeIdMaps,
  writeTimeOffsets,
} from "./init_steps.ts";
import { timeOffsetsText } from "../plan/time_offsets.ts";
import { type FromInit, LineReader, send } from "./protocol.ts";
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
  /** Whether `pid` is this process's child (false after a fork into a joined pid namespace). */
  isChild: boolean;
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

  let compiled: { program: Uint8Array; flags: number; warnings: string[] } | undefined;
  const seccompProfile = spec.linux?.seccomp;
  if (seccompProfile) {
    const { compileSeccomp } = await import("../seccomp/compile.ts");
    compiled = compileSeccomp(seccompProfile);
  }
  const cgroupV2 = isCgroupV2();
  const ns = namespaceSetup(where, spec.linux?.namespaces ?? []);
  const userns = (ns.flags & CLONE.NEWUSER) !== 0 || ns.join.some((j) => j.type === "user");
  let consoleFd = options.consoleFd ?? -1;
  let ownConsole = false;
  let plan: Plan;
  let offsets: string | undefined;
  try {
    if (options.consoleSocket && spec.process?.terminal) {
      const { connectUnix } = await import("../../../ffi/socket.ts");
      consoleFd = connectUnix(options.consoleSocket);
      ownConsole = true;
    }
    offsets = timeOffsetsText(spec);
    plan = planContainer(spec, {
      bundle,
      rootless,
      userns,
      noPivot: options.noPivot,
      preserveFds: options.preserveFds,
      cgroupV2,
      cgroupV1Controllers: cgroupV2 ? undefined : await cgroupV1Controllers(),
      isFile: (p: string) => {
        try {
          return Deno.statSync(p).isFile;
        } catch {
          return false;
        }
      },
      consoleSocketFd: consoleFd >= 0 ? consoleFd : undefined,
      startNow: options.startNow,
      compileSeccomp: compiled ? () => compiled! : undefined,
    });
  } catch (e) {
    for (const j of ns.join) close(j.fd);
    if (ownConsole) closeFd(consoleFd);
    throw e;
  }

  const dir = containerDir(options.root, id);
  await Deno.mkdir(options.root, { recursive: true, mode: 0o711 });
  await Deno.mkdir(dir, { mode: 0o711 });
  let pid = -1;
  let isChild = true;
  let planW = -1, statusR = -1;
  let cgroup: CgroupManager | undefined;
  try {
    const fifo = options.startNow ? null : fifoPath(options.root, id);
    if (fifo) mknodat(AT_FDCWD, fifo, S_IFIFO | 0o622, 0, 0);

    const [planR, pw] = pipe(true);
    const [sr, statusW] = pipe(true);
    planW = pw;
    statusR = sr;
    if (consoleFd >= 0) setCloexec(consoleFd, false);
    const init = initCommand();
    const env = [
      `OCIBOX_INIT_PLAN_FD=${planR}`,
      `OCIBOX_INIT_STATUS_FD=${statusW}`,
      ...["HOME", "DENO_DIR", "XDG_CACHE_HOME", "OCIBOX_MAIN"].flatMap((k) => {
        const v = Deno.env.get(k);
        return v === undefined ? [] : [`${k}=${v}`];
      }),
      "NO_COLOR=1",
    ];
    cgroup = await openCgroup(spec, id, options.systemdCgroup ?? false, rootless);
    cgroup?.apply(withDeviceDefaults(spec));
    const newUserns = (ns.flags & CLONE.NEWUSER) !== 0;
    const [mapsR, mapsW] = newUserns ? pipe(true) : [-1, -1];
    const [offsetsR, offsetsW] = offsets ? pipe(true) : [-1, -1];
    let report;
    try {
      report = spawnSyscalls(
        ns.flags & ~CLONE.NEWCGROUP & ~childOnlyNamespaces(ns).unshare,
        initSteps(ns, {
          exe: init.path,
          rootless,
          mapsReady: newUserns ? mapsR : undefined,
          offsetsReady: offsets ? offsetsR : undefined,
        }, execveStep(init.path, init.args, env)),
        (child) => {
          try {
            if (newUserns) {
              writeIdMaps(child, spec, rootless);
              writeFd(mapsW, new Uint8Array([1]));
            }
            if (offsets) {
              writeTimeOffsets(child, offsets);
              writeFd(offsetsW, new Uint8Array([1]));
            }
          } finally {
            if (newUserns) closeFd(mapsW);
            if (offsets) closeFd(offsetsW);
          }
        },
        { shareMemory: !ns.join.some((j) => j.type === "time") },
      );
    } finally {
      closeFd(planR);
      closeFd(statusW);
      if (newUserns) closeFd(mapsR);
      if (offsets) closeFd(offsetsR);
      for (const j of ns.join) close(j.fd);
      if (ownConsole) closeFd(consoleFd);
    }
    setCloexec(planW, true);
    setCloexec(statusR, true);
    isChild = !childOnlyNamespaces(ns).fork;
    pid = report.pid;
    if (report.failed) {
      throw new OciboxError(
        "INIT",
        `container init: ${new ErrnoError(report.failed.errno, report.failed.step.label).message}`,
      );
    }
    // Into the cgroup while init's Deno starts (on another CPU): it waits for the plan, so
    // nothing of the container runs outside. cgroup v1 moves are slow (10-30 ms here).
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
    send(planW, {
      plan,
      fifo,
      createContainer: spec.hooks?.createContainer ?? [],
      startContainer: spec.hooks?.startContainer ?? [],
      state,
    });
    const reader = new LineReader(statusR);
    for (;;) {
      const m = reader.next<FromInit>();
      if (!m) {
        throw new OciboxError("INIT", "container init exited before the container was created");
      }
      if (m.type === "error") throw new OciboxError("INIT", m.message);
      if (m.type === "created") break;
      if (m.type === "sync") {
        try {
          await runHooks(spec.hooks?.prestart, state, "prestart");
          await runHooks(spec.hooks?.createRuntime, state, "createRuntime");
        } catch (e) {
          send(planW, { type: "abort" });
          throw e;
        }
        send(planW, { type: "continue" });
      }
    }
    closeFd(planW);
    closeFd(statusR);
    planW = statusR = -1;
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
      hooks: { poststart: spec.hooks?.poststart ?? [], poststop: spec.hooks?.poststop ?? [] },
      process: spec.process!,
      seccomp: compiled
        ? {
          program: plan.ops.find((o) => o.op === "seccomp")?.program ?? "",
          flags: compiled.flags,
        }
        : undefined,
    };
    await writeRecord(options.root, record);
    if (options.pidFile) await Deno.writeTextFile(options.pidFile, String(pid));
    return { record, pid, isChild };
  } catch (e) {
    if (planW >= 0) closeFd(planW);
    if (statusR >= 0) closeFd(statusR);
    if (pid > 0) {
      try {
        kill(pid, 9);
      } catch { /* gone */ }
      try {
        if (isChild) waitPid(pid);
      } catch { /* reaped */ }
    }
    if (cgroup) {
      try {
        cgroup.destroy();
      } catch { /* best effort */ }
    }
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw e;
  }
}
