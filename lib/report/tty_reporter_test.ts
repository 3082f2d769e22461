import assert from "node:assert/strict";
import { formatBar, formatBytes, ttyReporter } from "./tty_reporter.ts";

Deno.test("formatBytes uses binary units", () => {
  assert.equal(formatBytes(512), "512B");
  assert.equal(formatBytes(1536), "1.5KiB");
  assert.equal(formatBytes(5 * 1024 * 1024), "5.0MiB");
});

Deno.test("formatBar shows done/total, a bar and a rate", () => {
  const bar = {
    kind: "layer" as const,
    digest: "sha256:" + "ab".repeat(32),
    size: 4096,
    done: 2048,
    state: "copying" as const,
    started: 0,
  };
  const line = formatBar(bar, 1000);
  assert.match(line, /^Copying blob abababababab {2}\[=+> +\] 2\.0KiB \/ 4\.0KiB 2\.0KiB\/s$/);
  assert.match(formatBar({ ...bar, state: "skipped" }, 1000), /skipped: already exists$/);
  assert.ok(formatBar(bar, 1000, 20).length <= 20);
});

Deno.test("ttyReporter redraws its bars in place and prints messages above them", () => {
  let out = "";
  const r = ttyReporter((t) => (out += t), () => 80);
  r.blobStart("layer", "sha256:" + "1".repeat(64), 10, false);
  r.info("hello");
  r.blobDone("sha256:" + "1".repeat(64));
  assert.ok(out.includes("\x1b[1F\x1b[Jhello\n"), out); // cleared the bar, printed the line
  assert.match(out, /done 10B\n$/);
});
