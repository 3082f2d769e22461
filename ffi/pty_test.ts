import assert from "node:assert/strict";
import {
  getWinsize,
  isatty,
  makeRaw,
  openPty,
  POLL,
  pollFd,
  readAvailable,
  restoreTermios,
  setWinsize,
} from "./pty.ts";
import { closeFd, pipe, readFd, writeFd } from "./process.ts";
import { ErrnoError } from "./errno.ts";

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

Deno.test("openPty: slave output reaches the master, newline translated (ONLCR)", () => {
  const { master, slave, name } = openPty();
  try {
    assert.match(name, /^\/dev\/pts\/\d+$/);
    assert.ok(isatty(master) && isatty(slave));
    writeFd(slave, enc.encode("hi\n"));
    assert.equal(readBytes(master, 4), "hi\r\n");
  } finally {
    closeFd(slave);
    closeFd(master);
  }
});

Deno.test("openPty: both fds are close-on-exec", () => {
  const { master, slave } = openPty();
  try {
    for (const fd of [master, slave]) {
      const flags = /flags:\s*(\d+)/.exec(Deno.readTextFileSync(`/proc/self/fdinfo/${fd}`))![1];
      assert.ok(parseInt(flags, 8) & 0o2000000, `fd ${fd} flags ${flags}`);
    }
  } finally {
    closeFd(slave);
    closeFd(master);
  }
});

Deno.test("winsize: set on the master, read back on both sides", () => {
  const { master, slave } = openPty();
  try {
    setWinsize(master, 40, 132);
    assert.deepEqual(getWinsize(slave), { rows: 40, cols: 132 });
    setWinsize(slave, 25, 80);
    assert.deepEqual(getWinsize(master), { rows: 25, cols: 80 });
  } finally {
    closeFd(slave);
    closeFd(master);
  }
});

Deno.test("winsize and isatty on a pipe: not a terminal", () => {
  const [r, w] = pipe();
  try {
    assert.equal(getWinsize(r), undefined);
    assert.equal(isatty(r), false);
    assert.throws(() => makeRaw(r), (e: unknown) => e instanceof ErrnoError);
  } finally {
    closeFd(r);
    closeFd(w);
  }
});

Deno.test("getWinsize on a closed fd throws EBADF", () => {
  const [r, w] = pipe();
  closeFd(r);
  closeFd(w);
  assert.throws(() => getWinsize(r), (e: unknown) => e instanceof ErrnoError && e.code === "EBADF");
});

Deno.test("makeRaw turns off output processing; restoreTermios brings it back", () => {
  const { master, slave } = openPty();
  try {
    const saved = makeRaw(slave);
    writeFd(slave, enc.encode("a\n"));
    assert.equal(readBytes(master, 2), "a\n");
    restoreTermios(slave, saved);
    writeFd(slave, enc.encode("b\n"));
    assert.equal(readBytes(master, 3), "b\r\n");
    // Raw again from the restored state saves the same termios as the first time.
    assert.deepEqual(makeRaw(slave).subarray(0, 60), saved.subarray(0, 60));
  } finally {
    closeFd(slave);
    closeFd(master);
  }
});

Deno.test("makeRaw keepSignals: raw but for ISIG", () => {
  const { master, slave } = openPty();
  try {
    const saved = makeRaw(slave, { keepSignals: true });
    const now = makeRaw(slave); // returns the keepSignals termios
    const lflag = (t: Uint8Array) => new DataView(t.buffer).getUint32(12, true);
    assert.equal(lflag(now) & 0x1, 0x1, "ISIG kept");
    assert.equal(lflag(now) & 0x2, 0, "ICANON off");
    restoreTermios(slave, saved);
  } finally {
    closeFd(slave);
    closeFd(master);
  }
});

Deno.test("pollFd: timeout, readiness, and EOF (EIO) once the slave closes", async () => {
  const { master, slave } = openPty();
  const buf = new Uint8Array(64);
  try {
    assert.equal(await pollFd(master, POLL.IN, 20), 0);
    writeFd(slave, enc.encode("x"));
    assert.ok((await pollFd(master, POLL.IN, 5000)) & POLL.IN);
    assert.equal(dec.decode(buf.subarray(0, readAvailable(master, buf)!)), "x");
    closeFd(slave);
    assert.ok((await pollFd(master, POLL.IN, 5000)) & POLL.HUP);
    assert.equal(readAvailable(master, buf), 0);
  } finally {
    closeFd(master);
  }
});
