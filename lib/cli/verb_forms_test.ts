import assert from "node:assert/strict";
import { psForm, runForm } from "./verb_forms.ts";

Deno.test("runForm: a bundle makes it runc's run; images elsewhere", () => {
  for (
    const args of [["-b", "/b", "c1"], ["--bundle=/b", "c1"], ["-db", "/b", "c1"], [
      "--bundle",
      "/b",
      "c",
    ]]
  ) {
    assert.equal(runForm(args, false), "runc", args.join(" "));
  }
  assert.equal(runForm(["busybox"], false), "image");
  assert.equal(runForm(["--rm", "-it", "busybox", "sh"], false), "image");
  assert.equal(runForm(["busybox", "ls", "-b"], false), "image");
  assert.equal(runForm(["-e", "A=1", "busybox"], false), "image");
  assert.equal(runForm(["-eb=1", "busybox"], false), "image");
});

Deno.test("runForm: in a bundle directory one id with runc's flags is runc's run", () => {
  assert.equal(runForm(["c1"], true), "runc");
  assert.equal(runForm(["-d", "--pid-file", "p", "c1"], true), "runc");
  assert.equal(runForm(["--keep", "c1"], true), "runc");
  assert.equal(runForm(["busybox", "true"], true), "image");
  assert.equal(runForm(["--rm", "c1"], true), "image");
  assert.equal(runForm([], true), "image");
});

Deno.test("psForm: an id makes it runc's ps", () => {
  assert.equal(psForm([]), "list");
  assert.equal(psForm(["-a"]), "list");
  assert.equal(psForm(["--all", "--format", "json"]), "list");
  assert.equal(psForm(["c1"]), "runc");
  assert.equal(psForm(["--format", "json", "c1"]), "runc");
  assert.equal(psForm(["-f", "table", "c1", "-ef"]), "runc");
});
