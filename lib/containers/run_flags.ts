/**
 * The command line of `ocibox run [FLAGS] IMAGE [CMD [ARG...]]`, parsed into a
 * {@linkcode RunRequest} with podman's meaning of every flag. Flags stop at the image: what
 * follows it is the container's command, flags included (`ocibox run IMAGE ls -l`). Pure: files
 * named by flags (`--env-file`, `seccomp=FILE`) are read later by the caller, see
 * {@linkcode resolveRunEnv}.
 *
 * The flags go through ocibox's own parser (lib/cli/args.ts) once the image has been found;
 * on top of it: podman's `-h` for `--hostname` (alone, `-h` is still help), `--net` for
 * `--network`, and `--flag=true|false` for switches (`--rm=false`).
 *
 * @example
 * ```ts
 * import { parseRunArgs } from "./run_flags.ts";
 * const r = parseRunArgs(["--rm", "-e", "A=1", "-p", "8080:80", "busybox", "ls", "-l"]);
 * console.log(r.image, r.command, r.publish[0].hostPort); // busybox ["ls", "-l"] 8080
 * ```
 * @module
 */
import { UsageError } from "../errors.ts";
import { type FlagOption, parseFlags } from "../cli/args.ts";
import { checkContainerName } from "./names.ts";
import type { EnvRequest, NetworkMode, RunRequest } from "./run_request.ts";
import {
  parseBytes,
  parseCapabilities,
  parseCpus,
  parseEntrypoint,
  parseEnvFile,
  parseEnvFlag,
  parseHostname,
  parseMountFlag,
  parsePidsLimit,
  parsePlatform,
  parsePublish,
  parseSecurityOpt,
  parseTmpfs,
  parseUlimit,
  parseVolume,
} from "./run_values.ts";

/** The flags of `ocibox run`, in lib/cli/args.ts's terms. */
export const RUN_FLAGS = {
  rm: { type: "boolean" },
  interactive: { type: "boolean", short: "i" },
  tty: { type: "boolean", short: "t" },
  detach: { type: "boolean", short: "d" },
  name: { type: "string" },
  env: { type: "string", short: "e", multiple: true },
  "env-file": { type: "string", multiple: true },
  volume: { type: "string", short: "v", multiple: true },
  mount: { type: "string", multiple: true },
  tmpfs: { type: "string", multiple: true },
  workdir: { type: "string", short: "w" },
  user: { type: "string", short: "u" },
  entrypoint: { type: "string" },
  hostname: { type: "string" },
  "read-only": { type: "boolean" },
  "read-only-tmpfs": { type: "boolean" },
  "cap-add": { type: "string", multiple: true },
  "cap-drop": { type: "string", multiple: true },
  privileged: { type: "boolean" },
  "security-opt": { type: "string", multiple: true },
  memory: { type: "string", short: "m" },
  cpus: { type: "string" },
  "pids-limit": { type: "string" },
  ulimit: { type: "string", multiple: true },
  platform: { type: "string" },
  init: { type: "boolean" },
  network: { type: "string" },
  publish: { type: "string", short: "p", multiple: true },
  pull: { type: "string" },
} as const satisfies Record<string, FlagOption>;

type FlagName = keyof typeof RUN_FLAGS;

const BY_SHORT: ReadonlyMap<string, FlagName> = new Map(
  Object.entries(RUN_FLAGS).flatMap(([name, o]) =>
    "short" in o ? [[o.short, name as FlagName]] : []
  ),
);

/** Podman's minimum for `--memory`. */
const MIN_MEMORY = 6 * 1024 * 1024;

/** The options of {@linkcode parseRunArgs}. */
export interface RunArgsOptions {
  /** Directory that relative host paths of `-v` and `--mount` are resolved against. */
  cwd?: string;
}

/**
 * Parses the arguments after `run`.
 *
 * @throws {UsageError} an unknown flag, a bad value (one line naming the flag), or no image.
 * @example
 * ```ts
 * import { parseRunArgs } from "./run_flags.ts";
 * parseRunArgs(["-it", "--entrypoint", "", "alpine", "sh"]).entrypoint; // []
 * ```
 */
export function parseRunArgs(args: readonly string[], options: RunArgsOptions = {}): RunRequest {
  const { flags, rest, switches } = splitAtImage(args);
  const parsed = parseFlags(flags, RUN_FLAGS);
  const v = parsed.values;
  const on = (name: FlagName, dflt = false) => switches.get(name) ?? dflt;
  const request: RunRequest = {
    help: parsed.help,
    image: rest[0] ?? "",
    command: rest.slice(1),
    rm: on("rm"),
    interactive: on("interactive"),
    tty: on("tty"),
    detach: on("detach"),
    env: (v.env ?? []).map(parseEnvFlag),
    envFiles: v["env-file"] ?? [],
    mounts: [],
    readOnly: on("read-only"),
    readOnlyTmpfs: on("read-only-tmpfs", true),
    capAdd: (v["cap-add"] ?? []).flatMap((c) => parseCapabilities("--cap-add", c)),
    capDrop: (v["cap-drop"] ?? []).flatMap((c) => parseCapabilities("--cap-drop", c)),
    privileged: on("privileged"),
    noNewPrivileges: false,
    seccomp: { kind: "default" },
    ulimits: (v.ulimit ?? []).map(parseUlimit),
    init: on("init"),
    network: "private",
    publish: (v.publish ?? []).map(parsePublish),
    pull: "missing",
    warnings: [],
  };
  if (parsed.help) return request;
  if (request.image === "") {
    throw new UsageError("run needs an IMAGE; usage: ocibox run [FLAGS] IMAGE [COMMAND [ARG...]]");
  }
  if (v.name !== undefined) {
    checkContainerName(v.name);
    request.name = v.name;
  }
  request.mounts = mountsInOrder(flags, options.cwd);
  if (v.workdir !== undefined) {
    if (!v.workdir.startsWith("/")) {
      throw new UsageError(`--workdir ${JSON.stringify(v.workdir)}: must be an absolute path`);
    }
    request.workdir = v.workdir;
  }
  if (v.user !== undefined) {
    if (v.user === "") throw new UsageError(`--user "": expected USER[:GROUP]`);
    request.user = v.user;
  }
  if (v.entrypoint !== undefined) request.entrypoint = parseEntrypoint(v.entrypoint);
  if (v.hostname !== undefined) request.hostname = parseHostname(v.hostname);
  for (const opt of v["security-opt"] ?? []) {
    const o = parseSecurityOpt(opt);
    if ("noNewPrivileges" in o) request.noNewPrivileges = o.noNewPrivileges;
    else if ("seccomp" in o) request.seccomp = o.seccomp;
  }
  if (v.memory !== undefined) {
    const bytes = parseBytes("--memory", v.memory);
    if (bytes < MIN_MEMORY) {
      throw new UsageError(`--memory ${JSON.stringify(v.memory)}: the minimum is 6m`);
    }
    request.memory = bytes;
  }
  if (v.cpus !== undefined) request.cpus = parseCpus(v.cpus);
  if (v["pids-limit"] !== undefined) request.pidsLimit = parsePidsLimit(v["pids-limit"]);
  if (v.platform !== undefined) request.platform = parsePlatform(v.platform);
  if (v.network !== undefined) request.network = parseNetwork(v.network);
  if (v.pull !== undefined) {
    if (v.pull !== "missing" && v.pull !== "always" && v.pull !== "never") {
      throw new UsageError(`--pull ${JSON.stringify(v.pull)}: expected missing, always or never`);
    }
    request.pull = v.pull;
  }
  checkCombinations(request);
  return request;
}

/** `--network` values: podman's, with `pasta`, `bridge` and `slirp4netns` meaning private. */
function parseNetwork(text: string): NetworkMode {
  if (text === "none" || text === "host" || text === "private") return text;
  if (text === "pasta" || text === "bridge" || text === "slirp4netns") return "private";
  throw new UsageError(
    `--network ${JSON.stringify(text)}: expected private (pasta), none or host`,
  );
}

function checkCombinations(r: RunRequest): void {
  if (r.publish.length > 0 && r.network !== "private") {
    r.warnings.push(
      `port mappings have been discarded: --network ${r.network} has no network of its own`,
    );
    r.publish = [];
  }
  const seen = new Set<string>();
  for (const p of r.publish) {
    const key = `${p.hostIp ?? "*"}:${p.hostPort}/${p.protocol}`;
    if (seen.has(key)) {
      throw new UsageError(`--publish: host port ${p.hostPort}/${p.protocol} is given twice`);
    }
    seen.add(key);
  }
  const targets = new Set<string>();
  for (const m of r.mounts) {
    if (targets.has(m.destination)) {
      throw new UsageError(`${m.destination} is mounted twice (by -v, --mount or --tmpfs)`);
    }
    targets.add(m.destination);
  }
  if (r.interactive && r.detach && !r.tty) {
    // podman allows it (stdin stays open for attach); ocibox has no attach.
    r.warnings.push("-i with -d: ocibox has no attach, so the container's stdin is empty");
  }
}

/** `-v`, `--mount` and `--tmpfs` in command-line order (parseFlags keeps one list per flag). */
function mountsInOrder(flags: readonly string[], cwd: string | undefined) {
  const out = [];
  for (const [name, value] of flagOccurrences(flags)) {
    if (name === "volume") out.push(parseVolume(value, cwd));
    else if (name === "mount") out.push(parseMountFlag(value, cwd));
    else if (name === "tmpfs") out.push(parseTmpfs(value));
  }
  return out;
}

/** Every string flag with its value, in order (the flag list was already checked). */
function* flagOccurrences(flags: readonly string[]): Generator<[FlagName, string]> {
  for (let i = 0; i < flags.length; i++) {
    const arg = flags[i];
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = arg.slice(2, eq < 0 ? undefined : eq) as FlagName;
      if (RUN_FLAGS[name]?.type !== "string") continue;
      yield [name, eq < 0 ? flags[++i] : arg.slice(eq + 1)];
      continue;
    }
    for (let j = 1; j < arg.length; j++) {
      const name = BY_SHORT.get(arg[j]);
      if (!name || RUN_FLAGS[name].type !== "string") continue;
      yield [name, j + 1 < arg.length ? arg.slice(j + 1) : flags[++i]];
      break;
    }
  }
}

/**
 * Splits the arguments at the image (the first word that is not a flag or a flag's value),
 * rewriting podman's spellings that lib/cli/args.ts does not know.
 */
function splitAtImage(
  args: readonly string[],
): { flags: string[]; rest: string[]; switches: Map<FlagName, boolean> } {
  const flags: string[] = [];
  // The switches' values, last one winning, whether given as -x, --x or --x=true|false.
  const switches = new Map<FlagName, boolean>();
  const done = (rest: readonly string[]) => ({ flags, rest: [...rest], switches });
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") return done(args.slice(i + 1));
    if (!arg.startsWith("-") || arg === "-") return done(args.slice(i));
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      let name = arg.slice(2, eq < 0 ? undefined : eq);
      const inline = eq < 0 ? undefined : arg.slice(eq + 1);
      if (name === "net") name = "network";
      const option = (RUN_FLAGS as Record<string, FlagOption>)[name];
      if (option?.type === "boolean" && (inline === "true" || inline === "false")) {
        switches.set(name as FlagName, inline === "true");
        continue;
      }
      if (option?.type === "boolean" && inline === undefined) switches.set(name as FlagName, true);
      flags.push(inline === undefined ? `--${name}` : `--${name}=${inline}`);
      if (option?.type === "string" && inline === undefined && i + 1 < args.length) {
        flags.push(args[++i]);
      }
      continue;
    }
    if (arg === "-h" && i + 1 < args.length) {
      flags.push("--hostname", args[++i]);
      continue;
    }
    flags.push(arg);
    for (let j = 1; j < arg.length; j++) {
      const name = BY_SHORT.get(arg[j]);
      if (name && RUN_FLAGS[name].type === "boolean") switches.set(name, true);
      if (name && RUN_FLAGS[name].type === "string") {
        if (j + 1 === arg.length && i + 1 < args.length) flags.push(args[++i]);
        break;
      }
    }
  }
  return done([]);
}

/** What {@linkcode resolveRunEnv} reads from the host. */
export interface EnvSources {
  /** The host's value of a variable (for `-e NAME` and `NAME` lines). */
  hostEnv: (name: string) => string | undefined;
  /** The text of an `--env-file`. */
  readTextFile: (path: string) => string;
}

/**
 * The container's extra environment as `NAME=VALUE` entries: every `--env-file` in order, then
 * every `-e` (podman's order: later entries win). `NAME` alone takes the host's value and is
 * left out when the host has none, as podman does.
 *
 * @throws {UsageError} an `--env-file` line is malformed or the file cannot be read.
 * @example
 * ```ts
 * import { parseRunArgs, resolveRunEnv } from "./run_flags.ts";
 * const r = parseRunArgs(["-e", "HOME", "-e", "A=1", "img"]);
 * resolveRunEnv(r, { hostEnv: () => "/root", readTextFile: () => "" }); // ["HOME=/root", "A=1"]
 * ```
 */
export function resolveRunEnv(request: RunRequest, sources: EnvSources): string[] {
  const entries: EnvRequest[] = [];
  for (const path of request.envFiles) {
    let text: string;
    try {
      text = sources.readTextFile(path);
    } catch (e) {
      throw new UsageError(`--env-file ${path}: ${e instanceof Error ? e.message : String(e)}`);
    }
    entries.push(...parseEnvFile(text, path));
  }
  entries.push(...request.env);
  const out: string[] = [];
  for (const e of entries) {
    if ("value" in e) out.push(`${e.name}=${e.value}`);
    else {
      const value = sources.hostEnv(e.name);
      if (value !== undefined) out.push(`${e.name}=${value}`);
    }
  }
  return out;
}
