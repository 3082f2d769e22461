/**
 * The pty relay of `run` and `exec --tty` without a console socket: bytes both ways, the
 * caller's terminal in raw mode, its size followed (SIGWINCH), everything restored.
 */
import assert from "node:assert/strict";
import {
  getWinsize,
  makeRaw,
  openPty,
  POLL,
  pollFd,
  readAvailable,
  restoreTermios,
  setWinsize,
} from "../../../ffi/pty.ts";
import { closeFd, pipe, readFd, writeFd } from "../../../ffi/process.ts";
import { relayPty } from "./console.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Reads `fd` (blocking) until `want` bytes arrived or it ends. */
function readBytes(fd: number, want: number): string {
  const buf = new Uint8Array(want);
  let got = 0;
  while (got < want) {
    const n = readFd(fd, buf.subarray(got));
    if (n === 0) break;
    got += n;
  }
  return dec.decode(buf.subarray(0, got));
}

Deno.test("relayPty copies stdin to the pty and the pty to stdout until the slave closes", async () => {
  const { master, slave } = openPty();
  makeRaw(slave); // no echo, no CR/LF translation: bytes arrive as written
  const [inR, inW] = pipe();
  const [outR, outW] = pipe();
  try {
    const relay = relayPty(master, { stdin: inR, stdout: outW });
    writeFd(inW, enc.encode("ping"));
    closeFd(inW); // stdin EOF only stops the input side

    // Read the slave without blocking the event loop the relay runs on.
    const buf = new Uint8Array(16);
    let got = "";
    while (got.length < 4) {
      assert.ok(await pollFd(slave, POLL.IN, 5000), "input did not reach the slave");
      got += dec.decode(buf.subarray(0, readAvailable(slave, buf)!));
    }
    assert.equal(got, "ping");

    writeFd(slave, enc.encode("hello\nworld"));
    closeFd(slave);
    await relay;
    closeFd(outW);
    assert.equal(readBytes(outR, 64), "hello\nworld");
  } finally {
    closeFd(inR);
    closeFd(outR);
    closeFd(master);
  }
});

Deno.test("relayPty on a terminal: raw mode, window size, SIGWINCH, termios restored", async () => {
  const container = openPty();
  const caller = openPty(); // stands in for the user's terminal: its slave is stdin and stdout
  makeRaw(container.slave);
  const original = makeRaw(caller.slave);
  restoreTermios(caller.slave, original);
  const buf = new Uint8Array(64);
  const until = async (what: string, ok: () => boolean) => {
    for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(ok(), what);
  };
  try {
    setWinsize(caller.master, 33, 99);
    const tty = caller.slave;
    const relay = relayPty(container.master, { stdin: tty, stdout: tty });
    assert.deepEqual(getWinsize(container.slave), { rows: 33, cols: 99 });

    // Raw mode: typed bytes pass without waiting for a newline and without echo.
    writeFd(caller.master, enc.encode("\x03abc"));
    let got = "";
    while (got.length < 4) {
      assert.ok(await pollFd(container.slave, POLL.IN, 5000), "keystrokes did not arrive");
      got += dec.decode(buf.subarray(0, readAvailable(container.slave, buf)!));
    }
    assert.equal(got, "\x03abc");

    setWinsize(caller.master, 44, 100);
    Deno.kill(Deno.pid, "SIGWINCH");
    await until("SIGWINCH resized the pty", () => getWinsize(container.slave)?.rows === 44);

    writeFd(container.slave, enc.encode("out"));
    closeFd(container.slave);
    await relay;
    assert.equal(readBytes(caller.master, 3), "out");
    assert.deepEqual(makeRaw(tty).subarray(0, 60), original.subarray(0, 60), "termios restored");
  } finally {
    for (const fd of [container.master, caller.slave, caller.master]) closeFd(fd);
  }
});

Deno.test("relayPty without input: the output terminal is raw but for ^C, then restored", async () => {
  const container = openPty();
  const caller = openPty(); // the user's terminal, only shown the output (run -t without -i)
  const original = makeRaw(caller.slave);
  restoreTermios(caller.slave, original);
  try {
    const relay = relayPty(container.master, { stdin: -1, stdout: caller.slave });
    // The container's pty turns \n into \r\n; the caller's terminal must not add another \r.
    writeFd(container.slave, enc.encode("a\n"));
    closeFd(container.slave);
    await relay;
    assert.equal(readBytes(caller.master, 3), "a\r\n");
    assert.deepEqual(makeRaw(caller.slave).subarray(0, 60), original.subarray(0, 60));
  } finally {
    for (const fd of [container.master, caller.slave, caller.master]) closeFd(fd);
  }
});

Deno.test("relayPty stops on abort while the slave is still open, draining output", async () => {
  const { master, slave } = openPty();
  makeRaw(slave);
  const [outR, outW] = pipe();
  try {
    // An idle relay ends soon after the abort although the container side is still open.
    const idle = new AbortController();
    const relay = relayPty(master, { stdin: -1, stdout: outW, signal: idle.signal });
    setTimeout(() => idle.abort(), 20);
    await relay;

    // Output already buffered in the pty when the abort comes is still delivered.
    writeFd(slave, enc.encode("left over"));
    await pollFd(master, POLL.IN, 5000); // the bytes have crossed the pty (poll consumes nothing)
    await relayPty(master, { stdin: -1, stdout: outW, signal: AbortSignal.abort() });
    closeFd(outW);
    assert.equal(readBytes(outR, 64), "left over");
  } finally {
    closeFd(slave);
    closeFd(outR);
    closeFd(master);
  }
});
