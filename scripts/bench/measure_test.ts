import assert from "node:assert/strict";
import { CommandFailed, measure, median, rssMethod } from "./measure.ts";

Deno.test("median: odd, even and empty", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
});

Deno.test("measure: reports a sample and throws on failure", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const method = await rssMethod();
    const s = await measure(["true"], { method, statsFile: `${dir}/stats` });
    assert.ok(s.wallS >= 0);
    if (method === "gnu-time") assert.ok((s.peakRssKb ?? 0) > 0);
    await assert.rejects(
      () => measure(["false"], { method, statsFile: `${dir}/stats` }),
      CommandFailed,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
