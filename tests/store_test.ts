/**
 * The local image store against real peers: images built here, pushed by skopeo to a
 * docker-registry on 127.0.0.1, pulled by ocibox (short names through OCIBOX_REGISTRY and a
 * registries.json with mirrors, full names, digests), listed, tagged, removed (and refused while
 * a container record uses them), pushed back, saved and loaded (archives written by skopeo and
 * `podman save -m`, read back by skopeo), pruned; the store read in place by skopeo, umoci and
 * oci-image-tool; `ocibox copy` to and from `store:`.
 *
 * Every step runs the ocibox command line with its own store (OCIBOX_STORE), its own config
 * home (XDG_CONFIG_HOME) and OCIBOX_REGISTRY pointing at the test registry. Concurrency and bad
 * input are in store_concurrency_test.ts.
 * @module
 */
import assert from "node:assert/strict";
import { type ContainerRecord, writeContainer } from "../lib/store/container_records.ts";
import { buildTar, writeImage, type WrittenImage } from "./support/images.ts";
import { ocibox, ociboxOk } from "./support/ocibox_cli.ts";
import { IS_ROOT, peerTest, run } from "./support/peers.ts";
import { type Registry, withRegistry } from "./support/registry.ts";
import { checkStoreLayout, readIndex, refNames, tmpEntries } from "./support/store_checks.ts";

const PEERS = { peers: ["docker-registry", "skopeo", "umoci", "oci-image-tool", "podman"] };
const REF_NAME = "org.opencontainers.image.ref.name";

/** Two small images sharing a layer, in one layout, as tags `base` and `other`. */
async function buildImages(layout: string): Promise<{ base: WrittenImage; other: WrittenImage }> {
  const shared = buildTar([
    { name: "etc/", type: "dir", mode: 0o755 },
    { name: "etc/os-release", type: "file", data: "ID=store-test\n" },
  ]);
  const own = buildTar([{ name: "hello.txt", type: "file", data: "hello from base\n" }]);
  const base = await writeImage(layout, "base", {
    layers: [{ tar: shared, compression: "gzip" }, { tar: own, compression: "gzip" }],
    config: { Cmd: ["/bin/sh"], Labels: { "org.example.which": "base" } },
  });
  const other = await writeImage(layout, "other", {
    layers: [
      { tar: shared, compression: "gzip" },
      { tar: buildTar([{ name: "other.txt", type: "file", data: "other\n" }]) },
    ],
    config: { Cmd: ["/bin/true"] },
  });
  return { base, other };
}

async function skopeoPush(reg: Registry, from: string, to: string): Promise<void> {
  await run("skopeo", [
    "copy",
    "-q",
    ...reg.skopeoArgs("dest"),
    from,
    `docker://${reg.host}/${to}`,
  ]);
}

function record(imageId: string, name: string): ContainerRecord {
  return {
    id: crypto.randomUUID().replaceAll("-", "").repeat(2),
    name,
    image: "test",
    imageId,
    manifestDigest: `sha256:${"0".repeat(64)}`,
    chainIds: [],
    command: ["true"],
    created: new Date().toISOString(),
    runtimeRoot: "/run/ocibox",
    rootfs: "overlay",
    autoRemove: false,
    detached: false,
    ports: [],
    network: "none",
  };
}

interface ImagesJson {
  Id: string;
  Names: string[];
  Digest: string;
  Size: number;
  Labels: Record<string, string> | null;
  Containers: number;
}

peerTest(
  "store: pull, images, tag, rmi, push, save, load, prune against real peers",
  PEERS,
  async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "ocibox-store-" });
    try {
      await withRegistry("plain", async (reg) => {
        const { base, other } = await buildImages(`${dir}/layout`);
        await skopeoPush(reg, base.ref, "busybox:latest");
        await skopeoPush(reg, other.ref, "team/other:v1");
        await skopeoPush(reg, base.ref, "library/mirrored:1");
        const store = `${dir}/store`;
        await Deno.mkdir(`${dir}/config`);
        const env = {
          OCIBOX_STORE: store,
          XDG_CONFIG_HOME: `${dir}/config`,
          OCIBOX_REGISTRY: reg.host,
        };
        const ok = (args: string[]) => ociboxOk(args, { env });
        const images = async () =>
          JSON.parse(await ok(["images", "--format", "json"])) as ImagesJson[];
        const baseName = `${reg.host}/busybox:latest`;
        const otherName = `${reg.host}/team/other:v1`;

        await t.step("pull by short name through OCIBOX_REGISTRY prints the image id", async () => {
          const r = await ocibox(["pull", "busybox"], { env });
          assert.equal(r.code, 0, r.stderr);
          assert.equal(r.stdout.trim(), base.configDigest.slice(7));
          assert.match(r.stderr, new RegExp(`Trying to pull ${baseName}\\.\\.\\.`));
          assert.match(r.stderr, /Writing manifest to image destination/);
          assert.deepEqual(await refNames(store), [baseName]);
          assert.deepEqual(await tmpEntries(store), []);
        });

        await t.step("pull by full name and by digest", async () => {
          assert.equal((await ok(["pull", "-q", otherName])).trim(), other.configDigest.slice(7));
          const pushed = JSON.parse(
            await run("skopeo", ["inspect", ...reg.skopeoArgs(""), `docker://${otherName}`]),
          );
          const byDigest = `${reg.host}/team/other@${pushed.Digest}`;
          await ok(["pull", "-q", `docker://${byDigest}`]);
          assert.deepEqual(await refNames(store), [baseName, byDigest, otherName].sort());
          const table = await ok(["images"]);
          assert.match(table, /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE\n/);
          assert.match(
            table,
            new RegExp(`${reg.host}/team/other\\s+<none>\\s+${other.configDigest.slice(7, 19)}`),
          );
          assert.match(
            table,
            new RegExp(
              `${reg.host}/busybox\\s+latest\\s+${
                base.configDigest.slice(7, 19)
              }\\s+\\d+ years? ago`,
            ),
          );
          const facts = JSON.parse(
            await run("skopeo", ["inspect", `oci:${store}/images:${byDigest}`]),
          );
          const entry = (await readIndex(store)).manifests.find((m) =>
            m.annotations?.[REF_NAME] === byDigest
          );
          assert.equal(facts.Digest, entry?.digest);
          await ok(["rmi", byDigest]);
        });

        await t.step("images --format json, -q, a filter", async () => {
          const list = await images();
          const b = list.find((i) => i.Names.includes(baseName))!;
          assert.equal(b.Id, base.configDigest.slice(7));
          assert.deepEqual(b.Labels, { "org.example.which": "base" });
          assert.equal(b.Containers, 0);
          assert.ok(b.Size > 0);
          const ids = (await ok(["images", "-q"])).trim().split("\n").sort();
          assert.deepEqual(
            ids,
            [base.configDigest.slice(7, 19), other.configDigest.slice(7, 19)].sort(),
          );
          const filtered = await ok(["images", "busybox"]);
          assert.equal(filtered.trim().split("\n").length, 2, filtered);
        });

        await t.step("skopeo, umoci and oci-image-tool read the store in place", async () => {
          const facts = JSON.parse(
            await run("skopeo", ["inspect", "--config", `oci:${store}/images:${baseName}`]),
          );
          assert.deepEqual(facts.rootfs.diff_ids, base.diffIds);
          const bundle = `${dir}/umoci-bundle`;
          await run("umoci", [
            "unpack",
            ...(IS_ROOT ? [] : ["--rootless"]),
            "--image",
            `${store}/images:${baseName}`,
            bundle,
          ]);
          assert.equal(await Deno.readTextFile(`${bundle}/rootfs/hello.txt`), "hello from base\n");
          await checkStoreLayout(store);
        });

        await t.step("a registries.json mirror serves a docker.io name offline", async () => {
          await Deno.mkdir(`${dir}/config/ocibox`, { recursive: true });
          await Deno.writeTextFile(
            `${dir}/config/ocibox/registries.json`,
            JSON.stringify({ mirrors: { "docker.io": [reg.host] } }),
          );
          const r = await ocibox(["pull", "docker.io/library/mirrored:1"], { env });
          assert.equal(r.code, 0, r.stderr);
          assert.match(r.stderr, new RegExp(`Trying to pull ${reg.host}/library/mirrored:1`));
          assert.ok((await refNames(store)).includes("docker.io/library/mirrored:1"));
          // The config's search list, without OCIBOX_REGISTRY.
          await Deno.writeTextFile(
            `${dir}/config/ocibox/registries.json`,
            JSON.stringify({ registries: ["127.0.0.1:1", reg.host] }),
          );
          const noEnv = { ...env, OCIBOX_REGISTRY: "" };
          const r2 = await ocibox(["pull", "-q", "team/other:v1"], { env: noEnv });
          assert.equal(r2.code, 0, r2.stderr);
          assert.equal(r2.stdout.trim(), other.configDigest.slice(7));
          await Deno.remove(`${dir}/config/ocibox/registries.json`);
          await ok(["rmi", "docker.io/library/mirrored:1"]);
        });

        await t.step("ocibox copy reads and writes store: locations", async () => {
          await ok(["copy", "-q", "store:busybox", `oci:${dir}/out:x`]);
          const facts = JSON.parse(
            await run("skopeo", ["inspect", "--config", `oci:${dir}/out:x`]),
          );
          assert.deepEqual(facts.rootfs.diff_ids, base.diffIds);
          await ok(["copy", "-q", `docker://${otherName}`, "store:copied:v2"]);
          assert.ok((await refNames(store)).includes("docker.io/library/copied:v2"));
          const inspected = JSON.parse(await ok(["inspect", "store:copied:v2"]));
          assert.equal(inspected.Name, "docker.io/library/copied");
          await ok(["rmi", "copied:v2"]);
        });

        await t.step("tag adds a name; rmi takes it off, then removes the image", async () => {
          await ok(["tag", "busybox", "mine:1", `${reg.host}/busybox:mine`]);
          let names = await refNames(store);
          assert.ok(names.includes("docker.io/library/mine:1"));
          assert.ok(names.includes(`${reg.host}/busybox:mine`));
          assert.equal(await ok(["rmi", "mine:1"]), "Untagged: docker.io/library/mine:1\n");
          assert.equal(
            await ok(["rmi", base.configDigest.slice(7, 19)]),
            `Untagged: ${baseName}\nUntagged: ${reg.host}/busybox:mine\n` +
              `Deleted: ${base.configDigest.slice(7)}\n`,
          );
          names = await refNames(store);
          assert.ok(!names.some((n) => n.includes("busybox")));
          // Its own blobs went; the shared layer stays for the other image.
          const blobs = [...Deno.readDirSync(`${store}/images/blobs/sha256`)].map((e) =>
            `sha256:${e.name}`
          );
          assert.ok(!blobs.includes(base.configDigest));
          assert.ok(!blobs.includes(base.layerDigests[1]));
          assert.ok(blobs.includes(base.layerDigests[0]));
          await checkStoreLayout(store);
        });

        await t.step(
          "rmi is refused while a container record uses the image; --force removes both",
          async () => {
            await ok(["pull", "-q", "busybox"]);
            await writeContainer(store, record(base.configDigest, "web"));
            const r = await ocibox(["rmi", "busybox"], { env });
            assert.equal(r.code, 1);
            assert.equal(
              r.stderr,
              `error: image busybox is in use by container web; remove it first or use --force\n`,
            );
            assert.ok((await refNames(store)).includes(baseName));
            assert.equal((await images()).find((i) => i.Names.includes(baseName))?.Containers, 1);
            const f = await ocibox(["rmi", "--force", "busybox"], { env });
            assert.equal(f.code, 0, f.stderr);
            assert.match(f.stdout, /^Removed container: web$/m);
            assert.ok(!(await refNames(store)).includes(baseName));
            assert.deepEqual([...Deno.readDirSync(`${store}/containers`)], []);
          },
        );

        await t.step("push to a registry, by name and as a transport location", async () => {
          await ok(["pull", "-q", "busybox"]);
          await ok(["push", "-q", "busybox", `${reg.host}/pushed/app:v1`]);
          const facts = JSON.parse(
            await run("skopeo", [
              "inspect",
              ...reg.skopeoArgs(""),
              "--config",
              `docker://${reg.host}/pushed/app:v1`,
            ]),
          );
          assert.deepEqual(facts.rootfs.diff_ids, base.diffIds);
          await ok(["tag", "busybox", `${reg.host}/pushed/app:v2`]);
          await ok(["push", "-q", `${reg.host}/pushed/app:v2`]); // to where its name says
          await ok(["push", "-q", "busybox", `docker://${reg.host}/pushed/app:v3`]);
          const tags = JSON.parse(
            await run("skopeo", [
              "list-tags",
              ...reg.skopeoArgs(""),
              `docker://${reg.host}/pushed/app`,
            ]),
          );
          assert.deepEqual(tags.Tags.sort(), ["v1", "v2", "v3"]);
        });

        await t.step("save writes archives skopeo reads; load reads them back", async () => {
          const dockerTar = `${dir}/saved-docker.tar`;
          await ok(["save", "-q", "-o", dockerTar, "busybox"]);
          const facts = JSON.parse(
            await run("skopeo", ["inspect", "--config", `docker-archive:${dockerTar}`]),
          );
          assert.deepEqual(facts.rootfs.diff_ids, base.diffIds);
          const manifest = JSON.parse(await run("tar", ["-xOf", dockerTar, "manifest.json"]));
          assert.deepEqual(manifest[0].RepoTags, [baseName]);
          // save replaces an existing file.
          await ok(["save", "-q", "-o", dockerTar, "busybox"]);
          const ociTar = `${dir}/saved-oci.tar`;
          await ok(["save", "-q", "--format", "oci-archive", "-o", ociTar, "busybox"]);
          const ociFacts = JSON.parse(
            await run("skopeo", ["inspect", "--config", `oci-archive:${ociTar}:${baseName}`]),
          );
          assert.deepEqual(ociFacts.rootfs.diff_ids, base.diffIds);

          await ok(["rmi", "-a"]);
          assert.deepEqual(await refNames(store), []);
          assert.equal(await ok(["load", "-q", "-i", dockerTar]), `Loaded image: ${baseName}\n`);
          await ok(["rmi", "-a"]);
          assert.equal(await ok(["load", "-q", "-i", ociTar]), `Loaded image: ${baseName}\n`);
          assert.equal((await images())[0].Id, base.configDigest.slice(7));
          await checkStoreLayout(store);
        });

        await t.step(
          "load takes skopeo's docker-archive and podman's multi-image save",
          async () => {
            const skopeoTar = `${dir}/skopeo.tar`;
            await run("skopeo", [
              "copy",
              "-q",
              other.ref,
              `docker-archive:${skopeoTar}:example.org/sk/other:3`,
            ]);
            assert.equal(
              await ok(["load", "-q", "-i", skopeoTar]),
              "Loaded image: example.org/sk/other:3\n",
            );
            const podman = [
              "--root",
              `${dir}/podman-root`,
              "--runroot",
              `${dir}/podman-run`,
              "--storage-driver",
              "vfs",
              "--events-backend",
              "file",
              "--cgroup-manager",
              "cgroupfs",
            ];
            await run("podman", [...podman, "pull", "-q", base.ref]);
            await run("podman", [...podman, "pull", "-q", other.ref]);
            await run("podman", [
              ...podman,
              "tag",
              base.configDigest.slice(7),
              "localhost/p/base:1",
            ]);
            await run("podman", [
              ...podman,
              "tag",
              other.configDigest.slice(7),
              "localhost/p/other:1",
              "localhost/p/other:2",
            ]);
            const multi = `${dir}/multi.tar`;
            await run("podman", [
              ...podman,
              "save",
              "-q",
              "-m",
              "-o",
              multi,
              "localhost/p/base:1",
              "localhost/p/other:1",
              "localhost/p/other:2",
            ]);
            const out = await ok(["load", "-q", "-i", multi]);
            assert.deepEqual(out.trim().split("\n").sort(), [
              "Loaded image: localhost/p/base:1",
              "Loaded image: localhost/p/other:1",
              "Loaded image: localhost/p/other:2",
            ]);
            const list = await images();
            assert.equal(
              list.find((i) => i.Names.includes("localhost/p/other:2"))?.Id,
              other.configDigest.slice(7),
            );
            assert.equal(
              list.find((i) => i.Names.includes("localhost/p/base:1"))?.Id,
              base.configDigest.slice(7),
            );
            // A compressed save loads too.
            const gz = `${dir}/skopeo.tar.gz`;
            await run("sh", ["-c", `gzip -c ${skopeoTar} > ${gz}`]);
            await ok(["rmi", "example.org/sk/other:3"]);
            assert.equal(
              await ok(["load", "-q", "-i", gz]),
              "Loaded image: example.org/sk/other:3\n",
            );
            await checkStoreLayout(store);
          },
        );

        await t.step("image prune removes dangling images, -a every unused one", async () => {
          await ok(["rmi", "-a"]);
          await ok(["pull", "-q", "busybox"]);
          await ok(["pull", "-q", otherName]);
          // The name moves to another image: the old one dangles, as in podman.
          await ok(["tag", otherName, baseName]);
          const table = await ok(["images"]);
          assert.match(table, new RegExp(`<none>\\s+<none>\\s+${base.configDigest.slice(7, 19)}`));
          await writeContainer(store, record(other.configDigest, "keeper"));
          assert.equal(await ok(["image", "prune"]), `${base.configDigest.slice(7)}\n`);
          assert.equal(await ok(["image", "prune", "-a", "-f"]), "");
          await Deno.remove(`${store}/containers`, { recursive: true });
          assert.equal(await ok(["image", "prune", "-a"]), `${other.configDigest.slice(7)}\n`);
          assert.deepEqual((await readIndex(store)).manifests, []);
          assert.deepEqual([...Deno.readDirSync(`${store}/images/blobs/sha256`)], []);
          await checkStoreLayout(store);
        });

        await t.step("the global --store flag and image ls", async () => {
          const other = `${dir}/second-store`;
          await ociboxOk(["--store", other, "pull", "-q", "busybox"], { env });
          assert.match(
            await ociboxOk(["--store", other, "image", "ls"], { env }),
            /busybox\s+latest/,
          );
          assert.deepEqual(await refNames(other), [baseName]);
          assert.deepEqual(await refNames(store), []);
        });
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

peerTest(
  "store: image prune removes the cached layers no image or container uses",
  { root: true },
  async () => {
    const { ensureLayers, listLayers } = await import("../lib/store/layer_cache.ts");
    const { chainIds } = await import("../lib/store/layer_chain.ts");
    const { findImage } = await import("../lib/store/image_store.ts");
    const { openStoreSource } = await import("../lib/transport/store.ts");
    const dir = await Deno.makeTempDir({ prefix: "ocibox-store-prune-" });
    try {
      const { base, other } = await buildImages(`${dir}/layout`);
      const store = `${dir}/store`;
      const env = { OCIBOX_STORE: store, XDG_CONFIG_HOME: `${dir}/config` };
      await ociboxOk(["copy", "-q", base.ref, "store:base"], { env });
      await ociboxOk(["copy", "-q", other.ref, "store:other"], { env });
      const resolution = { registries: ["docker.io"], mirrors: {} };
      for (const name of ["base", "other"]) {
        const img = await findImage(store, name, resolution);
        const src = await openStoreSource(`store:${name}`, store, name);
        try {
          await ensureLayers(store, src, {
            manifest: { manifest: img.manifest },
            config: img.config,
          });
        } finally {
          await src.close();
        }
      }
      const cached = async () => (await listLayers(store)).map((l) => l.chainId).sort();
      const baseIds = chainIds(base.diffIds);
      const otherIds = chainIds(other.diffIds);
      // The first layer is shared: three cached layers for two images.
      assert.deepEqual(await cached(), [...new Set([...baseIds, ...otherIds])].sort());

      // A container's layers stay while it exists.
      await writeContainer(store, { ...record(other.configDigest, "keeper"), chainIds: otherIds });
      assert.equal(await ociboxOk(["image", "prune"], { env }), "");
      assert.deepEqual(await cached(), [...new Set([...baseIds, ...otherIds])].sort());
      // rmi --force removes the containers too (podman's), and then the layers can go.
      await ociboxOk(["rmi", "--force", "other"], { env });
      assert.deepEqual([...Deno.readDirSync(`${store}/containers`)], []);
      await ociboxOk(["image", "prune"], { env });
      assert.deepEqual(await cached(), [...baseIds].sort());
      assert.equal(
        await ociboxOk(["image", "prune", "-a"], { env }),
        `${base.configDigest.slice(7)}\n`,
      );
      assert.deepEqual(await cached(), []);
      assert.deepEqual(await refNames(store), []);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
