/**
 * Starts `ocibox serve` in a child process on a free port, for tests with real clients: waits
 * for its "listening on URL" line, keeps its stderr (the access log), stops it with SIGTERM.
 *
 * @example
 * ```ts
 * import { startServe } from "./ocibox_serve.ts";
 * const serve = await startServe(["--root", "/tmp/r", "--htpasswd", "/tmp/htpasswd"]);
 * console.log(serve.host); // 127.0.0.1:PORT
 * await serve.stop();
 * ```
 * @module
 */
import { spawnOcibox } from "./ocibox_cli.ts";

/** A running `ocibox serve`. */
export interface Serve {
  /** `127.0.0.1:PORT` */
  host: string;
  /** `http://127.0.0.1:PORT` (https with TLS flags). */
  url: string;
  /** What it wrote to stderr so far (access log). */
  stderr(): string;
  /** Sends `signal` (default SIGTERM) and waits for the server to exit. */
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
}

/** Starts `ocibox serve --addr 127.0.0.1:0 ARGS...`; throws with its output when it fails. */
export async function startServe(args: string[], timeoutMs = 30_000): Promise<Serve> {
  const child = spawnOcibox(["serve", "--addr", "127.0.0.1:0", ...args]);
  const dec = new TextDecoder();
  let err = "";
  const errDone = (async () => {
    for await (const c of child.stderr) err += dec.decode(c, { stream: true });
  })();
  const reader = child.stdout.getReader();
  let out = "";
  const deadline = Date.now() + timeoutMs;
  let match: RegExpExecArray | null = null;
  while (!match) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((r) => {
      timer = setTimeout(() => r("timeout"), Math.max(0, deadline - Date.now()));
    });
    const r = await Promise.race([reader.read(), timeout]);
    clearTimeout(timer);
    if (r === "timeout" || r.done) {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      await child.status;
      await errDone;
      throw new Error(`ocibox serve did not start: ${out}\n${err}`);
    }
    out += dec.decode(r.value, { stream: true });
    match = /listening on (https?:\/\/([^\s/]+))/.exec(out);
  }
  // Keep draining stdout so the server never blocks on a full pipe.
  const outDone = (async () => {
    for (;;) if ((await reader.read()).done) break;
  })();
  return {
    host: match[2],
    url: match[1],
    stderr: () => err,
    async stop(signal: Deno.Signal = "SIGTERM") {
      try {
        child.kill(signal);
      } catch { /* gone */ }
      const status = await child.status;
      await Promise.all([outDone, errDone]);
      return status;
    },
  };
}
