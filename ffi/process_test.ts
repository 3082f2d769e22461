import assert from "node:assert/strict";
import { CLONE, cloneExec, closeFd, pipe, readFd, waitPid } from "./process.ts";
import { peerTest, which } from "../tests/support/peers.ts";

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

Deno.test("cloneExec reports exec failure as exit 127", () => {
  const pid = cloneExec(0, "/nonexistent/program", ["x"], []);
  assert.deepEqual(waitPid(pid), { exited: true, code: 127 });
});
