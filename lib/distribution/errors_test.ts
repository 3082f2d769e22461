import assert from "node:assert/strict";
import {
  ERROR_CODES,
  errorBody,
  errorResponse,
  isDistributionErrorCode,
  parseErrorBody,
} from "./errors.ts";

Deno.test("every code of spec.md's table has a status", () => {
  const spec = [
    "BLOB_UNKNOWN",
    "BLOB_UPLOAD_INVALID",
    "BLOB_UPLOAD_UNKNOWN",
    "DIGEST_INVALID",
    "MANIFEST_BLOB_UNKNOWN",
    "MANIFEST_INVALID",
    "MANIFEST_UNKNOWN",
    "NAME_INVALID",
    "NAME_UNKNOWN",
    "SIZE_INVALID",
    "UNAUTHORIZED",
    "DENIED",
    "UNSUPPORTED",
    "TOOMANYREQUESTS",
  ];
  assert.deepEqual(Object.keys(ERROR_CODES).sort(), [...spec].sort());
  for (const code of spec) {
    assert.ok(isDistributionErrorCode(code));
    assert.match(code, /^[A-Z_]+$/);
  }
  assert.equal(ERROR_CODES.UNAUTHORIZED.status, 401);
  assert.equal(ERROR_CODES.DENIED.status, 403);
  assert.equal(ERROR_CODES.TOOMANYREQUESTS.status, 429);
  assert.equal(ERROR_CODES.BLOB_UNKNOWN.status, 404);
});

Deno.test("error bodies: spec shape, round trip", async () => {
  const r = errorResponse("MANIFEST_UNKNOWN", undefined, { tag: "x" }, {
    headers: { "x-a": "1" },
  });
  assert.equal(r.status, 404);
  assert.equal(r.headers.get("content-type"), "application/json");
  assert.equal(r.headers.get("x-a"), "1");
  const body = await r.json();
  assert.deepEqual(body, {
    errors: [{
      code: "MANIFEST_UNKNOWN",
      message: "manifest unknown to registry",
      detail: { tag: "x" },
    }],
  });
  assert.deepEqual(parseErrorBody(errorBody([{ code: "DENIED", message: "no" }])), [
    { code: "DENIED", message: "no" },
  ]);
  assert.equal(parseErrorBody("<html>"), undefined);
  assert.equal(parseErrorBody('{"x":1}'), undefined);
  assert.equal(errorResponse("UNSUPPORTED", "read-only", undefined, { status: 405 }).status, 405);
});
