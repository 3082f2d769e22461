/**
 * The messages between the runtime (`create`) and the container's init, one JSON object per
 * line over two pipes: the plan and "continue"/"abort" go to init, "sync"/"created"/"error"
 * come back.
 * @module
 */
import { readFd, writeFd } from "../../../ffi/process.ts";
import type { Plan } from "../plan/ops.ts";
import type { Hook } from "../spec_types.ts";

/** Everything init needs, sent first. */
export interface InitRequest {
  plan: Plan;
  /** The exec FIFO in the state directory; init waits on it before running the program. */
  fifo: string | null;
  /** Hooks init runs in the container's namespaces. */
  createContainer: Hook[];
  startContainer: Hook[];
  /** The state JSON hooks get on stdin (status "creating"; pid filled in by init). */
  state: Record<string, unknown>;
}

/** What goes from the runtime to init. */
export type ToInit = InitRequest | { type: "continue" } | { type: "abort" };

/** What comes back from init. */
export type FromInit =
  | { type: "sync"; point: "createRuntime" }
  | { type: "created" }
  | { type: "error"; message: string };

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** Reads newline-separated JSON messages from a descriptor, synchronously. */
export class LineReader {
  #buf = "";
  constructor(readonly fd: number) {}

  /** The next message, or undefined at end of input. */
  next<T>(): T | undefined {
    const chunk = new Uint8Array(65536);
    for (;;) {
      const nl = this.#buf.indexOf("\n");
      if (nl >= 0) {
        const line = this.#buf.slice(0, nl);
        this.#buf = this.#buf.slice(nl + 1);
        return JSON.parse(line) as T;
      }
      const n = readFd(this.fd, chunk);
      if (n === 0) return undefined;
      this.#buf += decoder.decode(chunk.subarray(0, n), { stream: true });
    }
  }
}

/** Writes one message. */
export function send(fd: number, message: ToInit | FromInit): void {
  writeFd(fd, encoder.encode(JSON.stringify(message) + "\n"));
}
