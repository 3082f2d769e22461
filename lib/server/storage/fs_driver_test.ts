import assert from "node:assert/strict";
import { FsDriver } from "./fs_driver.ts";

/** `n` chunks of `size` bytes each, byte i of the whole stream being i % 251. */
function chunks(n: number, size: number): Uint8Array[] {
  let k = 0;
  return Array.from({ length: n }, () => {
    const c = new Uint8Array(size);
    for (let i = 0; i < size; i++) c[i] = k++ % 251;
    return c;
  });
}

function streamOf(parts: Uint8Array[], failAfter?: number): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    pull(controller) {
      if (failAfter !== undefined && i === failAfter) {
        controller.error(new Error("client went away"));
      } else if (i < parts.length) controller.enqueue(parts[i++]);
      else controller.close();
    },
  });
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

Deno.test("fs driver: append gathers small chunks into big writes, in order, then reports each", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const d = new FsDriver(dir);
    // 64 KiB chunks (a request body's), one odd size, and a chunk above the batch size.
    const parts = [...chunks(40, 65536), new Uint8Array(7).fill(9), ...chunks(1, 3 << 20)];
    const seen: number[] = [];
    const size = await d.append("up/data", 0, streamOf(parts), {
      onChunk: (c) => seen.push(c.length),
    });
    assert.equal(size, parts.reduce((a, p) => a + p.length, 0));
    assert.deepEqual(seen, parts.map((p) => p.length));
    assert.deepEqual(await Deno.readFile(`${dir}/up/data`), concat(parts));
    // Appending at the offset continues the file.
    const more = chunks(3, 1000);
    assert.equal(await d.append("up/data", size, streamOf(more)), size + 3000);
    assert.deepEqual(await Deno.readFile(`${dir}/up/data`), concat([...parts, ...more]));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fs driver: append keeps what arrived before the body failed", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const d = new FsDriver(dir);
    const parts = chunks(5, 65536);
    let seen = 0;
    await assert.rejects(
      d.append("up/data", 0, streamOf(parts, 3), { onChunk: (c) => (seen += c.length) }),
      /client went away/,
    );
    assert.equal(seen, 3 * 65536);
    assert.deepEqual(await Deno.readFile(`${dir}/up/data`), concat(parts.slice(0, 3)));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fs driver: write of small and big chunks; a failed body leaves nothing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const d = new FsDriver(dir);
    const parts = [...chunks(20, 100_000), ...chunks(1, 2 << 20), ...chunks(3, 10)];
    assert.equal(await d.write("blobs/x", streamOf(parts)), 2_000_000 + (2 << 20) + 30);
    assert.deepEqual(await Deno.readFile(`${dir}/blobs/x`), concat(parts));
    await assert.rejects(d.write("blobs/y", streamOf(parts, 2)), /client went away/);
    assert.equal(await d.stat("blobs/y"), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
