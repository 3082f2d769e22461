import assert from "node:assert/strict";
import { ago, humanDuration } from "./durations.ts";

Deno.test("humanDuration words durations like docker ps", () => {
  assert.equal(humanDuration(200), "Less than a second");
  assert.equal(humanDuration(1000), "1 second");
  assert.equal(humanDuration(59_000), "59 seconds");
  assert.equal(humanDuration(61_000), "About a minute");
  assert.equal(humanDuration(5 * 60_000), "5 minutes");
  assert.equal(humanDuration(3600_000), "About an hour");
  assert.equal(humanDuration(5 * 3600_000), "5 hours");
  assert.equal(humanDuration(3 * 86400_000), "3 days");
  assert.equal(ago(new Date(0), new Date(10_000)), "10 seconds ago");
});
