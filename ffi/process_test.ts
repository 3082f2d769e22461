import assert from "node:assert/strict";
import {
  cloneExec,
  closeFd,
  dupOnto,
  execveStep,
  pipe,
  readFd,
  spawnSyscalls,
  SYS,
  waitPid,
  writeFd,
} from "./process.ts";

Deno.test("cloneExec reports exec failure as exit 127", () => {
  const pid = cloneExec(0, "/nonexistent/program", ["x"], []);
  assert.deepEqual(waitPid(pid), { exited: true, code: 127 });
});

Deno.test("spawnSyscalls reports the step that failed and its errno", () => {
  const report = spawnSyscalls(0, [
    { nr: SYS.umask, args: [0o22], label: "umask" },
    { nr: SYS.setns, args: [-1, 0], label: "join nothing" },
    execveStep("/bin/true", ["true"], []),
  ]);
  assert.equal(report.failed?.step.label, "join nothing");
  assert.equal(report.failed?.errno, 9); // EBADF
  assert.deepEqual(waitPid(report.pid), { exited: true, code: 126 });
});

Deno.test("dupOnto makes a descriptor number a copy of another", () => {
  const [r, w] = pipe();
  const target = 150;
  try {
    dupOnto(w, target);
    writeFd(target, new TextEncoder().encode("hi"));
    const buf = new Uint8Array(8);
    assert.equal(new TextDecoder().decode(buf.subarray(0, readFd(r, buf))), "hi");
  } finally {
    for (const fd of [r, w, target]) closeFd(fd);
  }
});
