import assert from "node:assert/strict";
import {
  ratioOf,
  recordRatio,
  renderSummaryMarkdown,
  renderSummaryText,
  type SummaryRow,
  summaryRows,
  verdict,
} from "./summary.ts";

const row = (ocibox: number, peerS: number, goal = 1): SummaryRow => ({
  suite: "archive",
  case: "copy docker-archive:x.tar oci:",
  ocibox,
  peer: "skopeo",
  peerS,
  goal,
});

Deno.test("summary: ratios and verdicts", () => {
  assert.equal(ratioOf(row(1, 2)), 0.5);
  assert.equal(verdict(row(1, 2, 0.5)), "PASS");
  assert.equal(verdict(row(1.1, 2, 0.5)), "FAIL");
  assert.equal(verdict(row(NaN, 2)), "ERROR");
});

Deno.test("summary: rows are kept in order and rendered once each", () => {
  recordRatio(row(1, 2));
  recordRatio({ ...row(3, 2), note: "a | b" });
  assert.equal(summaryRows().length, 2);
  const text = renderSummaryText(summaryRows(), ["load 2.0"]);
  assert.match(text, /2 cases, 1 within/);
  assert.match(text, /0\.50x.*PASS/);
  const md = renderSummaryMarkdown(summaryRows(), []);
  assert.match(md, /\| 1\.50x \| <= 1x \| FAIL \| a \\\| b \|/);
});
