/**
 * The layer cache and overlay root file systems (lib/store/layer_cache.ts, overlay_mount.ts,
 * rootfs_copy.ts) against `ocibox unpack` of the same images: the merged view of an overlay
 * mount over the cached layers, and the copy fallback's tree, must equal the unpacked rootfs
 * path by path (type, mode, owner, size, content, symlink target, devices, xattrs, hardlink
 * groups, the mtimes of everything but directories), or both must refuse the image with the
 * same error.
 *
 * The images are the ones the unpack tests use (tests/unpack_interop_test.ts: whiteouts, opaque
 * directories with the marker before and after its new siblings, type changes, hardlinks within
 * and across layers, devices, modes, owners, xattrs, long and UTF-8 names; and the contained
 * and refused cases of tests/hostile_layers_test.ts, with host paths replaced by paths that do
 * not exist here, since the cache has no canaries around it: overlay writes only to its upper
 * dir). Their layer lists are restated here because those files are test modules.
 *
 * Known difference, not met by these images: a hardlink made in a later layer to a lower file
 * that already had several names joins only the copied-up name (overlay copies the file up and
 * breaks it away from its other lower names; unpack links all of them), so hardlink groups and
 * link counts can differ there. A 0/0 character device in a layer (which overlay cannot hold,
 * it is its whiteout) becomes an empty file with a warning in layers above the first.
 *
 * Also: whiteouts are 0/0 character devices and opaque directories carry
 * `trusted.overlay.opaque=y` in the cached dirs; two containers share the cached layers (the
 * second ensureLayers builds nothing); an image of 520 layers mounts (bottom layers flattened)
 * and shows every layer's file; mount(2)'s option-string path; two processes caching one image
 * at once; a layer failing verification leaves nothing in the cache; pruning.
 * @module
 */
import assert from "node:assert/strict";
import { unpackBundle } from "../lib/bundle/unpack_bundle.ts";
import { OciboxError } from "../lib/errors.ts";
import {
  ensureLayers,
  type LayerEvent,
  listLayers,
  pruneLayers,
} from "../lib/store/layer_cache.ts";
import { diffDir, flatDir } from "../lib/store/layer_chain.ts";
import {
  type MountApi,
  mountOverlay,
  mountRootfs,
  OverlayUnavailableError,
  unmountRootfs,
} from "../lib/store/overlay_mount.ts";
import { copyRootfs } from "../lib/store/rootfs_copy.ts";
import { openSource } from "../lib/transport/open.ts";
import { resolveImage } from "../lib/transport/resolve.ts";
import { buildTar, type LayerSpec, type MemberSpec, writeImage } from "./support/images.ts";
import { peerTest } from "./support/peers.ts";
import { diffSnapshots, snapshotTree, type TreeSnapshot } from "./support/tree_snapshot.ts";

const PEERS = { peers: ["python3"], root: true };
const bytes = (s: string) => new TextEncoder().encode(s);
const MAIN_ENSURE = new URL("./support/ensure_layers_main.ts", import.meta.url).pathname;

// ---- the images of tests/unpack_interop_test.ts ------------------------------------------------

const PASSWD = "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000:Alice:/home/alice:/bin/sh\n";
const GROUP = "root:x:0:\nalice:x:1000:\n";
const LONG_DIR = `long/${"d".repeat(120)}`;
const LONG_FILE = `${LONG_DIR}/${"f".repeat(150)}`;
const UTF8_NAME = "utf8/héllo wörld 日本語 ✓.txt";

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
  { name: "implicit/parent/file", type: "file", data: "implicit\n" },
  { name: "late/child", type: "file", data: "child\n" },
  { name: "late/", type: "dir", mode: 0o711, uid: 1000, gid: 1001 },
  { name: "ro-dir/", type: "dir", mode: 0o555 },
  { name: "ro-dir/inside", type: "file", data: "inside\n" },
];

const LAYER2: MemberSpec[] = [
  { name: "data/.wh.gone.txt", type: "file" },
  { name: "data/.wh.sub", type: "file" },
  { name: "opq-before/", type: "dir", mode: 0o750 },
  { name: "opq-before/.wh..wh..opq", type: "file" },
  { name: "opq-before/new.txt", type: "file", data: "new\n" },
  { name: "opq-before/olddir/", type: "dir" },
  { name: "opq-before/olddir/z", type: "file", data: "z\n" },
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
  { name: "bin/app", type: "file", mode: 0o755, data: "#!/bin/sh\necho app v2\n" },
];

const LAYER3: MemberSpec[] = [
  { name: "hl-lower", type: "hardlink", linkname: "lower.txt" },
  { name: "bin/hl-app-hl", type: "hardlink", linkname: "bin/app-hl" },
  { name: ".wh.dangling", type: "file" },
  { name: "etc/", type: "dir", mode: 0o700 },
  { name: "new-in-3/", type: "dir" },
  { name: "new-in-3/link-to-long", type: "hardlink", linkname: LONG_FILE },
];

/** The other images of the unpack tests, each a list of layers. */
const UNPACK_IMAGES: Record<string, MemberSpec[][]> = {
  "a whiteout hides only lower layers": [
    [
      { name: "old.txt", type: "file", data: "old\n" },
      { name: "d/", type: "dir" },
      { name: "d/lower", type: "file", data: "lower\n" },
    ],
    [
      { name: "same.txt", type: "file", data: "same layer\n" },
      { name: ".wh.same.txt", type: "file" },
      { name: ".wh.old.txt", type: "file" },
      { name: "d/upper", type: "file", data: "upper\n" },
      { name: ".wh.d", type: "file" },
    ],
  ],
  "whiteouts of missing paths, an opaque root": [
    [
      { name: "a", type: "file", data: "a\n" },
      { name: "b/", type: "dir" },
      { name: "b/c", type: "file", data: "c\n" },
    ],
    [
      { name: "nope/.wh.x", type: "file" },
      { name: ".wh.missing", type: "file" },
      { name: "b/.wh.missing", type: "file" },
    ],
    [
      { name: "./", type: "dir", mode: 0o750 },
      { name: "new", type: "file", data: "new\n" },
      { name: "./.wh..wh..opq", type: "file" },
    ],
  ],
  "entry names with ./, / and // spellings": [
    [
      { name: "./a/", type: "dir", mode: 0o750 },
      { name: "./a/x", type: "file", data: "x\n" },
      { name: "/abs/file", type: "file", data: "abs\n" },
      { name: "b//c", type: "file", data: "c\n" },
      { name: "./d/./e", type: "file", data: "e\n" },
      { name: "f/g/../h", type: "file", data: "h\n" },
    ],
    [
      { name: "a/.wh.x", type: "file" },
      { name: "/abs/.wh.file", type: "file" },
      { name: "./b/c", type: "file", data: "c2\n" },
      { name: "d/e", type: "hardlink", linkname: "./b//c" },
    ],
  ],
  "a whiteout through a symlinked directory, with a dir entry": [
    [
      { name: "usr/", type: "dir" },
      { name: "usr/lib/", type: "dir" },
      { name: "usr/lib/foo/", type: "dir" },
      { name: "usr/lib/foo/old", type: "file", data: "old\n" },
      { name: "lib", type: "symlink", linkname: "usr/lib" },
    ],
    [
      { name: "lib/.wh.foo", type: "file" },
      { name: "usr/lib/foo/", type: "dir" },
      { name: "usr/lib/foo/new", type: "file", data: "new\n" },
    ],
  ],
  "a whiteout through a symlinked directory, implicit parent": [
    [
      { name: "usr/", type: "dir" },
      { name: "usr/lib/", type: "dir" },
      { name: "usr/lib/foo/", type: "dir" },
      { name: "usr/lib/foo/old", type: "file", data: "old\n" },
      { name: "lib", type: "symlink", linkname: "usr/lib" },
    ],
    [
      { name: "lib/.wh.foo", type: "file" },
      { name: "usr/lib/foo/new", type: "file", data: "new\n" },
    ],
  ],
  "a directory entry over a directory replaces its xattrs": [
    [
      { name: "./", type: "dir", xattrs: new Map([["user.root", bytes("old")]]) },
      { name: "d/", type: "dir", xattrs: new Map([["user.old", bytes("old")]]) },
      { name: "e/", type: "dir", xattrs: new Map([["user.keep", bytes("1")]]) },
    ],
    [
      { name: "./", type: "dir" },
      { name: "d/", type: "dir", mode: 0o700 },
      { name: "e/", type: "dir", xattrs: new Map([["user.new", bytes("2")]]) },
    ],
  ],
  "a symlink or directory replaced by a symlink": [
    [
      { name: "etc/", type: "dir" },
      { name: "etc/cron.d/", type: "dir" },
      { name: "tmp/", type: "dir" },
      { name: "x", type: "symlink", linkname: "etc/cron.d" },
      { name: "x/placeholder", type: "file", data: "p\n" },
      { name: "d/", type: "dir" },
      { name: "d/a", type: "file", data: "a\n" },
      { name: "y", type: "symlink", linkname: "." },
      { name: "y/d/b", type: "file", data: "b\n" },
    ],
    [
      { name: "x", type: "symlink", linkname: "tmp" },
      { name: "x/evil", type: "file", data: "evil\n" },
      { name: "d", type: "symlink", linkname: "etc" },
      { name: "y/d/c", type: "file", data: "c\n" },
      { name: "w", type: "symlink", linkname: "etc" },
      { name: "w/one", type: "file", data: "1\n" },
      { name: "w", type: "symlink", linkname: "tmp" },
      { name: "w/two", type: "file", data: "2\n" },
    ],
  ],
  "a deferred directory mode never reaches another directory": [
    [
      { name: "etc/", type: "dir", mode: 0o755 },
      { name: "keep/", type: "dir", mode: 0o755 },
    ],
    [
      { name: "x/", type: "dir", mode: 0o755 },
      { name: "x/etc/", type: "dir", mode: 0o777 },
      { name: "x", type: "symlink", linkname: "/" },
      { name: "keep/sub/", type: "dir", mode: 0o700 },
      { name: "keep/.wh.sub", type: "file" },
      { name: "keep/sub/f", type: "file", data: "f\n" },
    ],
  ],
  // Not from the unpack tests: overlay shows the upper dir's root, so each build's upper dir and
  // each container's must start with the attributes of the image's root so far.
  "root attributes set by a lower layer only": [
    [
      {
        name: "./",
        type: "dir",
        mode: 0o750,
        uid: 1000,
        gid: 1001,
        mtime: 1_234_567_890,
        xattrs: new Map([["user.root", bytes("lower")]]),
      },
      { name: "a", type: "file", data: "a\n" },
    ],
    [{ name: "b", type: "file", data: "b\n" }],
    [{ name: ".wh.a", type: "file" }],
  ],
};

// ---- the cases of tests/hostile_layers_test.ts ---------------------------------------------------

/** Host paths of the hostile cases; nothing exists there (the cache has no canaries). */
const HOST = "/nonexistent-ocibox-host";
const EVIL = "evil\n";
const evilFile = (name: string): MemberSpec => ({ name, type: "file", data: EVIL });
const LOWER_WITH_ROOT_LINK: MemberSpec[] = [
  { name: "keep/", type: "dir" },
  { name: "keep/a", type: "file", data: "a\n" },
  { name: "other", type: "file", data: "other\n" },
  { name: "sym", type: "symlink", linkname: "/" },
];
const TAR_WITH_DATA = buildTar([
  { name: "a/", type: "dir" },
  { name: "a/big", type: "file", data: "x".repeat(3000) },
  { name: "a/after", type: "file", data: "after\n" },
]);
const BASE: MemberSpec[] = [
  { name: "etc/", type: "dir" },
  { name: "etc/hostname", type: "file", data: "base\n" },
];

function flipByte(b: Uint8Array, at: number): Uint8Array {
  const out = b.slice();
  out[at] ^= 0x5a;
  return out;
}

const HOSTILE: Record<string, (MemberSpec[] | LayerSpec)[]> = {
  "escape -> /, file escape/evil": [[
    { name: "escape", type: "symlink", linkname: "/" },
    evilFile("escape/evil"),
  ]],
  "escape -> ../../.., file escape/evil (above a base layer)": [BASE, [
    { name: "escape", type: "symlink", linkname: "../../.." },
    evilFile("escape/evil"),
  ]],
  "escape -> /, dir escape/sub/": [BASE, [
    { name: "escape", type: "symlink", linkname: "/" },
    { name: "escape/sub/", type: "dir", mode: 0o700 },
  ]],
  "escape -> ../../.., char device escape/null": [BASE, [
    { name: "escape", type: "symlink", linkname: "../../.." },
    { name: "escape/null", type: "char", devmajor: 1, devminor: 3, mode: 0o666 },
  ]],
  "escape -> host dir, file escape/inner.txt": [BASE, [
    { name: "escape", type: "symlink", linkname: `${HOST}/canary` },
    evilFile("escape/inner.txt"),
  ]],
  "escape -> host dir in layer 1, file escape/inner.txt in layer 2": [
    [{ name: "escape", type: "symlink", linkname: `${HOST}/canary` }],
    [evilFile("escape/inner.txt")],
  ],
  "escape -> host dir where the rootfs has its own": [
    [{ name: `${HOST.slice(1)}/canary/`, type: "dir" }],
    [{ name: "escape", type: "symlink", linkname: `${HOST}/canary` }, evilFile("escape/inner.txt")],
  ],
  "link -> host file in layer 1, a regular file link (4777) in layer 2": [
    [{ name: "link", type: "symlink", linkname: `${HOST}/canary.txt` }],
    [{ ...evilFile("link"), mode: 0o4777 }],
  ],
  "link -> host dir, then dir link/ 0700 with a file": [
    [{ name: "link", type: "symlink", linkname: `${HOST}/canary` }],
    [{ name: "link/", type: "dir", mode: 0o700, uid: 1234 }, evilFile("link/inner.txt")],
  ],
  "link -> /etc/passwd, then hardlink link -> f": [BASE, [
    { name: "link", type: "symlink", linkname: "/etc/passwd" },
    evilFile("f"),
    { name: "link", type: "hardlink", linkname: "f" },
  ]],
  "dir d/ 0700, then d -> host dir in the same layer": [BASE, [
    { name: "d/", type: "dir", mode: 0o700, mtime: 12345 },
    { name: "d", type: "symlink", linkname: `${HOST}/canary` },
  ]],
  "s -> host file, hardlink h -> s": [BASE, [
    { name: "s", type: "symlink", linkname: `${HOST}/canary.txt` },
    { name: "h", type: "hardlink", linkname: "s" },
  ]],
  "hardlink h -> /etc/passwd of a lower layer": [
    [{ name: "etc/", type: "dir" }, { name: "etc/passwd", type: "file", data: "root:x:0:0\n" }],
    [{ name: "h", type: "hardlink", linkname: "/etc/passwd" }],
  ],
  "sym -> host dir, whiteout sym/.wh.inner.txt": [
    [{ name: "sym", type: "symlink", linkname: `${HOST}/canary` }],
    [{ name: "sym/.wh.inner.txt", type: "file" }],
  ],
  "sym -> /, whiteout sym/.wh.victim of a lower file": [
    [{ name: "sym", type: "symlink", linkname: "/" }, evilFile("victim"), evilFile("other")],
    [{ name: "sym/.wh.victim", type: "file" }],
  ],
  "sym -> /, whiteout sym/.wh.keep of a lower directory, then keep/c": [
    LOWER_WITH_ROOT_LINK,
    [{ name: "sym/.wh.keep", type: "file" }, evilFile("keep/c")],
  ],
  "sym -> ../.., opaque sym/.wh..wh..opq": [
    [{ name: "sym", type: "symlink", linkname: "../.." }, evilFile("a")],
    [{ name: "sym/.wh..wh..opq", type: "file" }],
  ],
  "sym -> /, keep/b, opaque sym/.wh..wh..opq, keep/c": [
    LOWER_WITH_ROOT_LINK,
    [evilFile("keep/b"), { name: "sym/.wh..wh..opq", type: "file" }, evilFile("keep/c")],
  ],
  "opaque through a symlinked directory (lib -> usr/lib), marker first": [
    [
      { name: "usr/", type: "dir" },
      { name: "usr/lib/", type: "dir" },
      { name: "usr/lib/a", type: "file", data: "a\n" },
      { name: "usr/lib/d/", type: "dir" },
      { name: "usr/lib/d/b", type: "file", data: "b\n" },
      { name: "lib", type: "symlink", linkname: "usr/lib" },
    ],
    [{ name: "lib/.wh..wh..opq", type: "file" }, evilFile("lib/new")],
  ],
  "opaque directory replaced by a file later in the layer": [
    [{ name: "d/", type: "dir" }, evilFile("d/x")],
    [{ name: "d/.wh..wh..opq", type: "file" }, { name: "d", type: "file", data: "file\n" }],
  ],
  "x -> etc/cron.d, then x -> tmp with x/evil": [
    [
      { name: "etc/", type: "dir" },
      { name: "etc/cron.d/", type: "dir" },
      { name: "tmp/", type: "dir" },
      { name: "x", type: "symlink", linkname: "etc/cron.d" },
      { name: "x/placeholder", type: "file", data: "p\n" },
    ],
    [{ name: "x", type: "symlink", linkname: "tmp" }, evilFile("x/evil")],
  ],
  "x/etc/ 0777, then x -> /": [
    [{ name: "etc/", type: "dir", mode: 0o755 }],
    [
      { name: "x/", type: "dir", mode: 0o755 },
      { name: "x/etc/", type: "dir", mode: 0o777 },
      { name: "x", type: "symlink", linkname: "/" },
    ],
  ],
  // Refused by unpack: the cache must refuse them alike, in the first layer (applied
  // directly) and above one (applied through an overlay).
  "refused: file ../evil": [BASE, [evilFile("../evil")]],
  "refused: file ../evil in the first layer": [[evilFile("../evil")]],
  "refused: hardlink h -> /etc/passwd without one": [BASE, [
    { name: "h", type: "hardlink", linkname: "/etc/passwd" },
  ]],
  "refused: whiteout .wh.": [BASE, [{ name: ".wh.", type: "file" }]],
  "refused: symlink target with a NUL byte": [BASE, [
    { name: "link", type: "symlink", linkname: `etc/passwd\0${"x".repeat(100)}` },
  ]],
  "refused: uid 2^40": [BASE, [{ name: "f", type: "file", data: "f\n", uid: 2 ** 40 }]],
  "refused: tar cut in entry data": [BASE, { tar: TAR_WITH_DATA.slice(0, 512 + 512 + 1500) }],
  "refused: plain blob with a flipped byte": [BASE, {
    tar: TAR_WITH_DATA,
    tamper: (b) => flipByte(b, 512 + 512 + 10),
  }],
  "refused: config diff_id wrong (first layer)": [{
    tar: TAR_WITH_DATA,
    diffId: `sha256:${"0".repeat(64)}`,
  }],
  "refused: gzip blob with a flipped byte": [BASE, {
    tar: TAR_WITH_DATA,
    compression: "gzip",
    tamper: (b) => flipByte(b, b.length >> 1),
  }],
};

// ---- helpers -------------------------------------------------------------------------------------

async function withTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "ocibox-cache-" }));
  try {
    await fn(dir);
  } finally {
    for (const m of mountsUnder(dir).reverse()) unmountRootfs(m);
    await Deno.remove(dir, { recursive: true });
  }
}

/** Mount points at or under `dir`, in mount order. */
function mountsUnder(dir: string): string[] {
  return Deno.readTextFileSync("/proc/self/mountinfo").split("\n")
    .map((l) => l.split(" ")[4])
    .filter((p) => p !== undefined && (p === dir || p.startsWith(dir + "/")));
}

function toSpecs(layers: (MemberSpec[] | LayerSpec)[]): LayerSpec[] {
  return layers.map((l) => Array.isArray(l) ? { tar: buildTar(l) } : l);
}

interface Outcome {
  tree?: TreeSnapshot;
  error?: unknown;
}

function describe(e: unknown): string {
  return e instanceof OciboxError ? `${e.constructor.name} ${e.code}: ${e.message}` : String(e);
}

async function withSource<T>(
  ref: string,
  fn: (src: Awaited<ReturnType<typeof openSource>>) => Promise<T>,
): Promise<T> {
  const src = await openSource(ref);
  try {
    return await fn(src);
  } finally {
    await src.close();
  }
}

async function unpacked(ref: string, bundle: string): Promise<Outcome> {
  try {
    await withSource(ref, (src) => unpackBundle(src, bundle, { rootless: false }));
  } catch (error) {
    return { error };
  }
  return { tree: await snapshotTree(`${bundle}/rootfs`, { mtimes: "nondir" }) };
}

interface Cached extends Outcome {
  chainIds?: string[];
  events: LayerEvent[];
}

/** ensureLayers + mountRootfs of `ref` in `store`, the merged tree snapshotted and unmounted. */
async function viaCache(
  ref: string,
  store: string,
  ctr: string,
  api?: MountApi,
): Promise<Cached> {
  const events: LayerEvent[] = [];
  let chainIds: string[];
  try {
    chainIds = await withSource(ref, async (src) => {
      const image = await resolveImage(src);
      return await ensureLayers(store, src, image, { api, onLayer: (e) => events.push(e) });
    });
  } catch (error) {
    return { error, events };
  }
  const rootfs = `${ctr}/rootfs`;
  await mountRootfs(store, chainIds, `${ctr}/upper`, `${ctr}/work`, rootfs, { api });
  try {
    return { chainIds, events, tree: await snapshotTree(rootfs, { mtimes: "nondir" }) };
  } finally {
    assert.ok(unmountRootfs(rootfs));
  }
}

function assertSameOutcome(label: string, a: Outcome, b: Outcome, labels: [string, string]) {
  if (a.error || b.error) {
    assert.ok(
      a.error && b.error,
      `${label}: ${labels[0]} ${a.error ? describe(a.error) : "succeeded"}, ` +
        `${labels[1]} ${b.error ? describe(b.error) : "succeeded"}`,
    );
    assert.equal(
      (b.error as Error).constructor,
      (a.error as Error).constructor,
      `${label}: ${describe(a.error)} vs ${describe(b.error)}`,
    );
    assert.equal((b.error as OciboxError).code, (a.error as OciboxError).code, label);
    return;
  }
  const diffs = diffSnapshots(a.tree!, b.tree!, labels);
  assert.deepEqual(diffs, [], `${label}: trees differ:\n${diffs.join("\n")}`);
}

/** Nothing staged or mounted is left in the store after a build, whatever its outcome. */
async function assertStoreClean(store: string, label: string): Promise<void> {
  const tmp = await Array.fromAsync(Deno.readDir(`${store}/tmp`)).catch(() => []);
  assert.deepEqual(tmp.map((e) => e.name), [], `${label}: staging left in STORE/tmp`);
  assert.deepEqual(mountsUnder(store), [], `${label}: mounts left in the store`);
}

/** Chain ids in the cache of `store`. */
async function cachedIds(store: string): Promise<Set<string>> {
  return new Set((await listLayers(store)).map((l) => l.chainId));
}

/**
 * The whole comparison for one image: unpack, the overlay over the cache, and the copy
 * fallback from the cache and from the blobs; returns the cache outcome.
 */
async function compareAll(dir: string, label: string, ref: string): Promise<Cached> {
  const tag = label.replace(/[^a-z0-9]+/gi, "-").slice(0, 40);
  const store = `${dir}/store-${tag}`;
  const expected = await unpacked(ref, `${dir}/bundle-${tag}`);
  const cached = await viaCache(ref, store, `${dir}/ctr-${tag}`);
  await assertStoreClean(store, label);
  assertSameOutcome(label, expected, cached, ["unpack", "overlay"]);
  if (cached.error) {
    // The layer that failed is not cached; the ones below it (verified) may be.
    const ids = await cachedIds(store);
    assert.ok(ids.size < (cached.events.length + 1), label);
    assert.equal(ids.size, cached.events.length, `${label}: only the layers that succeeded`);
    return cached;
  }
  // The copy fallback, from the cache and (a store without it) from the blobs.
  for (const from of ["cache", "layers"] as const) {
    const target = `${dir}/copy-${from}-${tag}/rootfs`;
    const result = await withSource(ref, async (src) => {
      const image = await resolveImage(src);
      const s = from === "cache" ? store : `${dir}/empty-store-${tag}`;
      return await copyRootfs(s, src, image, target, { rootless: false });
    });
    assert.equal(result.source, from);
    const tree = await snapshotTree(target, { mtimes: "nondir" });
    assertSameOutcome(`${label} (copy from ${from})`, expected, { tree }, ["unpack", "copy"]);
  }
  return cached;
}

// ---- tests ---------------------------------------------------------------------------------------

peerTest(
  "layer cache + overlay equal unpack: hand-crafted layers (gzip, zstd, plain)",
  PEERS,
  async () => {
    await withTemp(async (dir) => {
      const img = await writeImage(`${dir}/layout`, "t", {
        layers: [
          { tar: buildTar(LAYER1), compression: "gzip" },
          { tar: buildTar(LAYER2), compression: "zstd" },
          { tar: buildTar(LAYER3) },
        ],
      });
      const cached = await compareAll(dir, "crafted", img.ref);
      const n = cached.tree!.nodes;
      assert.equal(n["data/gone.txt"], undefined);
      assert.equal(n["opq-before/old.txt"], undefined);
      assert.equal(n["opq-after/olddir/y"], undefined);
      assert.equal(n["opq-after/olddir/w"]?.type, "file");
      assert.equal(n["dev/null"]?.type, "char");
      assert.deepEqual(cached.tree!.hardlinks, [
        ["bin/app-hl", "bin/hl-app-hl"],
        ["hl-lower", "lower.txt"],
        [LONG_FILE, "new-in-3/link-to-long"],
      ]);
      // In the cached dirs: whiteouts are 0/0 character devices, opaque directories are marked
      // (with no whiteouts left in them), and nothing else of overlay's leaks into the view.
      const store = `${dir}/store-crafted`;
      const layer2 = await snapshotTree(diffDir(store, cached.chainIds![1]), { mtimes: "none" });
      for (const gone of ["data/gone.txt", "data/sub"]) {
        const w = layer2.nodes[gone];
        assert.deepEqual([w?.type, w?.major, w?.minor], ["char", 0, 0], `${gone} is a whiteout`);
      }
      for (const d of ["opq-before", "opq-after"]) {
        assert.equal(layer2.nodes[d]?.xattrs["trusted.overlay.opaque"], "79", `${d} is opaque`);
        assert.equal(layer2.nodes[`${d}/old.txt`], undefined, `${d}: no whiteouts inside`);
        assert.equal(layer2.nodes[`${d}/new.txt`]?.type, "file");
      }
      assert.equal(layer2.nodes["data"]?.xattrs["trusted.overlay.opaque"], undefined);
      const layer3 = await snapshotTree(diffDir(store, cached.chainIds![2]), { mtimes: "none" });
      assert.equal(layer3.nodes["dangling"]?.type, "char", "whiteout of a symlink");
      assert.equal(layer3.nodes["lower.txt"]?.type, "file", "copied up for the hardlink");
      for (const node of Object.values(cached.tree!.nodes)) {
        assert.ok(!Object.keys(node.xattrs).some((x) => x.startsWith("trusted.overlay.")));
      }
    });
  },
);

for (const [name, layers] of Object.entries(UNPACK_IMAGES)) {
  peerTest(`layer cache + overlay equal unpack: ${name}`, PEERS, async () => {
    await withTemp(async (dir) => {
      const img = await writeImage(`${dir}/layout`, "t", { layers: toSpecs(layers) });
      const cached = await compareAll(dir, name, img.ref);
      assert.ok(cached.tree, `${name}: unpack succeeds on these`);
    });
  });
}

peerTest(
  "layer cache + overlay equal unpack: hostile layers (contained or refused alike)",
  PEERS,
  async () => {
    await withTemp(async (dir) => {
      for (const [name, layers] of Object.entries(HOSTILE)) {
        const img = await writeImage(`${dir}/layout`, name.replace(/[^a-z0-9]+/gi, "-"), {
          layers: toSpecs(layers),
        });
        const cached = await compareAll(dir, name, img.ref);
        if (name.startsWith("refused:")) assert.ok(cached.error, `${name}: refused`);
      }
    });
  },
);

peerTest("two containers of one image share its cached layers (built once)", PEERS, async () => {
  await withTemp(async (dir) => {
    const img = await writeImage(`${dir}/layout`, "t", {
      layers: [{ tar: buildTar(LAYER1), compression: "gzip" }, { tar: buildTar(LAYER2) }],
    });
    const store = `${dir}/store`;
    const first = await viaCache(img.ref, store, `${dir}/c1`);
    assert.deepEqual(first.events.map((e) => e.built), [true, true]);
    const events: LayerEvent[] = [];
    const ids = await withSource(img.ref, async (src) => {
      return await ensureLayers(store, src, await resolveImage(src), {
        onLayer: (e) => events.push(e),
      });
    });
    assert.deepEqual(ids, first.chainIds);
    assert.deepEqual(events.map((e) => e.built), [false, false], "nothing applied the second time");

    const [r1, r2] = [`${dir}/c1/rootfs`, `${dir}/c2/rootfs`];
    await mountRootfs(store, ids, `${dir}/c1/upper`, `${dir}/c1/work`, r1);
    await mountRootfs(store, ids, `${dir}/c2/upper`, `${dir}/c2/work`, r2);
    try {
      // The same inode of the cache behind both views.
      const cachedFile = await Deno.lstat(`${diffDir(store, ids[0])}/etc/group`);
      assert.equal((await Deno.lstat(`${r1}/etc/group`)).ino, cachedFile.ino);
      assert.equal((await Deno.lstat(`${r2}/etc/group`)).ino, cachedFile.ino);
      // Each container writes to its own upper dir only.
      await Deno.writeTextFile(`${r1}/etc/group`, "changed\n");
      await Deno.writeTextFile(`${r1}/new.txt`, "one\n");
      assert.equal(await Deno.readTextFile(`${r2}/etc/group`), GROUP);
      await assert.rejects(Deno.lstat(`${r2}/new.txt`), Deno.errors.NotFound);
      assert.equal(await Deno.readTextFile(`${diffDir(store, ids[0])}/etc/group`), GROUP);
      assert.equal(await Deno.readTextFile(`${dir}/c1/upper/new.txt`), "one\n");
      // Root attributes come from the image (layer 1's "./" entry), not from the upper dir.
      assert.equal((await Deno.stat(r2)).mode! & 0o7777, 0o755);
    } finally {
      unmountRootfs(r1);
      unmountRootfs(r2);
    }
    assert.equal((await listLayers(store)).length, 2);
  });
});

/** An image of `count` layers: layer i adds `layers/fI`; every 50th also whites out the last. */
async function tallImage(dir: string, count: number): Promise<string> {
  const layers: LayerSpec[] = [];
  for (let i = 0; i < count; i++) {
    const members: MemberSpec[] = [{ name: `layers/f${i}`, type: "file", data: `${i}\n` }];
    if (i === 0) members.unshift({ name: "layers/", type: "dir", mode: 0o755 });
    if (i % 50 === 49) members.push({ name: `layers/.wh.f${i - 1}`, type: "file" });
    layers.push({ tar: buildTar(members) });
  }
  return (await writeImage(`${dir}/layout`, `tall-${count}`, { layers })).ref;
}

peerTest(
  "an image of 520 layers mounts (bottom layers flattened) and shows every layer",
  PEERS,
  async () => {
    await withTemp(async (dir) => {
      const ref = await tallImage(dir, 520);
      const store = `${dir}/store`;
      const expected = await unpacked(ref, `${dir}/bundle`);
      const cached = await viaCache(ref, store, `${dir}/ctr`);
      assertSameOutcome("520 layers", expected, cached, ["unpack", "overlay"]);
      const names = Object.keys(cached.tree!.nodes).filter((p) => p.startsWith("layers/f"));
      assert.equal(names.length, 520 - 10, "every layer's file but the 10 whited out");
      assert.equal(cached.tree!.nodes["layers/f519"]?.type, "file");
      assert.equal(cached.tree!.nodes["layers/f48"], undefined);
      // Layers 0..99 merged once, beside layer 99, and used by the builds above layer 500 too.
      const ids = cached.chainIds!;
      assert.ok((await Deno.lstat(flatDir(store, ids[99]))).isDirectory);
      const flats = (await listLayers(store)).filter((l) => l.flat);
      assert.deepEqual(flats.map((l) => l.chainId), [ids[99]]);
      await assertStoreClean(store, "520 layers");
    });
  },
);

peerTest(
  "mount(2) with an option string: layers by /proc/self/fd, 200 layers flattened to fit",
  PEERS,
  async () => {
    await withTemp(async (dir) => {
      const ref = await tallImage(dir, 200);
      const expected = await unpacked(ref, `${dir}/bundle`);
      const cached = await viaCache(ref, `${dir}/store`, `${dir}/ctr`, "legacy");
      assertSameOutcome("200 layers, mount(2)", expected, cached, ["unpack", "overlay"]);
      assert.ok((await Deno.lstat(flatDir(`${dir}/store`, cached.chainIds![99]))).isDirectory);
      const img = await writeImage(`${dir}/layout`, "crafted", {
        layers: [{ tar: buildTar(LAYER1) }, { tar: buildTar(LAYER2) }, { tar: buildTar(LAYER3) }],
      });
      const crafted = await viaCache(img.ref, `${dir}/store2`, `${dir}/ctr2`, "legacy");
      assertSameOutcome("crafted, mount(2)", await unpacked(img.ref, `${dir}/b2`), crafted, [
        "unpack",
        "overlay",
      ]);
    });
  },
);

peerTest("two processes caching one image at once make one correct cache", PEERS, async () => {
  await withTemp(async (dir) => {
    // Layers big enough for the two builds to overlap.
    const layers: LayerSpec[] = [];
    for (let l = 0; l < 4; l++) {
      const members: MemberSpec[] = [{ name: `l${l}/`, type: "dir" }];
      for (let f = 0; f < 300; f++) {
        const data = crypto.getRandomValues(new Uint8Array(4096 + f));
        members.push({ name: `l${l}/f${f}`, type: "file", data });
      }
      if (l > 0) members.push({ name: `l${l - 1}/.wh.f0`, type: "file" });
      layers.push({ tar: buildTar(members), compression: "gzip" });
    }
    const img = await writeImage(`${dir}/layout`, "t", { layers });
    const store = `${dir}/store`;
    const spawn = () =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", MAIN_ENSURE, store, img.ref],
        stdout: "piped",
        stderr: "piped",
      }).output();
    const outs = await Promise.all([spawn(), spawn()]);
    const built = [0, 0];
    for (const [i, out] of outs.entries()) {
      assert.ok(out.success, new TextDecoder().decode(out.stderr));
      const events = new TextDecoder().decode(out.stdout).trim().split("\n").map((l) =>
        JSON.parse(l) as LayerEvent
      );
      assert.equal(events.length, 4);
      built[i] = events.filter((e) => e.built).length;
    }
    assert.ok(built[0] + built[1] >= 4, `every layer built by one of them (${built})`);
    console.log(`layers built by each process: ${built.join(" and ")}`);
    assert.equal((await listLayers(store)).length, 4);
    await assertStoreClean(store, "concurrent");
    const expected = await unpacked(img.ref, `${dir}/bundle`);
    const cached = await viaCache(img.ref, store, `${dir}/ctr`);
    assert.deepEqual(cached.events.map((e) => e.built), [false, false, false, false]);
    assertSameOutcome("concurrent", expected, cached, ["unpack", "overlay"]);
  });
});

peerTest("a layer failing verification leaves nothing of itself in the cache", PEERS, async () => {
  await withTemp(async (dir) => {
    const good = buildTar(BASE);
    const img = await writeImage(`${dir}/layout`, "t", {
      layers: [{ tar: good }, { tar: TAR_WITH_DATA, tamper: (b) => flipByte(b, 1100) }],
    });
    const store = `${dir}/store`;
    const cached = await viaCache(img.ref, store, `${dir}/ctr`);
    assert.equal((cached.error as OciboxError)?.code, "DIGEST_MISMATCH", describe(cached.error));
    assert.deepEqual([...await cachedIds(store)], [cached.events[0].chainId]);
    await assertStoreClean(store, "tampered layer 2");
    // A bad first layer: the cache stays empty.
    const bad = await writeImage(`${dir}/layout`, "u", {
      layers: [{ tar: good, diffId: `sha256:${"1".repeat(64)}` }, { tar: TAR_WITH_DATA }],
    });
    const store2 = `${dir}/store2`;
    const failed = await viaCache(bad.ref, store2, `${dir}/ctr2`);
    assert.equal((failed.error as OciboxError)?.code, "DIGEST_MISMATCH");
    assert.equal((await cachedIds(store2)).size, 0);
    assert.deepEqual(await Array.fromAsync(Deno.readDir(`${store2}/layers/sha256`)), []);
    await assertStoreClean(store2, "bad layer 1");
  });
});

peerTest("pruneLayers keeps what a kept layer stands on and removes the rest", PEERS, async () => {
  await withTemp(async (dir) => {
    const base = [{ tar: buildTar(BASE) }, { tar: buildTar([evilFile("shared")]) }];
    const a = await writeImage(`${dir}/layout`, "a", {
      layers: [...base, { tar: buildTar([evilFile("only-a")]) }],
    });
    const b = await writeImage(`${dir}/layout`, "b", {
      layers: [...base, { tar: buildTar([evilFile("only-b")]) }],
    });
    const store = `${dir}/store`;
    const ca = await viaCache(a.ref, store, `${dir}/ca`);
    const cb = await viaCache(b.ref, store, `${dir}/cb`);
    assert.deepEqual(cb.events.map((e) => e.built), [false, false, true], "the base is shared");
    assert.equal((await listLayers(store)).length, 4);
    const pruned = await pruneLayers(store, new Set([ca.chainIds![2]]));
    assert.deepEqual(pruned.removed, [cb.chainIds![2]]);
    assert.deepEqual(await cachedIds(store), new Set(ca.chainIds));
    const all = await pruneLayers(store, new Set());
    assert.equal(all.removed.length, 3);
    assert.equal((await listLayers(store)).length, 0);
    await assertStoreClean(store, "prune");
  });
});

peerTest(
  "where overlay cannot be mounted, ensureLayers says so first; the copy is unpack's tree",
  PEERS,
  async () => {
    await withTemp(async (dir) => {
      // A store on overlayfs: overlay refuses another overlay's files as its upper dir.
      for (const d of ["l", "u", "w", "m"]) await Deno.mkdir(`${dir}/${d}`);
      mountOverlay(
        { lowerDirs: [`${dir}/l`], upperDir: `${dir}/u`, workDir: `${dir}/w` },
        `${dir}/m`,
      );
      const store = `${dir}/m/store`;
      const img = await writeImage(`${dir}/layout`, "t", {
        layers: [{ tar: buildTar(LAYER1) }, { tar: buildTar(LAYER2) }, { tar: buildTar(LAYER3) }],
      });
      const cached = await viaCache(img.ref, store, `${dir}/m/ctr`);
      assert.ok(cached.error instanceof OverlayUnavailableError, describe(cached.error));
      assert.match((cached.error as Error).message, /not supported as upperdir|invalid argument/);
      assert.equal(cached.events.length, 0, "nothing built before the check");
      await assertStoreClean(store, "overlay unavailable");
      const expected = await unpacked(img.ref, `${dir}/bundle`);
      const target = `${dir}/m/ctr/rootfs`;
      const result = await withSource(img.ref, async (src) => {
        return await copyRootfs(store, src, await resolveImage(src), target, { rootless: false });
      });
      assert.equal(result.source, "layers");
      const tree = await snapshotTree(target, { mtimes: "nondir" });
      assertSameOutcome("copy on overlayfs", expected, { tree }, ["unpack", "copy"]);
    });
  },
);

peerTest("a store deeper than fsconfig's 255-byte strings still mounts", PEERS, async () => {
  await withTemp(async (dir) => {
    const store = `${dir}/${"s".repeat(120)}/${"t".repeat(120)}/store`;
    const img = await writeImage(`${dir}/layout`, "t", {
      layers: [{ tar: buildTar(LAYER1) }, { tar: buildTar(LAYER2) }],
    });
    const expected = await unpacked(img.ref, `${dir}/bundle`);
    const cached = await viaCache(img.ref, store, `${store}/containers/c`);
    assertSameOutcome("deep store", expected, cached, ["unpack", "overlay"]);
  });
});

peerTest(
  "a 0/0 character device (overlay's whiteout) is hidden in layer 0, an empty file above",
  PEERS,
  async () => {
    // A known difference from unpack, which makes the device: overlay cannot hold one.
    await withTemp(async (dir) => {
      const dev = (name: string): MemberSpec => ({ name, type: "char", devmajor: 0, devminor: 0 });
      const img = await writeImage(`${dir}/layout`, "t", {
        layers: [{ tar: buildTar([dev("zero0"), evilFile("f")]) }, {
          tar: buildTar([dev("zero1")]),
        }],
      });
      const cached = await viaCache(img.ref, `${dir}/store`, `${dir}/ctr`);
      const n = cached.tree!.nodes;
      assert.equal(n["zero0"], undefined);
      assert.deepEqual([n["zero1"]?.type, n["zero1"]?.mode, n["zero1"]?.size], ["file", 0, 0]);
      assert.equal(n["f"]?.type, "file");
    });
  },
);
