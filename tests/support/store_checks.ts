/**
 * Checks of an ocibox store for the store tests: its index.json names, what is left in its
 * staging area, and every named image validated by oci-image-tool and read by skopeo.
 * @module
 */
import assert from "node:assert/strict";
import { run } from "./peers.ts";

const REF_NAME = "org.opencontainers.image.ref.name";

/** The store's images/index.json. */
export interface IndexJson {
  manifests: { digest: string; annotations?: Record<string, string> }[];
}

/** Reads STORE/images/index.json. */
export async function readIndex(store: string): Promise<IndexJson> {
  return JSON.parse(await Deno.readTextFile(`${store}/images/index.json`));
}

/** The ref names of index.json, sorted ("" for an entry without one). */
export async function refNames(store: string): Promise<string[]> {
  return (await readIndex(store)).manifests.map((m) => m.annotations?.[REF_NAME] ?? "").sort();
}

/** The entries of STORE/tmp (staging of work in progress or interrupted). */
export async function tmpEntries(store: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(`${store}/tmp`)) out.push(e.name);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return out;
}

/**
 * Checks every named image of the store with oci-image-tool (which walks the layout, manifest,
 * config and layers) and skopeo (`full`: skopeo copies it out, reading and verifying every
 * blob), and that nothing is left in the store's staging area.
 *
 * oci-image-tool 1.0.0-rc1 filters index.json with `--ref name=X` by deleting from the list it
 * iterates (image/descriptor.go, findDescriptor), so one pass skips the entry after each one it
 * drops and reports "not unique" for layouts of three entries or more; the filter is given once
 * per entry, which leaves exactly the entry named.
 */
export async function checkStoreLayout(store: string, full = false): Promise<void> {
  const names = await refNames(store);
  for (const name of names) {
    if (name === "") continue;
    const refs = names.flatMap(() => ["--ref", `name=${name}`]);
    await run("oci-image-tool", ["validate", "--type", "image", ...refs, `${store}/images`]);
    const facts = JSON.parse(await run("skopeo", ["inspect", `oci:${store}/images:${name}`]));
    assert.ok(facts.Digest, name);
    if (full) {
      const out = await Deno.makeTempDir({ prefix: "ocibox-store-check-" });
      try {
        await run("skopeo", ["copy", "-q", `oci:${store}/images:${name}`, `oci:${out}:x`]);
      } finally {
        await Deno.remove(out, { recursive: true });
      }
    }
  }
  assert.deepEqual(await tmpEntries(store), []);
}
