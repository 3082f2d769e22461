import assert from "node:assert/strict";
import {
  checkRepositoryName,
  isRepositoryName,
  isTag,
  parseReferenceSegment,
  referrersTag,
} from "./names.ts";

Deno.test("repository names follow spec.md's grammar", () => {
  for (const ok of ["a", "library/busybox", "a.b/c_d/e__f/g-h/i---j", "0/1/2", "x".repeat(255)]) {
    assert.equal(checkRepositoryName(ok), undefined, ok);
  }
  for (
    const bad of [
      "",
      "A",
      "a/B",
      "a//b",
      "/a",
      "a/",
      "../a",
      "a/../b",
      "a/./b",
      ".a",
      "a..b",
      "a___b",
      "a-",
      "%2e%2e",
      "a b",
      "x".repeat(256),
    ]
  ) {
    assert.equal(isRepositoryName(bad), false, bad);
  }
  assert.match(checkRepositoryName("Library/x")!, /lowercase/);
  assert.match(checkRepositoryName("a/..")!, /component ".."/);
  assert.match(checkRepositoryName("x".repeat(256))!, /at most 255/);
});

Deno.test("layout file names are reserved after the first component", () => {
  for (const bad of ["a/blobs", "a/index.json", "a/b/oci-layout"]) {
    assert.match(checkRepositoryName(bad)!, /reserved/, bad);
  }
  for (const ok of ["blobs", "index.json/a", "a/blobs2", "oci-layout"]) {
    assert.equal(checkRepositoryName(ok), undefined, ok);
  }
});

Deno.test("tags: [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}", () => {
  for (const ok of ["latest", "v1.2.3", "_x", "A-b.C_d", "a".repeat(128)]) assert.ok(isTag(ok), ok);
  for (const bad of ["", ".a", "-a", "a:b", "a/b", "a".repeat(129), "é"]) {
    assert.ok(!isTag(bad), bad);
  }
});

Deno.test("tag-or-digest segments", () => {
  const d = `sha256:${"a".repeat(64)}`;
  assert.deepEqual(parseReferenceSegment(d), { kind: "digest", digest: d });
  assert.deepEqual(parseReferenceSegment("v1"), { kind: "tag", tag: "v1" });
  assert.equal(parseReferenceSegment("sha256:abc").kind, "invalid");
  assert.equal(parseReferenceSegment(`sha256:${"A".repeat(64)}`).kind, "invalid");
  assert.equal(parseReferenceSegment("..").kind, "invalid");
  assert.equal(parseReferenceSegment(`sha512:${"b".repeat(128)}`).kind, "digest");
});

Deno.test("referrers tag schema (spec.md's table)", () => {
  assert.equal(referrersTag(`sha256:${"a".repeat(64)}`), `sha256-${"a".repeat(64)}`);
  assert.equal(referrersTag(`sha512:${"a".repeat(128)}`), `sha512-${"a".repeat(64)}`);
  assert.equal(
    referrersTag(
      "test+algorithm+using+algorithm+separators+and+lots+of+characters+to+excercise+overall+truncation:alsoSome=InTheEncodedSectionToShowHyphenReplacementAndLotsAndLotsOfCharactersToExcerciseEncodedTruncation",
    ),
    "test-algorithm-using-algorithm-s-alsoSome-InTheEncodedSectionToShowHyphenReplacementAndLotsAndLot",
  );
});
