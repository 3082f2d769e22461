/**
 * Asking the user on a terminal: a line (echoed) or a secret (not echoed, through raw mode).
 * Prompts go to stderr so stdout stays clean for what a command prints.
 *
 * @example
 * ```ts
 * import { promptLine, promptSecret, stdinIsTerminal } from "./prompt.ts";
 * if (stdinIsTerminal()) {
 *   const user = await promptLine("Username: ");
 *   const password = await promptSecret("Password: ");
 * }
 * ```
 * @module
 */
import { AbortedError } from "../errors.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** True when stdin is a terminal someone can type into. */
export function stdinIsTerminal(): boolean {
  return Deno.stdin.isTerminal();
}

function writeErr(text: string): void {
  const bytes = enc.encode(text);
  let off = 0;
  while (off < bytes.length) off += Deno.stderr.writeSync(bytes.subarray(off));
}

/** Shows `question` and reads one line (without its line break); "" at end of input. */
export async function promptLine(question: string): Promise<string> {
  writeErr(question);
  const buf = new Uint8Array(1);
  const bytes: number[] = [];
  // Byte by byte, so nothing after the line is taken from stdin.
  for (;;) {
    const n = await Deno.stdin.read(buf);
    if (n === null || buf[0] === 0x0a) break;
    bytes.push(buf[0]);
  }
  return dec.decode(new Uint8Array(bytes)).replace(/\r$/, "");
}

/**
 * Shows `question` and reads a line without echoing it (Backspace edits, Ctrl-C aborts,
 * Enter or Ctrl-D ends).
 *
 * @throws {AbortedError} on Ctrl-C.
 */
export async function promptSecret(question: string): Promise<string> {
  writeErr(question);
  Deno.stdin.setRaw(true);
  let text = "";
  // A streaming decoder holds back a character split across reads until it is complete.
  const decoder = new TextDecoder();
  const buf = new Uint8Array(64);
  try {
    reading: for (;;) {
      const n = await Deno.stdin.read(buf);
      if (n === null) break;
      for (const b of buf.subarray(0, n)) {
        if (b === 0x0d || b === 0x0a || b === 0x04) break reading;
        if (b === 0x03) throw new AbortedError("interrupted");
        if (b === 0x7f || b === 0x08) {
          text = [...text].slice(0, -1).join("");
          continue;
        }
        text += decoder.decode(new Uint8Array([b]), { stream: true });
      }
    }
  } finally {
    Deno.stdin.setRaw(false);
    writeErr("\n");
  }
  return text;
}
