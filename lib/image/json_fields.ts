/**
 * Small typed readers for validating parsed JSON. Each failure throws
 * {@linkcode InvalidImageError} naming the document and the field path, e.g.
 * `manifest: layers[2].size: must be a non-negative integer`.
 *
 * Optional readers treat `null` as absent: config.md says so for the image config, and Go
 * implementations (which write most images) do the same for every document.
 *
 * @example
 * ```ts
 * import { expectObject, JsonPath, optString } from "./json_fields.ts";
 * const where = new JsonPath("manifest");
 * const obj = expectObject(JSON.parse('{"mediaType":"x/y"}'), where);
 * optString(obj, "mediaType", where); // "x/y"
 * ```
 * @module
 */

import { InvalidImageError } from "../errors.ts";

/** A parsed JSON object whose fields have not been checked yet. */
export type JsonObject = Record<string, unknown>;

/**
 * Where a value sits: the document (`manifest`, `index.json`, `config sha256:…`) and the field
 * path inside it (`layers[2].size`).
 *
 * @example
 * ```ts
 * new JsonPath("manifest").key("layers").index(2).key("size").toString();
 * // "manifest: layers[2].size"
 * ```
 */
export class JsonPath {
  /**
   * @param document names the whole document in messages.
   * @param path the field path inside it; "" for the document itself.
   */
  constructor(readonly document: string, readonly path: string = "") {}

  /** The path of field `name` of the object at this path. */
  key(name: string): JsonPath {
    const safe = /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? name : JSON.stringify(name);
    return new JsonPath(this.document, this.path === "" ? safe : `${this.path}.${safe}`);
  }

  /** The path of element `i` of the array at this path. */
  index(i: number): JsonPath {
    return new JsonPath(this.document, `${this.path}[${i}]`);
  }

  /** An {@linkcode InvalidImageError} about the value at this path. */
  error(reason: string): InvalidImageError {
    return new InvalidImageError(
      this.document,
      this.path === "" ? reason : `${this.path}: ${reason}`,
    );
  }

  /** `document: path`, or just `document` at the top. */
  toString(): string {
    return this.path === "" ? this.document : `${this.document}: ${this.path}`;
  }
}

/** A location given either as a {@linkcode JsonPath} or as a document name (its top level). */
export type Where = JsonPath | string;

/**
 * Turns a {@linkcode Where} into a {@linkcode JsonPath}. A string is a document name, or
 * `document: path` as {@linkcode JsonPath.toString} writes it.
 *
 * @example
 * ```ts
 * toPath("index.json").key("manifests").toString(); // "index.json: manifests"
 * toPath("manifest: layers[2]").key("size").toString(); // "manifest: layers[2].size"
 * ```
 */
export function toPath(where: Where): JsonPath {
  if (typeof where !== "string") return where;
  const sep = where.indexOf(": ");
  return sep === -1 ? new JsonPath(where) : new JsonPath(where.slice(0, sep), where.slice(sep + 2));
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return typeof v === "object" ? "an object" : `a ${typeof v}`;
}

/**
 * Checks that `v` is a JSON object (not null, not an array).
 *
 * @throws {InvalidImageError} otherwise.
 * @example
 * ```ts
 * expectObject({ a: 1 }, "config"); // { a: 1 }
 * try {
 *   expectObject([], "config");
 * } catch (e) {
 *   console.log((e as Error).message); // "config: must be an object, got an array"
 * }
 * ```
 */
export function expectObject(v: unknown, where: Where): JsonObject {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw toPath(where).error(`must be an object, got ${describe(v)}`);
  }
  return v as JsonObject;
}

/**
 * Checks that `v` is a string.
 *
 * @throws {InvalidImageError} otherwise.
 * @example
 * ```ts
 * expectString("linux", "config"); // "linux"
 * ```
 */
export function expectString(v: unknown, where: Where): string {
  if (typeof v !== "string") throw toPath(where).error(`must be a string, got ${describe(v)}`);
  return v;
}

/**
 * Checks that `v` is an array (its elements are not checked).
 *
 * @throws {InvalidImageError} otherwise.
 * @example
 * ```ts
 * expectArray([1, 2], "list"); // [1, 2]
 * ```
 */
export function expectArray(v: unknown, where: Where): unknown[] {
  if (!Array.isArray(v)) throw toPath(where).error(`must be an array, got ${describe(v)}`);
  return v;
}

/**
 * Checks that `v` is an integer in `0 .. Number.MAX_SAFE_INTEGER` (JSON sizes beyond that lose
 * precision in JavaScript).
 *
 * @throws {InvalidImageError} otherwise.
 * @example
 * ```ts
 * expectNonNegativeInteger(7023, "size"); // 7023
 * try {
 *   expectNonNegativeInteger(-1, "manifest: layers[2].size");
 * } catch (e) {
 *   // "manifest: layers[2].size: must be a non-negative integer, got -1"
 *   console.log((e as Error).message);
 * }
 * ```
 */
export function expectNonNegativeInteger(v: unknown, where: Where): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0) {
    throw toPath(where).error(`must be a non-negative integer, got ${JSON.stringify(v) ?? v}`);
  }
  if (v > Number.MAX_SAFE_INTEGER) {
    throw toPath(where).error(`${v} is too large to represent exactly`);
  }
  return v;
}

/**
 * Checks that `v` is an array of strings.
 *
 * @throws {InvalidImageError} otherwise.
 * @example
 * ```ts
 * expectStringArray(["a", "b"], "Env"); // ["a", "b"]
 * ```
 */
export function expectStringArray(v: unknown, where: Where): string[] {
  const path = toPath(where);
  const arr = expectArray(v, path);
  arr.forEach((item, i) => expectString(item, path.index(i)));
  return arr as string[];
}

/**
 * Checks that `v` is an object whose values are all strings (the annotation rules).
 *
 * @throws {InvalidImageError} otherwise.
 * @example
 * ```ts
 * expectStringMap({ "com.example.key1": "value1" }, "annotations");
 * ```
 */
export function expectStringMap(v: unknown, where: Where): Record<string, string> {
  const path = toPath(where);
  const obj = expectObject(v, path);
  for (const [k, value] of Object.entries(obj)) expectString(value, path.key(k));
  return obj as Record<string, string>;
}

function field(obj: JsonObject, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

/**
 * Reads a required field of `obj` (present and not null).
 *
 * @throws {InvalidImageError} when it is missing.
 * @example
 * ```ts
 * required({ config: {} }, "config", "manifest"); // {}
 * ```
 */
export function required(obj: JsonObject, key: string, where: Where): unknown {
  const v = field(obj, key);
  if (v === undefined || v === null) throw toPath(where).key(key).error("is required");
  return v;
}

/**
 * Reads a required string field.
 *
 * @throws {InvalidImageError} when missing or not a string.
 * @example
 * ```ts
 * reqString({ os: "linux" }, "os", "config"); // "linux"
 * ```
 */
export function reqString(obj: JsonObject, key: string, where: Where): string {
  return expectString(required(obj, key, where), toPath(where).key(key));
}

/**
 * Reads an optional string field; null counts as absent.
 *
 * @throws {InvalidImageError} when present and not a string.
 * @example
 * ```ts
 * optString({}, "author", "config"); // undefined
 * ```
 */
export function optString(obj: JsonObject, key: string, where: Where): string | undefined {
  const v = field(obj, key);
  return v === undefined || v === null ? undefined : expectString(v, toPath(where).key(key));
}

/**
 * Reads an optional boolean field; null counts as absent.
 *
 * @throws {InvalidImageError} when present and not a boolean.
 * @example
 * ```ts
 * optBoolean({ empty_layer: true }, "empty_layer", "history[1]"); // true
 * ```
 */
export function optBoolean(obj: JsonObject, key: string, where: Where): boolean | undefined {
  const v = field(obj, key);
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "boolean") {
    throw toPath(where).key(key).error(`must be a boolean, got ${describe(v)}`);
  }
  return v;
}

/**
 * Reads an optional integer field (any sign); null counts as absent.
 *
 * @throws {InvalidImageError} when present and not a safe integer.
 * @example
 * ```ts
 * optInteger({ Retries: 3 }, "Retries", "Healthcheck"); // 3
 * ```
 */
export function optInteger(obj: JsonObject, key: string, where: Where): number | undefined {
  const v = field(obj, key);
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isSafeInteger(v)) {
    throw toPath(where).key(key).error(`must be an integer, got ${JSON.stringify(v)}`);
  }
  return v;
}

/**
 * Reads an optional object field; null counts as absent.
 *
 * @throws {InvalidImageError} when present and not an object.
 * @example
 * ```ts
 * optObject({ config: { User: "1" } }, "config", "config"); // { User: "1" }
 * ```
 */
export function optObject(obj: JsonObject, key: string, where: Where): JsonObject | undefined {
  const v = field(obj, key);
  return v === undefined || v === null ? undefined : expectObject(v, toPath(where).key(key));
}

/**
 * Reads an optional array field; null counts as absent.
 *
 * @throws {InvalidImageError} when present and not an array.
 * @example
 * ```ts
 * optArray({ history: [] }, "history", "config"); // []
 * ```
 */
export function optArray(obj: JsonObject, key: string, where: Where): unknown[] | undefined {
  const v = field(obj, key);
  return v === undefined || v === null ? undefined : expectArray(v, toPath(where).key(key));
}

/**
 * Reads an optional array-of-strings field; null counts as absent.
 *
 * @throws {InvalidImageError} when present and not an array of strings.
 * @example
 * ```ts
 * optStringArray({ Cmd: ["sh"] }, "Cmd", "config"); // ["sh"]
 * ```
 */
export function optStringArray(obj: JsonObject, key: string, where: Where): string[] | undefined {
  const v = field(obj, key);
  return v === undefined || v === null ? undefined : expectStringArray(v, toPath(where).key(key));
}

/**
 * Reads an optional string-to-string map field; null counts as absent.
 *
 * @throws {InvalidImageError} when present and not such a map.
 * @example
 * ```ts
 * optStringMap({ annotations: { a: "b" } }, "annotations", "manifest"); // { a: "b" }
 * ```
 */
export function optStringMap(
  obj: JsonObject,
  key: string,
  where: Where,
): Record<string, string> | undefined {
  const v = field(obj, key);
  return v === undefined || v === null ? undefined : expectStringMap(v, toPath(where).key(key));
}

/**
 * Reads an optional map whose values are objects (the Go `map[string]struct{}` shape used by
 * `ExposedPorts` and `Volumes`); null counts as absent.
 *
 * @throws {InvalidImageError} when present and not such a map.
 * @example
 * ```ts
 * optObjectMap({ Volumes: { "/data": {} } }, "Volumes", "config"); // { "/data": {} }
 * ```
 */
export function optObjectMap(
  obj: JsonObject,
  key: string,
  where: Where,
): Record<string, JsonObject> | undefined {
  const v = field(obj, key);
  if (v === undefined || v === null) return undefined;
  const path = toPath(where).key(key);
  const map = expectObject(v, path);
  for (const [k, value] of Object.entries(map)) expectObject(value, path.key(k));
  return map as Record<string, JsonObject>;
}

/**
 * `JSON.parse` whose error names only where the syntax broke. V8's own message quotes the text
 * around the fault, which would print bytes of whatever file stood in for the document (an
 * `index.json` that is really `/etc/shadow`).
 *
 * @throws {InvalidImageError} `<where>: is not valid JSON (...)` without any of `text`.
 * @example
 * ```ts
 * parseJsonText('{"a":1}', "index.json"); // { a: 1 }
 * try {
 *   parseJsonText("root:x:0:0", "index.json");
 * } catch (e) {
 *   console.log((e as Error).message); // "index.json: is not valid JSON"
 * }
 * ```
 */
export function parseJsonText(text: string, where: Where): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw toPath(where).error(jsonSyntaxReason(text, e));
  }
}

function jsonSyntaxReason(text: string, e: unknown): string {
  if (text.trim() === "") return "is empty, not JSON";
  const message = e instanceof Error ? e.message : "";
  const at = / at position \d+ \(line (\d+) column (\d+)\)/.exec(message);
  if (at) return `is not valid JSON (syntax error at line ${at[1]} column ${at[2]})`;
  const pos = / at position (\d+)/.exec(message);
  if (pos) return `is not valid JSON (syntax error at character ${pos[1]})`;
  if (message.startsWith("Unexpected end of JSON input")) {
    return "is not valid JSON (it ends early)";
  }
  return "is not valid JSON";
}

/**
 * Names of a Go struct's JSON fields, for {@linkcode refuseCaseVariants}.
 *
 * @example
 * ```ts
 * const MANIFEST_KEYS = new GoFieldNames(["schemaVersion", "config", "layers"]);
 * ```
 */
export class GoFieldNames {
  readonly #exact: ReadonlySet<string>;
  readonly #folded: ReadonlyMap<string, string>;
  constructor(names: readonly string[]) {
    this.#exact = new Set(names);
    this.#folded = new Map(names.map((n) => [goFoldName(n), n]));
  }

  /** The field a key that is not spelled exactly like one would still fill in Go, if any. */
  variantOf(key: string): string | undefined {
    if (this.#exact.has(key)) return undefined;
    return this.#folded.get(goFoldName(key));
  }
}

/**
 * The key Go's encoding/json compares struct field names by: ASCII letters upper-cased, and the
 * two non-ASCII letters whose case folding reaches ASCII (U+017F long s, U+212A Kelvin sign)
 * turned into theirs. Other runes can never match an ASCII field name, so they stay as they are.
 */
function goFoldName(s: string): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x61 && c <= 0x7a) out += String.fromCharCode(c - 0x20);
    else if (c === 0x17f) out += "S";
    else if (c === 0x212a) out += "K";
    else out += s[i];
  }
  return out;
}

/**
 * Refuses keys of `obj` that differ from one of `fields` only in case. Go's encoding/json (and so
 * skopeo, umoci, containerd, Docker) fills a struct field from a key matching its name case-
 * insensitively, the last such key winning, where ocibox reads the exact key only: a document
 * with `layers` and `Layers`, or only `Layers`, would be two different images to the two.
 *
 * @throws {InvalidImageError} naming the key and the field it shadows.
 * @example
 * ```ts
 * const keys = new GoFieldNames(["layers"]);
 * refuseCaseVariants({ layers: [] }, keys, "manifest"); // fine
 * try {
 *   refuseCaseVariants({ layers: [], Layers: [] }, keys, "manifest");
 * } catch (e) {
 *   console.log((e as Error).message); // manifest: "Layers" and "layers" both fill ...
 * }
 * ```
 */
export function refuseCaseVariants(obj: JsonObject, fields: GoFieldNames, where: Where): void {
  for (const key of Object.keys(obj)) {
    const field = fields.variantOf(key);
    if (field === undefined) continue;
    const path = toPath(where);
    throw path.error(
      Object.hasOwn(obj, field)
        ? `${JSON.stringify(key)} and ${JSON.stringify(field)} both fill the field ${field} ` +
          "for Go's case-insensitive JSON decoding (skopeo, umoci): ambiguous document"
        : `${JSON.stringify(key)} fills the field ${field} for Go's case-insensitive JSON ` +
          `decoding (skopeo, umoci) but is not ${JSON.stringify(field)}: ambiguous document`,
    );
  }
}
