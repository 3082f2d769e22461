/**
 * File descriptors and terminals through the ffi layer, checked against what is not ours:
 * SCM_RIGHTS messages exchanged with Python's socket.send_fds/recv_fds (an independent
 * msghdr/cmsghdr layout), and a pty opened through a root's devpts (`/dev/pts/ptmx`, which
 * needs root) with its slave reached by TIOCGPTPEER.
 * @module
 */
import assert from "node:assert/strict";
import { AT_FDCWD, O_DIRECTORY, O_PATH } from "../ffi/constants.ts";
import { close, openat } from "../ffi/fs.ts";
import { closeFd, pipe, readFd, writeFd } from "../ffi/process.ts";
import { isatty, openPtyIn, POLL, pollFd } from "../ffi/pty.ts";
import { acceptFd, listenUnix, recvFd, sendFd } from "../ffi/socket.ts";
import { peerTest } from "./support/peers.ts";

const dec = new TextDecoder();

function readAll(fd: number): string {
  const buf = new Uint8Array(4096);
  let s = "";
  for (let n; (n = readFd(fd, buf)) > 0;) s += dec.decode(buf.subarray(0, n));
  return s;
}

peerTest("interop with Python's socket.send_fds/recv_fds", { peers: ["python3"] }, async () => {
  // An independent SCM_RIGHTS implementation checks the hand-built msghdr/cmsghdr layout.
  const dir = Deno.makeTempDirSync({ prefix: "ocibox-sock-" });
  const path = `${dir}/py.sock`;
  const listener = listenUnix(path);
  const [r, w] = pipe();
  try {
    const script = `
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
pr, pw = os.pipe()
os.write(pw, b"from python")
os.close(pw)
socket.send_fds(s, [b"/dev/ptmx"], [pr])
msg, fds, _, _ = socket.recv_fds(s, 4096, 4)
assert len(fds) == 1, fds
os.write(fds[0], b"from deno via " + msg)
`;
    const child = new Deno.Command("python3", {
      args: ["-c", script, path],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    assert.ok(await pollFd(listener, POLL.IN, 10_000), "python did not connect");
    const conn = acceptFd(listener);
    assert.ok(await pollFd(conn, POLL.IN, 10_000), "python sent nothing");
    const got = recvFd(conn);
    assert.equal(got.name, "/dev/ptmx");
    assert.equal(readAll(got.fd), "from python");
    closeFd(got.fd);
    sendFd(conn, w, "pipe");
    closeFd(w);
    const out = await child.output();
    closeFd(conn);
    assert.equal(out.code, 0, dec.decode(out.stderr));
    assert.equal(readAll(r), "from deno via pipe");
  } finally {
    closeFd(r);
    closeFd(listener);
    Deno.removeSync(dir, { recursive: true });
  }
});

peerTest(
  "recvFd refuses a message with two fds and closes both",
  { peers: ["python3"] },
  async () => {
    const dir = Deno.makeTempDirSync({ prefix: "ocibox-sock-" });
    const path = `${dir}/two.sock`;
    const listener = listenUnix(path);
    try {
      const script = `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
socket.send_fds(s, [b"two"], [0, 1])
s.recv(1)
`;
      const child = new Deno.Command("python3", {
        args: ["-c", script, path],
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).spawn();
      assert.ok(await pollFd(listener, POLL.IN, 10_000), "python did not connect");
      const conn = acceptFd(listener);
      assert.ok(await pollFd(conn, POLL.IN, 10_000), "python sent nothing");
      const openFds = () => Array.from(Deno.readDirSync("/proc/self/fd")).length;
      const before = openFds();
      assert.throws(() => recvFd(conn), /expected one fd, got 2/);
      assert.equal(openFds(), before, "the received fds were closed");
      closeFd(conn); // python's recv(1) sees EOF and exits
      const out = await child.output();
      assert.equal(out.code, 0, dec.decode(out.stderr));
    } finally {
      closeFd(listener);
      Deno.removeSync(dir, { recursive: true });
    }
  },
);

peerTest("openPtyIn opens a pty of the devpts under a root, its slave by TIOCGPTPEER", {
  // /dev/pts/ptmx is mode 000 unless devpts is mounted with ptmxmode.
  root: true,
}, () => {
  const root = openat(AT_FDCWD, "/", O_PATH | O_DIRECTORY);
  try {
    const pty = openPtyIn(root, "/dev/pts/ptmx");
    try {
      assert.match(pty.name, /^\/dev\/pts\/\d+$/);
      assert.ok(isatty(pty.slave));
      writeFd(pty.slave, new TextEncoder().encode("peer\n"));
      const buf = new Uint8Array(64);
      const n = readFd(pty.master, buf);
      assert.equal(new TextDecoder().decode(buf.subarray(0, n)), "peer\r\n");
    } finally {
      close(pty.master);
      close(pty.slave);
    }
  } finally {
    close(root);
  }
});
