import assert from "node:assert/strict";
import { contentRange, parseRangeHeader, parseUploadContentRange, uploadRange } from "./range.ts";

Deno.test("Range requests: single byte ranges, suffixes, unsatisfiable", () => {
  assert.deepEqual(parseRangeHeader(null, 10), { kind: "whole" });
  assert.deepEqual(parseRangeHeader("bytes=0-4", 10), { kind: "range", start: 0, end: 4 });
  assert.deepEqual(parseRangeHeader("bytes=5-", 10), { kind: "range", start: 5, end: 9 });
  assert.deepEqual(parseRangeHeader("bytes=5-100", 10), { kind: "range", start: 5, end: 9 });
  assert.deepEqual(parseRangeHeader("bytes=-3", 10), { kind: "range", start: 7, end: 9 });
  assert.deepEqual(parseRangeHeader("bytes=-30", 10), { kind: "range", start: 0, end: 9 });
  assert.deepEqual(parseRangeHeader("bytes=10-", 10), { kind: "unsatisfiable" });
  assert.deepEqual(parseRangeHeader("bytes=-0", 10), { kind: "unsatisfiable" });
  assert.deepEqual(parseRangeHeader("bytes=0-", 0), { kind: "unsatisfiable" });
  // Ignored: other units, several ranges, end before start, nonsense.
  for (const h of ["items=0-1", "bytes=0-1,3-4", "bytes=5-2", "bytes=-", "bytes=x-1"]) {
    assert.deepEqual(parseRangeHeader(h, 10), { kind: "whole" }, h);
  }
  assert.equal(contentRange(5, 9, 10), "bytes 5-9/10");
});

Deno.test("upload Content-Range: the spec's form and common variants", () => {
  assert.deepEqual(parseUploadContentRange("0-1023"), { start: 0, end: 1023 });
  assert.deepEqual(parseUploadContentRange("bytes 10-19/*"), { start: 10, end: 19 });
  assert.deepEqual(parseUploadContentRange("bytes=10-19/20"), { start: 10, end: 19 });
  for (const bad of ["", "10", "10-", "-10", "10-5", "a-b", "1-2-3"]) {
    assert.equal(parseUploadContentRange(bad), undefined, bad);
  }
  assert.equal(uploadRange(0), "0-0");
  assert.equal(uploadRange(1), "0-0");
  assert.equal(uploadRange(1024), "0-1023");
});
