import assert from "node:assert/strict";
import { InvalidImageError } from "../../errors.ts";
import type { Spec } from "../spec/spec_types.ts";
import { timeOffsetsText } from "./time_offsets.ts";

const spec = (timeOffsets: unknown, ns = [{ type: "time" }]): Spec =>
  ({ ociVersion: "1.2.0", linux: { namespaces: ns, timeOffsets } }) as Spec;

Deno.test("timeOffsetsText: one line per clock, checked", () => {
  assert.equal(timeOffsetsText({ ociVersion: "1.2.0" }), undefined);
  assert.equal(
    timeOffsetsText(spec({ monotonic: { secs: -5, nanosecs: 7 }, boottime: { secs: 86400 } })),
    "monotonic -5 7\nboottime 86400 0\n",
  );
  assert.throws(() => timeOffsetsText(spec({ realtime: { secs: 1 } })), InvalidImageError);
  assert.throws(() => timeOffsetsText(spec({ boottime: { nanosecs: 2e9 } })), InvalidImageError);
  assert.throws(
    () => timeOffsetsText(spec({ boottime: { secs: 1 } }, [{ type: "pid" }])),
    /needs a new time namespace/,
  );
});
