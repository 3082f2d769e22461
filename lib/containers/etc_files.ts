/**
 * The container's /etc/hosts, /etc/hostname and /etc/resolv.conf: written into the
 * container's directory in the store and bind-mounted by `containerSpec`, as podman does.
 * The contents are pure functions; {@linkcode writeEtcFiles} writes them atomically.
 *
 * - hosts: the loopback names, then the container's hostname (and name) on 127.0.0.1, so the
 *   container resolves its own name without DNS. With `--network host` the host's own
 *   /etc/hosts is used as is (the container has the host's network and name).
 * - hostname: the hostname and a newline.
 * - resolv.conf: the host's (systemd-resolved's upstream file when /etc/resolv.conf only names
 *   its stub at 127.0.0.53, as podman does). In a private network a loopback nameserver of the
 *   host cannot be reached from the container, so each is replaced by pasta's DNS forwarding
 *   address ({@linkcode DNS_FORWARD_ADDRESS}, which pasta started with `--dns-forward` relays to
 *   the host's first nameserver). With `--network none` no file is written (the image's stays,
 *   as with podman).
 *
 * @example
 * ```ts
 * import { hostsFile } from "./etc_files.ts";
 * console.log(hostsFile({ hostname: "abc123", name: "web" }));
 * // 127.0.0.1  localhost ...  then  "127.0.0.1\tabc123 web"
 * ```
 * @module
 */
import { writeFileAtomic } from "../io/atomic_file.ts";
import type { EtcFilePaths } from "./container_spec.ts";
import type { NetworkMode } from "./run_request.ts";

/** The address DNS queries go to in a private network; pasta forwards it to the host's resolver. */
export const DNS_FORWARD_ADDRESS = "169.254.1.1";

/** What the hosts file names. */
export interface HostsOptions {
  hostname: string;
  /** The container's name, an alias of the hostname. */
  name?: string;
  /** With `--network host`: the host's /etc/hosts text, used as is. */
  hostHosts?: string;
}

/** The container's /etc/hosts. */
export function hostsFile(options: HostsOptions): string {
  if (options.hostHosts !== undefined) return options.hostHosts;
  const names = [options.hostname];
  if (options.name && options.name !== options.hostname) names.push(options.name);
  return [
    "127.0.0.1\tlocalhost localhost.localdomain",
    "::1\tlocalhost localhost.localdomain ip6-localhost ip6-loopback",
    `127.0.0.1\t${names.join(" ")}`,
    "",
  ].join("\n");
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|0:0:0:0:0:0:0:1)(%.*)?$/;

/** The nameserver addresses of a resolv.conf text. */
export function nameservers(text: string): string[] {
  return text.split("\n").flatMap((line) => {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    return m ? [m[1]] : [];
  });
}

/**
 * The container's resolv.conf from the host's: loopback nameservers replaced by
 * `dnsForward` in a private network (once, where the first of them stood), the rest kept.
 *
 * @example
 * ```ts
 * import { resolvConf } from "./etc_files.ts";
 * resolvConf("nameserver 127.0.0.53\nsearch lan\n", { network: "private" });
 * // "nameserver 169.254.1.1\nsearch lan\n"
 * ```
 */
export function resolvConf(
  hostText: string,
  options: { network: NetworkMode; dnsForward?: string },
): string {
  if (options.network !== "private") return hostText;
  const forward = options.dnsForward ?? DNS_FORWARD_ADDRESS;
  let replaced = false;
  const lines = hostText.split("\n").flatMap((line) => {
    const m = /^(\s*nameserver\s+)(\S+)(.*)$/.exec(line);
    if (!m || !LOOPBACK.test(m[2])) return [line];
    if (replaced) return [];
    replaced = true;
    return [`${m[1]}${forward}${m[3]}`];
  });
  return lines.join("\n");
}

/**
 * The host's resolv.conf text as podman picks it: /etc/resolv.conf, or systemd-resolved's
 * upstream list when /etc/resolv.conf names only its stub resolver (127.0.0.53).
 */
export function readHostResolvConf(
  read: (path: string) => string = Deno.readTextFileSync,
): string {
  let text = "";
  try {
    text = read("/etc/resolv.conf");
  } catch { /* no file: no nameservers */ }
  const servers = nameservers(text);
  if (servers.length > 0 && servers.every((s) => s === "127.0.0.53")) {
    try {
      return read("/run/systemd/resolve/resolv.conf");
    } catch { /* not systemd-resolved after all */ }
  }
  return text;
}

/** What {@linkcode writeEtcFiles} writes. */
export interface EtcFilesOptions extends HostsOptions {
  network: NetworkMode;
  /** The host's resolv.conf text (see {@linkcode readHostResolvConf}). */
  hostResolvConf: string;
  dnsForward?: string;
}

/**
 * Writes `hosts`, `hostname` and (unless the network is `none`) `resolv.conf` into `dir`,
 * each atomically with mode 0644, and returns their paths for `containerSpec`.
 *
 * @example
 * ```ts
 * import { readHostResolvConf, writeEtcFiles } from "./etc_files.ts";
 * const paths = await writeEtcFiles("/var/lib/ocibox/containers/ID", {
 *   hostname: "abc123", name: "web", network: "private", hostResolvConf: readHostResolvConf(),
 * });
 * ```
 */
export async function writeEtcFiles(dir: string, options: EtcFilesOptions): Promise<EtcFilePaths> {
  const enc = new TextEncoder();
  const write = (name: string, text: string) =>
    writeFileAtomic(`${dir}/${name}`, enc.encode(text), { mode: 0o644 });
  const paths: EtcFilePaths = { hosts: `${dir}/hosts`, hostname: `${dir}/hostname` };
  await write("hosts", hostsFile(options));
  await write("hostname", `${options.hostname}\n`);
  if (options.network !== "none") {
    paths.resolvConf = `${dir}/resolv.conf`;
    await write("resolv.conf", resolvConf(options.hostResolvConf, options));
  }
  return paths;
}
