import assert from "node:assert/strict";
import { type CpuProfile, profileMarkdown, summarizeProfile } from "./cpu_profile.ts";

Deno.test("summarizeProfile: self time per function and file", () => {
  const frame = (functionName: string, url: string) => ({
    functionName,
    url,
    lineNumber: 9,
    columnNumber: 0,
  });
  const p: CpuProfile = {
    nodes: [
      { id: 1, callFrame: frame("(root)", ""), children: [2, 3, 4] },
      { id: 2, callFrame: frame("parse", "file:///repo/lib/a.ts") },
      { id: 3, callFrame: frame("(idle)", "") },
      { id: 4, callFrame: frame("processChunk", "ext:deno_node/zlib.js"), children: [5] },
      { id: 5, callFrame: frame("write", "") },
    ],
    startTime: 0,
    endTime: 100,
    samples: [2, 2, 3, 2, 5, 2],
    timeDeltas: [0, 10_000, 30_000, 10_000, 0, 5_000],
  };
  const s = summarizeProfile(p, { root: "file:///repo/" });
  assert.equal(s.totalMs, 55);
  assert.deepEqual(s.byFunction.map((f) => [f.name, f.where, f.ms]), [
    ["parse", "lib/a.ts:10", 40],
    ["(idle)", "", 10],
    ["write", "native, from processChunk ext:deno_node/zlib.js:10", 5],
  ]);
  assert.equal(s.byFile[0].name, "lib/a.ts");
  assert.equal(s.byFile[2].name, "write (native) from ext:deno_node/zlib.js");
  assert.match(profileMarkdown("t", s), /\| 40 \| 72\.7% \| `parse` \| lib\/a\.ts:10 \|/);
});
