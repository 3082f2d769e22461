/**
 * Processes made with the ffi layer for real: cloneExec into new uts, pid, mount and ipc
 * namespaces and spawnSyscalls joining another process's namespaces (busybox as the program,
 * root for the namespaces), and the syscall runner's programs for the other architecture under
 * qemu user emulation.
 * @module
 */
import assert from "node:assert/strict";
import { AT_FDCWD, O_RDONLY } from "../ffi/constants.ts";
import { openat } from "../ffi/fs.ts";
import {
  CLONE,
  cloneExec,
  closeFd,
  execveStep,
  kill,
  pipe,
  readFd,
  SIGCHLD,
  spawnSyscalls,
  SYS,
  waitPid,
} from "../ffi/process.ts";
import { checkRunner } from "../ffi/runner_elf_test_util.ts";
import { peerTest, which } from "./support/peers.ts";

peerTest("cloneExec runs a program in new namespaces", { peers: ["busybox"], root: true }, () => {
  const [r, w] = pipe(true);
  const flags = CLONE.NEWUTS | CLONE.NEWPID | CLONE.NEWNS | CLONE.NEWIPC;
  const pid = cloneExec(flags, which("busybox")!, [
    "busybox",
    "sh",
    "-c",
    `hostname inside; echo "$(hostname) $$" >&${w}`,
  ], ["PATH=/bin"]);
  closeFd(w);
  const buf = new Uint8Array(256);
  const n = readFd(r, buf);
  closeFd(r);
  assert.deepEqual(waitPid(pid), { exited: true, code: 0 });
  // The child set its own hostname and was pid 1 of its pid namespace; ours is unchanged.
  assert.equal(new TextDecoder().decode(buf.subarray(0, n)).trim(), "inside 1");
  assert.notEqual(Deno.hostname(), "inside");
});

peerTest(
  "spawnSyscalls joins another process's namespaces and forks into its pid namespace",
  { peers: ["busybox"], root: true },
  () => {
    const busybox = which("busybox")!;
    const host = cloneExec(CLONE.NEWUTS | CLONE.NEWPID, busybox, [
      "busybox",
      "sh",
      "-c",
      "hostname joined; sleep 5",
    ], []);
    try {
      // Wait until the target has set its hostname.
      for (let i = 0; i < 100 && readText(`/proc/${host}/comm`) !== "sleep"; i++) sleepMs(10);
      const uts = openat(AT_FDCWD, `/proc/${host}/ns/uts`, O_RDONLY);
      const pidns = openat(AT_FDCWD, `/proc/${host}/ns/pid`, O_RDONLY);
      const [r, w] = pipe(true);
      const report = spawnSyscalls(0, [
        { nr: SYS.setns, args: [uts, CLONE.NEWUTS], label: "join uts" },
        { nr: SYS.setns, args: [pidns, CLONE.NEWPID], label: "join pid" },
        { nr: SYS.clone, args: [SIGCHLD, 0, 0, 0, 0], mode: "fork", label: "fork" },
        execveStep(busybox, ["busybox", "sh", "-c", `echo "$(hostname) $$" >&${w}`], []),
      ]);
      closeFd(w);
      closeFd(uts);
      closeFd(pidns);
      assert.equal(report.failed, undefined);
      const buf = new Uint8Array(256);
      const n = readFd(r, buf);
      closeFd(r);
      // The grandchild saw the other hostname and got a pid of the other namespace (1 is taken).
      const [name, pid] = new TextDecoder().decode(buf.subarray(0, n)).trim().split(" ");
      assert.equal(name, "joined");
      assert.ok(Number(pid) > 1 && Number(pid) < 100, pid);
      assert.notEqual(report.pid, host);
    } finally {
      kill(host, 9);
      waitPid(host);
    }
  },
);

const foreign = Deno.build.arch === "x86_64" ? "aarch64" : "x86_64";

peerTest(`${foreign} runner: steps, failures, jumps, slots, results, forks`, {
  peers: [`qemu-${foreign}-static`],
}, () => checkRunner(foreign));

function readText(path: string): string {
  try {
    return Deno.readTextFileSync(path).trim();
  } catch {
    return "";
  }
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
