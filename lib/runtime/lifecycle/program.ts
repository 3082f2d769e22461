/**
 * Finding the program a container runs, in the container's root, the way runc's init does (Go's
 * exec.LookPath after pivot_root), at create and exec time, so that a missing or
 * non-executable command fails there with runc's words: podman turns "executable file not
 * found" and "no such file or directory" into exit code 127 and "permission denied" into 126.
 * @module
 */
import {
  AT_EMPTY_PATH,
  AT_FDCWD,
  O_DIRECTORY,
  O_PATH,
  RESOLVE_IN_ROOT,
  S_IFDIR,
  S_IFMT,
} from "../../../ffi/constants.ts";
import { Errno, ErrnoError } from "../../../ffi/errno.ts";
import { close, openat, openat2, statx } from "../../../ffi/fs.ts";
import { OciboxError } from "../../errors.ts";

const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * A program that cannot be run: `reason` is "missing" (podman's exit code 127) or "denied"
 * (126).
 */
export class ProgramError extends OciboxError {
  constructor(readonly reason: "missing" | "denied", message: string) {
    super("EXEC", message);
  }
}

/** "ok", or why `path` (inside the root open as `root`) is no program: Go's findExecutable. */
function check(root: number, path: string): "ok" | "missing" | "denied" {
  let fd: number;
  try {
    fd = openat2(root, path, O_PATH, 0, RESOLVE_IN_ROOT);
  } catch (e) {
    if (e instanceof ErrnoError && (e.errno === Errno.ENOENT || e.errno === Errno.ENOTDIR)) {
      return "missing";
    }
    if (e instanceof ErrnoError && e.errno === Errno.EACCES) return "denied";
    throw e;
  }
  try {
    const mode = statx(fd, "", AT_EMPTY_PATH).mode;
    return (mode & S_IFMT) !== S_IFDIR && (mode & 0o111) !== 0 ? "ok" : "denied";
  } finally {
    close(fd);
  }
}

/**
 * The absolute path (inside the container) of the program `name` for a process with `env` and
 * working directory `cwd`, looked up in the root of process `pid` (a name without a slash
 * through the PATH in `env`).
 *
 * @throws {ProgramError} with runc's message when there is none.
 */
export function findProgram(
  pid: number,
  name: string,
  env: readonly string[],
  cwd: string,
): string {
  const root = openat(AT_FDCWD, `/proc/${pid}/root`, O_PATH | O_DIRECTORY);
  try {
    if (name.includes("/")) {
      const path = name.startsWith("/") ? name : `${cwd.replace(/\/+$/, "")}/${name}`;
      const found = check(root, path);
      if (found === "ok") return path;
      throw new ProgramError(
        found,
        found === "missing"
          ? `exec: ${JSON.stringify(name)}: stat ${name}: no such file or directory`
          : `exec: ${JSON.stringify(name)}: permission denied`,
      );
    }
    const search = env.findLast((e) => e.startsWith("PATH="))?.slice(5) ?? DEFAULT_PATH;
    for (const dir of search.split(":")) {
      // Go's LookPath takes an empty entry as the working directory.
      const base = dir === "" ? cwd : dir.startsWith("/") ? dir : `${cwd}/${dir}`;
      const path = `${base.replace(/\/+$/, "")}/${name}`;
      if (check(root, path) === "ok") return path;
    }
    throw new ProgramError(
      "missing",
      `exec: ${JSON.stringify(name)}: executable file not found in $PATH`,
    );
  } finally {
    close(root);
  }
}
