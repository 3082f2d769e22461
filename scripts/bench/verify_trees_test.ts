import assert from "node:assert/strict";
import { compareTrees } from "./verify_trees.ts";

async function tree(root: string, content: string): Promise<void> {
  await Deno.mkdir(`${root}/d`, { recursive: true });
  await Deno.writeTextFile(`${root}/d/f`, content);
  await Deno.utime(`${root}/d/f`, 1_600_000_000, 1_600_000_000);
  await Deno.link(`${root}/d/f`, `${root}/d/h`);
  await Deno.symlink("f", `${root}/d/s`);
}

Deno.test("compareTrees: equal trees match, content and link differences are found", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await tree(`${dir}/a`, "hello");
    await tree(`${dir}/b`, "hello");
    assert.deepEqual(compareTrees(`${dir}/a`, `${dir}/b`).differences, []);
    await tree(`${dir}/c`, "jello");
    await Deno.remove(`${dir}/c/d/h`);
    await Deno.writeTextFile(`${dir}/c/d/extra`, "");
    const diff = compareTrees(`${dir}/a`, `${dir}/c`).differences.join("\n");
    assert.match(diff, /only in .*\/c: d\/extra/);
    assert.match(diff, /only in .*\/a: d\/h/);
    assert.match(diff, /d\/f: sha256/);
    assert.match(diff, /d\/f: hardlinked with/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
