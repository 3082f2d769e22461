/**
 * A one-liner's network: `private` through pasta (Debian's `passt` package, what podman 5
 * uses), `none` (the container's own network namespace with only `lo`, which the runtime brings
 * up) and `host` (no network namespace: nothing to do here).
 *
 * How pasta behaves (passt 2023-03 here, checked by hand and by
 * tests/containers_network_test.ts):
 * - It is started after the runtime's `create`, while init waits for `start`, against the
 *   namespace of init's pid. Started as root it drops to `nobody` and keeps only
 *   CAP_NET_ADMIN/CAP_SYS_ADMIN before it opens the namespace, so `/proc/PID/ns/net` is refused
 *   (no CAP_SYS_PTRACE over a root process) and so is `setns` after the switch to nobody:
 *   ocibox opens the namespace itself and hands it over as descriptor 3
 *   (`--netns /proc/self/fd/3`), and keeps pasta's uid with `--runas 0`.
 * - `--config-net` gives the namespace an interface named after the host's, with the host's
 *   address and default route; published ports are `-t`/`-u [ADDR/]HOST:CTR` (`none` for no
 *   forwarding; `-T none -U none` so the container does not reach the host's loopback ports, and
 *   `--no-map-gw` so the gateway address is not the host, as podman 5 passes them).
 * - DNS: `--dns-forward 169.254.1.1` relays queries sent there to the host's first nameserver
 *   (etc_files.ts puts that address in resolv.conf when the host's nameserver is loopback).
 * - It daemonizes once the namespace is configured and the ports are bound: the command exits 0
 *   and the daemon's pid is in the `-P` file. A port it cannot bind makes it exit 1 before that
 *   with `Failed to bind any port for '-t SPEC', exiting` on stderr (after syslog noise, one
 *   "Failed to send N bytes to syslog" per message when there is no syslog socket). ocibox
 *   first tries to bind each published port itself, so the usual case, a port in use, is one
 *   clear error before pasta runs.
 * - It does not end with the container: the descriptor it holds keeps the namespace alive, and
 *   its inotify watch for a deleted namespace file sees nothing under /proc/self/fd. The caller
 *   stops it ({@linkcode NetworkHandle.stop}, or {@linkcode stopPasta} with the recorded pid from
 *   another process) when the container ends.
 *
 * @example
 * ```ts
 * import { chooseNetwork, findNetworkHelper, startNetwork } from "./network.ts";
 * const { mode, warning } = chooseNetwork("private", findNetworkHelper());
 * // after createContainer(): init waits for start
 * const net = await startNetwork(1234, { mode, publish: [] });
 * // ... start, wait ...
 * await net.stop();
 * ```
 * @module
 */
import { OciboxError } from "../errors.ts";
import { DNS_FORWARD_ADDRESS } from "./etc_files.ts";
import type { NetworkMode, PortMapping } from "./run_request.ts";

/** A published port that cannot be bound on the host. */
export class PortInUseError extends OciboxError {
  constructor(readonly mapping: PortMapping, reason: string) {
    super("PORT_IN_USE", `cannot publish ${describePort(mapping)}: ${reason}`);
  }
}

/** The network helper failed otherwise. */
export class NetworkSetupError extends OciboxError {
  constructor(message: string) {
    super("NETWORK_SETUP", message);
  }
}

/** `127.0.0.1:8080->80/tcp`, as podman ps shows ports. */
export function describePort(p: PortMapping): string {
  const ip = p.hostIp === undefined
    ? ""
    : p.hostIp.includes(":")
    ? `[${p.hostIp}]:`
    : `${p.hostIp}:`;
  return `${ip}${p.hostPort}->${p.containerPort}/${p.protocol}`;
}

/** A user-mode network helper found on the host. */
export interface NetworkHelper {
  kind: "pasta";
  path: string;
}

/** pasta on PATH (or in `dirs`), if installed. */
export function findNetworkHelper(
  dirs: readonly string[] = (Deno.env.get("PATH") ?? "/usr/bin:/bin").split(":"),
): NetworkHelper | undefined {
  for (const dir of dirs) {
    if (!dir) continue;
    const path = `${dir}/pasta`;
    try {
      const st = Deno.statSync(path);
      if (st.isFile && (st.mode ?? 0) & 0o111) return { kind: "pasta", path };
    } catch { /* not here */ }
  }
  return undefined;
}

/**
 * The network the container really gets: `private` needs a helper; without one the container
 * gets `none` and the caller prints the warning (once).
 */
export function chooseNetwork(
  requested: NetworkMode,
  helper: NetworkHelper | undefined,
): { mode: NetworkMode; helper?: NetworkHelper; warning?: string } {
  if (requested !== "private") return { mode: requested };
  if (helper) return { mode: "private", helper };
  return {
    mode: "none",
    warning: "pasta (Debian package passt) is not installed: the container has no network " +
      "but loopback (--network none)",
  };
}

/** The arguments of pasta for a container (pure; the namespace is descriptor 3). */
export function pastaArgs(options: {
  publish: readonly PortMapping[];
  root: boolean;
  pidFile: string;
  dnsForward?: string;
}): string[] {
  const spec = (proto: "tcp" | "udp") => {
    const list = options.publish.filter((p) => p.protocol === proto).map((p) =>
      `${p.hostIp === undefined ? "" : `${p.hostIp}/`}${p.hostPort}:${p.containerPort}`
    );
    return list.length ? list.flatMap((s) => [proto === "tcp" ? "-t" : "-u", s]) : [
      proto === "tcp" ? "-t" : "-u",
      "none",
    ];
  };
  return [
    "--config-net",
    "--quiet",
    ...(options.root ? ["--runas", "0"] : ["--userns", "/proc/self/fd/4"]),
    "--dns-forward",
    options.dnsForward ?? DNS_FORWARD_ADDRESS,
    "--no-map-gw",
    ...spec("tcp"),
    ...spec("udp"),
    "-T",
    "none",
    "-U",
    "none",
    "--netns",
    "/proc/self/fd/3",
    "--pid",
    options.pidFile,
  ];
}

/**
 * What pasta's stderr says when it fails: a {@linkcode PortInUseError} for a port it could not
 * bind, else one line. Syslog noise is left out.
 */
export function pastaFailure(stderr: string, publish: readonly PortMapping[]): OciboxError {
  const lines = stderr.split("\n").map((l) => l.trim())
    .filter((l) => l !== "" && !/^Failed to send \d+ bytes to syslog$/.test(l));
  for (const line of lines) {
    const m = /^Failed to bind any port for '-([tu]) ([^']*)'/.exec(line);
    if (!m) continue;
    const protocol = m[1] === "t" ? "tcp" : "udp";
    const mapping = publish.find((p) =>
      p.protocol === protocol &&
      m[2] === `${p.hostIp === undefined ? "" : `${p.hostIp}/`}${p.hostPort}:${p.containerPort}`
    );
    if (mapping) return new PortInUseError(mapping, "the host port is in use or cannot be bound");
  }
  return new NetworkSetupError(`pasta: ${lines.at(-1) ?? "failed without a message"}`);
}

/** Binds each published port for a moment: a port in use is reported before pasta runs. */
export function checkPortsFree(publish: readonly PortMapping[]): void {
  for (const p of publish) {
    const hostname = p.hostIp ?? "0.0.0.0";
    try {
      if (p.protocol === "tcp") Deno.listen({ hostname, port: p.hostPort }).close();
      else Deno.listenDatagram({ hostname, port: p.hostPort, transport: "udp" }).close();
    } catch (e) {
      if (e instanceof Deno.errors.AddrInUse) {
        throw new PortInUseError(p, "the host port is already in use");
      }
      if (e instanceof Deno.errors.AddrNotAvailable) {
        throw new PortInUseError(p, `${hostname} is not an address of this host`);
      }
      if (e instanceof Deno.errors.PermissionDenied && !(e.message.includes("--allow"))) {
        throw new PortInUseError(p, "permission denied (ports below 1024 need root)");
      }
      // Anything else (no --allow-net, say) is left for pasta to report.
    }
  }
}

/** A started network; `stop` ends its helper (if any) and is safe to call twice. */
export interface NetworkHandle {
  mode: NetworkMode;
  /** pasta's pid, for a record another process can stop it from. */
  pid?: number;
  stop(): Promise<void>;
}

/** Options of {@linkcode startNetwork}. */
export interface StartNetworkOptions {
  mode: NetworkMode;
  publish: readonly PortMapping[];
  /** The helper; found on PATH when absent. */
  helper?: NetworkHelper;
  /** Where pasta writes its pid (the container's directory, say); a temporary file if absent. */
  pidFile?: string;
  dnsForward?: string;
  /** Bind each published port first (default); tests turn it off to see pasta's own report. */
  checkPorts?: boolean;
}

/**
 * Connects the network namespace of `pid` (a created container's init) as `options.mode` asks.
 * For `none` and `host` nothing is started.
 *
 * @throws {PortInUseError} a published port is in use (one line: which port, why).
 * @throws {NetworkSetupError} pasta is missing or failed.
 */
export async function startNetwork(
  pid: number,
  options: StartNetworkOptions,
): Promise<NetworkHandle> {
  if (options.mode !== "private") return { mode: options.mode, stop: () => Promise.resolve() };
  const helper = options.helper ?? findNetworkHelper();
  if (!helper) throw new NetworkSetupError("pasta is not installed (Debian package passt)");
  if (options.checkPorts !== false) checkPortsFree(options.publish);
  const temp = options.pidFile === undefined
    ? await Deno.makeTempDir({ prefix: "ocibox-net-" })
    : "";
  const pidFile = options.pidFile ?? `${temp}/pasta.pid`;
  try {
    const root = (Deno.uid() ?? 0) === 0;
    const args = pastaArgs({
      publish: options.publish,
      root,
      pidFile,
      dnsForward: options.dnsForward,
    });
    // The namespaces are opened by the shell, with the caller's privileges, as descriptors 3
    // (and 4 for the user namespace when not root); pasta then reopens them through
    // /proc/self/fd, which needs no privilege over the container's init.
    const redirects = `3<"/proc/${pid}/ns/net"${root ? "" : ` 4<"/proc/${pid}/ns/user"`}`;
    const out = await new Deno.Command("/bin/sh", {
      args: ["-c", `exec "$@" ${redirects}`, "sh", helper.path, ...args],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw pastaFailure(new TextDecoder().decode(out.stderr), options.publish);
    }
    const daemon = Number((await Deno.readTextFile(pidFile)).trim());
    if (!Number.isSafeInteger(daemon) || daemon <= 0) {
      throw new NetworkSetupError(`pasta: no pid in ${pidFile}`);
    }
    let stopped: Promise<void> | undefined;
    return { mode: "private", pid: daemon, stop: () => stopped ??= stopPasta(daemon) };
  } finally {
    if (temp) await Deno.remove(temp, { recursive: true }).catch(() => {});
  }
}

/** Whether `pid` is (still) a pasta process: guards against a reused pid. */
function isPasta(pid: number): boolean {
  try {
    const comm = Deno.readTextFileSync(`/proc/${pid}/comm`).trim();
    const state = Deno.readTextFileSync(`/proc/${pid}/stat`).replace(/^.*\) /, "")[0];
    return (comm.startsWith("pasta") || comm.startsWith("passt")) && state !== "Z";
  } catch {
    return false;
  }
}

/**
 * Stops the pasta daemon `pid` (SIGTERM, then SIGKILL after a second); nothing when it is gone
 * or the pid now belongs to another program. Reaps it when this process is its subreaper.
 */
export async function stopPasta(pid: number): Promise<void> {
  const { kill, waitPid } = await import("../../ffi/process.ts");
  const reap = () => {
    try {
      waitPid(pid, true);
    } catch { /* not our child */ }
  };
  if (!isPasta(pid)) return reap();
  try {
    kill(pid, 15);
  } catch {
    return;
  }
  for (let i = 0; i < 100; i++) {
    reap();
    if (!isPasta(pid)) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  try {
    kill(pid, 9);
  } catch { /* gone */ }
  for (let i = 0; i < 100 && isPasta(pid); i++) {
    reap();
    await new Promise((r) => setTimeout(r, 10));
  }
  reap();
}
