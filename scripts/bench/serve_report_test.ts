import assert from "node:assert/strict";
import {
  parseCurl,
  parseWrk,
  renderServeMarkdown,
  renderServeText,
  servePasses,
  type ServeResult,
  serveRows,
} from "./serve_report.ts";

const WRK = `Running 10s test @ http://127.0.0.1:1/v2/a/manifests/t
  2 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    11.59ms   20.51ms 179.91ms   89.20%
  15342 requests in 10.00s, 9.1MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 7
Requests/sec:   1534.26
Transfer/sec:    932.11KB
`;

Deno.test("parseWrk: requests per second, non-2xx and socket errors", () => {
  assert.deepEqual(parseWrk(WRK), { rps: 1534.26, non2xx: 7, socketErrors: 3 });
  assert.deepEqual(parseWrk("Requests/sec: 10\n"), { rps: 10, non2xx: 0, socketErrors: 0 });
  assert.throws(() => parseWrk("unable to connect"));
});

Deno.test("parseCurl: status, bytes, seconds", () => {
  assert.deepEqual(parseCurl("200 536870912 0.612\n"), {
    status: 200,
    bytes: 536870912,
    seconds: 0.612,
  });
  assert.throws(() => parseCurl("curl: (7) failed"));
});

const result = (over: Partial<ServeResult> = {}): ServeResult => ({
  manifestRps: { ocibox: [3000, 5000, 4000], registry: [1000, 2000, 1500] },
  blobMBps: { ocibox: [900], registry: [800] },
  copies: [
    { fixture: "busybox", direction: "push", ocibox: [0.5, 0.7], registry: [0.6, 0.6] },
    { fixture: "big-file", direction: "pull", ocibox: [3], registry: [2] },
  ],
  rssMb: { ocibox: 120, registry: 40 },
  problems: [],
  ...over,
});

Deno.test("serveRows: median ratios against the issue's goals", () => {
  const rows = serveRows(result());
  assert.deepEqual(rows.map((r) => [r.ratio, r.pass]), [
    ["2.67", true], // 4000 / 1500
    ["1.13", true],
    ["1.00", true], // 0.6 / 0.6: no slower
    ["1.50", false],
    ["", true],
  ]);
  assert.equal(rows.at(-1)?.ocibox, "120");
  assert.equal(serveRows(result({ rssMb: { ocibox: 150, registry: 1 } })).at(-1)?.pass, false);
  assert.equal(serveRows(result({ rssMb: { ocibox: null, registry: 1 } })).at(-1)?.pass, false);
});

Deno.test("servePasses: every goal and no problems", () => {
  assert.equal(servePasses(result()), false);
  const ok = result({ copies: [] });
  assert.equal(servePasses(ok), true);
  assert.equal(servePasses({ ...ok, problems: ["wrong digest"] }), false);
});

Deno.test("render: text and markdown tables with PASS/FAIL and problems", () => {
  const ctx = { runs: 3, wrkSeconds: 10, date: "2026-01-01", notes: ["Load average 9."] };
  const text = renderServeText(result({ problems: ["x"] }), ctx);
  assert.match(text, /manifest GET by tag.*PASS/);
  assert.match(text, /pull big-file.*FAIL/);
  assert.match(text, /PROBLEMS:\n {2}x/);
  const md = renderServeMarkdown(result(), ctx);
  assert.match(md, /^\| goal \| ocibox serve \| docker-registry \| ratio \| target \| {2}\|$/m);
  assert.match(md, /\| server peak RSS \(VmHWM\), MB \| 120 \| 40 \| {2}\| < 150 MB \| PASS \|/);
  assert.match(md, /Load average 9\./);
});
