/**
 * `ocibox unpack` against `umoci unpack` (0.4.7) on the same images, comparing the whole
 * rootfs trees path by path: type, mode (with setuid/setgid/sticky), uid/gid, size, symlink
 * target, sha256 of regular files, device numbers, hardlink groups, xattrs and the mtimes (in
 * nanoseconds) of everything but directories (directory mtimes legitimately differ between the
 * tools and are not compared).
 *
 * Images come from two places:
 * - hand-crafted layer tars (tests/support/images.ts) covering whiteouts, opaque directories with
 *   the marker before and after its new siblings, type changes across layers, hardlinks within
 *   and across layers, devices, special modes, ownership, PAX long names, UTF-8 names and
 *   xattrs. Layers are gzip, zstd and uncompressed; umoci 0.4.7 cannot read zstd, so it unpacks
 *   a twin image whose zstd layer is gzip instead (same tar, same diff_ids);
 * - umoci itself (`umoci new`, `unpack`, edit the rootfs, `repack`, `insert --opaque`).
 *
 * Known, deliberate umoci differences are normalised where they occur, each with its reason.
 * Two tests fail against ocibox at the time of writing, each naming the lib/ code at fault:
 * directory xattrs are not replaced by a later directory entry, and a whiteout through a
 * symlinked directory leaves a stale cached descriptor behind.
 * @module
 */
import assert from "node:assert/strict";
import { openSource } from "../lib/transport/open.ts";
import { unpackBundle } from "../lib/bundle/unpack_bundle.ts";
import { peerTest, run } from "./support/peers.ts";
import { buildTar, type LayerSpec, type MemberSpec, writeImage } from "./support/images.ts";
import { diffSnapshots, snapshotTree, type TreeSnapshot } from "./support/tree_snapshot.ts";

const PEERS = { peers: ["umoci", "python3"], root: true };
const bytes = (s: string) => new TextEncoder().encode(s);

const PASSWD = [
  "root:x:0:0:root:/root:/bin/sh",
  "alice:x:1000:1000:Alice:/home/alice:/bin/sh",
  "bob:x:1001:1001:Bob:/home/bob:/bin/sh",
  "",
].join("\n");
const GROUP = [
  "root:x:0:",
  "staff:x:50:alice,bob",
  "wheel:x:10:alice",
  "alice:x:1000:",
  "bob:x:1001:",
  "",
].join("\n");

const LONG_DIR = `long/${"d".repeat(120)}`;
const LONG_FILE = `${LONG_DIR}/${"f".repeat(150)}`;
const UTF8_NAME = "utf8/héllo wörld 日本語 ✓.txt";

/** Layer 1: the base with one of everything. */
const LAYER1: MemberSpec[] = [
  { name: "./", type: "dir", mode: 0o755 },
  { name: "etc/", type: "dir" },
  { name: "etc/passwd", type: "file", data: PASSWD, mtime: 1_600_000_000 },
  { name: "etc/group", type: "file", data: GROUP, mtime: 1_600_000_001 },
  { name: "bin/", type: "dir" },
  {
    name: "bin/app",
    type: "file",
    mode: 0o755,
    data: "#!/bin/sh\necho app\n",
    mtime: 1_600_000_002,
    mtimeNsec: 123_456_789,
  },
  { name: "bin/app-hl", type: "hardlink", linkname: "bin/app" },
  { name: "bin/abs-link", type: "symlink", linkname: "/etc/passwd" },
  { name: "bin/rel-link", type: "symlink", linkname: "../etc/group" },
  { name: "dangling", type: "symlink", linkname: "/nowhere/at/all" },
  { name: "data/", type: "dir" },
  { name: "data/keep.txt", type: "file", data: "keep\n", mtime: 1_500_000_000 },
  { name: "data/gone.txt", type: "file", data: "gone\n" },
  { name: "data/sub/", type: "dir", mode: 0o700, uid: 1000 },
  { name: "data/sub/deep.txt", type: "file", data: "deep\n" },
  { name: "opq-before/", type: "dir" },
  { name: "opq-before/old.txt", type: "file", data: "old\n" },
  { name: "opq-before/olddir/", type: "dir" },
  { name: "opq-before/olddir/x", type: "file", data: "x\n" },
  { name: "opq-after/", type: "dir" },
  { name: "opq-after/old.txt", type: "file", data: "old\n" },
  { name: "opq-after/olddir/", type: "dir" },
  { name: "opq-after/olddir/y", type: "file", data: "y\n" },
  { name: "f2d", type: "file", data: "I will become a directory\n" },
  { name: "d2f/", type: "dir" },
  { name: "d2f/child", type: "file", data: "child\n" },
  { name: "d2f/subdir/", type: "dir" },
  { name: "d2f/subdir/z", type: "file", data: "z\n" },
  { name: "s2d", type: "symlink", linkname: "bin" },
  { name: "f2s", type: "file", data: "I will become a symlink\n" },
  { name: "lower.txt", type: "file", data: "lower\n", mtime: 1_400_000_000, uid: 1001, gid: 1000 },
  { name: "modes/", type: "dir" },
  { name: "modes/suid", type: "file", mode: 0o4755, data: "suid\n" },
  { name: "modes/sgid", type: "file", mode: 0o2755, data: "sgid\n" },
  { name: "modes/all", type: "file", mode: 0o7755, data: "all\n" },
  { name: "modes/ro", type: "file", mode: 0o444, data: "ro\n" },
  { name: "modes/none", type: "file", mode: 0o000, data: "none\n" },
  { name: "modes/sticky/", type: "dir", mode: 0o1777 },
  { name: "modes/sgid-dir/", type: "dir", mode: 0o2775 },
  { name: "modes/sgid-dir/inherit", type: "file", data: "in a setgid dir\n", gid: 1001 },
  { name: "owned/", type: "dir", mode: 0o750, uid: 1000, gid: 1001 },
  { name: "owned/file", type: "file", uid: 1000, gid: 1001, data: "mine\n" },
  { name: "owned/link", type: "symlink", linkname: "file", uid: 1001, gid: 1000 },
  // Ids beyond ustar's 8-byte octal field (2097151) travel in PAX records.
  { name: "owned/big-ids", type: "file", uid: 3_000_000, gid: 2_500_000, data: "big\n" },
  { name: "run/", type: "dir" },
  { name: "run/fifo", type: "fifo", mode: 0o620, uid: 1000, gid: 1001 },
  { name: "dev/", type: "dir" },
  { name: "dev/null", type: "char", mode: 0o666, devmajor: 1, devminor: 3 },
  { name: "dev/loop9", type: "block", mode: 0o660, gid: 6, devmajor: 7, devminor: 9 },
  { name: "long/", type: "dir" },
  { name: `${LONG_DIR}/`, type: "dir" },
  { name: LONG_FILE, type: "file", data: "long name\n", mtime: 1_600_000_003 },
  { name: "longlink", type: "symlink", linkname: `/${"t".repeat(150)}/target` },
  { name: "utf8/", type: "dir" },
  { name: UTF8_NAME, type: "file", data: "unicode\n" },
  {
    name: "xattr.txt",
    type: "file",
    data: "has xattrs\n",
    xattrs: new Map([["user.test", bytes("hello")], ["user.bin", new Uint8Array([0, 1, 2, 255])]]),
  },
  { name: "xattr-dir/", type: "dir", xattrs: new Map([["user.test", bytes("dir")]]) },
  // Parents that have no entry of their own, and a directory entry after its children.
  { name: "implicit/parent/file", type: "file", data: "implicit\n" },
  { name: "late/child", type: "file", data: "child\n" },
  { name: "late/", type: "dir", mode: 0o711, uid: 1000, gid: 1001 },
  { name: "ro-dir/", type: "dir", mode: 0o555 },
  { name: "ro-dir/inside", type: "file", data: "inside\n" },
];

/** Layer 2: whiteouts, opaque directories and type changes. */
const LAYER2: MemberSpec[] = [
  { name: "data/.wh.gone.txt", type: "file" },
  { name: "data/.wh.sub", type: "file" },
  // Opaque marker before its new siblings ...
  { name: "opq-before/", type: "dir", mode: 0o750 },
  { name: "opq-before/.wh..wh..opq", type: "file" },
  { name: "opq-before/new.txt", type: "file", data: "new\n" },
  { name: "opq-before/olddir/", type: "dir" },
  { name: "opq-before/olddir/z", type: "file", data: "z\n" },
  // ... and after them: layer.md says the two are equivalent.
  { name: "opq-after/", type: "dir", mode: 0o750 },
  { name: "opq-after/new.txt", type: "file", data: "new\n" },
  { name: "opq-after/olddir/", type: "dir" },
  { name: "opq-after/olddir/w", type: "file", data: "w\n" },
  { name: "opq-after/.wh..wh..opq", type: "file" },
  { name: "f2d/", type: "dir", mode: 0o750 },
  { name: "f2d/inner", type: "file", data: "inner\n" },
  { name: "d2f", type: "file", data: "I was a directory\n", mode: 0o600 },
  { name: "s2d/", type: "dir" },
  { name: "s2d/file", type: "file", data: "not in bin\n" },
  { name: "f2s", type: "symlink", linkname: "lower.txt" },
  { name: "ro-dir/later", type: "file", data: "later\n" },
  // Replacing one name of a hardlink pair breaks the pair.
  { name: "bin/app", type: "file", mode: 0o755, data: "#!/bin/sh\necho app v2\n" },
];

/** Layer 3: hardlinks to files of lower layers, a whiteout of a symlink, a dir's new mode. */
const LAYER3: MemberSpec[] = [
  { name: "hl-lower", type: "hardlink", linkname: "lower.txt" },
  { name: "bin/hl-app-hl", type: "hardlink", linkname: "bin/app-hl" },
  { name: ".wh.dangling", type: "file" },
  { name: "etc/", type: "dir", mode: 0o700 },
  { name: "new-in-3/", type: "dir" },
  { name: "new-in-3/link-to-long", type: "hardlink", linkname: LONG_FILE },
];

async function withTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ocibox-interop-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Unpacks twice: inflating on this thread into `bundle`, on the worker into `bundle`-worker. */
async function ociboxUnpack(ref: string, bundle: string): Promise<void> {
  for (const offThread of [false, true]) {
    const src = await openSource(ref);
    try {
      await unpackBundle(src, offThread ? `${bundle}-worker` : bundle, {
        rootless: false,
        offThread,
      });
    } finally {
      await src.close();
    }
  }
}

async function umociUnpack(umociRef: string, bundle: string): Promise<void> {
  await run("umoci", ["unpack", "--image", umociRef, bundle]);
}

/** Unpacks with both tools and asserts equal trees; returns ocibox's snapshot for more checks. */
async function assertSameTrees(
  dir: string,
  label: string,
  ociboxRef: string,
  umociRef: string,
): Promise<TreeSnapshot> {
  const ours = `${dir}/ocibox-${label}`, theirs = `${dir}/umoci-${label}`;
  // Both run to the end before a failure is reported, so the temp dir is not removed under umoci.
  const [o, u] = await Promise.allSettled([
    ociboxUnpack(ociboxRef, ours),
    umociUnpack(umociRef, theirs),
  ]);
  if (u.status === "rejected") throw u.reason;
  if (o.status === "rejected") {
    throw new Error(`${label}: ocibox unpack failed where umoci succeeded: ${o.reason}`, {
      cause: o.reason,
    });
  }
  const [a, b] = await Promise.all([
    snapshotTree(`${ours}/rootfs`, { mtimes: "nondir" }),
    snapshotTree(`${theirs}/rootfs`, { mtimes: "nondir" }),
  ]);
  const diffs = diffSnapshots(a, b, ["ocibox", "umoci"]);
  assert.deepEqual(diffs, [], `${label}: rootfs trees differ:\n${diffs.join("\n")}`);
  const worker = await snapshotTree(`${ours}-worker/rootfs`, { mtimes: "nondir" });
  const workerDiffs = diffSnapshots(worker, a, ["worker", "in-thread"]);
  assert.deepEqual(
    workerDiffs,
    [],
    `${label}: off-thread unpack differs:\n${workerDiffs.join("\n")}`,
  );
  return a;
}

function layers(compressions: LayerSpec["compression"][], tars: Uint8Array[]): LayerSpec[] {
  return tars.map((tar, i) => ({ tar, compression: compressions[i] }));
}

peerTest("unpack matches umoci: hand-crafted layers (gzip, zstd, plain)", PEERS, async () => {
  await withTemp(async (dir) => {
    const tars = [buildTar(LAYER1), buildTar(LAYER2), buildTar(LAYER3)];
    const layout = `${dir}/layout`;
    const ours = await writeImage(layout, "zstd", {
      layers: layers(["gzip", "zstd", "none"], tars),
    });
    // umoci 0.4.7 has no zstd: the same tars, the zstd one gzipped (identical diff_ids).
    const twin = await writeImage(layout, "gzip", {
      layers: layers(["gzip", "gzip", "none"], tars),
    });
    assert.deepEqual(ours.diffIds, twin.diffIds);

    const snap = await assertSameTrees(dir, "crafted", ours.ref, twin.umociRef);
    // The comparison is only as good as what the trees hold: check the cases really happened.
    const n = snap.nodes;
    assert.equal(n["data/gone.txt"], undefined, "whiteout of a file");
    assert.equal(n["data/sub"], undefined, "whiteout of a directory");
    assert.equal(n["data/keep.txt"]?.type, "file");
    for (const d of ["opq-before", "opq-after"]) {
      assert.equal(n[`${d}/old.txt`], undefined, `${d}: lower file hidden`);
      assert.equal(n[`${d}/olddir/${d === "opq-before" ? "x" : "y"}`], undefined, `${d}: lower`);
      assert.equal(n[`${d}/new.txt`]?.type, "file", `${d}: new sibling kept`);
      assert.equal(n[`${d}/olddir/${d === "opq-before" ? "z" : "w"}`]?.type, "file", d);
    }
    assert.equal(n["f2d"]?.type, "dir");
    assert.equal(n["f2d/inner"]?.type, "file");
    assert.equal(n["d2f"]?.type, "file");
    assert.equal(n["d2f/child"], undefined);
    assert.equal(n["s2d"]?.type, "dir");
    assert.equal(n["s2d/file"]?.type, "file");
    assert.equal(n["bin/file"], undefined, "s2d/file must not land in bin/");
    assert.equal(n["f2s"]?.target, "lower.txt");
    assert.equal(n["dangling"], undefined, "whiteout of a symlink");
    assert.equal(n["dev/null"]?.type, "char");
    assert.equal(n["dev/loop9"]?.type, "block");
    assert.equal(n["run/fifo"]?.type, "fifo");
    assert.equal(n["modes/all"]?.mode, 0o7755);
    assert.equal(n["modes/sticky"]?.mode, 0o1777);
    assert.equal(n["owned/link"]?.uid, 1001);
    assert.equal(n["owned/big-ids"]?.uid, 3_000_000);
    assert.equal(n[LONG_FILE]?.type, "file");
    assert.equal(n[UTF8_NAME]?.type, "file");
    assert.equal(n["xattr.txt"]?.xattrs["user.test"], "68656c6c6f");
    assert.equal(n["xattr-dir"]?.xattrs["user.test"], "646972");
    assert.equal(n["bin/app"]?.mtimeNs, "0", "bin/app was replaced in layer 2");
    assert.equal(n["bin/app-hl"]?.mtimeNs, "1600000002123456789");
    assert.equal(n["etc"]?.mode, 0o700, "directory attributes replaced by a later layer");
    assert.deepEqual(snap.hardlinks, [
      ["bin/app-hl", "bin/hl-app-hl"],
      ["hl-lower", "lower.txt"],
      [LONG_FILE, "new-in-3/link-to-long"],
    ]);
  });
});

peerTest("unpack matches umoci: a whiteout hides only lower layers", PEERS, async () => {
  // layer.md: "Files that are present in the same layer as a whiteout file can only be hidden by
  // whiteout files in subsequent layers."
  await withTemp(async (dir) => {
    const tars = [
      buildTar([
        { name: "old.txt", type: "file", data: "old\n" },
        { name: "d/", type: "dir" },
        { name: "d/lower", type: "file", data: "lower\n" },
      ]),
      buildTar([
        { name: "same.txt", type: "file", data: "same layer\n" },
        { name: ".wh.same.txt", type: "file" },
        { name: ".wh.old.txt", type: "file" },
        { name: "d/upper", type: "file", data: "upper\n" },
        { name: ".wh.d", type: "file" },
      ]),
    ];
    const img = await writeImage(`${dir}/layout`, "t", { layers: layers(["none", "gzip"], tars) });
    const snap = await assertSameTrees(dir, "same-layer", img.ref, img.umociRef);
    assert.equal(snap.nodes["same.txt"]?.type, "file");
    assert.equal(snap.nodes["old.txt"], undefined);
    assert.equal(snap.nodes["d/upper"]?.type, "file");
    assert.equal(snap.nodes["d/lower"], undefined);
  });
});

peerTest("unpack matches umoci: whiteouts of missing paths, an opaque root", PEERS, async () => {
  await withTemp(async (dir) => {
    const tars = [
      buildTar([
        { name: "a", type: "file", data: "a\n" },
        { name: "b/", type: "dir" },
        { name: "b/c", type: "file", data: "c\n" },
      ]),
      buildTar([
        { name: "nope/.wh.x", type: "file" },
        { name: ".wh.missing", type: "file" },
        { name: "b/.wh.missing", type: "file" },
      ]),
      buildTar([
        { name: "./", type: "dir", mode: 0o750 },
        { name: "new", type: "file", data: "new\n" },
        { name: "./.wh..wh..opq", type: "file" },
      ]),
    ];
    const img = await writeImage(`${dir}/layout`, "t", {
      layers: layers(["none", "none", "zstd"], tars),
    });
    const twin = await writeImage(`${dir}/layout`, "u", {
      layers: layers(["none", "none", "gzip"], tars),
    });
    const snap = await assertSameTrees(dir, "opaque-root", img.ref, twin.umociRef);
    assert.deepEqual(Object.keys(snap.nodes).sort(), ["", "new"]);
  });
});

peerTest("unpack matches umoci: entry names with ./, / and // spellings", PEERS, async () => {
  await withTemp(async (dir) => {
    const tars = [
      buildTar([
        { name: "./a/", type: "dir", mode: 0o750 },
        { name: "./a/x", type: "file", data: "x\n" },
        { name: "/abs/file", type: "file", data: "abs\n" },
        { name: "b//c", type: "file", data: "c\n" },
        { name: "./d/./e", type: "file", data: "e\n" },
        { name: "f/g/../h", type: "file", data: "h\n" },
      ]),
      buildTar([
        { name: "a/.wh.x", type: "file" },
        { name: "/abs/.wh.file", type: "file" },
        { name: "./b/c", type: "file", data: "c2\n" },
        { name: "d/e", type: "hardlink", linkname: "./b//c" },
      ]),
    ];
    const img = await writeImage(`${dir}/layout`, "t", { layers: layers(["none", "gzip"], tars) });
    const snap = await assertSameTrees(dir, "names", img.ref, img.umociRef);
    assert.equal(snap.nodes["a/x"], undefined);
    assert.equal(snap.nodes["abs/file"], undefined);
    assert.equal(snap.nodes["f/h"]?.type, "file");
    assert.deepEqual(snap.hardlinks, [["b/c", "d/e"]]);
  });
});

peerTest(
  "unpack matches umoci: a whiteout through a symlinked directory (lib -> usr/lib)",
  PEERS,
  async () => {
    // A usr-merged base: lib is a symlink to usr/lib. The next layer deletes lib/foo through the
    // symlink and puts a new file under the real name. umoci resolves the whiteout in the root
    // (removing usr/lib/foo), then creates usr/lib/foo/new. ocibox removes the same directory,
    // but its cache of open directories is keyed by the name used (lib/foo), so the descriptor
    // of usr/lib/foo opened in layer 1 survives. With a `usr/lib/foo/` entry first the cache is
    // refreshed and all is well; without one (an implicit parent) usr/lib/foo/new goes into the
    // deleted directory and fails with ENOENT (lib/layer/rootfs_writer.ts remove/#dropCache).
    await withTemp(async (dir) => {
      const lower = buildTar([
        { name: "usr/", type: "dir" },
        { name: "usr/lib/", type: "dir" },
        { name: "usr/lib/foo/", type: "dir" },
        { name: "usr/lib/foo/old", type: "file", data: "old\n" },
        { name: "lib", type: "symlink", linkname: "usr/lib" },
      ]);
      const variants: Record<string, MemberSpec[]> = {
        "dir-entry": [
          { name: "lib/.wh.foo", type: "file" },
          { name: "usr/lib/foo/", type: "dir" },
          { name: "usr/lib/foo/new", type: "file", data: "new\n" },
        ],
        "implicit-parent": [
          { name: "lib/.wh.foo", type: "file" },
          { name: "usr/lib/foo/new", type: "file", data: "new\n" },
        ],
      };
      for (const [tag, upper] of Object.entries(variants)) {
        const img = await writeImage(`${dir}/layout`, tag, {
          layers: layers(["none", "none"], [lower, buildTar(upper)]),
        });
        const snap = await assertSameTrees(dir, tag, img.ref, img.umociRef);
        assert.equal(snap.nodes["usr/lib/foo/old"], undefined, tag);
        assert.equal(snap.nodes["usr/lib/foo/new"]?.type, "file", tag);
      }
    });
  },
);

peerTest(
  "unpack matches umoci: a directory entry over a directory replaces its xattrs",
  PEERS,
  async () => {
    // layer.md: "If the entry and the existing path are both directories, then the existing
    // path's attributes MUST be replaced by those of the entry in the changeset." umoci clears
    // the old xattrs first; ocibox only adds the entry's (lib/layer/rootfs_writer.ts #dirAttrs).
    await withTemp(async (dir) => {
      const tars = [
        buildTar([
          { name: "./", type: "dir", xattrs: new Map([["user.root", bytes("old")]]) },
          { name: "d/", type: "dir", xattrs: new Map([["user.old", bytes("old")]]) },
          { name: "e/", type: "dir", xattrs: new Map([["user.keep", bytes("1")]]) },
        ]),
        buildTar([
          { name: "./", type: "dir" },
          { name: "d/", type: "dir", mode: 0o700 },
          { name: "e/", type: "dir", xattrs: new Map([["user.new", bytes("2")]]) },
        ]),
      ];
      const img = await writeImage(`${dir}/layout`, "t", {
        layers: layers(["none", "none"], tars),
      });
      const snap = await assertSameTrees(dir, "dir-xattrs", img.ref, img.umociRef);
      assert.deepEqual(snap.nodes["d"]?.xattrs, {});
    });
  },
);

peerTest("unpack matches umoci: images built by umoci (repack, insert)", PEERS, async () => {
  await withTemp(async (dir) => {
    const L = `${dir}/L`;
    const umoci = (...args: string[]) => run("umoci", args, { cwd: dir });
    await umoci("init", "--layout", L);
    await umoci("new", "--image", `${L}:base`);

    // v1: one of everything, made in a rootfs that umoci then diffs into a layer.
    await umoci("unpack", "--image", `${L}:base`, `${dir}/b1`);
    const r1 = `${dir}/b1/rootfs`;
    await Deno.mkdir(`${r1}/etc`);
    await Deno.writeTextFile(`${r1}/etc/passwd`, PASSWD);
    await Deno.writeTextFile(`${r1}/etc/group`, GROUP);
    await Deno.mkdir(`${r1}/bin`);
    await Deno.writeTextFile(`${r1}/bin/app`, "#!/bin/sh\necho app\n", { mode: 0o755 });
    await Deno.chmod(`${r1}/bin/app`, 0o755);
    await Deno.link(`${r1}/bin/app`, `${r1}/bin/app-hl`);
    await Deno.symlink("/etc/passwd", `${r1}/bin/abs-link`);
    await Deno.symlink("../etc/group", `${r1}/bin/rel-link`);
    await Deno.mkdir(`${r1}/data/sub`, { recursive: true });
    await Deno.writeTextFile(`${r1}/data/keep.txt`, "keep\n");
    await Deno.writeTextFile(`${r1}/data/gone.txt`, "gone\n");
    await Deno.writeTextFile(`${r1}/data/sub/deep.txt`, "deep\n");
    await Deno.mkdir(`${r1}/opq/olddir`, { recursive: true });
    await Deno.writeTextFile(`${r1}/opq/old.txt`, "old\n");
    await Deno.writeTextFile(`${r1}/opq/olddir/x`, "x\n");
    await Deno.writeTextFile(`${r1}/f2d`, "file\n");
    await Deno.mkdir(`${r1}/d2f`);
    await Deno.writeTextFile(`${r1}/d2f/child`, "child\n");
    await Deno.symlink("bin", `${r1}/s2d`);
    await Deno.writeTextFile(`${r1}/lower.txt`, "lower\n");
    await Deno.mkdir(`${r1}/modes/sticky`, { recursive: true });
    await Deno.chmod(`${r1}/modes/sticky`, 0o1777);
    for (const [name, mode] of [["suid", 0o4755], ["sgid", 0o2711], ["all", 0o7700]] as const) {
      await Deno.writeTextFile(`${r1}/modes/${name}`, `${name}\n`);
      await Deno.chmod(`${r1}/modes/${name}`, mode);
    }
    await Deno.mkdir(`${r1}/owned`);
    await Deno.writeTextFile(`${r1}/owned/file`, "mine\n");
    await Deno.chown(`${r1}/owned/file`, 1000, 1001);
    await Deno.chown(`${r1}/owned`, 1001, 1000);
    await Deno.symlink("file", `${r1}/owned/link`);
    await run("chown", ["-h", "1000:1000", `${r1}/owned/link`]);
    await Deno.mkdir(`${r1}/run`);
    await run("mkfifo", ["-m", "0620", `${r1}/run/fifo`]);
    await Deno.mkdir(`${r1}/dev`);
    await run("mknod", ["-m", "0666", `${r1}/dev/null`, "c", "1", "3"]);
    await Deno.mkdir(`${r1}/${LONG_DIR}`, { recursive: true });
    await Deno.writeTextFile(`${r1}/${LONG_FILE}`, "long name\n");
    await Deno.mkdir(`${r1}/utf8`);
    await Deno.writeTextFile(`${r1}/${UTF8_NAME}`, "unicode\n");
    await Deno.writeTextFile(`${r1}/xattr.txt`, "xattr\n");
    await run("python3", [
      "-c",
      "import os,sys; os.setxattr(sys.argv[1], 'user.test', b'hello')",
      `${r1}/xattr.txt`,
    ]);
    await umoci("repack", "--image", `${L}:v1`, `${dir}/b1`);

    // v2: deletions (whiteouts), type changes, a hardlink to a lower file, new modes.
    await umoci("unpack", "--image", `${L}:v1`, `${dir}/b2`);
    const r2 = `${dir}/b2/rootfs`;
    await Deno.remove(`${r2}/data/gone.txt`);
    await Deno.remove(`${r2}/data/sub`, { recursive: true });
    await Deno.remove(`${r2}/f2d`);
    await Deno.mkdir(`${r2}/f2d`);
    await Deno.writeTextFile(`${r2}/f2d/inner`, "inner\n");
    await Deno.remove(`${r2}/d2f`, { recursive: true });
    await Deno.writeTextFile(`${r2}/d2f`, "was a dir\n");
    await Deno.remove(`${r2}/s2d`);
    await Deno.mkdir(`${r2}/s2d`);
    await Deno.writeTextFile(`${r2}/s2d/file`, "not in bin\n");
    await Deno.link(`${r2}/lower.txt`, `${r2}/hl-lower`);
    await Deno.chmod(`${r2}/modes/suid`, 0o755);
    await umoci("repack", "--image", `${L}:v2`, `${dir}/b2`);

    // v3: an opaque directory (umoci insert --opaque).
    await Deno.mkdir(`${dir}/opq-src/newdir`, { recursive: true });
    await Deno.writeTextFile(`${dir}/opq-src/new.txt`, "new\n");
    await Deno.writeTextFile(`${dir}/opq-src/newdir/z`, "z\n");
    await umoci(
      "insert",
      "--image",
      `${L}:v2`,
      "--tag",
      "v3",
      "--opaque",
      `${dir}/opq-src`,
      "/opq",
    );
    // v4: a whiteout inserted on its own.
    await umoci("insert", "--image", `${L}:v3`, "--tag", "v4", "--whiteout", "/bin/rel-link");

    for (const tag of ["v1", "v2", "v3", "v4"]) {
      await assertSameTrees(dir, tag, `oci:${L}:${tag}`, `${L}:${tag}`);
    }
    const v4 = await snapshotTree(`${dir}/ocibox-v4/rootfs`);
    assert.equal(v4.nodes["data/gone.txt"], undefined);
    assert.equal(v4.nodes["data/sub"], undefined);
    assert.equal(v4.nodes["opq/old.txt"], undefined);
    assert.equal(v4.nodes["opq/newdir/z"]?.type, "file");
    assert.equal(v4.nodes["bin/rel-link"], undefined);
    assert.equal(v4.nodes["s2d"]?.type, "dir");
    assert.equal(v4.nodes["dev/null"]?.type, "char");
    assert.equal(v4.nodes["xattr.txt"]?.xattrs["user.test"], "68656c6c6f");
    assert.deepEqual(v4.hardlinks, [["bin/app", "bin/app-hl"], ["hl-lower", "lower.txt"]]);
  });
});

interface ProcessConfig {
  args?: string[];
  env?: string[];
  cwd?: string;
  user?: { uid: number; gid: number; additionalGids?: number[] };
}

/** One image config to compare, with umoci's deliberate deviations from conversion.md undone. */
interface ConfigScenario {
  config: Record<string, unknown>;
  deliberate?: (umoci: ProcessConfig) => void;
}

const CONFIG_SCENARIOS: Record<string, ConfigScenario> = {
  name: {
    config: {
      Entrypoint: ["/bin/app", "--flag"],
      Cmd: ["serve", "a b"],
      Env: ["PATH=/usr/bin:/bin", "FOO=bar", "EMPTY="],
      WorkingDir: "/srv",
      User: "alice",
    },
  },
  "name-group": {
    config: { Cmd: ["sh"], Env: ["A=1"], WorkingDir: "/srv/x", User: "bob:staff" },
  },
  "uid-gid": { config: { Entrypoint: ["/bin/true"], User: "1001:50" } },
  "uid-groupname": { config: { Entrypoint: ["/bin/true"], Cmd: [], User: "1000:wheel" } },
  root: { config: { Cmd: ["/bin/sh", "-c", "echo hi"] } },
  numeric: {
    config: { User: "1000" },
    // conversion.md: SHOULD NOT set additionalGids when the user is numeric; umoci (runc's user
    // package) adds uid 1000's memberships (50, 10) anyway.
    deliberate: (u) => delete u.user?.additionalGids,
  },
  "own-home": {
    config: { User: "alice", Env: ["HOME=/custom"] },
    // conversion.md: SHOULD NOT add env entries whose names are in Config.Env; umoci replaces the
    // image's HOME with the passwd home directory.
    deliberate: (u) => {
      u.env = u.env?.map((e) => e.startsWith("HOME=") ? "HOME=/custom" : e);
    },
  },
};

peerTest("unpack's config.json process matches umoci's (args, env, cwd, user)", PEERS, async () => {
  await withTemp(async (dir) => {
    const base = buildTar([
      { name: "etc/", type: "dir" },
      { name: "etc/passwd", type: "file", data: PASSWD },
      { name: "etc/group", type: "file", data: GROUP },
      { name: "srv/", type: "dir" },
    ]);
    for (const [tag, { config, deliberate }] of Object.entries(CONFIG_SCENARIOS)) {
      const img = await writeImage(`${dir}/layout`, tag, { layers: [{ tar: base }], config });
      await ociboxUnpack(img.ref, `${dir}/o-${tag}`);
      await umociUnpack(img.umociRef, `${dir}/u-${tag}`);
      const read = async (b: string): Promise<ProcessConfig> =>
        JSON.parse(await Deno.readTextFile(`${b}/config.json`)).process;
      const [ours, theirs] = [await read(`${dir}/o-${tag}`), await read(`${dir}/u-${tag}`)];
      deliberate?.(theirs);
      assert.deepEqual(ours.args, theirs.args, `${tag}: args`);
      assert.deepEqual(ours.env, theirs.env, `${tag}: env`);
      assert.equal(ours.cwd, theirs.cwd, `${tag}: cwd`);
      const user = (p: ProcessConfig) => ({
        ...p.user,
        // umoci omits an empty additionalGids (Go omitempty); so does ocibox.
        additionalGids: p.user?.additionalGids ?? [],
      });
      assert.deepEqual(user(ours), user(theirs), `${tag}: user`);
    }
    // The scenarios must exercise the interesting paths.
    const name: ProcessConfig = JSON.parse(await Deno.readTextFile(`${dir}/o-name/config.json`))
      .process;
    assert.deepEqual(name.args, ["/bin/app", "--flag", "serve", "a b"]);
    assert.deepEqual(name.user, { uid: 1000, gid: 1000, additionalGids: [50, 10] });
  });
});

peerTest(
  "unpack matches umoci: a symlink or directory replaced by a symlink between and within layers",
  PEERS,
  async () => {
    // A lookup cached through `x -> etc/cron.d` must not outlive `x`: files named under `x`
    // afterwards go where `x` points now (a stale one hides files from tools that read the tree).
    await withTemp(async (dir) => {
      const tars = [
        buildTar([
          { name: "etc/", type: "dir" },
          { name: "etc/cron.d/", type: "dir" },
          { name: "tmp/", type: "dir" },
          { name: "x", type: "symlink", linkname: "etc/cron.d" },
          { name: "x/placeholder", type: "file", data: "p\n" },
          { name: "d/", type: "dir" },
          { name: "d/a", type: "file", data: "a\n" },
          { name: "y", type: "symlink", linkname: "." },
          { name: "y/d/b", type: "file", data: "b\n" },
        ]),
        buildTar([
          // Across layers: the symlink replaced.
          { name: "x", type: "symlink", linkname: "tmp" },
          { name: "x/evil", type: "file", data: "evil\n" },
          // A directory replaced by a symlink, then used through another spelling (y -> .).
          { name: "d", type: "symlink", linkname: "etc" },
          { name: "y/d/c", type: "file", data: "c\n" },
          // Within one layer: twice.
          { name: "w", type: "symlink", linkname: "etc" },
          { name: "w/one", type: "file", data: "1\n" },
          { name: "w", type: "symlink", linkname: "tmp" },
          { name: "w/two", type: "file", data: "2\n" },
        ]),
      ];
      const img = await writeImage(`${dir}/layout`, "t", {
        layers: layers(["none", "gzip"], tars),
      });
      const snap = await assertSameTrees(dir, "symlink-swap", img.ref, img.umociRef);
      assert.equal(snap.nodes["tmp/evil"]?.type, "file");
      assert.equal(snap.nodes["etc/cron.d/evil"], undefined);
      assert.equal(snap.nodes["etc/c"]?.type, "file");
      assert.equal(snap.nodes["etc/one"]?.type, "file");
      assert.equal(snap.nodes["tmp/two"]?.type, "file");
    });
  },
);

peerTest(
  "unpack matches umoci: a deferred directory mode never reaches another directory",
  PEERS,
  async () => {
    // x/etc/ 0777 is applied after the layer; by then x -> / makes x/etc the root's etc.
    await withTemp(async (dir) => {
      const tars = [
        buildTar([{ name: "etc/", type: "dir", mode: 0o755 }, {
          name: "keep/",
          type: "dir",
          mode: 0o755,
        }]),
        buildTar([
          { name: "x/", type: "dir", mode: 0o755 },
          { name: "x/etc/", type: "dir", mode: 0o777 },
          { name: "x", type: "symlink", linkname: "/" },
          // A directory whited out and made again by a later entry's parent: the old mode stays
          // with the old directory.
          { name: "keep/sub/", type: "dir", mode: 0o700 },
          { name: "keep/.wh.sub", type: "file" },
          { name: "keep/sub/f", type: "file", data: "f\n" },
        ]),
      ];
      const img = await writeImage(`${dir}/layout`, "t", {
        layers: layers(["none", "none"], tars),
      });
      const snap = await assertSameTrees(dir, "deferred-mode", img.ref, img.umociRef);
      assert.equal(snap.nodes["etc"]?.mode, 0o755);
    });
  },
);
