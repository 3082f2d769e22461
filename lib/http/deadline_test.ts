import { ok, strictEqual } from "node:assert/strict";
import { Deadline } from "./deadline.ts";

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("Deadline: aborts after the time, not before", async () => {
  const d = new Deadline(60);
  await wait(20);
  strictEqual(d.signal.aborted, false);
  await wait(80);
  strictEqual(d.signal.aborted, true);
});

Deno.test("Deadline: extend pushes the limit back, repeatedly", async () => {
  const d = new Deadline(60);
  const start = performance.now();
  for (let i = 0; i < 5; i++) {
    await wait(30);
    d.extend(60);
  }
  strictEqual(d.signal.aborted, false, "kept alive by progress");
  await new Promise((r) => d.signal.addEventListener("abort", r, { once: true }));
  ok(performance.now() - start >= 200, "fired only after the last extension ran out");
});

Deno.test("Deadline: extend to an earlier time re-arms sooner", async () => {
  const d = new Deadline(10_000);
  d.extend(30);
  await wait(80);
  strictEqual(d.signal.aborted, true);
});

Deno.test("Deadline: clear stops it and does not hold the process open", async () => {
  const d = new Deadline(40);
  d.clear();
  await wait(80);
  strictEqual(d.signal.aborted, false);
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { Deadline } from "${new URL("./deadline.ts", import.meta.url)}";` +
      `new Deadline(5000).clear(); console.log("done");`,
    ],
  });
  const start = performance.now();
  const out = await child.output();
  strictEqual(new TextDecoder().decode(out.stdout).trim(), "done");
  ok(performance.now() - start < 4000, "exited without waiting for the cleared deadline");
});
