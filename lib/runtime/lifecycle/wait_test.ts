import assert from "node:assert/strict";
import { SignalForwarder } from "./wait.ts";

Deno.test("SignalForwarder: a signal caught before the process is known reaches it", async () => {
  const dir = await Deno.makeTempDir();
  using forwarder = new SignalForwarder();
  // Sent to this process before the target exists: queued, not lost and not fatal.
  Deno.kill(Deno.pid, "SIGUSR2");
  await new Promise((r) => setTimeout(r, 50));
  const child = new Deno.Command("sh", {
    args: ["-c", `trap 'exit 9' USR2; touch ${dir}/ready; while :; do sleep 0.05; done`],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    for (let i = 0; i < 200; i++) {
      try {
        await Deno.lstat(`${dir}/ready`);
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 25));
      }
    }
    forwarder.forwardTo(child.pid);
    const status = await child.status;
    assert.equal(status.code, 9);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* ended */ }
    await Deno.remove(dir, { recursive: true });
  }
});
