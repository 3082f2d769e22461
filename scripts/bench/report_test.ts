import assert from "node:assert/strict";
import { cells, type FixtureResult, renderMarkdown, rowOf } from "./report.ts";
import type { Sample } from "./measure.ts";

const s = (wallS: number, rssMb = 10): Sample => ({
  wallS,
  peakRssKb: rssMb * 1024,
  userS: 0,
  sysS: 0,
});

function result(fixture: string, ocibox: number[], umoci: number[], tar: number[], rss = 10) {
  const r: FixtureResult = {
    fixture,
    variant: "cli",
    summary: "test",
    samples: {
      ocibox: ocibox.map((x) => s(x, rss)),
      umoci: umoci.map((x) => s(x)),
      tar: tar.map((x) => s(x)),
    },
    verified: "ok",
  };
  return r;
}

Deno.test("rowOf/cells: medians, ratios and goal verdicts", () => {
  const row = rowOf(result("many-files", [1, 5, 1.2], [2, 2, 2], [1, 1, 1]));
  assert.equal(row.ocibox, 1.2);
  assert.deepEqual(cells(row).slice(4), ["0.60 PASS", "1.20 PASS", "10"]);
  const slow = cells(rowOf(result("big-file", [3], [2], [1], 200)));
  assert.deepEqual(slow.slice(4), ["1.50 FAIL", "3.00 FAIL", "200 FAIL"]);
});

Deno.test("renderMarkdown: one table row per result", () => {
  const md = renderMarkdown([result("big-file", [1], [2], [1], 100)], {
    runs: 1,
    rssMethod: "gnu-time",
    date: "2025-01-01",
  });
  assert.match(
    md,
    /\| big-file \| 1\.00 \| 2\.00 \| 1\.00 \| 0\.50 PASS \| 1\.00 PASS \| 100 PASS \|/,
  );
});

Deno.test("cells: a failed ocibox is an ERROR row", () => {
  const r = result("debian-like", [], [2], [1]);
  r.error = "error: boom";
  assert.deepEqual(cells(rowOf(r)), [
    "debian-like",
    "ERROR",
    "2.00",
    "1.00",
    "FAIL",
    "FAIL",
    "n/a",
  ]);
});
