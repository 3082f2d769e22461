import assert from "node:assert/strict";
import { UsageError } from "../errors.ts";
import { parseFlags } from "./args.ts";

const OPTIONS = {
  bundle: { type: "string", short: "b" },
  env: { type: "string", short: "e", multiple: true },
  detach: { type: "boolean", short: "d" },
  tty: { type: "boolean", short: "t" },
} as const;

Deno.test("parseFlags: long, short, inline, grouped and repeated flags, -- and positionals", () => {
  const p = parseFlags(
    ["-dt", "--bundle=/b", "-e", "A=1", "x", "-eB=2", "--env", "C=3", "-", "--", "-d", "y"],
    OPTIONS,
  );
  assert.deepEqual(p.values, { detach: true, tty: true, bundle: "/b", env: ["A=1", "B=2", "C=3"] });
  assert.deepEqual(p.positionals, ["x", "-", "-d", "y"]);
  assert.equal(p.help, false);
  assert.equal(parseFlags(["-b", "/1", "--bundle", "/2"], OPTIONS).values.bundle, "/2");
  assert.equal(parseFlags(["x", "-h"], OPTIONS).help, true);
});

Deno.test("parseFlags: unknown flags, missing values and values on switches are usage errors", () => {
  for (
    const [args, message] of [
      [["--nope"], "unknown option --nope"],
      [["-x"], "unknown option -x"],
      [["--bundle"], "option --bundle needs a value"],
      [["-db"], "option -b needs a value"],
      [["--detach=yes"], "option --detach takes no value"],
    ] as const
  ) {
    assert.throws(() => parseFlags([...args], OPTIONS), new UsageError(message));
  }
});
