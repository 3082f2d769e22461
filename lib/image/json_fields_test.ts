import assert from "node:assert/strict";
import { InvalidImageError } from "../errors.ts";
import {
  expectNonNegativeInteger,
  expectObject,
  expectStringArray,
  expectStringMap,
  GoFieldNames,
  JsonPath,
  optBoolean,
  optInteger,
  optObjectMap,
  optString,
  optStringArray,
  optStringMap,
  parseJsonText,
  refuseCaseVariants,
  reqString,
  required,
} from "./json_fields.ts";

Deno.test("JsonPath names the document and the field path", () => {
  const p = new JsonPath("manifest").key("layers").index(2).key("size");
  assert.equal(p.toString(), "manifest: layers[2].size");
  assert.equal(new JsonPath("config").key("os.version").toString(), 'config: "os.version"');
  const e = p.error("must be a non-negative integer");
  assert.ok(e instanceof InvalidImageError);
  assert.equal(e.message, "manifest: layers[2].size: must be a non-negative integer");
  assert.equal(e.what, "manifest");
  assert.equal(new JsonPath("index.json").error("broken").message, "index.json: broken");
});

Deno.test("expectNonNegativeInteger reports the full path", () => {
  const where = new JsonPath("manifest").key("layers").index(2).key("size");
  assert.throws(() => expectNonNegativeInteger(-1, where), {
    message: "manifest: layers[2].size: must be a non-negative integer, got -1",
  });
  assert.throws(() => expectNonNegativeInteger(1.5, where), InvalidImageError);
  assert.throws(() => expectNonNegativeInteger("12", where), InvalidImageError);
  assert.throws(() => expectNonNegativeInteger(2 ** 60, where), /too large/);
  assert.equal(expectNonNegativeInteger(0, where), 0);
});

Deno.test("expectObject refuses arrays, null and scalars", () => {
  assert.deepEqual(expectObject({ a: 1 }, "x"), { a: 1 });
  assert.throws(() => expectObject([], "x"), { message: "x: must be an object, got an array" });
  assert.throws(() => expectObject(null, "x"), { message: "x: must be an object, got null" });
  assert.throws(() => expectObject("s", "x"), { message: "x: must be an object, got a string" });
});

Deno.test("optional readers treat null as absent", () => {
  const obj = { a: null, b: "x", c: true, d: ["p"], e: { k: "v" }, f: 3 };
  assert.equal(optString(obj, "a", "doc"), undefined);
  assert.equal(optString(obj, "missing", "doc"), undefined);
  assert.equal(optString(obj, "b", "doc"), "x");
  assert.equal(optBoolean(obj, "c", "doc"), true);
  assert.deepEqual(optStringArray(obj, "d", "doc"), ["p"]);
  assert.equal(optStringArray(obj, "a", "doc"), undefined);
  assert.deepEqual(optStringMap(obj, "e", "doc"), { k: "v" });
  assert.equal(optInteger(obj, "f", "doc"), 3);
});

Deno.test("typed readers reject wrong types with the field path", () => {
  const obj = { s: 1, arr: ["a", 2], map: { k: 1 }, b: "yes", ports: { "80/tcp": 1 } };
  assert.throws(() => optString(obj, "s", "doc"), {
    message: "doc: s: must be a string, got a number",
  });
  assert.throws(() => optStringArray(obj, "arr", "doc"), {
    message: "doc: arr[1]: must be a string, got a number",
  });
  assert.throws(() => optStringMap(obj, "map", "doc"), {
    message: "doc: map.k: must be a string, got a number",
  });
  assert.throws(() => optBoolean(obj, "b", "doc"), /must be a boolean/);
  assert.throws(() => optObjectMap(obj, "ports", "doc"), {
    message: 'doc: ports."80/tcp": must be an object, got a number',
  });
  assert.throws(() => expectStringArray("a", "doc"), /must be an array/);
  assert.throws(() => expectStringMap([], "doc"), /must be an object/);
});

Deno.test("required readers insist on presence", () => {
  assert.throws(() => required({}, "config", "manifest"), {
    message: "manifest: config: is required",
  });
  assert.throws(() => required({ config: null }, "config", "manifest"), InvalidImageError);
  assert.equal(reqString({ os: "linux" }, "os", "config"), "linux");
});

Deno.test("parseJsonText says where the syntax broke, never what the text was", () => {
  const cases: [string, RegExp][] = [
    ["root:SECRET-PASSWORD-HASH:19000:0:99999:7:::", /^index\.json: is not valid JSON$/],
    ['{"SECRET-PASSWORD-HASH": ', /^index\.json: is not valid JSON \(it ends early\)$/],
    [
      '{"a": "SECRET-PASSWORD-HASH"} x',
      /^index\.json: is not valid JSON \(syntax error at line 1 col/,
    ],
    ["", /^index\.json: is empty, not JSON$/],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => parseJsonText(text, "index.json"), (e: unknown) => {
      assert.ok(e instanceof InvalidImageError);
      assert.match(e.message, message);
      assert.doesNotMatch(e.message, /SECRET|root/);
      return true;
    });
  }
  assert.deepEqual(parseJsonText('{"a":[1]}', "x"), { a: [1] });
});

Deno.test("refuseCaseVariants: keys Go's encoding/json folds onto a known field", () => {
  const fields = new GoFieldNames(["layers", "schemaVersion", "mediaType"]);
  refuseCaseVariants({ layers: [], schemaVersion: 2, other: 1, Other: 2 }, fields, "m");
  // Both spellings present: Go takes the last, ocibox the exact one.
  assert.throws(
    () => refuseCaseVariants({ layers: [], Layers: [] }, fields, "m"),
    (e: unknown) => {
      assert.ok(e instanceof InvalidImageError);
      assert.equal(
        e.message,
        'm: "Layers" and "layers" both fill the field layers for Go\'s case-insensitive JSON ' +
          "decoding (skopeo, umoci): ambiguous document",
      );
      return true;
    },
  );
  // Alone, a variant is what Go reads and ocibox would not.
  assert.throws(() => refuseCaseVariants({ MEDIATYPE: "a/b" }, fields, "m"), /"MEDIATYPE" fills/);
  // U+017F (long s) and U+212A (Kelvin sign) fold to ASCII s and k in Go.
  assert.throws(() => refuseCaseVariants({ "\u017fchemaVersion": 1 }, fields, "m"), /ambiguous/);
  const k = new GoFieldNames(["kind"]);
  assert.throws(() => refuseCaseVariants({ "\u212aind": 1 }, k, "m"), /ambiguous/);
  // Other non-ASCII letters never match an ASCII name.
  refuseCaseVariants({ "lay\u0435rs": [] }, fields, "m");
});
