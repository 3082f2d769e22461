import assert from "node:assert/strict";
import { paginate } from "./pagination.ts";

const ALL = ["a", "b", "c", "d"];
const q = (s: string) => new URLSearchParams(s);

Deno.test("paginate: whole list without n", () => {
  assert.deepEqual(paginate(ALL, q(""), "/p"), { items: ALL });
});

Deno.test("paginate: n and Link, then last", () => {
  const p1 = paginate(ALL, q("n=2"), "/v2/x/tags/list");
  assert.deepEqual(p1.items, ["a", "b"]);
  assert.equal(p1.link, '</v2/x/tags/list?n=2&last=b>; rel="next"');
  const p2 = paginate(ALL, q("n=2&last=b"), "/v2/x/tags/list");
  assert.deepEqual(p2, { items: ["c", "d"] });
});

Deno.test("paginate: n=0 is empty without Link; last not in the list", () => {
  assert.deepEqual(paginate(ALL, q("n=0"), "/p"), { items: [] });
  assert.deepEqual(paginate(ALL, q("last=bb"), "/p").items, ["c", "d"]);
  assert.deepEqual(paginate(ALL, q("last=z&n=3"), "/p"), { items: [] });
});

Deno.test("paginate: default n (catalog) and bad n ignored", () => {
  const p = paginate(ALL, q(""), "/v2/_catalog", 3);
  assert.deepEqual(p.items, ["a", "b", "c"]);
  assert.equal(p.link, '</v2/_catalog?n=3&last=c>; rel="next"');
  assert.deepEqual(paginate(ALL, q("n=-1"), "/p").items, ALL);
});
