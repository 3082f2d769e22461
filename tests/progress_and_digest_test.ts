/**
 * `manifest-digest` agrees with skopeo's, and on a terminal `copy` draws progress bars (run under
 * `script`, which gives the command a pseudo-terminal).
 */
import assert from "node:assert/strict";
import { peerTest, run } from "./support/peers.ts";
import { MAIN_TS, ociboxOk } from "./support/ocibox_cli.ts";

async function withImage(fn: (dir: string, ref: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ocibox-progress-" });
  try {
    await Deno.mkdir(`${dir}/app`);
    const data = new Uint8Array(3 << 20);
    for (let i = 0; i < data.length; i += 65536) {
      crypto.getRandomValues(data.subarray(i, i + 65536));
    }
    await Deno.writeFile(`${dir}/app/blob.bin`, data);
    const ref = `oci:${dir}/layout:t`;
    await ociboxOk(["append", "-q", "--layer", `${dir}/app`, ref]);
    await fn(dir, ref);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

peerTest("manifest-digest matches skopeo manifest-digest", { peers: ["skopeo"] }, async () => {
  await withImage(async (dir, ref) => {
    const raw = (await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN_TS, "inspect", "--raw", ref],
      stdout: "piped",
    }).output()).stdout;
    await Deno.writeFile(`${dir}/m.json`, raw);
    const ours = (await ociboxOk(["manifest-digest", `${dir}/m.json`])).trim();
    const theirs = (await run("skopeo", ["manifest-digest", `${dir}/m.json`])).trim();
    assert.equal(ours, theirs);
    const inspected = JSON.parse(await ociboxOk(["inspect", ref])).Digest;
    assert.equal(ours, inspected);
  });
});

peerTest("copy draws progress bars on a terminal", { peers: ["script"] }, async () => {
  await withImage(async (dir, ref) => {
    const command = [Deno.execPath(), "run", "-A", MAIN_TS, "copy", ref, `oci:${dir}/out:t`]
      .map((a) => `'${a}'`).join(" ");
    const out = await run("script", ["-qfec", command, "/dev/null"], { env: { TERM: "xterm" } });
    assert.ok(out.includes("\x1b[2K"), "lines are redrawn in place"); // erase-line per bar
    assert.match(out, /Copying blob [0-9a-f]{12} {2}done 3\.\dMiB/);
    assert.match(out, /Copying config [0-9a-f]{12} {2}done/);
    assert.match(out, /Writing manifest to image destination/);
  });
});
