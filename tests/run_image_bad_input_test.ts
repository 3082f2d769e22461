/**
 * `ocibox run IMAGE` with bad input: an unknown image, an unreachable registry, a bad
 * reference, a `:ro` volume whose source is missing, a published port in use, an unknown flag,
 * a name taken, a command the image lacks or cannot execute. Each gives one `error:` line and
 * podman's exit code, and leaves nothing behind: no container record, mount or runtime state,
 * no half-pulled image in `images`, no file in the store's tmp/.
 */
import assert from "node:assert/strict";
import { peerTest } from "./support/peers.ts";
import {
  assertOneError,
  type Box,
  newBox,
  RUN_PEERS,
  runCases,
  startRunFixture,
} from "./support/run_images.ts";

/** Image names `images --format json` lists. */
async function imageNames(box: Box): Promise<string[]> {
  const list = JSON.parse(await box.ok(["images", "--format", "json"])) as { Names?: string[] }[];
  return list.flatMap((i) => i.Names ?? []).sort();
}

function tmpEntries(box: Box): string[] {
  try {
    return [...Deno.readDirSync(`${box.store}/tmp`)].map((e) => e.name);
  } catch {
    return [];
  }
}

peerTest("run IMAGE, bad input: one error line, podman's exit code, nothing left", {
  peers: [...RUN_PEERS, "pasta"],
  root: true,
}, async () => {
  const fx = await startRunFixture();
  const boxes: Box[] = [];
  try {
    /** A fresh box with bb pulled (so `images` has exactly that) and the check of its end. */
    const withBox = async (fn: (box: Box) => Promise<void>, pulled = true) => {
      const box = await newBox(fx);
      boxes.push(box);
      if (pulled) await box.ok(["pull", "-q", "bb"]);
      const before = pulled ? await imageNames(box) : [];
      await fn(box);
      assert.deepEqual(await box.leftovers(), []);
      assert.deepEqual(await imageNames(box), before);
      assert.deepEqual(tmpEntries(box), []);
    };
    await runCases({
      "unknown image: 125, nothing pulled": () =>
        withBox(async (box) => {
          const r = await box.run(["run", "--rm", "no-such-image", "true"]);
          assertOneError(r, 125, /no-such-image/);
        }, false),

      "unreachable registry: 125": () =>
        withBox(async (box) => {
          const r = await box.run(["run", "--rm", "127.0.0.1:1/bb:latest", "true"], {
            timeoutSeconds: 60,
          });
          assertOneError(r, 125, /127\.0\.0\.1:1/);
        }, false),

      "bad references: 125, one line each": () =>
        withBox(async (box) => {
          for (const ref of ["UPPER/case", "bb:bad tag", "bb@sha256:123", "-"]) {
            const r = await box.run(["run", "--rm", ref, "true"]);
            assertOneError(r, 125);
          }
        }),

      "-v with :ro and a missing source: 125, the source not created": () =>
        withBox(async (box) => {
          const missing = `${box.dir}/not-there`;
          const r = await box.run(["run", "--rm", "-v", `${missing}:/data:ro`, "bb", "true"]);
          assertOneError(r, 125, /not-there/);
          assert.throws(() => Deno.statSync(missing), Deno.errors.NotFound);
          // A --mount type=bind source must exist even without ro.
          const m = await box.run([
            "run",
            "--rm",
            "--mount",
            `type=bind,src=${missing},dst=/d`,
            "bb",
            "true",
          ]);
          assertOneError(m, 125, /not-there/);
        }),

      "a published port in use: 125": () =>
        withBox(async (box) => {
          const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
          try {
            const port = (listener.addr as Deno.NetAddr).port;
            const r = await box.run([
              "run",
              "--rm",
              "-p",
              `127.0.0.1:${port}:80`,
              "bb",
              "true",
            ]);
            assertOneError(r, 125, new RegExp(`${port}`));
          } finally {
            listener.close();
          }
        }),

      "unknown flags: 125": () =>
        withBox(async (box) => {
          for (
            const args of [
              ["--no-such-flag", "bb", "true"],
              ["-Z", "bb", "true"],
              ["--memory", "lots", "bb", "true"],
              ["--pull", "sometimes", "bb", "true"],
              ["--network", "bridge0", "bb", "true"],
              [],
            ]
          ) {
            const r = await box.run(["run", "--rm", ...args]);
            assertOneError(r, 125);
          }
        }),

      "a name taken: 125, the holder untouched": () =>
        withBox(async (box) => {
          await box.ok(["run", "--name", "holder", "bb", "true"]);
          const r = await box.run(["run", "--rm", "--name", "holder", "bb", "true"]);
          assertOneError(r, 125, /holder/);
          assert.match(await box.ok(["ps", "-a"]), /Exited \(0\).*holder/);
          await box.ok(["rm", "holder"]);
        }),

      "a command not found (127) or not executable (126), with and without -d": () =>
        withBox(async (box) => {
          const nf = await box.run(["run", "--rm", "bb", "no-such-command"]);
          assertOneError(nf, 127, /no-such-command/);
          const ne = await box.run(["run", "--rm", "bb", "/usr/bin/not-executable"]);
          assertOneError(ne, 126, /not-executable/);
          const dir = await box.run(["run", "--rm", "bb", "/etc"]);
          assertOneError(dir, 126);
          // Without --rm too, nothing of a run that could not start is kept (podman would keep
          // a Created container; the issue asks for nothing left behind).
          const kept = await box.run(["run", "--name", "never-ran", "bb", "no-such-command"]);
          assertOneError(kept, 127);
          const detached = await box.run(["run", "-d", "bb", "no-such-command"]);
          assertOneError(detached, 127, /no-such-command/);
          assert.equal(detached.stdout, "");
        }),
    });
  } finally {
    for (const b of boxes) await b.close();
    await fx.close();
  }
});
