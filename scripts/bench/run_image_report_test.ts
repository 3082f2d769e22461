import assert from "node:assert/strict";
import { goalRows, rssPeak, runImagePasses, type RunImageResult } from "./run_image_report.ts";

const result = (warm: number, podman: number): RunImageResult => ({
  samples: {
    "ocibox warm": [warm, warm + 10, warm - 10],
    "podman warm": [podman],
    "runc": [100],
    "ocibox first": [1000],
    "chain first": [3000],
  },
  rssMb: { warm: 50, first: 70 },
  treeRssMb: { warm: null, first: null },
});

Deno.test("goal rows are median ratios against the peers, unmeasured ones left out", () => {
  const rows = goalRows(result(200, 1000));
  assert.deepEqual(rows.map((r) => [r.peer, r.ratio, r.pass]), [
    ["podman run", 0.2, true],
    ["runc run (bundle)", 2, false],
    ["skopeo+umoci+runc", 1000 / 3000, true],
  ]);
});

Deno.test("the RSS goal takes the larger peak; every goal must pass", () => {
  const r = result(200, 1000);
  assert.deepEqual(rssPeak(r), 70);
  assert.deepEqual(runImagePasses(r), false);
  r.samples["runc"] = [200];
  assert.deepEqual(runImagePasses(r), true);
  r.rssMb.first = 90;
  assert.deepEqual(runImagePasses(r), false);
});
