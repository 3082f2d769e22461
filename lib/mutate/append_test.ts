import { strictEqual } from "node:assert/strict";
import { imageTime } from "./append.ts";

Deno.test("imageTime: Go's RFC 3339 form, without the fraction's trailing zeros", () => {
  const at = (ms: number) => imageTime(new Date(Date.UTC(2026, 11, 3, 7, 53, 50, ms)));
  strictEqual(at(70), "2026-12-03T07:53:50.07Z");
  strictEqual(at(100), "2026-12-03T07:53:50.1Z");
  strictEqual(at(123), "2026-12-03T07:53:50.123Z");
  strictEqual(at(0), "2026-12-03T07:53:50Z");
});
