import assert from "node:assert/strict";
import { ago, humanDuration } from "./durations.ts";

Deno.test("humanDuration words durations like docker ps", () => {
  assert.equal(humanDuration(200), "Less than a second");
  assert.equal(humanDuration(1000), "1 second");
  assert.equal(humanDuration(59_000), "59 seconds");
  assert.equal(humanDuration(61_000), "About a minute");
  assert.equal(humanDuration(119_000), "About a minute");
  assert.equal(humanDuration(5 * 60_000), "5 minutes");
  assert.equal(humanDuration(3600_000), "About an hour");
  assert.equal(humanDuration(5 * 3600_000), "5 hours");
  assert.equal(humanDuration(3 * 86400_000), "3 days");
  assert.equal(humanDuration(20 * 86400_000), "2 weeks");
  assert.equal(humanDuration(100 * 86400_000), "3 months");
  // 2024-01-02 seen from 2026-12-06: podman says 2 years.
  assert.equal(humanDuration(Date.parse("2026-12-06") - Date.parse("2024-01-02")), "2 years");
  assert.equal(ago(new Date(0), new Date(10_000)), "10 seconds ago");
});
