import assert from "node:assert/strict";
import { AbortedError, OciboxError } from "../errors.ts";
import { leftovers, withTempDir } from "./archive_test_util.ts";
import { openDirDestination } from "./dir.ts";
import { openDockerArchiveDestination } from "./docker_archive.ts";
import { openOciArchiveDestination } from "./oci_archive.ts";
import { StagingDir } from "./staging.ts";
import type { ImageDestination } from "./types.ts";

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An endless stream that records whether it was cancelled. */
function endless(): { stream: ReadableStream<Uint8Array>; cancelled: () => boolean } {
  let cancelled = false;
  const stream = new ReadableStream<Uint8Array>({
    async pull(c) {
      await delay(2);
      c.enqueue(new Uint8Array(16));
    },
    cancel() {
      cancelled = true;
    },
  });
  return { stream, cancelled: () => cancelled };
}

Deno.test("StagingDir: remove stops and waits for work in flight, then refuses new work", async () => {
  await withTempDir(async (tmp) => {
    const staging = await StagingDir.create(tmp, "x", "test");
    let sawAbort = false;
    const work = staging.run(async (signal) => {
      while (!signal.aborted) await delay(1);
      sawAbort = true;
      await Deno.writeTextFile(`${staging.path}/late`, "written while closing");
    });
    await staging.remove();
    await work;
    assert.ok(sawAbort);
    assert.deepEqual(await leftovers(tmp), []);
    let refused = false;
    await assert.rejects(
      staging.run(() => Promise.resolve(), undefined, () => (refused = true)),
      (e) => e instanceof OciboxError && e.code === "DESTINATION_CLOSED",
    );
    assert.ok(refused);
  });
});

const destinations: [string, (path: string) => Promise<ImageDestination>][] = [
  ["dir", (p) => openDirDestination(`dir:${p}`, p)],
  ["oci-archive", (p) => openOciArchiveDestination(`oci-archive:${p}`, p)],
  ["docker-archive", (p) => openDockerArchiveDestination(`docker-archive:${p}`, p)],
];

for (const [transport, open] of destinations) {
  Deno.test(`${transport}: close during a putBlob stops it and leaves nothing behind`, async () => {
    await withTempDir(async (tmp) => {
      const dst = await open(`${tmp}/out`);
      const slow = endless();
      const put = dst.putBlob(slow.stream, {});
      await delay(10);
      await dst.close();
      await assert.rejects(put, AbortedError);
      assert.ok(slow.cancelled());
      const late = endless();
      await assert.rejects(dst.putBlob(late.stream, {}), /already committed or closed/);
      assert.ok(late.cancelled());
      assert.deepEqual(await leftovers(tmp), []);
      await assert.rejects(Deno.stat(`${tmp}/out`), Deno.errors.NotFound);
    });
  });
}
