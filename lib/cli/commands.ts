/**
 * The table of commands. Only names, summaries and lazy loaders live here, so `ocibox --help`
 * and the dispatch in main.ts load no command code (inflate_spawn.ts, which `unpack` prepares
 * with, is a few lines that import nothing: the worker boots while the command's code loads).
 * @module
 */
import { prestartInflateWorker } from "../archive/inflate_spawn.ts";

/** What every command module exports. */
export interface CommandModule {
  /** Full help text for `ocibox CMD --help`. */
  readonly help: string;
  /** Runs the command with the arguments after its name; resolves to the exit code. */
  run(args: string[]): Promise<number>;
  /**
   * Whether `args` ask for the help text. Default: `--help` or `-h` before any `--`; commands
   * whose arguments end in a program's own (`run IMAGE CMD --help`) decide themselves.
   */
  wantsHelp?(args: string[]): boolean;
}

/** One row of the command table. */
export interface CommandInfo {
  readonly name: string;
  readonly summary: string;
  readonly load: () => Promise<CommandModule>;
  /** Left out of `ocibox --help` (internal: the monitor of a detached container). */
  readonly hidden?: boolean;
  /**
   * Work main.ts starts before loading the command (which takes 100-200 ms), for things that
   * take long and run beside it; called only when the process runs the command and exits.
   */
  readonly prepare?: () => void;
}

/** Every command, in the order `ocibox --help` lists them. */
export const COMMANDS: readonly CommandInfo[] = [
  {
    name: "inspect",
    summary: "show an image's manifest, config and layers (skopeo inspect JSON)",
    load: () => import("./inspect.ts"),
  },
  {
    name: "copy",
    summary:
      "copy an image between locations (docker://, oci:, oci-archive:, docker-archive:, dir:, store:)",
    load: () => import("./copy.ts"),
  },
  {
    name: "unpack",
    summary: "unpack an image into a runtime bundle (rootfs/ and config.json)",
    load: () => import("./unpack.ts"),
    // The inflate worker boots on the second core while the unpack code loads.
    prepare: prestartInflateWorker,
  },
  {
    name: "list-tags",
    summary: "list a registry repository's tags",
    load: () => import("./list_tags.ts"),
  },
  {
    name: "serve",
    summary: "run a registry (Distribution Spec 1.1) on this machine",
    load: () => import("./serve.ts"),
  },
  {
    name: "gc",
    summary: "remove blobs no manifest uses from a registry root (safe while serve runs)",
    load: () => import("./gc.ts"),
  },
  {
    name: "delete",
    summary: "delete an image from a registry, or a container (runc delete)",
    load: () => import("./delete.ts"),
  },
  {
    name: "manifest-digest",
    summary: "print the digest of a manifest file",
    load: () => import("./manifest_digest.ts"),
  },
  {
    name: "append",
    summary: "make a new image from a base (or scratch) plus a layer",
    load: () => import("./append.ts"),
  },
  {
    name: "login",
    summary: "check and store credentials for a registry",
    load: () => import("./login.ts"),
  },
  {
    name: "logout",
    summary: "remove stored credentials for a registry",
    load: () => import("./logout.ts"),
  },
  {
    name: "pull",
    summary: "pull an image from a registry into the local store",
    load: () => import("./image/pull.ts"),
  },
  {
    name: "images",
    summary: "list the images of the local store",
    load: () => import("./image/images.ts"),
  },
  {
    name: "rmi",
    summary: "remove images from the local store",
    load: () => import("./image/rmi.ts"),
  },
  {
    name: "tag",
    summary: "give a store image another name",
    load: () => import("./image/tag.ts"),
  },
  {
    name: "push",
    summary: "push a store image to a registry (or any location)",
    load: () => import("./image/push.ts"),
  },
  {
    name: "save",
    summary: "write a store image to a docker-archive or oci-archive file",
    load: () => import("./image/save.ts"),
  },
  {
    name: "load",
    summary: "store the images of a docker-archive or oci-archive file",
    load: () => import("./image/load.ts"),
  },
  {
    name: "image",
    summary: "image prune, and podman's image ls|rm|pull|push|tag|save|load",
    load: () => import("./image/image.ts"),
  },
  {
    name: "spec",
    summary: "write a default runtime config.json (runc spec)",
    load: () => import("./container/spec.ts"),
  },
  {
    name: "create",
    summary: "create a container from a bundle; its program waits for start",
    load: () => import("./container/create.ts"),
  },
  {
    name: "start",
    summary: "run a created container's program",
    load: () => import("./container/start.ts"),
  },
  {
    name: "run",
    summary: "run a command in a new container of an image (or runc's run of a bundle)",
    load: () => import("./container/run.ts"),
  },
  {
    name: "state",
    summary: "print a container's state JSON",
    load: () => import("./container/state.ts"),
  },
  {
    name: "kill",
    summary: "send a signal to a container",
    load: () => import("./container/kill.ts"),
  },
  {
    name: "exec",
    summary: "run another process in a running container",
    load: () => import("./container/exec.ts"),
  },
  {
    name: "list",
    summary: "list containers",
    load: () => import("./container/list.ts"),
  },
  {
    name: "ps",
    summary: "list the store's containers (or runc's ps ID: a container's processes)",
    load: () => import("./container/ps.ts"),
  },
  {
    name: "logs",
    summary: "print what a detached container wrote",
    load: () => import("./manage/logs.ts"),
  },
  {
    name: "stop",
    summary: "stop containers (TERM, then KILL)",
    load: () => import("./manage/stop.ts"),
  },
  {
    name: "rm",
    summary: "remove containers of the store",
    load: () => import("./manage/rm.ts"),
  },
  {
    name: "pause",
    summary: "freeze a container's processes",
    load: () => import("./container/pause.ts"),
  },
  {
    name: "resume",
    summary: "thaw a paused container",
    load: () => import("./container/resume.ts"),
  },
  {
    name: "container-monitor",
    summary: "internal: supervises a detached container",
    load: () => import("./container/monitor.ts"),
    hidden: true,
  },
  {
    name: "features",
    summary: "print the runtime's features JSON",
    load: () => import("./container/features.ts"),
  },
];

/** Looks a command up by name. */
export function findCommand(name: string): CommandInfo | undefined {
  return COMMANDS.find((c) => c.name === name);
}
