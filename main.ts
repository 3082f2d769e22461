/**
 * ocibox entry point: parses the global flags and the command word, loads that command's module
 * lazily and maps errors to exit codes (0 ok, 1 failure, 2 usage error).
 * @module
 */
import { COMMANDS, findCommand } from "./lib/cli/commands.ts";
import { AbortedError, ExitCodeError, UsageError } from "./lib/errors.ts";
import { logLine, setRuntimeGlobal } from "./lib/cli/runtime_globals.ts";
import { escapeUnsafe } from "./lib/report/safe_text.ts";

const VERSION = "0.1.0";

function usage(): string {
  const shown = COMMANDS.filter((c) => !c.hidden);
  const width = Math.max(...shown.map((c) => c.name.length));
  const lines = shown.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return [
    "ocibox: OCI images, registries and containers in one program",
    "",
    "Usage: ocibox [--debug] COMMAND [FLAGS] [ARGS]",
    "",
    "Commands:",
    ...lines,
    "",
    "Global flags:",
    "  --debug     print stack traces on errors",
    "  --root DIR  container state directory (default /run/ocibox)",
    "  --log FILE  also write errors to FILE; --log-format text|json",
    "  --systemd-cgroup  read cgroupsPath as slice:prefix:name (cgroupfs is used)",
    "  --store DIR the image store (default /var/lib/ocibox as root, else",
    "              $XDG_DATA_HOME/ocibox; OCIBOX_STORE also sets it)",
    "  --version   print the version",
    "  -h, --help  print this help; `ocibox COMMAND --help` for a command",
  ].join("\n");
}

/** Options of {@linkcode main}. */
export interface MainOptions {
  /**
   * The process exits when main() resolves (the CLI): commands may start work beside loading
   * their code (CommandInfo.prepare) that only the exit ends when they do not use it.
   */
  exits?: boolean;
}

/** Runs ocibox with `argv`; resolves to the process exit code. */
export async function main(argv: string[], options: MainOptions = {}): Promise<number> {
  let debug = false;
  let i = 0;
  for (; i < argv.length && argv[i].startsWith("-"); i++) {
    const flag = argv[i];
    if (flag === "--debug") debug = true;
    else if (flag === "--version") {
      console.log(`ocibox version ${VERSION}`);
      return 0;
    } else if (flag === "--help" || flag === "-h") {
      console.log(usage());
      return 0;
    } else {
      const eq = flag.indexOf("=");
      const name = eq < 0 ? flag : flag.slice(0, eq);
      let value = eq < 0 ? undefined : flag.slice(eq + 1);
      let r = setRuntimeGlobal(name, value);
      if (r === "needs-value" && i + 1 < argv.length) {
        value = argv[++i];
        r = setRuntimeGlobal(name, value);
      }
      if (r !== true) {
        return fail(new UsageError(`unknown global flag ${flag}; see ocibox --help`), debug);
      }
    }
  }
  const word = argv[i];
  if (word === "help") {
    console.log(usage());
    return 0;
  }
  if (word === undefined) return fail(new UsageError("no command given; see ocibox --help"), debug);
  const info = findCommand(word);
  if (!info) {
    return fail(
      new UsageError(`unknown command ${JSON.stringify(word)}; see ocibox --help`),
      debug,
    );
  }
  try {
    const rest = argv.slice(i + 1);
    if (options.exits && !defaultWantsHelp(rest)) info.prepare?.();
    const mod = await info.load();
    if (mod.wantsHelp ? mod.wantsHelp(rest) : defaultWantsHelp(rest)) {
      console.log(mod.help);
      return 0;
    }
    return await mod.run(rest);
  } catch (e) {
    return fail(e, debug);
  }
}

/** `--help` or `-h` before any `--`. */
function defaultWantsHelp(args: string[]): boolean {
  const end = args.indexOf("--");
  return (end < 0 ? args : args.slice(0, end)).some((a) => a === "--help" || a === "-h");
}

function fail(e: unknown, debug: boolean): number {
  if (debug && e instanceof Error && e.stack) console.error(e.stack);
  // One line whatever the message holds: names from images and registries reach it, and a
  // newline, escape sequence or bidi override in one must not forge or hide output.
  const msg = escapeUnsafe(e instanceof Error ? e.message : String(e));
  console.error(`error: ${msg}`);
  logLine("error", msg);
  // 130 like a shell for Ctrl-C (the work stopped through its AbortSignal).
  if (e instanceof ExitCodeError) return e.exitCode;
  return e instanceof UsageError ? 2 : e instanceof AbortedError ? 130 : 1;
}

if (import.meta.main) Deno.exit(await main(Deno.args, { exits: true }));
