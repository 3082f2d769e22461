import assert from "node:assert/strict";
import { ConfigInvalidError } from "../errors.ts";
import {
  loadRegistriesConfig,
  mergeRegistriesConfig,
  parseRegistriesFile,
  userRegistriesFile,
} from "./registries_config.ts";

Deno.test("parseRegistriesFile reads registries and mirrors", () => {
  assert.deepEqual(
    parseRegistriesFile(
      '{"registries": ["localhost:5000", "docker.io"], "mirrors": {"docker.io": ["m.io:5000"]}}',
      "f",
    ),
    { registries: ["localhost:5000", "docker.io"], mirrors: { "docker.io": ["m.io:5000"] } },
  );
  assert.deepEqual(parseRegistriesFile("{}", "f"), {});
  assert.deepEqual(parseRegistriesFile('{"registries": ["[::1]:5000"]}', "f"), {
    registries: ["[::1]:5000"],
  });
});

Deno.test("parseRegistriesFile refuses anything else, naming the file", () => {
  const bad = [
    "not json",
    "[]",
    '{"registry": ["a.io"]}',
    '{"registries": "a.io"}',
    '{"registries": ["https://a.io"]}',
    '{"registries": ["a.io/path"]}',
    '{"mirrors": ["a.io"]}',
    '{"mirrors": {"a.io": "m.io"}}',
    '{"mirrors": {"bad host": ["m.io"]}}',
  ];
  for (const text of bad) {
    assert.throws(
      () => parseRegistriesFile(text, "/etc/ocibox/registries.json"),
      (e) => e instanceof ConfigInvalidError && e.message.startsWith("/etc/ocibox/registries.json"),
      text,
    );
  }
});

Deno.test("mergeRegistriesConfig: later files override key by key, OCIBOX_REGISTRY wins", () => {
  assert.deepEqual(mergeRegistriesConfig([]), { registries: ["docker.io"], mirrors: {} });
  const system = { registries: ["a.io"], mirrors: { "docker.io": ["m1.io"], "a.io": ["m2.io"] } };
  const user = { mirrors: { "docker.io": ["m3.io"] } };
  assert.deepEqual(mergeRegistriesConfig([system, user]), {
    registries: ["a.io"],
    mirrors: { "docker.io": ["m3.io"], "a.io": ["m2.io"] },
  });
  assert.deepEqual(mergeRegistriesConfig([system, { registries: ["b.io"] }]).registries, ["b.io"]);
  assert.deepEqual(mergeRegistriesConfig([system], "localhost:5000").registries, [
    "localhost:5000",
  ]);
  assert.deepEqual(mergeRegistriesConfig([system], " x.io , y.io:1 ").registries, [
    "x.io",
    "y.io:1",
  ]);
  assert.deepEqual(mergeRegistriesConfig([system], "").registries, ["a.io"]);
  assert.throws(() => mergeRegistriesConfig([], "http://x"), ConfigInvalidError);
});

Deno.test("userRegistriesFile: XDG_CONFIG_HOME, else ~/.config", () => {
  const env = (vars: Record<string, string>) => (n: string) => vars[n];
  assert.equal(userRegistriesFile(env({ XDG_CONFIG_HOME: "/c" })), "/c/ocibox/registries.json");
  assert.equal(userRegistriesFile(env({ HOME: "/h" })), "/h/.config/ocibox/registries.json");
  assert.equal(userRegistriesFile(env({})), undefined);
});

Deno.test("loadRegistriesConfig reads the user's file and the environment", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/ocibox`);
    await Deno.writeTextFile(
      `${dir}/ocibox/registries.json`,
      '{"registries": ["127.0.0.1:5000"], "mirrors": {"docker.io": ["127.0.0.1:5001"]}}',
    );
    const vars: Record<string, string> = { XDG_CONFIG_HOME: dir };
    const got = await loadRegistriesConfig((n) => vars[n]);
    // /etc/ocibox/registries.json may exist on this machine: the user's file overrides it.
    assert.deepEqual(got.registries, ["127.0.0.1:5000"]);
    assert.deepEqual(got.mirrors["docker.io"], ["127.0.0.1:5001"]);
    vars.OCIBOX_REGISTRY = "localhost:6000";
    assert.deepEqual((await loadRegistriesConfig((n) => vars[n])).registries, ["localhost:6000"]);
    await Deno.writeTextFile(`${dir}/ocibox/registries.json`, "{oops");
    await assert.rejects(loadRegistriesConfig((n) => vars[n]), ConfigInvalidError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
