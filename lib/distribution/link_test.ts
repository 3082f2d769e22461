import assert from "node:assert/strict";
import { formatNextLink, nextLink } from "./link.ts";

Deno.test("Link: format and parse round trip", () => {
  const h = formatNextLink("/v2/a/b/tags/list", { n: "10", last: "v1.0" });
  assert.equal(h, '</v2/a/b/tags/list?n=10&last=v1.0>; rel="next"');
  assert.equal(nextLink(h), "/v2/a/b/tags/list?n=10&last=v1.0");
  assert.equal(
    formatNextLink("/v2/_catalog", { last: "a/b" }),
    '</v2/_catalog?last=a%2Fb>; rel="next"',
  );
  assert.equal(formatNextLink("/v2/_catalog", {}), '</v2/_catalog>; rel="next"');
});

Deno.test("Link: picks rel=next among several links and parameters", () => {
  assert.equal(
    nextLink('<https://x/prev>; rel="prev", <https://x/n?a=1,2>; rel=next'),
    "https://x/n?a=1,2",
  );
  assert.equal(nextLink('<https://x/p>; title="a, b"; rel="prev next"'), "https://x/p");
  assert.equal(nextLink('<https://x/p>; rel="prev"'), undefined);
  assert.equal(nextLink(""), undefined);
  assert.equal(nextLink(null), undefined);
  assert.equal(nextLink("garbage"), undefined);
});
