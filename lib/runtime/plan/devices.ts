/**
 * Device nodes and /dev symlinks (config-linux.md "Devices" and "Default Devices", runc's
 * createDevices/setupPtmx/setupDevSymlinks).
 * @module
 */
import { InvalidImageError } from "../../errors.ts";
import type { LinuxDevice } from "../spec/spec_types.ts";
import type { PlannedMount } from "./mounts.ts";
import type { Op } from "./ops.ts";
import { cleanPath, isWithin } from "./paths.ts";

/** A device to provide, validated and with defaults filled in. */
interface Device {
  path: string;
  type: "c" | "b" | "u" | "p";
  major: number;
  minor: number;
  mode: number;
  uid: number;
  gid: number;
}

const chr = (path: string, major: number, minor: number): Device => ({
  path,
  type: "c",
  major,
  minor,
  mode: 0o666,
  uid: 0,
  gid: 0,
});

/** The devices every container gets when the runtime sets up its /dev (in runc's order). */
export const DEFAULT_DEVICES: readonly Readonly<Device>[] = [
  chr("/dev/null", 1, 3),
  chr("/dev/random", 1, 8),
  chr("/dev/full", 1, 7),
  chr("/dev/tty", 5, 0),
  chr("/dev/zero", 1, 5),
  chr("/dev/urandom", 1, 9),
];

const DEV_SYMLINKS: readonly [string, string][] = [
  ["/dev/fd", "/proc/self/fd"],
  ["/dev/stdin", "/proc/self/fd/0"],
  ["/dev/stdout", "/proc/self/fd/1"],
  ["/dev/stderr", "/proc/self/fd/2"],
];

const isUint32 = (n: unknown): n is number =>
  typeof n === "number" && Number.isInteger(n) && n >= 0 && n <= 0xffffffff;

function parseDevice(device: LinuxDevice, where: string): Device {
  if (typeof device?.path !== "string" || !device.path.startsWith("/")) {
    throw new InvalidImageError(where, "path must be absolute");
  }
  const path = cleanPath(device.path);
  if (path === "/") throw new InvalidImageError(where, "path / is not a device");
  if (!["c", "b", "u", "p"].includes(device.type)) {
    throw new InvalidImageError(where, `unknown device type ${JSON.stringify(device.type)}`);
  }
  const fifo = device.type === "p";
  const major = device.major ?? (fifo ? 0 : undefined);
  const minor = device.minor ?? (fifo ? 0 : undefined);
  if (!isUint32(major) || !isUint32(minor)) {
    throw new InvalidImageError(where, "major and minor must be non-negative integers");
  }
  const mode = device.fileMode ?? 0o666;
  const uid = device.uid ?? 0;
  const gid = device.gid ?? 0;
  if (!isUint32(mode)) {
    throw new InvalidImageError(where, "fileMode must be a non-negative integer");
  }
  if (!isUint32(uid) || !isUint32(gid)) {
    throw new InvalidImageError(where, "uid and gid must be non-negative integers");
  }
  // fileMode may carry S_IFMT bits; the type comes from `type` (runc masks them off too).
  return { path, type: device.type, major, minor, mode: mode & 0o7777, uid, gid };
}

/** What device planning needs. */
export interface DeviceContext {
  /** In a new user namespace mknod is denied: bind the host's node instead. */
  userns: boolean;
  warnings: string[];
}

/**
 * Plans device nodes and /dev symlinks after the mounts. When the config mounts a tmpfs on
 * /dev, the runtime fills it: default devices, `linux.devices` (replacing a default of the same
 * path), /dev/fd & co, /dev/ptmx (with a devpts on /dev/pts).
 * Otherwise only `linux.devices` are made, and none inside a /dev bound from the host (that would
 * create nodes in the host's /dev).
 *
 * @throws {InvalidImageError} for an invalid `linux.devices` entry.
 */
export function planDevices(
  devices: readonly LinuxDevice[] | undefined,
  mounts: readonly PlannedMount[],
  ctx: DeviceContext,
): Op[] {
  if (devices !== undefined && !Array.isArray(devices)) {
    throw new InvalidImageError("config.json linux.devices", "must be an array");
  }
  const configured = (devices ?? []).map((d, i) => ({
    device: parseDevice(d, `config.json linux.devices[${i}]`),
    where: `config.json linux.devices[${i}]`,
  }));
  const dev = mounts.findLast((m) => m.target === "/dev");
  const setupDev = dev !== undefined && !dev.bind && dev.type === "tmpfs";
  const ptmx = setupDev && mounts.some((m) => m.target === "/dev/pts" && m.type === "devpts");
  const overridden = new Set(configured.map((c) => c.device.path));

  const list = setupDev
    ? DEFAULT_DEVICES.filter((d) => !overridden.has(d.path)).map((d) => ({ device: d, where: "" }))
    : [];
  list.push(...configured);

  const ops: Op[] = [];
  for (const { device, where } of list) {
    if (dev?.bind && isWithin(device.path, "/dev")) {
      ctx.warnings.push(`${where}: /dev is bound from the host: ${device.path} not created`);
      continue;
    }
    if (ptmx && device.path === "/dev/ptmx") {
      ctx.warnings.push(`${where}: /dev/ptmx is made a symlink to pts/ptmx instead`);
      continue;
    }
    // A user namespace may make FIFOs but no device nodes: those are bound from the host.
    ops.push(
      ctx.userns && device.type !== "p"
        ? { op: "bindDevice", path: device.path, source: device.path }
        : { op: "mknod", ...device },
    );
  }
  if (setupDev) {
    for (const [path, target] of DEV_SYMLINKS) ops.push({ op: "symlink", path, target });
    if (ptmx) ops.push({ op: "symlink", path: "/dev/ptmx", target: "pts/ptmx" });
  }
  return ops;
}
