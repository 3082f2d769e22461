import assert from "node:assert/strict";
import { digestOf } from "../digest/digester.ts";
import {
  DigestMismatchError,
  InvalidImageError,
  InvalidReferenceError,
  NotAFileError,
  NotFoundError,
  UnsafePathError,
  UnsupportedError,
} from "../errors.ts";
import { MEDIA_TYPE_DOCKER_MANIFEST } from "../image/media_types.ts";
import { compress } from "../archive/compression.ts";
import { scanTarFile } from "../archive/tar/reader.ts";
import {
  collect,
  LAYER_A,
  LAYER_B,
  layerTar,
  leftovers,
  makeLayout,
  mkfifo,
  ociboxCopy,
  ociboxFacts,
  tamperGzipBlob,
  withTempDir,
} from "./archive_test_util.ts";
import { openDockerArchiveDestination, openDockerArchiveSource } from "./docker_archive.ts";
import { type ArchiveMember, resolveArchiveTarget, writeTarArchive } from "./archive_file.ts";

const enc = new TextEncoder();
const hex = (d: string) => d.slice("sha256:".length);

/** Writes a tar of `files` (name -> bytes, or a string starting "->" for a symlink). */
async function writeTar(path: string, files: Record<string, Uint8Array | string>): Promise<void> {
  const members: ArchiveMember[] = Object.entries(files).map(([name, v]) =>
    typeof v === "string"
      ? { name, type: "symlink", target: v.slice(2) }
      : { name, type: "file", bytes: v }
  );
  await writeTarArchive(await resolveArchiveTarget(path), members);
}

function json(v: unknown): Uint8Array {
  return enc.encode(JSON.stringify(v));
}

function configFor(diffIds: string[]): Uint8Array {
  return json({
    architecture: "amd64",
    os: "linux",
    config: { Cmd: ["/bin/sh"] },
    rootfs: { type: "layers", diff_ids: diffIds },
  });
}

async function gzip(b: Uint8Array): Promise<Uint8Array> {
  return await collect(compress(ReadableStream.from([b]), "gzip"));
}

async function zstd(b: Uint8Array): Promise<Uint8Array> {
  return await collect(compress(ReadableStream.from([b]), "zstd"));
}

Deno.test("docker-archive: reads a Docker 25 style save (OCI blobs, familiar tags, gzip layer)", async () => {
  await withTempDir(async (tmp) => {
    const plain = layerTar(LAYER_A);
    const packedTar = layerTar(LAYER_B);
    const packed = await gzip(packedTar);
    const config = configFor([digestOf(plain), digestOf(packedTar)]);
    const blob = (b: Uint8Array) => `blobs/sha256/${hex(digestOf(b))}`;
    await writeTar(`${tmp}/save.tar`, {
      "oci-layout": json({ imageLayoutVersion: "1.0.0" }),
      "index.json": json({ schemaVersion: 2, manifests: [] }),
      [blob(config)]: config,
      [blob(plain)]: plain,
      [blob(packed)]: packed,
      "manifest.json": json([{
        Config: blob(config),
        RepoTags: ["busybox:latest"],
        Layers: [blob(plain), blob(packed)],
      }]),
    });
    const src = await openDockerArchiveSource("save", `${tmp}/save.tar`, { ref: "busybox" });
    try {
      const raw = await src.getManifest();
      assert.equal(raw.mediaType, MEDIA_TYPE_DOCKER_MANIFEST);
      const m = JSON.parse(new TextDecoder().decode(raw.bytes));
      assert.deepEqual(m.config, {
        mediaType: "application/vnd.docker.container.image.v1+json",
        size: config.length,
        digest: digestOf(config),
      });
      assert.deepEqual(m.layers, [
        {
          mediaType: "application/vnd.docker.image.rootfs.diff.tar",
          size: plain.length,
          digest: digestOf(plain),
        },
        {
          mediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip",
          size: packed.length,
          digest: digestOf(packed),
        },
      ]);
      assert.deepEqual(src.archiveTags, ["busybox:latest"]);
      await assert.rejects(src.getManifest(digestOf(config)), NotFoundError);
    } finally {
      await src.close();
    }
    await ociboxCopy(
      `docker-archive:${tmp}/save.tar:docker.io/library/busybox:latest`,
      `oci:${tmp}/o:x`,
    );
    const facts = await ociboxFacts(`oci:${tmp}/o:x`);
    assert.equal(facts.configDigest, digestOf(config));
    assert.deepEqual(facts.contentDigests, [digestOf(plain), digestOf(packedTar)]);
  });
});

Deno.test("docker-archive: a zstd layer file gives an OCI manifest; legacy paths are hashed", async () => {
  await withTempDir(async (tmp) => {
    const tar = layerTar(LAYER_A);
    const packed = await zstd(tar);
    const config = configFor([digestOf(tar)]);
    await writeTar(`${tmp}/save.tar`, {
      [`${hex(digestOf(config))}.json`]: config,
      "0123/layer.tar": packed,
      "manifest.json": json([{
        Config: `${hex(digestOf(config))}.json`,
        Layers: ["0123/layer.tar"],
      }]),
    });
    const src = await openDockerArchiveSource("save", `${tmp}/save.tar`);
    try {
      const m = JSON.parse(new TextDecoder().decode((await src.getManifest()).bytes));
      assert.equal(m.mediaType, "application/vnd.oci.image.manifest.v1+json");
      assert.equal(m.config.mediaType, "application/vnd.oci.image.config.v1+json");
      assert.deepEqual(m.layers, [{
        mediaType: "application/vnd.oci.image.layer.v1.tar+zstd",
        digest: digestOf(packed),
        size: packed.length,
      }]);
      assert.deepEqual(src.archiveTags, []);
    } finally {
      await src.close();
    }
    const facts = await ociboxFacts(`docker-archive:${tmp}/save.tar`);
    assert.deepEqual(facts.contentDigests, [digestOf(tar)]);
  });
});

Deno.test("docker-archive: a changed layer or config inside the archive is refused", async () => {
  await withTempDir(async (tmp) => {
    const tar = layerTar(LAYER_A);
    const config = configFor([digestOf(tar)]);
    const changed = tar.slice();
    changed[changed.indexOf(enc.encode("hello")[0], 512)] ^= 0x20; // same size, other bytes
    const files = (layer: Uint8Array, cfg: Uint8Array) => ({
      [`${hex(digestOf(config))}.json`]: cfg,
      "l/layer.tar": layer,
      "manifest.json": json([{ Config: `${hex(digestOf(config))}.json`, Layers: ["l/layer.tar"] }]),
    });
    await writeTar(`${tmp}/layer.tar`, files(changed, config));
    await assert.rejects(
      ociboxCopy(`docker-archive:${tmp}/layer.tar`, `oci:${tmp}/o:x`),
      DigestMismatchError,
    );
    const otherConfig = config.slice();
    otherConfig[otherConfig.indexOf(enc.encode("6")[0])] = enc.encode("3")[0]; // amd64 -> amd34
    await writeTar(`${tmp}/config.tar`, files(tar, otherConfig));
    await assert.rejects(
      openDockerArchiveSource("x", `${tmp}/config.tar`),
      DigestMismatchError,
    );
  });
});

Deno.test("docker-archive: picks images by tag or position and explains an ambiguous choice", async () => {
  await withTempDir(async (tmp) => {
    const files: Record<string, Uint8Array> = {};
    const items = [];
    for (const [i, layer] of [LAYER_A, LAYER_B].entries()) {
      const tar = layerTar(layer);
      const config = configFor([digestOf(tar)]);
      files[`${hex(digestOf(config))}.json`] = config;
      files[`${hex(digestOf(tar))}.tar`] = tar;
      items.push({
        Config: `${hex(digestOf(config))}.json`,
        RepoTags: i === 0 ? ["docker.io/foo/a:v1", "docker.io/foo/a:latest"] : ["b:2"],
        Layers: [`${hex(digestOf(tar))}.tar`],
      });
    }
    files["manifest.json"] = json(items);
    await writeTar(`${tmp}/two.tar`, files);
    const tagsOf = async (sel: { ref?: string; index?: number }) => {
      const src = await openDockerArchiveSource("two", `${tmp}/two.tar`, sel);
      try {
        return [...src.archiveTags];
      } finally {
        await src.close();
      }
    };
    assert.deepEqual(await tagsOf({ ref: "foo/a" }), items[0].RepoTags);
    assert.deepEqual(await tagsOf({ ref: "foo/a:v1" }), items[0].RepoTags);
    assert.deepEqual(await tagsOf({ ref: "docker.io/library/b:2" }), ["b:2"]);
    assert.deepEqual(await tagsOf({ index: 1 }), ["b:2"]);
    assert.deepEqual(await tagsOf({ index: 0 }), items[0].RepoTags);
    await assert.rejects(tagsOf({}), (e) => {
      assert.ok(e instanceof NotFoundError);
      assert.match(e.message, /holds 2 images; pick one with :REF or :@N/);
      assert.match(e.message, /@0: docker\.io\/foo\/a:v1, docker\.io\/foo\/a:latest; @1: b:2/);
      return true;
    });
    await assert.rejects(tagsOf({ index: 2 }), /no image @2; the archive holds 2/);
    await assert.rejects(tagsOf({ ref: "foo/a:v2" }), /no image tagged docker\.io\/foo\/a:v2/);
    await assert.rejects(tagsOf({ ref: `foo/a@sha256:${"0".repeat(64)}` }), InvalidReferenceError);
  });
});

Deno.test("docker-archive: a pre-1.10 save without manifest.json is refused clearly", async () => {
  await withTempDir(async (tmp) => {
    await writeTar(`${tmp}/old.tar`, {
      "repositories": json({ busybox: { latest: "ab".repeat(32) } }),
      [`${"ab".repeat(32)}/json`]: json({}),
      [`${"ab".repeat(32)}/layer.tar`]: layerTar(LAYER_A),
    });
    await assert.rejects(openDockerArchiveSource("old", `${tmp}/old.tar`), (e) => {
      assert.ok(e instanceof UnsupportedError);
      assert.match(e.message, /pre-Docker-1\.10 save/);
      return true;
    });
    await writeTar(`${tmp}/none.tar`, { "x": json({}) });
    await assert.rejects(openDockerArchiveSource("none", `${tmp}/none.tar`), InvalidImageError);
    await assert.rejects(openDockerArchiveSource("gone", `${tmp}/gone.tar`), NotFoundError);
  });
});

Deno.test("docker-archive: oci -> docker-archive -> oci keeps the config and diff_ids", async () => {
  await withTempDir(async (tmp) => {
    const img = await makeLayout(`${tmp}/L`, [LAYER_A, LAYER_B]);
    await ociboxCopy(img.location, `docker-archive:${tmp}/d.tar:foo/bar:v1`);
    await ociboxCopy(`docker-archive:${tmp}/d.tar`, `oci:${tmp}/back:v1`);
    const facts = await ociboxFacts(`oci:${tmp}/back:v1`);
    assert.equal(facts.configDigest, img.configDigest);
    assert.deepEqual(facts.diffIds, img.diffIds);
    assert.deepEqual(facts.contentDigests, img.diffIds);
    assert.deepEqual(
      (await ociboxFacts(`docker-archive:${tmp}/d.tar:foo/bar:v1`)).repoTags,
      ["docker.io/foo/bar:v1"],
    );
    assert.deepEqual(await leftovers(tmp), []);
  });
});

Deno.test("docker-archive: writes skopeo's layout, with no tag giving empty RepoTags", async () => {
  await withTempDir(async (tmp) => {
    const img = await makeLayout(`${tmp}/L`, [LAYER_A, LAYER_A, LAYER_B]);
    await ociboxCopy(img.location, `docker-archive:${tmp}/d.tar`);
    using file = await Deno.open(`${tmp}/d.tar`);
    const index = await scanTarFile(file);
    const names = index.map((m) => m.entry.name);
    const [l0, , l2] = img.diffIds.map(hex);
    assert.equal(names[0], `${hex(img.configDigest)}.json`);
    // A layer used twice is stored once; each use gets its own legacy directory.
    assert.deepEqual(names.slice(1, 3), [`${l0}.tar`, `${l2}.tar`]);
    assert.equal(names.filter((n) => n.endsWith("/VERSION")).length, 3);
    assert.deepEqual(names.slice(-2), ["manifest.json", "repositories"]);
    const links = index.filter((m) => m.entry.type === "symlink").map((m) => m.entry.linkname);
    assert.deepEqual(links, [`../${l0}.tar`, `../${l0}.tar`, `../${l2}.tar`]);
    const read = async (name: string) => {
      const m = index.find((x) => x.entry.name === name)!;
      await file.seek(m.dataOffset, Deno.SeekMode.Start);
      const buf = new Uint8Array(m.entry.size);
      await file.read(buf);
      return JSON.parse(new TextDecoder().decode(buf));
    };
    assert.deepEqual(await read("manifest.json"), [{
      Config: `${hex(img.configDigest)}.json`,
      RepoTags: [],
      Layers: [`${l0}.tar`, `${l0}.tar`, `${l2}.tar`],
    }]);
    assert.deepEqual(await read("repositories"), {});
  });
});

Deno.test("docker-archive: refuses digests, existing archives and manifest lists", async () => {
  await withTempDir(async (tmp) => {
    await assert.rejects(
      openDockerArchiveDestination("x", `${tmp}/a.tar`, `foo@sha256:${"0".repeat(64)}`),
      InvalidReferenceError,
    );
    await Deno.writeTextFile(`${tmp}/full.tar`, "someone's archive");
    await assert.rejects(
      openDockerArchiveDestination("x", `${tmp}/full.tar`, "a:b"),
      UnsupportedError,
    );
    assert.equal(await Deno.readTextFile(`${tmp}/full.tar`), "someone's archive");

    const dst = await openDockerArchiveDestination("x", `${tmp}/a.tar`, "a:b");
    try {
      await assert.rejects(
        dst.putManifest({ bytes: json({ schemaVersion: 2, manifests: [] }), mediaType: "" }, true),
        UnsupportedError,
      );
      await assert.rejects(
        dst.putManifest({ bytes: json({ schemaVersion: 2, manifests: [] }), mediaType: "" }),
        UnsupportedError,
      );
      const wrong = digestOf(enc.encode("other"));
      await assert.rejects(
        dst.putBlob(ReadableStream.from([enc.encode("blob")]), { digest: wrong }),
        DigestMismatchError,
      );
    } finally {
      await dst.close();
    }
    assert.deepEqual(await leftovers(tmp), []);
    await assert.rejects(Deno.stat(`${tmp}/a.tar`), Deno.errors.NotFound);

    // An existing empty file (e.g. from mktemp) is fine to write.
    const img = await makeLayout(`${tmp}/L`, [LAYER_A]);
    await Deno.writeFile(`${tmp}/empty.tar`, new Uint8Array());
    await ociboxCopy(img.location, `docker-archive:${tmp}/empty.tar:a:b`);
    assert.equal(
      (await ociboxFacts(`docker-archive:${tmp}/empty.tar`)).configDigest,
      img.configDigest,
    );
  });
});

Deno.test("docker-archive: a failed write leaves no archive and no staging directory", async () => {
  await withTempDir(async (tmp) => {
    const bad = await makeLayout(`${tmp}/bad`, [LAYER_A, LAYER_B]);
    await tamperGzipBlob(bad.layout, bad.layerDigests[1]);
    await assert.rejects(
      ociboxCopy(bad.location, `docker-archive:${tmp}/d.tar:a:b`),
      DigestMismatchError,
    );
    await assert.rejects(Deno.stat(`${tmp}/d.tar`), Deno.errors.NotFound);
    assert.deepEqual(await leftovers(tmp), []);
  });
});

Deno.test("docker-archive: a save compressed as a whole is readable", async () => {
  await withTempDir(async (tmp) => {
    const img = await makeLayout(`${tmp}/L`, [LAYER_A]);
    await ociboxCopy(img.location, `docker-archive:${tmp}/d.tar:a:b`);
    await Deno.writeFile(`${tmp}/d.tar.gz`, await gzip(await Deno.readFile(`${tmp}/d.tar`)));
    const facts = await ociboxFacts(`docker-archive:${tmp}/d.tar.gz:a:b`);
    assert.equal(facts.configDigest, img.configDigest);
    assert.deepEqual(facts.contentDigests, img.diffIds);
  });
});

Deno.test("docker-archive: reads from and writes to a FIFO", async () => {
  await withTempDir(async (tmp) => {
    const img = await makeLayout(`${tmp}/L`, [LAYER_A]);
    await ociboxCopy(img.location, `docker-archive:${tmp}/d.tar:a:b`);
    mkfifo(`${tmp}/fifo`);
    // Writing: a FIFO cannot be replaced atomically, so it is written directly.
    const [received] = await Promise.all([
      Deno.readFile(`${tmp}/fifo`),
      ociboxCopy(img.location, `docker-archive:${tmp}/fifo:a:b`),
    ]);
    assert.deepEqual(received, await Deno.readFile(`${tmp}/d.tar`));
    assert.ok((await Deno.lstat(`${tmp}/fifo`)).isFifo);
    // Reading: the stream is copied to a temporary file first.
    const [, facts] = await Promise.all([
      Deno.writeFile(`${tmp}/fifo`, received),
      ociboxFacts(`docker-archive:${tmp}/fifo`),
    ]);
    assert.equal(facts.configDigest, img.configDigest);
    assert.deepEqual(facts.contentDigests, img.diffIds);
    assert.deepEqual(await leftovers(tmp), []);
  });
});

/** Writes `files` (name -> bytes, or "->target" for a symlink) under `dir`. */
async function writeDir(dir: string, files: Record<string, Uint8Array | string>): Promise<void> {
  for (const [name, v] of Object.entries(files)) {
    const path = `${dir}/${name}`;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    if (typeof v === "string") await Deno.symlink(v.slice(2), path);
    else await Deno.writeFile(path, v);
  }
}

/** The files of a one-image save whose layers are `layers` (file name -> bytes). */
function saveOf(
  layers: [string, Uint8Array | string][],
  diffIds: string[],
): Record<string, Uint8Array | string> {
  const config = configFor(diffIds);
  const configFile = `${hex(digestOf(config))}.json`;
  return {
    [configFile]: config,
    ...Object.fromEntries(layers),
    "manifest.json": json([{ Config: configFile, RepoTags: [], Layers: layers.map(([n]) => n) }]),
  };
}

Deno.test("docker-archive: a directory save's layer linking out of the directory is refused", async () => {
  await withTempDir(async (tmp) => {
    // Any readable compressed host file would do: it used to be copied into the image as is.
    const host = await gzip(enc.encode("host secrets\n"));
    await Deno.writeFile(`${tmp}/host.gz`, host);
    const tar = layerTar(LAYER_A);
    for (const link of [`->${tmp}/host.gz`, "->../../host.gz"]) {
      const dir = `${tmp}/save-${link.length}`;
      await writeDir(dir, saveOf([["abc/layer.tar", link]], [digestOf(tar)]));
      await assert.rejects(
        ociboxCopy(`docker-archive:${dir}`, `oci:${tmp}/o:x`),
        (e: unknown) => {
          assert.ok(e instanceof UnsafePathError);
          assert.equal(
            e.message,
            `unsafe path "${dir}/abc/layer.tar": a symbolic link leads outside ${dir}; an ` +
              "image's files must be inside it",
          );
          return true;
        },
      );
      await assert.rejects(Deno.stat(`${tmp}/o`), Deno.errors.NotFound);
    }
    // The same save with the link inside the directory (as docker and skopeo write it) reads.
    const ok = `${tmp}/save-ok`;
    await writeDir(ok, saveOf([["abc/layer.tar", "->../l.tar"]], [digestOf(tar)]));
    await Deno.writeFile(`${ok}/l.tar`, tar);
    await ociboxCopy(`docker-archive:${ok}`, `oci:${tmp}/o:x`);
  });
});

Deno.test("docker-archive: a FIFO or directory as a save's file, or a device as the save, is refused", async () => {
  await withTempDir(async (tmp) => {
    const tar = layerTar(LAYER_A);
    const dir = `${tmp}/save`;
    await writeDir(dir, saveOf([["l.tar", tar]], [digestOf(tar)]));
    await Deno.remove(`${dir}/l.tar`);
    mkfifo(`${dir}/l.tar`);
    await assert.rejects(openDockerArchiveSource("s", dir), {
      name: "NotAFileError",
      message: `${dir}/l.tar: is a FIFO, not a regular file`,
    });
    await Deno.remove(`${dir}/manifest.json`);
    await Deno.mkdir(`${dir}/manifest.json`);
    await assert.rejects(openDockerArchiveSource("s", dir), NotAFileError);
    await assert.rejects(openDockerArchiveSource("s", "/dev/zero"), {
      name: "NotAFileError",
      message: "/dev/zero: is a character device, not a tar archive (a regular file or a pipe)",
    });
  });
});

Deno.test("docker-archive: every layer file claiming a diff_id is checked, not only the last", async () => {
  await withTempDir(async (tmp) => {
    const tar = layerTar(LAYER_A);
    const tampered = tar.slice();
    tampered[tampered.indexOf(enc.encode("hello")[0], 512)] ^= 0x20;
    const twice = (first: Uint8Array, second: Uint8Array) =>
      saveOf([["first.tar", first], ["second.tar", second]], [digestOf(tar), digestOf(tar)]);
    // The first file is the one served (and checked while it streams).
    await writeTar(`${tmp}/first.tar`, twice(tampered, tar));
    await assert.rejects(
      ociboxCopy(`docker-archive:${tmp}/first.tar`, `oci:${tmp}/o:x`),
      DigestMismatchError,
    );
    // The second is never served: it is hashed at open.
    await writeTar(`${tmp}/second.tar`, twice(tar, tampered));
    await assert.rejects(openDockerArchiveSource("s", `${tmp}/second.tar`), (e: unknown) => {
      assert.ok(e instanceof DigestMismatchError);
      assert.match(e.message, /image @0: layer second\.tar: digest mismatch/);
      return true;
    });
    await assert.rejects(Deno.stat(`${tmp}/o`), Deno.errors.NotFound);
    // One file listed twice with two diff_ids cannot match both.
    await writeTar(
      `${tmp}/two-ids.tar`,
      saveOf([["a.tar", await gzip(tar)], ["a.tar", await gzip(tar)]], [
        digestOf(tar),
        digestOf(tampered),
      ]),
    );
    await assert.rejects(
      openDockerArchiveSource("s", `${tmp}/two-ids.tar`),
      /have the same content .* but the config gives them different diff_ids/,
    );
    // The same file listed twice under one diff_id is fine.
    await writeTar(`${tmp}/same.tar`, twice(tar, tar));
    await ociboxCopy(`docker-archive:${tmp}/same.tar`, `oci:${tmp}/same:x`);
  });
});

Deno.test("docker-archive: a compressed layer's diff_id is checked while it streams", async () => {
  await withTempDir(async (tmp) => {
    const tar = layerTar(LAYER_A);
    const other = layerTar(LAYER_B);
    for (const pack of [gzip, zstd]) {
      const blob = await pack(tar);
      // Named by its digest (Docker 25+), or hashed at open: either way the digest is right
      // and only the diff_id is wrong.
      for (const name of [`blobs/sha256/${hex(digestOf(blob))}`, "l/layer.tar"]) {
        await writeTar(`${tmp}/bad.tar`, saveOf([[name, blob]], [digestOf(other)]));
        for (const to of [`oci:${tmp}/o:x`, `docker-archive:${tmp}/o.tar:x:y`]) {
          await assert.rejects(ociboxCopy(`docker-archive:${tmp}/bad.tar`, to), (e: unknown) => {
            assert.ok(e instanceof DigestMismatchError, `${name} -> ${to}`);
            assert.match(e.message, /uncompressed content \(diff_id\): digest mismatch/);
            return true;
          });
        }
        assert.deepEqual((await leftovers(tmp)).filter((n) => n !== "bad.tar"), []);
        await assert.rejects(Deno.stat(`${tmp}/o`), Deno.errors.NotFound);
        await assert.rejects(Deno.stat(`${tmp}/o.tar`), Deno.errors.NotFound);
        await writeTar(`${tmp}/good.tar`, saveOf([[name, blob]], [digestOf(tar)]));
        await ociboxCopy(`docker-archive:${tmp}/good.tar`, `oci:${tmp}/good:x`);
      }
    }
    // An uncompressed file's digest is its diff_id: a name saying otherwise is refused at once.
    const named = `blobs/sha256/${hex(digestOf(tar))}`;
    await writeTar(`${tmp}/named.tar`, saveOf([[named, tar]], [digestOf(other)]));
    await assert.rejects(
      openDockerArchiveSource("s", `${tmp}/named.tar`),
      /uncompressed, so rootfs\.diff_ids\[0\] is its digest/,
    );
  });
});

Deno.test("docker-archive: manifest.json keys Go would read differently are refused", async () => {
  await withTempDir(async (tmp) => {
    const tar = layerTar(LAYER_A);
    const files = saveOf([["a.tar", tar]], [digestOf(tar)]);
    const item = JSON.parse(new TextDecoder().decode(files["manifest.json"] as Uint8Array))[0];
    files["manifest.json"] = json([{ ...item, layers: [] }]);
    await writeTar(`${tmp}/s.tar`, files);
    await assert.rejects(
      openDockerArchiveSource("s", `${tmp}/s.tar`),
      /manifest\.json: \[0\]: "layers" and "Layers" both fill the field Layers/,
    );
    files["manifest.json"] = enc.encode("root:SECRETHASH:19000:0:99999:7:::\n");
    await writeTar(`${tmp}/t.tar`, files);
    await assert.rejects(openDockerArchiveSource("s", `${tmp}/t.tar`), {
      message: "s: manifest.json: is not valid JSON",
    });
  });
});
