/**
 * Values of `ocibox run` flags, parsed with podman's meaning. Pure: each function takes the
 * text given to one flag and returns typed data, or throws one {@linkcode UsageError} line that
 * names the flag and says what was expected.
 * @module
 */
import { UsageError } from "../errors.ts";
import { CAPABILITIES } from "../runtime/plan/capabilities.ts";
import type {
  BindRequest,
  EnvRequest,
  PortMapping,
  SeccompRequest,
  TmpfsRequest,
  UlimitRequest,
} from "./run_request.ts";

const q = JSON.stringify;

function usage(flag: string, value: string, expected: string): UsageError {
  return new UsageError(`${flag} ${q(value)}: ${expected}`);
}

const SIZE_UNITS: Readonly<Record<string, number>> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1024 ** 4,
  tib: 1024 ** 4,
};

/**
 * A size in bytes: a number with an optional binary suffix (`b`, `k`, `m`, `g`, `t`, also `kb`,
 * `mib` ...; any case), as podman's `--memory` takes it. Fractions are allowed (`1.5g`).
 *
 * @example
 * ```ts
 * import { parseBytes } from "./run_values.ts";
 * parseBytes("--memory", "64m"); // 67108864
 * ```
 */
export function parseBytes(flag: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/.exec(text.trim());
  const unit = m ? SIZE_UNITS[m[2].toLowerCase()] : undefined;
  if (!m || unit === undefined) throw usage(flag, text, "expected a size such as 512m or 1g");
  const bytes = Math.floor(Number(m[1]) * unit);
  if (!Number.isSafeInteger(bytes)) throw usage(flag, text, "size is too large");
  return bytes;
}

/** `-e NAME=VALUE` or `-e NAME` (the host's value). */
export function parseEnvFlag(text: string): EnvRequest {
  const eq = text.indexOf("=");
  const name = eq < 0 ? text : text.slice(0, eq);
  if (name === "" || /\s/.test(name)) throw usage("--env", text, "expected NAME=VALUE or NAME");
  return eq < 0 ? { name, fromHost: true } : { name, value: text.slice(eq + 1) };
}

/**
 * The lines of an `--env-file`, as podman reads them: `NAME=VALUE` taken verbatim (no quotes
 * removed), `NAME` alone for the host's value, blank lines and `#` comments skipped.
 *
 * @example
 * ```ts
 * import { parseEnvFile } from "./run_values.ts";
 * parseEnvFile("A=1\n# note\nB\n", "app.env"); // [{name:"A",value:"1"},{name:"B",fromHost:true}]
 * ```
 */
export function parseEnvFile(text: string, path: string): EnvRequest[] {
  const out: EnvRequest[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.replace(/\r$/, "").replace(/^\s+/, "");
    if (line === "" || line.startsWith("#")) return;
    const eq = line.indexOf("=");
    const name = eq < 0 ? line.trimEnd() : line.slice(0, eq);
    if (name === "" || /\s/.test(name)) {
      throw new UsageError(`--env-file ${path}: line ${i + 1}: expected NAME=VALUE or NAME`);
    }
    out.push(eq < 0 ? { name, fromHost: true } : { name, value: line.slice(eq + 1) });
  });
  return out;
}

const PROPAGATIONS = new Set([
  "private",
  "rprivate",
  "shared",
  "rshared",
  "slave",
  "rslave",
  "unbindable",
  "runbindable",
]);
const BIND_FLAGS = new Set(["nosuid", "suid", "nodev", "dev", "noexec", "exec"]);

/** An absolute container path, cleaned (`//`, `.` and a trailing `/` removed; `..` refused). */
function containerPath(flag: string, value: string, path: string): string {
  if (!path.startsWith("/")) {
    throw usage(flag, value, `${q(path)} in the container must be absolute`);
  }
  const parts = path.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) throw usage(flag, value, `${q(path)} must not contain ".."`);
  return "/" + parts.join("/");
}

/** A host path: absolute, or relative to `cwd`. */
function hostPath(flag: string, value: string, path: string, cwd: string | undefined): string {
  if (path.startsWith("/")) return path;
  if (!cwd) throw usage(flag, value, `host path ${q(path)} must be absolute`);
  const parts = `${cwd}/${path}`.split("/").filter((p) => p !== "" && p !== ".");
  const out: string[] = [];
  for (const p of parts) p === ".." ? out.pop() : out.push(p);
  return "/" + out.join("/");
}

/**
 * `-v/--volume HOST:CTR[:OPTIONS]`. HOST is a path (absolute, or starting with `.` and
 * relative to `cwd`); named and anonymous volumes are not supported. OPTIONS: `ro`/`rw`,
 * a propagation (`rprivate` by default), `bind` (not recursive; `rbind` by default), `nosuid`,
 * `nodev`, `noexec` and their opposites, and SELinux's `z`/`Z` (ignored: no SELinux here).
 *
 * @example
 * ```ts
 * import { parseVolume } from "./run_values.ts";
 * parseVolume("/srv/data:/data:ro").options; // ["ro", "rprivate", "rbind"]
 * ```
 */
export function parseVolume(text: string, cwd?: string): BindRequest {
  const flag = "--volume";
  const parts = text.split(":");
  if (parts.length === 1) {
    throw usage(flag, text, "anonymous volumes are not supported; give HOST:CONTAINER");
  }
  if (parts.length > 3) throw usage(flag, text, "expected HOST:CONTAINER[:OPTIONS]");
  const [src, dst, opts = ""] = parts;
  if (!src.startsWith("/") && !src.startsWith(".")) {
    throw usage(flag, text, "named volumes are not supported; give a host path");
  }
  let readonly: boolean | undefined;
  let propagation: string | undefined;
  let recursive: string | undefined;
  const flags: string[] = [];
  for (const o of opts === "" ? [] : opts.split(",")) {
    if (o === "ro" || o === "rw") {
      if (readonly !== undefined) throw usage(flag, text, "ro and rw given twice");
      readonly = o === "ro";
    } else if (PROPAGATIONS.has(o)) {
      if (propagation) throw usage(flag, text, "more than one propagation");
      propagation = o;
    } else if (o === "bind" || o === "rbind") recursive = o;
    else if (BIND_FLAGS.has(o)) flags.push(o);
    else if (o !== "z" && o !== "Z") throw usage(flag, text, `unknown option ${q(o)}`);
  }
  return {
    type: "bind",
    source: hostPath(flag, text, src, cwd),
    destination: containerPath(flag, text, dst),
    readonly: readonly ?? false,
    createSource: true,
    options: [readonly ? "ro" : "rw", ...flags, propagation ?? "rprivate", recursive ?? "rbind"],
  };
}

/** `key=value` pairs of `--mount`; a key alone means `true`. */
function mountFields(text: string): [string, string | undefined][] {
  return text.split(",").map((f) => {
    const eq = f.indexOf("=");
    return eq < 0 ? [f, undefined] : [f.slice(0, eq), f.slice(eq + 1)];
  });
}

function boolField(flag: string, text: string, key: string, value: string | undefined): boolean {
  if (value === undefined || value === "true") return true;
  if (value === "false") return false;
  throw usage(flag, text, `${key} takes true or false`);
}

/**
 * `--mount type=bind,source=HOST,destination=CTR[,readonly][,bind-propagation=P]
 * [,bind-nonrecursive]` or `--mount type=tmpfs,destination=CTR[,tmpfs-size=N][,tmpfs-mode=M]
 * [,readonly]`. `src`, `dst` and `target` are accepted as in podman; a bind source must exist
 * (checked by the caller).
 *
 * @example
 * ```ts
 * import { parseMountFlag } from "./run_values.ts";
 * parseMountFlag("type=tmpfs,dst=/cache,tmpfs-size=64m").options;
 * // ["size=64m", "rw", "rprivate", "nosuid", "nodev"]
 * ```
 */
export function parseMountFlag(text: string, cwd?: string): BindRequest | TmpfsRequest {
  const flag = "--mount";
  const fields = mountFields(text);
  const type = fields.find(([k]) => k === "type")?.[1];
  if (type !== "bind" && type !== "tmpfs") {
    throw usage(flag, text, "expected type=bind or type=tmpfs (volumes are not supported)");
  }
  let source: string | undefined;
  let destination: string | undefined;
  let readonly = false;
  let propagation: string | undefined;
  let recursive = "rbind";
  const tmpfs: string[] = [];
  for (const [key, value] of fields) {
    const need = () => {
      if (value === undefined || value === "") throw usage(flag, text, `${key} needs a value`);
      return value;
    };
    switch (key) {
      case "type":
        break;
      case "source":
      case "src":
        if (type !== "bind") throw usage(flag, text, `${key} is only for type=bind`);
        source = need();
        break;
      case "destination":
      case "dst":
      case "target":
        destination = need();
        break;
      case "readonly":
      case "ro":
        readonly = boolField(flag, text, key, value);
        break;
      case "bind-propagation":
        if (type !== "bind" || !PROPAGATIONS.has(need())) {
          throw usage(flag, text, "bind-propagation takes a propagation such as rprivate");
        }
        propagation = value;
        break;
      case "bind-nonrecursive":
        if (boolField(flag, text, key, value)) recursive = "bind";
        break;
      case "tmpfs-size":
        if (type !== "tmpfs") throw usage(flag, text, "tmpfs-size is only for type=tmpfs");
        parseBytes(flag, need());
        tmpfs.push(`size=${value}`);
        break;
      case "tmpfs-mode":
        if (type !== "tmpfs" || !/^[0-7]{1,4}$/.test(need())) {
          throw usage(flag, text, "tmpfs-mode takes an octal mode such as 1777");
        }
        tmpfs.push(`mode=${value}`);
        break;
      case "relabel":
      case "consistency":
      case "notmpcopyup":
      case "tmpcopyup":
        break;
      default:
        throw usage(flag, text, `unknown field ${q(key)}`);
    }
  }
  if (!destination) throw usage(flag, text, "destination is missing");
  const dst = containerPath(flag, text, destination);
  if (type === "tmpfs") {
    return {
      type: "tmpfs",
      destination: dst,
      readonly,
      options: [...tmpfs, readonly ? "ro" : "rw", "rprivate", "nosuid", "nodev"],
    };
  }
  if (!source) throw usage(flag, text, "source is missing");
  return {
    type: "bind",
    source: hostPath(flag, text, source, cwd),
    destination: dst,
    readonly,
    createSource: false,
    options: [readonly ? "ro" : "rw", propagation ?? "rprivate", recursive],
  };
}

const TMPFS_OPTION =
  /^(size=\d+(\.\d+)?[kmgKMG%]?|nr_blocks=\d+[kmgKMG]?|nr_inodes=\d+[kmgKMG]?|mode=[0-7]{1,4}|uid=\d+|gid=\d+|ro|rw|noexec|exec|nosuid|suid|nodev|dev|atime|noatime|relatime|strictatime|nodiratime|diratime|sync|async|private|rprivate|shared|rshared|slave|rslave|notmpcopyup|tmpcopyup)$/;

/**
 * `--tmpfs PATH[:OPTIONS]`: OPTIONS are tmpfs mount options (`size=64m`, `mode=1777`, `ro`,
 * `noexec` ...); podman adds `rw` (unless `ro`), `rprivate`, `nosuid` and `nodev` (unless
 * `suid`/`dev` are given).
 *
 * @example
 * ```ts
 * import { parseTmpfs } from "./run_values.ts";
 * parseTmpfs("/run:size=1m").options; // ["size=1m", "rw", "rprivate", "nosuid", "nodev"]
 * ```
 */
export function parseTmpfs(text: string): TmpfsRequest {
  const flag = "--tmpfs";
  const colon = text.indexOf(":");
  const path = colon < 0 ? text : text.slice(0, colon);
  const given = colon < 0 ? [] : text.slice(colon + 1).split(",").filter((o) => o !== "");
  for (const o of given) {
    if (!TMPFS_OPTION.test(o)) throw usage(flag, text, `unknown tmpfs option ${q(o)}`);
  }
  const options = given.filter((o) => o !== "tmpcopyup" && o !== "notmpcopyup");
  const readonly = options.includes("ro");
  if (!readonly && !options.includes("rw")) options.push("rw");
  if (!options.some((o) => /^r?(private|shared|slave)$/.test(o))) options.push("rprivate");
  if (!options.includes("suid")) options.push("nosuid");
  if (!options.includes("dev")) options.push("nodev");
  return { type: "tmpfs", destination: containerPath(flag, text, path), readonly, options };
}

/** `--entrypoint`: a JSON array of strings, `""` (none), or one program path. */
export function parseEntrypoint(text: string): string[] {
  if (text === "") return [];
  if (text.trimStart().startsWith("[")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw usage("--entrypoint", text, "not a JSON array of strings");
    }
    if (!Array.isArray(parsed) || !parsed.every((s) => typeof s === "string")) {
      throw usage("--entrypoint", text, "not a JSON array of strings");
    }
    return parsed;
  }
  return [text];
}

/**
 * `--cap-add`/`--cap-drop` values: names with or without `CAP_`, any case, comma-separated,
 * or `ALL`. Returns `CAP_*` names (and `ALL`).
 */
export function parseCapabilities(flag: string, text: string): string[] {
  return text.split(",").map((c) => {
    const upper = c.trim().toUpperCase();
    if (upper === "ALL") return "ALL";
    const name = upper.startsWith("CAP_") ? upper : `CAP_${upper}`;
    if (!CAPABILITIES.includes(name)) throw usage(flag, text, `unknown capability ${q(c)}`);
    return name;
  });
}

/** What one `--security-opt` asks for. */
export type SecurityOpt =
  | { noNewPrivileges: boolean }
  | { seccomp: SeccompRequest }
  | { ignored: string };

/**
 * `--security-opt`: `no-new-privileges[=true|false]`, `seccomp=unconfined`, `seccomp=FILE`;
 * `label=disable` and `apparmor=unconfined` are accepted and change nothing (ocibox applies
 * neither SELinux nor AppArmor). Docker's `key:value` spelling is accepted too.
 */
export function parseSecurityOpt(text: string): SecurityOpt {
  const flag = "--security-opt";
  const sep = text.search(/[=:]/);
  const key = sep < 0 ? text : text.slice(0, sep);
  const value = sep < 0 ? undefined : text.slice(sep + 1);
  if (key === "no-new-privileges") {
    return { noNewPrivileges: boolField(flag, text, key, value) };
  }
  if (key === "seccomp") {
    if (!value) throw usage(flag, text, "seccomp takes unconfined or a profile file");
    return {
      seccomp: value === "unconfined" ? { kind: "unconfined" } : { kind: "file", path: value },
    };
  }
  if (text === "label=disable" || text === "label:disable" || text === "apparmor=unconfined") {
    return { ignored: text };
  }
  throw usage(
    flag,
    text,
    "expected no-new-privileges, seccomp=unconfined or seccomp=FILE (SELinux and AppArmor are not supported)",
  );
}

/** `--ulimit` names and their RLIMIT_* types. */
const ULIMITS: Readonly<Record<string, string>> = {
  as: "RLIMIT_AS",
  core: "RLIMIT_CORE",
  cpu: "RLIMIT_CPU",
  data: "RLIMIT_DATA",
  fsize: "RLIMIT_FSIZE",
  locks: "RLIMIT_LOCKS",
  memlock: "RLIMIT_MEMLOCK",
  msgqueue: "RLIMIT_MSGQUEUE",
  nice: "RLIMIT_NICE",
  nofile: "RLIMIT_NOFILE",
  nproc: "RLIMIT_NPROC",
  rss: "RLIMIT_RSS",
  rtprio: "RLIMIT_RTPRIO",
  rttime: "RLIMIT_RTTIME",
  sigpending: "RLIMIT_SIGPENDING",
  stack: "RLIMIT_STACK",
};

/**
 * `--ulimit NAME=SOFT[:HARD]` (HARD defaults to SOFT; -1 or `unlimited` for no limit).
 *
 * @example
 * ```ts
 * import { parseUlimit } from "./run_values.ts";
 * parseUlimit("nofile=1024:4096"); // { type: "RLIMIT_NOFILE", soft: 1024, hard: 4096 }
 * ```
 */
export function parseUlimit(text: string): UlimitRequest {
  const flag = "--ulimit";
  const m = /^([a-z]+)=([^:]+)(?::([^:]+))?$/.exec(text);
  const type = m ? ULIMITS[m[1]] : undefined;
  if (!m || !type) {
    throw usage(
      flag,
      text,
      `expected NAME=SOFT[:HARD] with NAME one of ${Object.keys(ULIMITS).join(", ")}`,
    );
  }
  const value = (v: string) => {
    if (v === "-1" || v === "unlimited") return -1;
    if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) {
      throw usage(flag, text, `${q(v)} is not a limit (a number, or -1 for unlimited)`);
    }
    return Number(v);
  };
  const soft = value(m[2]);
  const hard = m[3] === undefined ? soft : value(m[3]);
  if (hard !== -1 && (soft === -1 || soft > hard)) {
    throw usage(flag, text, "the soft limit is above the hard limit");
  }
  return { type, soft, hard };
}

function port(flag: string, text: string, p: string): number {
  const n = Number(p);
  if (!/^\d+$/.test(p) || n < 1 || n > 65535) {
    throw usage(flag, text, `${q(p)} is not a port (1-65535)`);
  }
  return n;
}

/**
 * `-p/--publish [IP:]HOST:CTR[/tcp|udp]`; an IPv6 address goes in brackets
 * (`[::1]:8080:80`).
 *
 * @example
 * ```ts
 * import { parsePublish } from "./run_values.ts";
 * parsePublish("127.0.0.1:8080:80"); // { hostIp: "127.0.0.1", hostPort: 8080, containerPort: 80, protocol: "tcp" }
 * ```
 */
export function parsePublish(text: string): PortMapping {
  const flag = "--publish";
  const slash = text.lastIndexOf("/");
  const proto = slash < 0 ? "tcp" : text.slice(slash + 1);
  if (proto !== "tcp" && proto !== "udp") throw usage(flag, text, "the protocol is tcp or udp");
  const body = slash < 0 ? text : text.slice(0, slash);
  let hostIp: string | undefined;
  let rest = body;
  const v6 = /^\[([0-9a-fA-F:.]+)\]:(.*)$/.exec(body);
  if (v6) {
    hostIp = v6[1];
    rest = v6[2];
  }
  const parts = rest.split(":");
  if (!v6 && parts.length === 3) {
    hostIp = parts.shift()!;
    const v4 = /^\d{1,3}(\.\d{1,3}){3}$/.test(hostIp) &&
      hostIp.split(".").every((o) => Number(o) <= 255);
    if (hostIp !== "" && !v4) {
      throw usage(flag, text, `${q(hostIp)} is not an IPv4 address (IPv6 goes in brackets)`);
    }
  }
  if (parts.length !== 2) {
    throw usage(flag, text, "expected [IP:]HOST_PORT:CONTAINER_PORT[/tcp|udp]");
  }
  const mapping: PortMapping = {
    hostPort: port(flag, text, parts[0]),
    containerPort: port(flag, text, parts[1]),
    protocol: proto,
  };
  if (hostIp !== undefined && hostIp !== "") mapping.hostIp = hostIp;
  return mapping;
}

/** `--cpus`: a positive number of CPUs such as `0.5` or `2`. */
export function parseCpus(text: string): number {
  const n = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || !(n > 0) || n > 1024) {
    throw usage("--cpus", text, "expected a number of CPUs such as 0.5 or 2");
  }
  return n;
}

/** `--pids-limit`: a number of tasks; -1 or 0 for no limit (podman's reading). */
export function parsePidsLimit(text: string): number | "unlimited" {
  if (text === "-1" || text === "0") return "unlimited";
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n)) {
    throw usage("--pids-limit", text, "expected a number of tasks, or -1 for no limit");
  }
  return n;
}

/** `--platform os/arch[/variant]`. */
export function parsePlatform(text: string): string {
  if (!/^[a-z0-9_]+\/[a-z0-9_]+(\/[a-z0-9_]+)?$/.test(text)) {
    throw usage("--platform", text, "expected OS/ARCH[/VARIANT] such as linux/amd64");
  }
  return text;
}

/** `--hostname`: 1 to 64 characters, no `/` or blanks. */
export function parseHostname(text: string): string {
  if (text === "" || text.length > 64 || /[\s/]/.test(text)) {
    throw usage("--hostname", text, "expected a name of 1 to 64 characters");
  }
  return text;
}
