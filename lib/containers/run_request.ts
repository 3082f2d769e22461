/**
 * What `ocibox run [FLAGS] IMAGE [CMD [ARG...]]` asks for, as plain data: the result of
 * {@linkcode parseRunArgs} (run_flags.ts) and the input of `containerSpec` (container_spec.ts).
 * Every field has podman's meaning; nothing here has been checked against the image or host.
 * @module
 */

/** An `-e/--env` entry, in command-line order. */
export type EnvRequest =
  /** `-e NAME=VALUE` (VALUE may be empty). */
  | { name: string; value: string }
  /** `-e NAME`: the host's value, or nothing when the host has none. */
  | { name: string; fromHost: true };

/** A bind mount from `-v/--volume` or `--mount type=bind`. */
export interface BindRequest {
  type: "bind";
  /** Absolute host path. */
  source: string;
  /** Absolute path in the container. */
  destination: string;
  readonly: boolean;
  /** `-v` creates a missing source directory (as docker; podman refuses); `--mount` refuses. */
  createSource: boolean;
  /** Mount options as podman writes them: `ro|rw`, propagation, `rbind|bind`, flags. */
  options: string[];
}

/** A tmpfs from `--tmpfs` or `--mount type=tmpfs`. */
export interface TmpfsRequest {
  type: "tmpfs";
  destination: string;
  readonly: boolean;
  /** Mount options as podman writes them (`size=`, `mode=`, `rw|ro`, `rprivate`, ...). */
  options: string[];
}

/** One mount asked for, in command-line order (`-v`, `--mount`, `--tmpfs` interleaved). */
export type MountRequest = BindRequest | TmpfsRequest;

/** A `-p/--publish` entry: `[IP:]HOST:CTR[/tcp|udp]`. */
export interface PortMapping {
  /** Host address to bind; all addresses when absent. IPv6 without brackets. */
  hostIp?: string;
  hostPort: number;
  containerPort: number;
  protocol: "tcp" | "udp";
}

/** One `--ulimit name=soft[:hard]`; -1 means unlimited. */
export interface UlimitRequest {
  /** `RLIMIT_NOFILE` etc. */
  type: string;
  soft: number;
  hard: number;
}

/** `--security-opt seccomp=...`. */
export type SeccompRequest =
  | { kind: "default" }
  | { kind: "unconfined" }
  /** A profile file (OCI or containers-common format), read by the caller. */
  | { kind: "file"; path: string };

/** The network a container gets (`--network`). */
export type NetworkMode = "private" | "none" | "host";

/** Everything `ocibox run` was asked for. */
export interface RunRequest {
  /** `--help`/`-h` alone was given: the rest is defaults and may be incomplete. */
  help: boolean;
  /** The image reference as typed. */
  image: string;
  /** What follows the image (replaces the image's Cmd when not empty). */
  command: string[];
  rm: boolean;
  interactive: boolean;
  tty: boolean;
  detach: boolean;
  name?: string;
  /** `-e` entries in order; `--env-file` entries come first, see `resolveRunEnv`. */
  env: EnvRequest[];
  envFiles: string[];
  mounts: MountRequest[];
  workdir?: string;
  user?: string;
  /** `--entrypoint`: the new entrypoint; `[]` for `--entrypoint ""`. */
  entrypoint?: string[];
  hostname?: string;
  readOnly: boolean;
  /** With `--read-only`: tmpfs on /run, /tmp and /var/tmp (podman's default, true). */
  readOnlyTmpfs: boolean;
  /** `CAP_*` names or `ALL`, in order. */
  capAdd: string[];
  capDrop: string[];
  privileged: boolean;
  noNewPrivileges: boolean;
  seccomp: SeccompRequest;
  /** `--memory` in bytes. */
  memory?: number;
  /** `--cpus` (fraction of CPUs). */
  cpus?: number;
  /** `--pids-limit`: a number, `"unlimited"` for -1 or 0, absent for podman's default (2048). */
  pidsLimit?: number | "unlimited";
  ulimits: UlimitRequest[];
  /** `--platform os/arch[/variant]`. */
  platform?: string;
  init: boolean;
  network: NetworkMode;
  publish: PortMapping[];
  pull: "missing" | "always" | "never";
  /** Things accepted but ignored, one line each (podman's words where it has them). */
  warnings: string[];
}
