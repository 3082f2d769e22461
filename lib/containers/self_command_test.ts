import assert from "node:assert/strict";
import { selfCommand } from "./self_command.ts";

Deno.test("selfCommand: compiled binaries run themselves; Deno runs main.ts or the bundle", () => {
  assert.deepEqual(
    selfCommand(["ps", "-a"], { execPath: "/usr/local/bin/ocibox", mainModule: "file:///x" }),
    ["/usr/local/bin/ocibox", "ps", "-a"],
  );
  assert.deepEqual(
    selfCommand(["ps"], { execPath: "/usr/bin/deno", mainModule: "file:///src/a%20b/main.ts" }),
    [
      "/usr/bin/deno",
      "run",
      "-A",
      "--quiet",
      "--config=/src/a b/deno.json",
      "/src/a b/main.ts",
      "ps",
    ],
  );
  assert.deepEqual(
    selfCommand(["ps"], { execPath: "/usr/bin/deno", mainModule: "file:///opt/ocibox.js" }),
    ["/usr/bin/deno", "run", "-A", "--quiet", "--no-config", "/opt/ocibox.js", "ps"],
  );
});
