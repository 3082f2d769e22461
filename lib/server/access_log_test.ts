import assert from "node:assert/strict";
import { type AccessEntry, formatAccessLine, formatDuration } from "./access_log.ts";

const entry: AccessEntry = {
  time: new Date(0),
  method: "PUT",
  uri: "/v2/a/manifests/v1",
  remoteAddr: "127.0.0.1:4000",
  userAgent: "skopeo/1.13 go",
  status: 201,
  bytes: 0,
  durationMs: 12.5,
  user: "alice",
};

Deno.test("access line: text like docker-registry's", () => {
  assert.equal(
    formatAccessLine(entry, "text"),
    'time="1970-01-01T00:00:00.000Z" level=info msg="response completed" ' +
      "http.request.method=PUT http.request.uri=/v2/a/manifests/v1 " +
      'http.request.remoteaddr=127.0.0.1:4000 http.request.useragent="skopeo/1.13 go" ' +
      "http.response.status=201 http.response.written=0 http.response.duration=12.5ms " +
      "auth.user.name=alice",
  );
});

Deno.test("access line: json, anonymous, failed body", () => {
  const obj = JSON.parse(formatAccessLine({ ...entry, user: "", error: "reset" }, "json"));
  assert.equal(obj.level, "error");
  assert.equal(obj["http.response.status"], 201);
  assert.equal(obj["auth.user.name"], undefined);
  assert.equal(obj.error, "reset");
});

Deno.test("durations as Go prints them", () => {
  assert.equal(formatDuration(0.25), "250µs");
  assert.equal(formatDuration(1500), "1.5s");
});
