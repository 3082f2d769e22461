import assert from "node:assert/strict";
import { copyImage } from "./copy.ts";
import { openDestination, openSource } from "./open.ts";
import { appendImage } from "../mutate/append.ts";
import { recordingReporter } from "../report/reporter.ts";
import { resolveImage } from "./resolve.ts";
import { UnsupportedError } from "../errors.ts";
import type { ImageSource } from "./types.ts";

async function withTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ocibox-copy-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Writes a two-layer image (a base layer plus one on top) into `oci:DIR:TAG`. */
async function makeImage(dir: string, location: string): Promise<void> {
  for (const name of ["one", "two"]) {
    await Deno.mkdir(`${dir}/${name}`, { recursive: true });
    await Deno.writeTextFile(`${dir}/${name}/${name}.txt`, `${name}\n`.repeat(100));
  }
  let base: ImageSource | undefined;
  for (const [i, name] of ["one", "two"].entries()) {
    const image = await appendImage({
      base,
      layers: [{ kind: "dir", path: `${dir}/${name}` }],
      created: "2024-01-01T00:00:00Z",
    });
    const dst = await openDestination(i === 0 ? `${location}-base` : location);
    await copyImage(image, dst, { reporter: recordingReporter() });
    await dst.close();
    await image.close();
    await base?.close();
    base = await openSource(`${location}-base`);
  }
  await base?.close();
}

async function copy(from: string, to: string, options = {}): Promise<string[]> {
  const reporter = recordingReporter();
  const src = await openSource(from);
  const dst = await openDestination(to);
  try {
    await copyImage(src, dst, { reporter, ...options });
  } finally {
    await dst.close();
    await src.close();
  }
  return reporter.lines;
}

Deno.test("copy skips blobs the destination has and leaves them untouched", async () => {
  await withTemp(async (dir) => {
    await makeImage(dir, `oci:${dir}/src:app`);
    // The base first: its layer is then already at the destination.
    const first = await copy(`oci:${dir}/src:app-base`, `oci:${dir}/dst:base`);
    assert.equal(first.filter((l) => l.endsWith(" skipped")).length, 0, first.join("\n"));
    const blobs = `${dir}/dst/blobs/sha256`;
    const before = new Map(
      [...Deno.readDirSync(blobs)].map((e) => [e.name, Deno.statSync(`${blobs}/${e.name}`).ino]),
    );
    const second = await copy(`oci:${dir}/src:app`, `oci:${dir}/dst:app`);
    const skipped = second.filter((l) => l.endsWith(" skipped"));
    assert.equal(skipped.length, 1, second.join("\n")); // the shared base layer
    assert.ok(second.some((l) => l.startsWith("layer ") && !l.endsWith(" skipped")));
    for (const [name, ino] of before) {
      assert.equal(Deno.statSync(`${blobs}/${name}`).ino, ino, `${name} was rewritten`);
    }
    // Copying the same image again copies nothing.
    const third = await copy(`oci:${dir}/src:app`, `oci:${dir}/dst:again`);
    const moved = third.filter((l) => /^(config|layer) /.test(l) && !l.endsWith(" skipped"));
    assert.deepEqual(moved, []);
  });
});

Deno.test("copy recompresses layers on request and keeps the config's diff_ids", async () => {
  await withTemp(async (dir) => {
    await makeImage(dir, `oci:${dir}/src:app`);
    await copy(`oci:${dir}/src:app`, `oci:${dir}/z:app`, { compression: "zstd" });
    const read = async (loc: string) => {
      const src = await openSource(loc);
      try {
        return await resolveImage(src);
      } finally {
        await src.close();
      }
    };
    const [a, b] = [await read(`oci:${dir}/src:app`), await read(`oci:${dir}/z:app`)];
    assert.deepEqual(b.config.rootfs.diff_ids, a.config.rootfs.diff_ids);
    assert.deepEqual(
      b.manifest.manifest.layers.map((l) => l.mediaType),
      [
        "application/vnd.oci.image.layer.v1.tar+zstd",
        "application/vnd.oci.image.layer.v1.tar+zstd",
      ],
    );
    assert.notEqual(b.manifest.digest, a.manifest.digest);
    await assert.rejects(
      copy(`oci:${dir}/src:app`, `oci:${dir}/p:app`, {
        compression: "zstd",
        preserveDigests: true,
      }),
      UnsupportedError,
    );
    await assert.rejects(
      copy(`oci:${dir}/src:app`, `docker-archive:${dir}/p.tar:x/y:1`, { preserveDigests: true }),
      UnsupportedError,
    );
    // With nothing to change, --preserve-digests copies.
    await copy(`oci:${dir}/src:app`, `dir:${dir}/d`, { preserveDigests: true });
  });
});
