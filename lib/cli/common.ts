/**
 * Pieces every command shares: the --platform flag, the reporter choice and Ctrl-C handling.
 * @module
 */
import { AbortedError } from "../errors.ts";
import { parsePlatform, type Platform } from "../image/platform.ts";
import { plainReporter, quietReporter, type Reporter } from "../report/reporter.ts";

/** Parses an optional `--platform os/arch[/variant]`. */
export function platformFlag(value: string | undefined): Platform | undefined {
  return value === undefined ? undefined : parsePlatform(value);
}

/** Progress bars on a terminal, plain lines otherwise, only warnings with --quiet. */
export async function reporterFor(quiet: boolean | undefined): Promise<Reporter> {
  if (quiet) return quietReporter();
  if (!Deno.stderr.isTerminal()) return plainReporter();
  const { ttyReporter } = await import("../report/tty_reporter.ts");
  return ttyReporter();
}

/**
 * Runs `work` with an AbortSignal that fires on SIGINT/SIGTERM, so temporary files are removed
 * before the process exits (main.ts maps the resulting AbortedError to exit code 130).
 */
export async function withInterrupt<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, onSignal);
  try {
    return await work(controller.signal);
  } catch (e) {
    // Whatever the interrupted work threw (a closed stream, a cancelled read), report the cause.
    if (controller.signal.aborted && !(e instanceof AbortedError)) {
      throw new AbortedError("interrupted");
    }
    throw e;
  } finally {
    for (const s of signals) Deno.removeSignalListener(s, onSignal);
  }
}

/** Writes bytes to stdout completely. */
export async function writeStdout(bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await Deno.stdout.write(bytes.subarray(off));
}
