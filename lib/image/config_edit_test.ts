import assert from "node:assert/strict";
import { appendLayerToConfig, editConfig, scratchConfig } from "./config_edit.ts";
import { parseImageConfig } from "./config.ts";
import { UsageError } from "../errors.ts";

const D1 = "sha256:" + "1".repeat(64);
const D2 = "sha256:" + "2".repeat(64);

Deno.test("editConfig keeps unknown fields and merges env and labels", () => {
  const base = {
    architecture: "amd64",
    os: "linux",
    "x-unknown": { keep: true },
    config: { Env: ["PATH=/bin", "A=1"], Labels: { a: "1" }, Cmd: ["sh"], Hostname: "h" },
    rootfs: { type: "layers", diff_ids: [D1] },
  };
  const c = editConfig(base, {
    env: ["A=2", "B=3"],
    labels: { b: "2" },
    entrypoint: ["/app"],
    workdir: "/srv",
    user: "app",
  });
  assert.deepEqual(c["x-unknown"], { keep: true });
  assert.deepEqual(c.config, {
    Env: ["PATH=/bin", "A=2", "B=3"],
    Labels: { a: "1", b: "2" },
    Cmd: ["sh"],
    Hostname: "h",
    Entrypoint: ["/app"],
    WorkingDir: "/srv",
    User: "app",
  });
  assert.deepEqual(base.config.Env, ["PATH=/bin", "A=1"], "input not mutated");
  assert.throws(() => editConfig(base, { env: ["NOEQUALS"] }), UsageError);
});

Deno.test("appendLayerToConfig adds diff_id, history and created; result parses", () => {
  const c0 = scratchConfig(
    { os: "linux", architecture: "arm64", variant: "v8" },
    "2024-01-01T00:00:00Z",
  );
  const c1 = appendLayerToConfig(c0, D1, { created: "2024-01-02T00:00:00Z", created_by: "x" });
  const c2 = appendLayerToConfig(c1, D2, { created: "2024-01-03T00:00:00Z", created_by: "y" });
  const parsed = parseImageConfig(c2);
  assert.deepEqual(parsed.rootfs.diff_ids, [D1, D2]);
  assert.equal(parsed.history?.length, 2);
  assert.equal(parsed.created, "2024-01-03T00:00:00Z");
  assert.equal(parsed.variant, "v8");
  assert.deepEqual((c0.rootfs as { diff_ids: string[] }).diff_ids, []);
});
