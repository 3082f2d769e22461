import assert from "node:assert/strict";
import { NotFoundError } from "../errors.ts";
import { parseRunArgs } from "./run_flags.ts";
import { prepareBindSources } from "./volumes.ts";

Deno.test("volumes: a missing -v source is made; :ro and --mount ones are errors", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const mounts = parseRunArgs(["-v", `${dir}/a/b:/data`, "-v", `${dir}:/here`, "img"]).mounts;
    assert.deepEqual(await prepareBindSources(mounts), [`${dir}/a`]);
    assert.ok((await Deno.stat(`${dir}/a/b`)).isDirectory);
    const ro = parseRunArgs(["-v", `${dir}/missing:/data:ro`, "img"]).mounts;
    await assert.rejects(
      prepareBindSources(ro),
      (e: unknown) =>
        e instanceof NotFoundError &&
        e.message ===
          `--volume ${dir}/missing:/data: the host path ${dir}/missing does not exist (a read-only volume is not created)`,
    );
    const bind = parseRunArgs(["--mount", `type=bind,src=${dir}/nope,dst=/x`, "img"]).mounts;
    await assert.rejects(
      prepareBindSources(bind),
      /^NotFoundError: --mount .*nope does not exist$/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
