/**
 * Copies that must change a layer's compression or a manifest's format on the way: a zstd
 * image into docker-archive (Docker has no zstd type: decompress first, then convert), and
 * skopeo's dir: copies whose uncompressed layers carry a gzip media type (compression is read
 * from the bytes, not the label).
 */
import assert from "node:assert/strict";
import { peerTest, run } from "./support/peers.ts";
import { ociboxOk } from "./support/ocibox_cli.ts";
import { diffSnapshots, snapshotTree } from "./support/tree_snapshot.ts";

async function withTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ocibox-convert-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function sampleDir(dir: string): Promise<string> {
  const app = `${dir}/app`;
  await Deno.mkdir(`${app}/etc`, { recursive: true });
  await Deno.writeTextFile(`${app}/etc/motd`, "hello\n".repeat(1000));
  await Deno.symlink("motd", `${app}/etc/link`);
  return app;
}

async function assertSameUnpack(dir: string, a: string, b: string): Promise<void> {
  await ociboxOk(["unpack", "-q", a, `${dir}/ua`]);
  await ociboxOk(["unpack", "-q", b, `${dir}/ub`]);
  const [sa, sb] = await Promise.all([
    snapshotTree(`${dir}/ua/rootfs`, { mtimes: "nondir" }),
    snapshotTree(`${dir}/ub/rootfs`, { mtimes: "nondir" }),
  ]);
  assert.deepEqual(diffSnapshots(sa, sb, [a, b]), []);
}

peerTest("copy: a zstd image into docker-archive is decompressed, then converted", {
  peers: ["skopeo", "python3"],
}, async () => {
  await withTemp(async (dir) => {
    const app = await sampleDir(dir);
    await ociboxOk(["append", "-q", "--compression", "zstd", "--layer", app, `oci:${dir}/l:z`]);
    await ociboxOk(["copy", "-q", `oci:${dir}/l:z`, `docker-archive:${dir}/d.tar:ex/z:1`]);
    const raw = JSON.parse(
      await run("skopeo", ["inspect", "--raw", `docker-archive:${dir}/d.tar`]),
    );
    assert.equal(raw.mediaType, "application/vnd.docker.distribution.manifest.v2+json");
    const configs = [
      await ociboxOk(["inspect", "--config", "--raw", `oci:${dir}/l:z`]),
      await ociboxOk(["inspect", "--config", "--raw", `docker-archive:${dir}/d.tar`]),
    ];
    assert.equal(configs[0], configs[1], "the config (and diff_ids) survive");
    await assertSameUnpack(dir, `oci:${dir}/l:z`, `docker-archive:${dir}/d.tar`);
    // Asked for zstd into Docker explicitly, the copy refuses in one line.
    await assert.rejects(
      ociboxOk([
        "copy",
        "-q",
        "--dest-compress-format",
        "zstd",
        `oci:${dir}/l:z`,
        `docker-archive:${dir}/e.tar:ex/z:1`,
      ]),
      /zstd-compressed, which Docker schema 2 cannot express/,
    );
  });
});

peerTest("copy: skopeo's mislabelled uncompressed layers copy into docker-archive and oci", {
  peers: ["skopeo", "python3"],
}, async () => {
  await withTemp(async (dir) => {
    const app = await sampleDir(dir);
    await ociboxOk(["append", "-q", "--layer", app, `oci:${dir}/l:t`]);
    await run("skopeo", ["copy", "-q", `oci:${dir}/l:t`, `docker-archive:${dir}/s.tar:ex/t:1`]);
    await run("skopeo", ["copy", "-q", `docker-archive:${dir}/s.tar`, `dir:${dir}/d`]);
    const manifest = JSON.parse(await Deno.readTextFile(`${dir}/d/manifest.json`));
    assert.match(manifest.layers[0].mediaType, /tar\.gzip$/, "skopeo labels the plain tar gzip");
    await ociboxOk(["copy", "-q", `dir:${dir}/d`, `docker-archive:${dir}/o.tar:ex/t:2`]);
    await run("skopeo", ["inspect", `docker-archive:${dir}/o.tar`]);
    await assertSameUnpack(dir, `oci:${dir}/l:t`, `docker-archive:${dir}/o.tar`);
  });
});
