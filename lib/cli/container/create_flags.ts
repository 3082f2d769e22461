/**
 * The flags `create` and `run` share (runc's names; the ones runc accepts and we do not need are
 * accepted and ignored).
 * @module
 */
import { UsageError } from "../../errors.ts";
import type { CreateOptions } from "../../runtime/lifecycle/create.ts";
import { runtimeGlobals } from "../runtime_globals.ts";

/** parseArgs options of create/run. */
export const CREATE_FLAGS = {
  bundle: { type: "string", short: "b" },
  "pid-file": { type: "string" },
  "console-socket": { type: "string" },
  "no-pivot": { type: "boolean" },
  "no-new-keyring": { type: "boolean" },
  "preserve-fds": { type: "string" },
} as const;

/** Help lines of {@linkcode CREATE_FLAGS}. */
export const CREATE_FLAG_HELP =
  `  -b, --bundle DIR        the bundle (default: the current directory)
  --pid-file FILE         write the container's init pid there
  --console-socket SOCK   send the pty master there (process.terminal)
  --no-pivot              MS_MOVE + chroot instead of pivot_root (e.g. on a ramfs)
  --preserve-fds N        pass descriptors 3 .. 3+N-1 on to the container`;

/** Options of createContainer from parsed flags (root from the globals). */
export function createOptions(values: {
  bundle?: string;
  "pid-file"?: string;
  "console-socket"?: string;
  "no-pivot"?: boolean;
  "preserve-fds"?: string;
}): CreateOptions {
  let preserveFds: number | undefined;
  if (values["preserve-fds"] !== undefined) {
    preserveFds = Number(values["preserve-fds"]);
    if (!Number.isInteger(preserveFds) || preserveFds < 0) {
      throw new UsageError(`--preserve-fds must be a count, not ${values["preserve-fds"]}`);
    }
  }
  return {
    root: runtimeGlobals.root,
    bundle: values.bundle ?? ".",
    pidFile: values["pid-file"],
    consoleSocket: values["console-socket"],
    noPivot: values["no-pivot"],
    preserveFds,
    systemdCgroup: runtimeGlobals.systemdCgroup,
  };
}
