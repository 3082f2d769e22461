/**
 * The store under concurrent ocibox processes and bad input: several `pull`s of one image at
 * once, pulls racing `rmi`s of images that share every blob with them, a pull killed half-way;
 * then every named image is validated by oci-image-tool and copied out whole by skopeo (every
 * blob read and verified), and nothing is left in the staging area. Bad input (unknown image,
 * unreachable registry, bad reference, missing files) gives one `error:` line, exit code 1, and
 * nothing in `images`.
 * @module
 */
import assert from "node:assert/strict";
import { buildTar, writeImage } from "./support/images.ts";
import {
  ocibox,
  ociboxOk,
  type OciboxResult,
  spawnOcibox,
  toResult,
} from "./support/ocibox_cli.ts";
import { peerTest, run } from "./support/peers.ts";
import { withRegistry } from "./support/registry.ts";
import { checkStoreLayout, refNames, tmpEntries } from "./support/store_checks.ts";

const PEERS = { peers: ["docker-registry", "skopeo", "oci-image-tool"] };

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let off = 0; off < n; off += 65536) {
    crypto.getRandomValues(out.subarray(off, Math.min(n, off + 65536)));
  }
  return out;
}

/** Runs several ocibox command lines at once. */
function together(env: Record<string, string>, ...commands: string[][]): Promise<OciboxResult[]> {
  return Promise.all(
    commands.map(async (args) => toResult(await spawnOcibox(args, { env }).output())),
  );
}

/** Exit code 1 and stderr exactly one `error:` line (pulls run with -q: no progress lines). */
function assertOneErrorLine(r: OciboxResult, pattern: RegExp): void {
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stdout, "");
  const lines = r.stderr.split("\n").filter((l) => l !== "");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /^error: /);
  assert.match(lines[0], pattern);
}

peerTest(
  "store: concurrent pulls and rmis keep the store whole; bad input leaves nothing",
  PEERS,
  async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "ocibox-store-conc-" });
    try {
      await withRegistry("plain", async (reg) => {
        // Three layers of incompressible data (12 MB), so downloads overlap for a while.
        const layers = [0, 1, 2].map((i) => ({
          tar: buildTar([{ name: `data${i}.bin`, type: "file", data: randomBytes(4 << 20) }]),
          compression: "gzip" as const,
        }));
        const big = await writeImage(`${dir}/layout`, "big", { layers, config: { Cmd: ["/x"] } });
        const small = await writeImage(`${dir}/layout`, "small", {
          layers: [{ tar: buildTar([{ name: "s", type: "file", data: "s\n" }]) }],
        });
        for (const [from, to] of [[big.ref, "big:1"], [big.ref, "big:2"], [small.ref, "small:1"]]) {
          await run("skopeo", [
            "copy",
            "-q",
            ...reg.skopeoArgs("dest"),
            from,
            `docker://${reg.host}/${to}`,
          ]);
        }
        const store = `${dir}/store`;
        await Deno.mkdir(`${dir}/config`);
        const env = {
          OCIBOX_STORE: store,
          XDG_CONFIG_HOME: `${dir}/config`,
          OCIBOX_REGISTRY: reg.host,
        };
        const [big1, big2, small1] = ["big:1", "big:2", "small:1"].map((n) => `${reg.host}/${n}`);

        await t.step("six pulls of one image at once", async () => {
          const results = await together(
            env,
            ...Array.from({ length: 6 }, () => ["pull", "-q", big1]),
          );
          for (const r of results) {
            assert.equal(r.code, 0, r.stderr);
            assert.equal(r.stdout.trim(), big.configDigest.slice(7));
          }
          assert.deepEqual(await refNames(store), [big1]);
          await checkStoreLayout(store, true);
        });

        await t.step("pulls beside rmis of an image sharing every blob with them", async () => {
          for (let round = 0; round < 3; round++) {
            // big:2 is big:1 under another name: the rmi deletes the very blobs the pull wants.
            let rs = await together(env, ["pull", "-q", "big:2"], ["rmi", big1], [
              "pull",
              "-q",
              "small:1",
            ]);
            for (const r of rs) assert.equal(r.code, 0, r.stderr);
            assert.deepEqual(await refNames(store), [big2, small1]);
            await checkStoreLayout(store, true);
            rs = await together(env, ["pull", "-q", big1], ["rmi", "big:2"], ["rmi", "small:1"]);
            for (const r of rs) assert.equal(r.code, 0, r.stderr);
            assert.deepEqual(await refNames(store), [big1]);
            await checkStoreLayout(store, true);
          }
        });

        await t.step("a pull killed half-way shows nothing; the next pull completes", async () => {
          await ociboxOk(["rmi", "-a"], { env });
          const child = spawnOcibox(["pull", big2], { env });
          // Kill it once it is downloading (a staging directory exists).
          for (let i = 0; i < 200 && (await tmpEntries(store)).length === 0; i++) {
            await new Promise((r) => setTimeout(r, 10));
          }
          child.kill("SIGKILL");
          await child.output();
          assert.deepEqual(await refNames(store), []);
          assert.equal(await ociboxOk(["images", "-q"], { env }), "");
          const again = await ocibox(["pull", "-q", big2], { env });
          assert.equal(again.code, 0, again.stderr);
          // The killed pull's staging stays until image prune finds it stale (a day old).
          for (const e of await tmpEntries(store)) {
            await Deno.remove(`${store}/tmp/${e}`, { recursive: true });
          }
          await checkStoreLayout(store, true);
          await ociboxOk(["rmi", "-a"], { env });
        });

        await t.step("bad input: one error line, exit 1, nothing half-pulled", async () => {
          assertOneErrorLine(
            await ocibox(["pull", "-q", `${reg.host}/nope:1`], { env }),
            /manifest unknown|not found|NAME_UNKNOWN/i,
          );
          assertOneErrorLine(
            await ocibox(["pull", "-q", "nope"], { env }),
            /\/v2\/nope\/manifests\/latest: 404/,
          );
          assertOneErrorLine(
            await ocibox(["pull", "-q", "127.0.0.1:1/x:1"], { env }),
            /127\.0\.0\.1:1/,
          );
          assertOneErrorLine(
            await ocibox(["pull", "-q", "Bad:Name!"], { env }),
            /invalid reference/,
          );
          await Deno.mkdir(`${dir}/config/ocibox`, { recursive: true });
          await Deno.writeTextFile(
            `${dir}/config/ocibox/registries.json`,
            JSON.stringify({ registries: ["127.0.0.1:1", reg.host] }),
          );
          assertOneErrorLine(
            await ocibox(["pull", "-q", "nope"], { env: { ...env, OCIBOX_REGISTRY: "" } }),
            /could not pull nope from any registry tried: 127\.0\.0\.1:1\/nope:latest: .*; 127\.0\.0\.1:\d+\/nope:latest: /,
          );
          await Deno.writeTextFile(`${dir}/config/ocibox/registries.json`, '{"registry": []}');
          assertOneErrorLine(
            await ocibox(["pull", "-q", "x"], { env }),
            /registries\.json: unknown key "registry"/,
          );
          await Deno.remove(`${dir}/config/ocibox/registries.json`);
          assertOneErrorLine(await ocibox(["rmi", "nope"], { env }), /"nope" is not in the store/);
          assertOneErrorLine(
            await ocibox(["tag", "nope", "x"], { env }),
            /"nope" is not in the store/,
          );
          assertOneErrorLine(
            await ocibox(["push", "-q", "nope", `${reg.host}/x:1`], { env }),
            /"nope" is not in the store/,
          );
          assertOneErrorLine(
            await ocibox(["save", "-o", `${dir}/s.tar`, "nope"], { env }),
            /not in the store/,
          );
          await assert.rejects(Deno.stat(`${dir}/s.tar`), Deno.errors.NotFound);
          assertOneErrorLine(
            await ocibox(["load", "-i", `${dir}/missing.tar`], { env }),
            /does not exist/,
          );
          await Deno.writeTextFile(`${dir}/text.tar`, "not a tar");
          assertOneErrorLine(await ocibox(["load", "-i", `${dir}/text.tar`], { env }), /text\.tar/);
          const usage = await ocibox(["images", "--format", "yaml"], { env });
          assert.equal(usage.code, 2);
          assert.match(usage.stderr, /^error: --format must be json or table/);
          assert.equal(await ociboxOk(["images", "-q"], { env }), "");
          assert.deepEqual(await refNames(store), []);
          assert.deepEqual(await tmpEntries(store), []);
        });
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
