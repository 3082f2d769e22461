/**
 * Pure conversion of `linux.resources` into ordered cgroup file writes, for v1 and v2.
 * @module
 */
import type {
  LinuxBlockIO,
  LinuxDeviceCgroup,
  LinuxMemory,
  LinuxResources,
  LinuxThrottleDevice,
} from "../spec/spec_types.ts";
import { CgroupError } from "./errors.ts";

/**
 * v2 device rules would need an eBPF program attached to the cgroup, which ocibox does not load:
 * `linux.resources.devices` is accepted on v2 but NOT enforced (device nodes in the container are
 * still limited by what is created/bind-mounted into its /dev).
 */
export const V2_DEVICE_RULES_ENFORCED = false;

/** One file write; writes are performed in list order. */
export interface CgroupWrite {
  /** Controller owning the file (picks the v1 hierarchy; informational on v2). */
  controller: string;
  /** File name inside the cgroup directory. */
  file: string;
  value: string;
  /** Skip silently when the file does not exist (kernel features that may be compiled out). */
  optional?: boolean;
  /** If this write fails, retry it once after the other writes (ordering-sensitive pairs). */
  retryLast?: boolean;
}

/** What the v1 conversion needs to know about the existing cgroup. */
export interface V1Probe {
  /** Whether `file` exists in the hierarchy of `controller`. */
  has(controller: string, file: string): boolean;
  /** Current `memory.limit_in_bytes` (Infinity when unlimited or unknown). */
  currentMemoryLimit(): number;
}

/** What the v2 conversion needs to know about the existing cgroup. */
export interface V2Probe {
  /** Whether `file` exists in the cgroup directory. */
  has(file: string): boolean;
}

/** Go-style "unset": runc's config uses zero values for absent numbers, so 0 means unset too. */
function set(n: number | undefined): n is number {
  return n !== undefined && n !== 0;
}

/** cgroup v2 value of a limit: `-1` (or any negative) is `max`. */
function v2Num(n: number): string {
  return n < 0 ? "max" : String(n);
}

/** Maps cpu shares (2..262144) to cgroup v2 cpu.weight (1..10000), as runc does. */
export function sharesToWeight(shares: number): number {
  if (shares <= 2) return 1;
  if (shares >= 262144) return 10000;
  return 1 + Math.floor(((shares - 2) * 9999) / 262142);
}

/** Maps blkio weight (10..1000) to cgroup v2 io.weight (1..10000), as runc does. */
export function blkioWeightToIOWeight(weight: number): number {
  if (weight <= 10) return 1;
  return 1 + Math.floor(((weight - 10) * 9999) / 990);
}

/**
 * Maps spec `memory.swap` (memory+swap total) to cgroup v2 `memory.swap.max` (swap only):
 * `undefined` = leave alone, `-1` = max. Unlimited memory with unset swap means unlimited swap too.
 */
export function swapToV2(swap: number | undefined, limit: number | undefined): number | undefined {
  if (limit === -1 && !set(swap)) return -1;
  if (!set(swap) || swap === -1) return set(swap) ? -1 : undefined;
  if (!set(limit) || limit < 0) {
    throw new CgroupError(`cannot set memory swap ${swap} without a memory limit: cgroup v2`);
  }
  if (swap < limit) {
    throw new CgroupError(`memory swap ${swap} is below memory limit ${limit}: must be >= limit`);
  }
  return swap - limit;
}

/** pids.max value: 0 is a real limit per the spec; negative means unlimited. */
export function pidsMax(limit: number): string {
  return limit < 0 ? "max" : String(limit);
}

/** True for a rule covering every device with every access (`a`, `a *:* rwm`). */
function isAllDevices(d: LinuxDeviceCgroup): boolean {
  const access = d.access ?? "rwm";
  return (d.type ?? "a") === "a" && d.major === undefined && d.minor === undefined &&
    [..."rwm"].every((c) => access.includes(c));
}

/** One v1 devices.allow/devices.deny line for a spec device rule. */
export function deviceRuleLine(d: LinuxDeviceCgroup): string {
  if (isAllDevices(d)) return "a";
  const major = d.major === undefined || d.major < 0 ? "*" : String(d.major);
  const minor = d.minor === undefined || d.minor < 0 ? "*" : String(d.minor);
  const access = d.access || "rwm";
  if (!/^[rwm]+$/.test(access)) {
    throw new CgroupError(`invalid device cgroup access ${JSON.stringify(access)}: only r, w, m`);
  }
  const type = d.type ?? "a";
  if (!["a", "b", "c"].includes(type)) {
    throw new CgroupError(`invalid device cgroup type ${JSON.stringify(type)}: only a, b, c`);
  }
  return `${type} ${major}:${minor} ${access}`;
}

function memoryV1(m: LinuxMemory, probe: V1Probe): CgroupWrite[] {
  const out: CgroupWrite[] = [];
  const limit = set(m.limit) ? m.limit : undefined;
  let swap = set(m.swap) ? m.swap : undefined;
  const memsw = "memory.memsw.limit_in_bytes";
  // Unlimited memory with unset swap lifts the memsw limit as well (only if swap accounting exists).
  let swapOptional = false;
  if (limit === -1 && swap === undefined) {
    swap = -1;
    swapOptional = true;
  }
  const limitW: CgroupWrite[] = limit === undefined
    ? []
    : [{ controller: "memory", file: "memory.limit_in_bytes", value: String(limit) }];
  const swapW: CgroupWrite[] = swap === undefined
    ? []
    : [{ controller: "memory", file: memsw, value: String(swap), optional: swapOptional }];
  // The kernel keeps limit <= memsw at every step: raise memsw first when the new memsw is above
  // the current limit (or unlimited), otherwise lower the limit first.
  const swapFirst = limit !== undefined && swap !== undefined &&
    (swap === -1 || probe.currentMemoryLimit() < swap);
  out.push(...(swapFirst ? [...swapW, ...limitW] : [...limitW, ...swapW]));
  if (set(m.reservation)) {
    out.push({
      controller: "memory",
      file: "memory.soft_limit_in_bytes",
      value: String(m.reservation),
    });
  }
  if (m.swappiness !== undefined && m.swappiness !== -1) {
    if (m.swappiness < 0 || m.swappiness > 100) {
      throw new CgroupError(`invalid memory swappiness ${m.swappiness}: must be 0..100`);
    }
    out.push({ controller: "memory", file: "memory.swappiness", value: String(m.swappiness) });
  }
  if (m.disableOOMKiller) {
    out.push({ controller: "memory", file: "memory.oom_control", value: "1" });
  }
  // kernel / kernelTCP are deprecated (and rejected by recent kernels): deliberately not applied.
  return out;
}

function throttles(b: LinuxBlockIO): [string, string, LinuxThrottleDevice[] | undefined][] {
  return [
    ["read_bps_device", "rbps", b.throttleReadBpsDevice],
    ["write_bps_device", "wbps", b.throttleWriteBpsDevice],
    ["read_iops_device", "riops", b.throttleReadIOPSDevice],
    ["write_iops_device", "wiops", b.throttleWriteIOPSDevice],
  ];
}

function blkioV1(b: LinuxBlockIO, probe: V1Probe): CgroupWrite[] {
  const out: CgroupWrite[] = [];
  // Kernels with BFQ expose blkio.bfq.weight instead of the CFQ-era blkio.weight.
  const bfq = !probe.has("blkio", "blkio.weight") && probe.has("blkio", "blkio.bfq.weight");
  const weightFile = bfq ? "blkio.bfq.weight" : "blkio.weight";
  const w = (file: string, value: string) => out.push({ controller: "blkio", file, value });
  if (set(b.weight)) w(weightFile, String(b.weight));
  if (set(b.leafWeight)) w("blkio.leaf_weight", String(b.leafWeight));
  for (const d of b.weightDevice ?? []) {
    if (set(d.weight)) w(`${weightFile}_device`, `${d.major}:${d.minor} ${d.weight}`);
    if (set(d.leafWeight)) w("blkio.leaf_weight_device", `${d.major}:${d.minor} ${d.leafWeight}`);
  }
  for (const [file, , list] of throttles(b)) {
    for (const d of list ?? []) w(`blkio.throttle.${file}`, `${d.major}:${d.minor} ${d.rate}`);
  }
  return out;
}

function rdmaLines(r: LinuxResources): string[] {
  return Object.entries(r.rdma ?? {}).map(([dev, v]) =>
    `${dev} hca_handle=${v.hcaHandles ?? "max"} hca_object=${v.hcaObjects ?? "max"}`
  );
}

/** Converts resources to cgroup v1 writes (each tagged with the controller whose hierarchy holds it). */
export function v1Writes(r: LinuxResources, probe: V1Probe): CgroupWrite[] {
  const out: CgroupWrite[] = [];
  const w = (controller: string, file: string, value: string, extra?: Partial<CgroupWrite>) =>
    out.push({ controller, file, value, ...extra });
  if (r.devices && r.devices.length > 0) {
    for (const d of r.devices) {
      w("devices", d.allow ? "devices.allow" : "devices.deny", deviceRuleLine(d));
    }
  }
  if (r.memory) out.push(...memoryV1(r.memory, probe));
  const c = r.cpu;
  if (c) {
    if (set(c.shares)) w("cpu", "cpu.shares", String(c.shares));
    // A shorter period can be refused until the quota shrinks, so retry it after the quota.
    if (set(c.period)) w("cpu", "cpu.cfs_period_us", String(c.period), { retryLast: true });
    if (set(c.quota)) w("cpu", "cpu.cfs_quota_us", String(c.quota));
    if (c.burst !== undefined) w("cpu", "cpu.cfs_burst_us", String(c.burst));
    if (set(c.realtimePeriod)) {
      w("cpu", "cpu.rt_period_us", String(c.realtimePeriod), { retryLast: true });
    }
    if (set(c.realtimeRuntime)) w("cpu", "cpu.rt_runtime_us", String(c.realtimeRuntime));
    if (c.idle !== undefined) w("cpu", "cpu.idle", String(c.idle));
    if (c.cpus) w("cpuset", "cpuset.cpus", c.cpus);
    if (c.mems) w("cpuset", "cpuset.mems", c.mems);
  }
  if (r.pids) w("pids", "pids.max", pidsMax(r.pids.limit));
  if (r.blockIO) out.push(...blkioV1(r.blockIO, probe));
  for (const h of r.hugepageLimits ?? []) {
    w("hugetlb", `hugetlb.${h.pageSize}.limit_in_bytes`, String(h.limit));
  }
  if (r.network) {
    if (r.network.classID !== undefined) {
      w("net_cls", "net_cls.classid", String(r.network.classID));
    }
    for (const p of r.network.priorities ?? []) {
      w("net_prio", "net_prio.ifpriomap", `${p.name} ${p.priority}`);
    }
  }
  for (const line of rdmaLines(r)) w("rdma", "rdma.max", line);
  if (r.unified && Object.keys(r.unified).length > 0) {
    throw new CgroupError(
      "cannot apply linux.resources.unified: cgroup v2 files need a v2 hierarchy, host is v1",
    );
  }
  return out;
}

/** Converts resources to cgroup v2 writes. Device rules are accepted and not enforced. */
export function v2Writes(r: LinuxResources, probe: V2Probe): CgroupWrite[] {
  const out: CgroupWrite[] = [];
  const w = (controller: string, file: string, value: string, extra?: Partial<CgroupWrite>) =>
    out.push({ controller, file, value, ...extra });
  const unsupported = (what: string) =>
    new CgroupError(`cannot apply ${what}: no cgroup v2 equivalent`);
  const m = r.memory;
  if (m) {
    const limit = set(m.limit) ? m.limit : undefined;
    const swap = swapToV2(m.swap, limit);
    // Swap before max is what runc does; both are independent files on v2.
    if (swap !== undefined) {
      w("memory", "memory.swap.max", v2Num(swap), { optional: !set(m.swap) });
    }
    if (limit !== undefined) w("memory", "memory.max", v2Num(limit));
    if (set(m.reservation)) w("memory", "memory.low", v2Num(m.reservation));
    if (m.swappiness !== undefined && m.swappiness !== -1) {
      throw unsupported("linux.resources.memory.swappiness");
    }
    if (m.disableOOMKiller) throw unsupported("linux.resources.memory.disableOOMKiller");
  }
  const c = r.cpu;
  if (c) {
    if (set(c.shares)) w("cpu", "cpu.weight", String(sharesToWeight(c.shares)));
    if (set(c.quota) || set(c.period)) {
      const quota = set(c.quota) && c.quota > 0 ? String(c.quota) : "max";
      w("cpu", "cpu.max", set(c.period) ? `${quota} ${c.period}` : quota);
    }
    if (c.burst !== undefined) w("cpu", "cpu.max.burst", String(c.burst));
    if (c.idle !== undefined) w("cpu", "cpu.idle", String(c.idle));
    if (set(c.realtimePeriod) || set(c.realtimeRuntime)) {
      throw unsupported("linux.resources.cpu.realtimePeriod/realtimeRuntime");
    }
    if (c.cpus) w("cpuset", "cpuset.cpus", c.cpus);
    if (c.mems) w("cpuset", "cpuset.mems", c.mems);
  }
  if (r.pids) w("pids", "pids.max", pidsMax(r.pids.limit));
  const b = r.blockIO;
  if (b) {
    // io.weight (1..10000) is the generic knob; BFQ-only kernels have io.bfq.weight (1..1000).
    const bfqOnly = !probe.has("io.weight") && probe.has("io.bfq.weight");
    const weight = (v: number) => String(bfqOnly ? v : blkioWeightToIOWeight(v));
    const file = bfqOnly ? "io.bfq.weight" : "io.weight";
    if (set(b.weight)) w("io", file, weight(b.weight));
    if (set(b.leafWeight) || (b.weightDevice ?? []).some((d) => set(d.leafWeight))) {
      throw unsupported("linux.resources.blockIO leafWeight");
    }
    for (const d of b.weightDevice ?? []) {
      if (set(d.weight)) w("io", file, `${d.major}:${d.minor} ${weight(d.weight)}`);
    }
    for (const [, key, list] of throttles(b)) {
      for (const d of list ?? []) w("io", "io.max", `${d.major}:${d.minor} ${key}=${d.rate}`);
    }
  }
  for (const h of r.hugepageLimits ?? []) {
    w("hugetlb", `hugetlb.${h.pageSize}.max`, String(h.limit));
  }
  if (r.network && (r.network.classID !== undefined || (r.network.priorities ?? []).length > 0)) {
    throw unsupported("linux.resources.network (net_cls/net_prio)");
  }
  for (const line of rdmaLines(r)) w("rdma", "rdma.max", line);
  for (const [file, value] of Object.entries(r.unified ?? {})) {
    if (file.includes("/") || file === "." || file === "..") {
      throw new CgroupError(
        `invalid linux.resources.unified key ${JSON.stringify(file)}: a file name`,
      );
    }
    w(file.split(".")[0], file, value);
  }
  return out;
}
