/**
 * `create`: builds a container up to, not including, the user's program (runtime.md step 2).
 * The container's init is cloned into the new namespaces by ffi's syscall runner, which joins
 * namespaces given by path, protects the runtime's binary and re-runs ocibox as `init`; the
 * runtime writes its uid/gid maps, puts it in its cgroup, sends it the plan, runs the prestart
 * and createRuntime hooks when init reaches that point, and returns once init reports
 * `created`. On any failure everything is undone: the process, the cgroup and the state dir.
 * @module
 */
import { AT_FDCWD, O_CLOEXEC, O_RDONLY, O_WRONLY, S_IFIFO } from "../../../ffi/constants.ts";
import { ErrnoError } from "../../../ffi/errno.ts";
import { close, mknodat, openat } from "../../../ffi/fs.ts";
import {
  CLONE,
  closeFd,
  defaultSignalSteps,
  execveStep,
  kill,
  pipe,
  PR,
  setCloexec,
  SIGCHLD,
  spawnSyscalls,
  SYS,
  type SyscallStep,
  waitPid,
  writeFd,
} from "../../../ffi/process.ts";
import { InvalidImageError, OciboxError } from "../../errors.ts";
import type { CgroupManager } from "../cgroups/manager.ts";
import { cgroupProcsFiles } from "../cgroups/procs_files.ts";
import { MS, type Plan } from "../plan/ops.ts";
import { planContainer } from "../plan/planner.ts";
import { initCommand } from "../self_command.ts";
import type { LinuxNamespace, LinuxResources, Spec } from "../spec_types.ts";
import { runHooks } from "./hooks.ts";
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

/** clone(2) flags of the namespace types. */
export const NAMESPACE_FLAGS: Readonly<Record<string, number>> = {
  pid: CLONE.NEWPID,
  network: CLONE.NEWNET,
  mount: CLONE.NEWNS,
  ipc: CLONE.NEWIPC,
  uts: CLONE.NEWUTS,
  user: CLONE.NEWUSER,
  cgroup: CLONE.NEWCGROUP,
  time: CLONE.NEWTIME,
};

/** Reads and minimally checks a bundle's config.json. */
export function readBundleSpec(bundle: string): Spec {
  let text: string;
  try {
    text = Deno.readTextFileSync(`${bundle}/config.json`);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new InvalidImageError(bundle, "has no config.json (is it a bundle?)");
    }
    throw e;
  }
  let spec: Spec;
  try {
    spec = JSON.parse(text);
  } catch (e) {
    throw new InvalidImageError(
      `${bundle}/config.json`,
      `is not valid JSON: ${(e as Error).message}`,
    );
  }
  if (typeof spec !== "object" || spec === null || typeof spec.ociVersion !== "string") {
    throw new InvalidImageError(`${bundle}/config.json`, "is not a runtime config (no ociVersion)");
  }
  const rootfs = spec.root?.path;
  if (!rootfs) throw new InvalidImageError(`${bundle}/config.json`, "root.path is missing");
  try {
    if (!Deno.statSync(rootfsOf(bundle, spec)).isDirectory) throw new Error();
  } catch {
    throw new InvalidImageError(
      `${bundle}/config.json`,
      `root.path ${rootfsOf(bundle, spec)} is not a directory`,
    );
  }
  if (!spec.process) throw new InvalidImageError(`${bundle}/config.json`, "has no process");
  return spec;
}

/** The bundle directory as an absolute path without a trailing "/" or "/.". */
export function absoluteBundle(bundle: string): string {
  return (bundle.startsWith("/") ? bundle : `${Deno.cwd()}/${bundle}`).replace(/\/\.?$/, "");
}

function rootfsOf(bundle: string, spec: Spec): string {
  const p = spec.root!.path;
  return p.startsWith("/") ? p : `${bundle}/${p}`;
}

function writeIdMaps(pid: number, spec: Spec, rootless: boolean): void {
  const line = (m: { containerID: number; hostID: number; size: number }) =>
    `${m.containerID} ${m.hostID} ${m.size}\n`;
  const uid = spec.linux?.uidMappings ?? [];
  const gid = spec.linux?.gidMappings ?? [];
  // An unprivileged writer may only map gids after giving up setgroups(2).
  if (rootless) Deno.writeTextFileSync(`/proc/${pid}/setgroups`, "deny");
  if (uid.length) Deno.writeTextFileSync(`/proc/${pid}/uid_map`, uid.map(line).join(""));
  if (gid.length) Deno.writeTextFileSync(`/proc/${pid}/gid_map`, gid.map(line).join(""));
}

/** Namespaces to create (clone flags) and to join (open descriptors), checked. */
interface NamespaceSetup {
  flags: number;
  join: { type: string; fd: number; flag: number }[];
}

function namespaceSetup(where: string, namespaces: LinuxNamespace[]): NamespaceSetup {
  const setup: NamespaceSetup = { flags: 0, join: [] };
  const seen = new Set<string>();
  try {
    for (const ns of namespaces) {
      const flag = NAMESPACE_FLAGS[ns.type];
      if (flag === undefined) {
        throw new InvalidImageError(where, `unknown namespace type ${JSON.stringify(ns.type)}`);
      }
      if (seen.has(ns.type)) {
        throw new InvalidImageError(where, `namespace ${ns.type} is listed twice`);
      }
      seen.add(ns.type);
      if (!ns.path) {
        setup.flags |= flag;
        continue;
      }
      let fd: number;
      try {
        fd = openat(AT_FDCWD, ns.path, O_RDONLY | O_CLOEXEC);
      } catch (e) {
        throw new InvalidImageError(
          where,
          `cannot open the ${ns.type} namespace ${ns.path}: ${(e as Error).message}`,
        );
      }
      setup.join.push({ type: ns.type, fd, flag });
    }
  } catch (e) {
    for (const j of setup.join) close(j.fd);
    throw e;
  }
  // The user namespace first: joining it grants the rights to join the others.
  setup.join.sort((a, b) => (b.type === "user" ? 1 : 0) - (a.type === "user" ? 1 : 0));
  return setup;
}

/** What the cloned child needs besides the namespaces. */
interface InitStepOptions {
  exe: string;
  rootless: boolean;
  /** cgroup.procs descriptors of the container's cgroup, to move in before anything else. */
  cgroupProcs: number[];
  /** A pipe to wait on until the runtime has written the uid/gid maps. */
  mapsReady?: number;
  /** Make the cgroup namespace only once inside the cgroup, so that is its root. */
  newCgroupns: boolean;
}

/**
 * Namespaces a process only gives its children (pid and time, joined or new): the runner must
 * fork once it is in them. A new time namespace cannot come from clone() at all (its flag is
 * one of clone()'s exit-signal bits), so it is unshared, with the new pid namespace, before
 * that fork.
 */
function childOnlyNamespaces(ns: NamespaceSetup): { unshare: number; fork: boolean } {
  const unshare = ns.flags & CLONE.NEWTIME ? ns.flags & (CLONE.NEWTIME | CLONE.NEWPID) : 0;
  const joined = ns.join.some((j) => j.type === "pid" || j.type === "time");
  return { unshare, fork: unshare !== 0 || joined };
}

/**
 * The steps the cloned child makes before it execs init: join the cgroup, join namespaces,
 * wait for the id maps (exec without them would drop every capability), become undumpable (so
 * no process in the container can open it or its executable through /proc), fork into
 * a joined pid namespace, make the cgroup namespace, and in the new mount namespace put the
 * runtime's executable under a read-only bind mount so nothing reaching /proc/<init>/exe can
 * write it (CVE-2019-5736).
 */
function initSteps(ns: NamespaceSetup, o: InitStepOptions, init: SyscallStep): SyscallStep[] {
  const cstr = (s: string) => new TextEncoder().encode(s + "\0");
  const steps: SyscallStep[] = [];
  for (const fd of o.cgroupProcs) {
    steps.push({ nr: SYS.write, args: [fd, cstr("0"), 1], label: "join the cgroup" });
  }
  for (const j of ns.join) {
    steps.push({ nr: SYS.setns, args: [j.fd, j.flag], label: `join the ${j.type} namespace` });
  }
  if (o.mapsReady !== undefined) {
    steps.push({
      nr: SYS.read,
      args: [o.mapsReady, new Uint8Array(1), 1],
      label: "wait for the id maps",
    });
    // Become the namespace's root: exec keeps capabilities only for the mapped uid 0.
    steps.push(
      { nr: SYS.setgroups, args: [0, null], mode: "ignore", label: "setgroups" },
      { nr: SYS.setresgid, args: [0, 0, 0], label: "setresgid 0 in the user namespace" },
      { nr: SYS.setresuid, args: [0, 0, 0], label: "setresuid 0 in the user namespace" },
    );
  }
  // Only now: an undumpable child's /proc files (uid_map) are root's, out of a rootless
  // runtime's reach.
  steps.push(
    { nr: SYS.prctl, args: [PR.SET_DUMPABLE, 0, 0, 0, 0], label: "prctl(PR.SET_DUMPABLE)" },
  );
  const childOnly = childOnlyNamespaces(ns);
  if (childOnly.unshare) {
    steps.push({
      nr: SYS.unshare,
      args: [childOnly.unshare],
      label: "new time (and pid) namespace",
    });
  }
  if (childOnly.fork) {
    steps.push({ nr: SYS.clone, args: [SIGCHLD, 0, 0, 0, 0], mode: "fork", label: "fork" });
  }
  if (o.newCgroupns) {
    steps.push({ nr: SYS.unshare, args: [CLONE.NEWCGROUP], label: "new cgroup namespace" });
  }
  if (ns.flags & CLONE.NEWNS) {
    const path = cstr(o.exe);
    // Rootless: the mount's locked flags may make the remount fail; the bind still isolates.
    const mode = o.rootless ? "ignore" as const : "strict" as const;
    steps.push(
      {
        nr: SYS.mount,
        args: [null, cstr("/"), null, MS.REC | MS.SLAVE, null],
        label: "make / a slave mount",
      },
      { nr: SYS.mount, args: [path, path, null, MS.BIND, null], mode, label: `bind ${o.exe}` },
      {
        nr: SYS.mount,
        args: [null, path, null, MS.REMOUNT | MS.BIND | MS.RDONLY, null],
        mode,
        label: `make ${o.exe} read-only`,
      },
    );
  }
  steps.push(...defaultSignalSteps(), init);
  return steps;
}

async function cgroupV1Controllers(): Promise<string[]> {
  const { parseCgroupMounts } = await import("../cgroups/mode.ts");
  try {
    return parseCgroupMounts(Deno.readTextFileSync("/proc/self/mountinfo"))
      .filter((m) => !m.v2 && m.controllers.length)
      .map((m) => m.controllers.join(","));
  } catch {
    return [];
  }
}

async function openCgroup(
  spec: Spec,
  id: string,
  systemd: boolean,
  rootless: boolean,
): Promise<CgroupManager | undefined> {
  const { cgroupManager, resolveCgroupsPath } = await import("../cgroups/manager.ts");
  const path = resolveCgroupsPath(spec.linux?.cgroupsPath, id, { systemd });
  const manager = cgroupManager(path);
  try {
    manager.create();
  } catch (e) {
    // An unprivileged user without a delegated cgroup runs without one, like rootless runc.
    if (rootless && !spec.linux?.resources) return undefined;
    throw e;
  }
  return manager;
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
  try {
    if (options.consoleSocket && spec.process?.terminal) {
      const { connectUnix } = await import("../../../ffi/socket.ts");
      consoleFd = connectUnix(options.consoleSocket);
      ownConsole = true;
    }
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
    const procsFds = cgroup
      ? cgroupProcsFiles(cgroup.path).map((f) => openat(AT_FDCWD, f, O_WRONLY))
      : [];
    const newUserns = (ns.flags & CLONE.NEWUSER) !== 0;
    const [mapsR, mapsW] = newUserns ? pipe(true) : [-1, -1];
    let report;
    try {
      report = spawnSyscalls(
        ns.flags & ~CLONE.NEWCGROUP & ~childOnlyNamespaces(ns).unshare,
        initSteps(ns, {
          exe: init.path,
          rootless,
          cgroupProcs: procsFds,
          mapsReady: newUserns ? mapsR : undefined,
          newCgroupns: (ns.flags & CLONE.NEWCGROUP) !== 0,
        }, execveStep(init.path, init.args, env)),
        (child) => {
          if (!newUserns) return;
          try {
            writeIdMaps(child, spec, rootless);
            writeFd(mapsW, new Uint8Array([1]));
          } finally {
            closeFd(mapsW);
          }
        },
        { shareMemory: !ns.join.some((j) => j.type === "time") },
      );
    } finally {
      closeFd(planR);
      closeFd(statusW);
      if (newUserns) closeFd(mapsR);
      for (const j of ns.join) close(j.fd);
      for (const fd of procsFds) close(fd);
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

/**
 * The cgroup device rules: the config's, then (as runc does) access to the default devices,
 * the pty devices and every device in linux.devices, so a deny-all list still lets the
 * container make and use them.
 */
function withDeviceDefaults(spec: Spec): LinuxResources | undefined {
  const r = spec.linux?.resources;
  if (!r?.devices?.length) return r;
  const allow = (
    type: string,
    major: number | undefined,
    minor: number | undefined,
    access = "rwm",
  ) => ({
    allow: true,
    type,
    major,
    minor,
    access,
  });
  const defaults = [
    allow("c", undefined, undefined, "m"),
    allow("b", undefined, undefined, "m"),
    allow("c", 1, 3),
    allow("c", 1, 5),
    allow("c", 1, 7),
    allow("c", 1, 8),
    allow("c", 1, 9),
    allow("c", 5, 0),
    allow("c", 5, 1),
    allow("c", 5, 2),
    allow("c", 136, undefined),
    ...(spec.linux?.devices ?? []).map((d) =>
      allow(d.type === "u" ? "c" : d.type, d.major, d.minor)
    ),
  ];
  return { ...r, devices: [...r.devices, ...defaults] };
}

function isCgroupV2(): boolean {
  try {
    return Deno.statSync("/sys/fs/cgroup/cgroup.controllers").isFile;
  } catch {
    return false;
  }
}
