import assert from "node:assert/strict";
import {
  acceptFd,
  connectUnix,
  listenUnix,
  MAX_FD_NAME,
  recvFd,
  sendFd,
  socketPair,
} from "./socket.ts";
import { openPty, POLL, pollFd } from "./pty.ts";
import { closeFd, pipe, readFd, writeFd } from "./process.ts";
import { ErrnoError } from "./errno.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function readAll(fd: number): string {
  const buf = new Uint8Array(4096);
  let s = "";
  for (let n; (n = readFd(fd, buf)) > 0;) s += dec.decode(buf.subarray(0, n));
  return s;
}

function isCloexec(fd: number): boolean {
  const flags = /flags:\s*(\d+)/.exec(Deno.readTextFileSync(`/proc/self/fdinfo/${fd}`))![1];
  return (parseInt(flags, 8) & 0o2000000) !== 0;
}

const errnoCode = (code: string) => (e: unknown) => e instanceof ErrnoError && e.code === code;

Deno.test("sendFd/recvFd pass a pty master over a socket pair, with its name", () => {
  const [a, b] = socketPair();
  const { master, slave, name } = openPty();
  try {
    assert.ok(isCloexec(a) && isCloexec(b));
    sendFd(a, master, name);
    const got = recvFd(b);
    assert.notEqual(got.fd, master);
    closeFd(master); // the received fd is an independent reference to the same pty
    assert.equal(got.name, name);
    assert.ok(isCloexec(got.fd), "MSG_CMSG_CLOEXEC");
    writeFd(got.fd, enc.encode("through the socket\n"));
    const buf = new Uint8Array(64);
    // The slave is in canonical mode: one read returns the whole line.
    assert.equal(dec.decode(buf.subarray(0, readFd(slave, buf))), "through the socket\n");
    closeFd(got.fd);
  } finally {
    closeFd(slave);
    closeFd(a);
    closeFd(b);
  }
});

Deno.test("listenUnix/connectUnix/acceptFd on a path, then an fd across", () => {
  const dir = Deno.makeTempDirSync({ prefix: "ocibox-sock-" });
  const path = `${dir}/console.sock`;
  const listener = listenUnix(path);
  const [r, w] = pipe();
  try {
    assert.ok(Deno.lstatSync(path).isSocket);
    const client = connectUnix(path);
    const server = acceptFd(listener);
    assert.ok(isCloexec(client) && isCloexec(server));
    sendFd(client, w, "pipe-writer");
    closeFd(w);
    closeFd(client);
    const got = recvFd(server);
    assert.equal(got.name, "pipe-writer");
    writeFd(got.fd, enc.encode("via accept"));
    closeFd(got.fd);
    assert.equal(readAll(r), "via accept");
    // The client is gone: the next receive reports it instead of blocking.
    assert.throws(() => recvFd(server), /connection closed by peer/);
    closeFd(server);
  } finally {
    closeFd(r);
    closeFd(listener);
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("a listening socket polls readable when a client is waiting", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "ocibox-sock-" });
  const listener = listenUnix(`${dir}/s`);
  try {
    assert.equal(await pollFd(listener, POLL.IN, 10), 0);
    const client = connectUnix(`${dir}/s`);
    assert.ok((await pollFd(listener, POLL.IN, 5000)) & POLL.IN);
    closeFd(acceptFd(listener));
    closeFd(client);
  } finally {
    closeFd(listener);
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("socket errors: missing path, over-long path, address in use, bad names", () => {
  const dir = Deno.makeTempDirSync({ prefix: "ocibox-sock-" });
  const [a, b] = socketPair();
  try {
    assert.throws(() => connectUnix(`${dir}/absent.sock`), errnoCode("ENOENT"));
    assert.throws(() => connectUnix(`/tmp/${"x".repeat(120)}`), errnoCode("ENAMETOOLONG"));
    const l = listenUnix(`${dir}/taken`);
    const EADDRINUSE = 98;
    assert.throws(
      () => listenUnix(`${dir}/taken`),
      (e: unknown) => e instanceof ErrnoError && e.errno === EADDRINUSE,
    );
    closeFd(l);
    assert.throws(() => sendFd(a, 0, ""), RangeError);
    assert.throws(() => sendFd(a, 0, "x".repeat(MAX_FD_NAME + 1)), RangeError);
    sendFd(a, 0, "y".repeat(MAX_FD_NAME)); // the longest name still arrives whole
    const got = recvFd(b);
    assert.equal(got.name.length, MAX_FD_NAME);
    closeFd(got.fd);
  } finally {
    closeFd(a);
    closeFd(b);
    Deno.removeSync(dir, { recursive: true });
  }
});
