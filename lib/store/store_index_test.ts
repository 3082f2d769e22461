import assert from "node:assert/strict";
import type { Descriptor } from "../image/descriptor.ts";
import { emptyIndex, REF_NAME_ANNOTATION } from "../image/layout.ts";
import {
  addNameless,
  removeFromIndex,
  storeImages,
  tagInIndex,
  untagInIndex,
} from "./store_index.ts";

const desc = (c: string): Descriptor => ({
  mediaType: "application/vnd.oci.image.manifest.v1+json",
  digest: `sha256:${c.repeat(64)}`,
  size: 10,
});
const A = desc("a");
const B = desc("b");
const X = "docker.io/library/x:latest";
const Y = "localhost:5000/y:v1";

Deno.test("tagInIndex names images; an image keeps several names", () => {
  let index = tagInIndex(emptyIndex(), A, X);
  index = tagInIndex(index, A, Y);
  assert.deepEqual(storeImages(index), [{ descriptor: A, names: [X, Y] }]);
  assert.equal(index.manifests[0].annotations?.[REF_NAME_ANNOTATION], X);
  // Tagging again changes nothing.
  assert.deepEqual(tagInIndex(index, A, X).manifests.length, 2);
});

Deno.test("a name moved to another image leaves the old one nameless, not gone", () => {
  let index = tagInIndex(emptyIndex(), A, X);
  index = tagInIndex(index, B, X);
  const summary = storeImages(index).map((i) => [i.descriptor.digest, i.names.join()]).sort();
  assert.deepEqual(summary, [[A.digest, ""], [B.digest, X]]);
  // The old image had another name: it just loses this one.
  let two = tagInIndex(tagInIndex(emptyIndex(), A, X), A, Y);
  two = tagInIndex(two, B, X);
  assert.deepEqual(storeImages(two).find((i) => i.descriptor.digest === A.digest)?.names, [Y]);
  // Naming a nameless image replaces its nameless entry.
  const named = tagInIndex(index, A, Y);
  assert.equal(named.manifests.filter((d) => d.digest === A.digest).length, 1);
});

Deno.test("untagInIndex keeps the image nameless or drops it", () => {
  const index = tagInIndex(tagInIndex(emptyIndex(), A, X), A, Y);
  assert.deepEqual(storeImages(untagInIndex(index, X, false))[0].names, [Y]);
  const once = tagInIndex(emptyIndex(), A, X);
  assert.deepEqual(storeImages(untagInIndex(once, X, true)), [{ descriptor: A, names: [] }]);
  assert.deepEqual(untagInIndex(once, X, false).manifests, []);
  assert.equal(untagInIndex(once, "nope", false), once);
});

Deno.test("addNameless and removeFromIndex", () => {
  let index = addNameless(emptyIndex(), A);
  index = addNameless(index, A);
  assert.equal(index.manifests.length, 1);
  index = tagInIndex(index, B, X);
  assert.equal(addNameless(index, { ...B, annotations: { [REF_NAME_ANNOTATION]: Y } }), index);
  assert.deepEqual(storeImages(removeFromIndex(index, A.digest)), [{ descriptor: B, names: [X] }]);
});

Deno.test("other annotations of an entry survive", () => {
  const withNote = { ...A, annotations: { "org.example.note": "n" } };
  const index = tagInIndex(emptyIndex(), withNote, X);
  assert.deepEqual(storeImages(index)[0].descriptor.annotations, { "org.example.note": "n" });
});
