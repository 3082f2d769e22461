/**
 * The tar codec against independent implementations: archives GNU tar and Python's `tarfile`
 * made (v7, ustar, gnu, posix; devices, long names and links, xattrs, big ids, old and future
 * times) read by TarReader exactly as Python reads them, in any chunking; archives TarReader's
 * writer made listed, extracted and read back by GNU tar and Python field for field; and name
 * bytes that are not UTF-8 decoded as Python's surrogateescape does.
 * @module
 */
import assert from "node:assert/strict";
import { makeEntry, type TarEntry } from "../lib/archive/tar/entry.ts";
import { checkHeaderBlock, decodeTarString, encodeTarString } from "../lib/archive/tar/header.ts";
import { readTarEntries, scanTarFile } from "../lib/archive/tar/reader.ts";
import {
  encodeEntryHeader,
  endOfArchive,
  paddingFor,
  RECORD_SIZE,
} from "../lib/archive/tar/writer.ts";
import { peerTest } from "./support/peers.ts";
import {
  concat,
  dumpEntry,
  type MemberDump,
  mustRun,
  parseInChunks,
  python,
  pythonDump,
  run,
  sha256,
} from "./support/tar_oracles.ts";

// ---- Names ---------------------------------------------------------------------------------

const enc = (s: string) => new TextEncoder().encode(s);

peerTest("names: invalid UTF-8 decodes like Python's surrogateescape and encodes back", {
  peers: ["python3"],
}, async () => {
  const samples: Uint8Array[] = [
    enc("plain"),
    enc("héllo ☃ 𝄞"),
    new Uint8Array([0x61, 0xff, 0x62]),
    new Uint8Array([0xc0, 0x80]), // overlong NUL
    new Uint8Array([0xed, 0xa0, 0x80]), // encoded surrogate
    new Uint8Array([0xe2, 0x82]), // truncated sequence
    new Uint8Array([0xe2, 0x82, 0x41]),
    new Uint8Array([0xf4, 0x90, 0x80, 0x80]), // above U+10FFFF
    new Uint8Array([0xf0, 0x9f, 0x98, 0x80, 0x80]),
  ];
  let seed = 42;
  for (let i = 0; i < 300; i++) {
    const b = new Uint8Array(1 + (i % 13));
    for (let k = 0; k < b.length; k++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      b[k] = seed % 3 === 0 ? 0x61 : 0x80 + (seed >> 8) % 0x80;
    }
    samples.push(b);
  }
  const hex = samples.map((b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(""));
  const expected = await python<string[]>(
    "import sys, json; print(json.dumps([bytes.fromhex(h).decode('utf-8', 'surrogateescape') for h in sys.argv[1:]]))",
    hex,
  );
  samples.forEach((b, i) => {
    const s = decodeTarString(b, 0, b.length);
    assert.equal(s, expected[i], hex[i]);
    assert.deepEqual(encodeTarString(s), b, hex[i]);
  });
  assert.equal(decodeTarString(enc("x".repeat(5000)), 0, 5000), "x".repeat(5000));
  assert.deepEqual(encodeTarString("lone \ud800"), enc("lone \ufffd"));
});

// ---- Reading what GNU tar and Python wrote -------------------------------------------------

/** Files for every format (v7 has no FIFOs, devices or prefix). */
const V7_TREE = String.raw`
set -e
mkdir d && chmod 0750 d
printf 'hello world\n' > d/hello.txt
: > empty
yes abcdefghij | head -c 513 > b513
seq 1 60000 > big.txt
ln -s d/hello.txt lnk
ln d/hello.txt hard
echo sp > 'sp ace é ☃.txt'
echo s > setuid && chmod 4755 setuid
mkdir sticky && chmod 1777 sticky
touch -d '2001-02-03 04:05:06 UTC' d/hello.txt
`;

const USTAR_TREE = V7_TREE + String.raw`
mkfifo fifo
mknod chr c 1 3
mknod blk b 7 0
p=$(printf 'p%.0s' $(seq 80)); mkdir $p; echo split > $p/$(printf 'q%.0s' $(seq 70))
`;

const FULL_TREE = USTAR_TREE + String.raw`
mkdir long && echo long > long/$(printf 'a%.0s' $(seq 120))
p=deep; for i in 1 2 3 4 5; do p=$p/$(printf 'x%.0s' $(seq 50))$i; done
mkdir -p $p && echo deep > $p/$(printf 'f%.0s' $(seq 60)) && ln $p/$(printf 'f%.0s' $(seq 60)) hardlong
ln -s $(printf 't/%.0s' $(seq 80))end lnk_long
echo x > xattr.txt
python3 -c "import os
os.setxattr('xattr.txt', 'user.foo', b'\x00\xff\x01bin')
os.setxattr('xattr.txt', 'user.empty', b'')
os.setxattr('xattr.txt', 'user.utf', 'é'.encode())"
echo big > bigid && chown 3000000:3000001 bigid
echo old > old && touch -d '1960-01-01 00:00:00 UTC' old
echo fut > future && touch -d '2400-01-01 00:00:00 UTC' future
echo frac > frac && touch -d '2020-01-01 00:00:00.123456789 UTC' frac
echo bad > $'bad\xffname'
`;

const PY_ARCHIVES = String.raw`
import tarfile, io, sys
out = sys.argv[1]
def add(tf, name, data=b'', **kw):
    ti = tarfile.TarInfo(name)
    for k, v in kw.items(): setattr(ti, k, v)
    if ti.type in (tarfile.REGTYPE, tarfile.AREGTYPE): ti.size = len(data)
    tf.addfile(ti, io.BytesIO(data))
def members(tf):
    add(tf, 'frac.txt', b'x', mtime=1234567890.5)
    add(tf, 'neg.txt', b'y' * 700, mtime=-1.25, mode=0o600)
    add(tf, 'ids.txt', b'z', uid=3000000, gid=4000000, uname='u' * 40, gname='g')
    add(tf, 'future.txt', b'f', mtime=2**40)
    add(tf, 'é/ü.txt', b'u')
    add(tf, 'L' * 300, b'long')
    add(tf, 'd' * 120 + '/', type=tarfile.DIRTYPE, mode=0o2755)
    add(tf, 'lnk', type=tarfile.SYMTYPE, linkname='x' * 200)
    add(tf, 'hl', type=tarfile.LNKTYPE, linkname='L' * 300)
    add(tf, 'chr', type=tarfile.CHRTYPE, devmajor=4095, devminor=1048575)
    add(tf, 'raw\udcffname', b'raw')
with tarfile.open(out + '/py_pax.tar', 'w', format=tarfile.PAX_FORMAT,
                  pax_headers={'uname': 'globaluser', 'comment': 'global'}) as tf:
    members(tf)
    t = tarfile.TarInfo('xattrs.bin'); t.size = 2
    t.pax_headers = {'SCHILY.xattr.user.bin': '\x00\udcff\x01', 'SCHILY.xattr.user.e': '',
                     'mtime': '1700000000.000000001'}
    tf.addfile(t, io.BytesIO(b'xa'))
with tarfile.open(out + '/py_gnu.tar', 'w', format=tarfile.GNU_FORMAT) as tf:
    members(tf)
    add(tf, 'old.txt', b'o', mtime=-2**40)
with tarfile.open(out + '/py_ustar.tar', 'w', format=tarfile.USTAR_FORMAT) as tf:
    add(tf, 'a/b.txt', b'ab', mtime=0)
    add(tf, 'p' * 150 + '/' + 'n' * 90, b'split')
print('[]')
`;

async function makeArchives(dir: string): Promise<string[]> {
  const names: string[] = [];
  for (
    const [tree, formats] of [[V7_TREE, ["v7"]], [USTAR_TREE, ["ustar"]], [FULL_TREE, [
      "gnu",
      "posix",
    ]]] as const
  ) {
    const root = `${dir}/tree-${formats[0]}`;
    await Deno.mkdir(root);
    await mustRun("bash", ["-c", tree], root);
    for (const format of formats) {
      const xattrs = format === "posix" ? ["--xattrs", "--xattrs-include=*"] : [];
      const out = `${dir}/gnutar-${format}.tar`;
      await mustRun("tar", [
        `--format=${format}`,
        ...xattrs,
        "--sort=name",
        "-cf",
        out,
        "-C",
        root,
        ".",
      ]);
      names.push(out);
    }
  }
  await mustRun("python3", ["-c", PY_ARCHIVES, dir]);
  names.push(`${dir}/py_pax.tar`, `${dir}/py_gnu.tar`, `${dir}/py_ustar.tar`);
  return names;
}

function byName(members: MemberDump[]): Map<string, MemberDump> {
  return new Map(members.map((m) => [m.name, m]));
}

peerTest("TarReader reports what Python tarfile reports, for GNU tar and Python archives", {
  // The trees hold devices and files owned by other users.
  peers: ["bash", "tar", "python3"],
  root: true,
}, async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "ocibox-tar-read-" });
  try {
    const archives = await makeArchives(dir);
    for (const path of archives) {
      await t.step(path.slice(dir.length + 1), async () => {
        const archive = await Deno.readFile(path);
        const expected = await pythonDump(path);
        const whole = parseInChunks(archive, archive.length);
        assert.equal(whole.sawEnd, true);
        assert.deepEqual(whole.members.map((m) => m.dump), expected);

        for (const size of [1, 7, 512, 513, 65536]) {
          const split = parseInChunks(archive, size);
          assert.deepEqual(split.members, whole.members, `chunks of ${size}`);
        }

        for (const m of whole.members) {
          assert.equal(checkHeaderBlock(archive, m.headerOffset, m.headerOffset), true);
          if (m.dump.sha256 !== null) {
            const data = archive.subarray(m.dataOffset, m.dataOffset + m.dump.size);
            assert.equal(sha256(data), m.dump.sha256, m.dump.name);
          }
        }

        using file = await Deno.open(path);
        const index = await scanTarFile(file);
        assert.deepEqual(
          index.map((i) => [i.entry.name.replace(/\/+$/, ""), i.headerOffset, i.dataOffset]),
          whole.members.map((m) => [m.dump.name, m.headerOffset, m.dataOffset]),
        );

        const items = [];
        for await (const item of readTarEntries((await Deno.open(path)).readable)) items.push(item);
        assert.deepEqual(
          items.map((i) => [i.entry.name.replace(/\/+$/, ""), sha256(i.body)]),
          expected.map((m) => [m.name, m.sha256 ?? sha256(new Uint8Array(0))]),
        );
      });
    }

    await t.step("the trees hold every case asked for", async () => {
      const gnu = byName(
        parseInChunks(await Deno.readFile(`${dir}/gnutar-gnu.tar`), 1 << 20).members.map((m) =>
          m.dump
        ),
      );
      const posix = byName(
        parseInChunks(await Deno.readFile(`${dir}/gnutar-posix.tar`), 1 << 20).members.map((m) =>
          m.dump
        ),
      );
      for (const members of [gnu, posix]) {
        assert.ok([...members.keys()].some((n) => n.length > 255));
        assert.ok([...members.values()].some((m) => m.linkname.length > 100));
        assert.equal(members.get("./chr")?.type, "char");
        assert.equal(members.get("./chr")?.devmajor, 1);
        assert.equal(members.get("./blk")?.devminor, 0);
        assert.equal(members.get("./fifo")?.type, "fifo");
        assert.equal(members.get("./hard")?.linkname, "./d/hello.txt");
        assert.equal(members.get("./bigid")?.uid, 3000000);
        assert.equal(members.get("./old")?.sec, -315619200);
        assert.equal(members.get("./future")?.sec, 13569465600);
        assert.equal(members.get("./setuid")?.mode, 0o4755);
        assert.equal(members.get("./sticky")?.mode, 0o1777);
        assert.ok(members.has("./bad\udcffname"));
        assert.ok(members.has("./sp ace é ☃.txt"));
      }
      assert.equal(posix.get("./frac")?.nsec, 123456789);
      assert.deepEqual(posix.get("./xattr.txt")?.xattrs, {
        "user.empty": "",
        "user.foo": "00ff0162696e",
        "user.utf": "c3a9",
      });
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

peerTest("readTarEntries stops cleanly when the consumer stops early", {
  peers: ["bash", "tar"],
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "ocibox-tar-read-" });
  try {
    await mustRun("bash", ["-c", "echo a > a; echo b > b; tar -cf x.tar a b"], dir);
    const file = await Deno.open(`${dir}/x.tar`);
    for await (const item of readTarEntries(file.readable)) {
      assert.equal(item.entry.name, "a");
      break;
    }
    // The test's resource sanitizer fails here if the file was left open.
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ---- Writing what GNU tar and Python read ---------------------------------------------------

const T = 1700000000;
const LONG_DIR = "dir/" + "L".repeat(120);
const LONG_FILE = LONG_DIR + "/" + "m".repeat(150);
const SPLIT_DIR = "dir/" + "p".repeat(100);

/** Every case the writer must get right, in an order tar can extract (parents first). */
function cases(): [TarEntry, Uint8Array][] {
  const f = (name: string, body: string | Uint8Array, extra: Partial<TarEntry> = {}) => {
    const data = typeof body === "string" ? enc(body) : body;
    return [makeEntry({ name, type: "file", size: data.length, mtime: T, ...extra }), data] as [
      TarEntry,
      Uint8Array,
    ];
  };
  const e = (name: string, type: TarEntry["type"], extra: Partial<TarEntry> = {}) =>
    [makeEntry({ name, type, mtime: T, ...extra }), new Uint8Array(0)] as [TarEntry, Uint8Array];
  return [
    e("dir", "dir", { mode: 0o2755, uname: "root", gname: "root" }),
    f("dir/hello.txt", "hello\n", { uname: "root", gname: "root" }),
    f("dir/empty", "", { mode: 0o600 }),
    f("dir/b513", "z".repeat(513)),
    e("dir/sub/", "dir", { mode: 0o1777 }),
    e(SPLIT_DIR, "dir"),
    f(SPLIT_DIR + "/" + "n".repeat(45), "split"),
    e(LONG_DIR, "dir"),
    f(LONG_FILE, "long"),
    f("dir/é ☃ 𝄞.txt", "utf8"),
    f("dir/bad\udcffname", "bad"),
    e("dir/lnk", "symlink", { linkname: "hello.txt", mode: 0o777 }),
    e("dir/lnk_long", "symlink", { linkname: "t/".repeat(80) + "end", mode: 0o777 }),
    e("dir/lnk_utf", "symlink", { linkname: "é.txt", mode: 0o777 }),
    e("dir/hard", "hardlink", { linkname: "dir/hello.txt" }),
    e("hardlong", "hardlink", { linkname: LONG_FILE }),
    e("fifo", "fifo", { mode: 0o640 }),
    e("chr", "char", { devmajor: 1, devminor: 3, mode: 0o666 }),
    e("blk", "block", { devmajor: 7, devminor: 0, mode: 0o660 }),
    f("xattr.txt", "x", {
      xattrs: new Map([
        ["user.bin", new Uint8Array([0, 255, 1, 10, 61])],
        ["user.empty", new Uint8Array(0)],
        ["user.utf", enc("é")],
      ]),
    }),
    f("bigid", "big", { uid: 3000000, gid: 3000001 }),
    f("longowner", "o", { uname: "u".repeat(40), gname: "g".repeat(33) }),
    f("old", "old", { mtime: -315619200 }),
    f("future", "future", { mtime: 13569465600 }),
    f("frac", "frac", { mtime: 1577836800, mtimeNsec: 123456789 }),
    f("oldfrac", "oldfrac", { mtime: -315619200, mtimeNsec: 500000000 }),
    f("suid", "s", { mode: 0o4755 }),
  ];
}

function archive(recordSize = RECORD_SIZE): Uint8Array {
  const parts: Uint8Array[] = [];
  let written = 0;
  for (const [entry, body] of cases()) {
    for (const p of [encodeEntryHeader(entry), body, paddingFor(body.length)]) {
      parts.push(p);
      written += p.length;
    }
  }
  parts.push(endOfArchive(written, recordSize));
  return concat(parts);
}

function expectedDumps(): MemberDump[] {
  return cases().map(([e, body]) => dumpEntry(e, e.type === "file" ? sha256(body) : null));
}

/** What the file system holds after extraction, per path relative to the root. */
interface FsDump {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  sec: number;
  nsec: number;
  link: string | null;
  major: number;
  minor: number;
  ino: number;
  xattrs: Record<string, string>;
  sha256: string | null;
}

const PY_LSTAT = String.raw`
import os, sys, json, stat, hashlib
root = sys.argv[1]
out = {}
for dirpath, dirs, files in os.walk(root):
    for n in dirs + files:
        p = os.path.join(dirpath, n)
        st = os.lstat(p)
        m = st.st_mode
        t = ('file' if stat.S_ISREG(m) else 'dir' if stat.S_ISDIR(m) else 'symlink' if stat.S_ISLNK(m)
             else 'char' if stat.S_ISCHR(m) else 'block' if stat.S_ISBLK(m) else 'fifo' if stat.S_ISFIFO(m) else '?')
        sec, nsec = divmod(st.st_mtime_ns, 10**9)
        dev = t in ('char', 'block')
        xattrs = {} if t == 'symlink' else {k: os.getxattr(p, k, follow_symlinks=False).hex() for k in os.listxattr(p, follow_symlinks=False) if k.startswith('user.')}
        out[os.path.relpath(p, root)] = dict(type=t, mode=stat.S_IMODE(m), uid=st.st_uid, gid=st.st_gid,
            size=st.st_size, sec=sec, nsec=nsec, link=os.readlink(p) if t == 'symlink' else None,
            major=os.major(st.st_rdev) if dev else 0, minor=os.minor(st.st_rdev) if dev else 0,
            ino=st.st_ino, xattrs=xattrs,
            sha256=hashlib.sha256(open(p, 'rb').read()).hexdigest() if t == 'file' else None)
print(json.dumps(out))
`;

peerTest("archives from the writer read back identically in GNU tar, Python and TarReader", {
  // GNU tar extracts devices and other users' files.
  peers: ["tar", "python3"],
  root: true,
}, async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "ocibox-tar-write-" });
  try {
    const bytes = archive();
    assert.deepEqual(bytes, archive(), "deterministic");
    assert.equal(bytes.length % RECORD_SIZE, 0);
    const path = `${dir}/out.tar`;
    await Deno.writeFile(path, bytes);
    const expected = expectedDumps();

    await t.step("GNU tar lists it without a warning", async () => {
      const r = await run("tar", ["--quoting-style=literal", "-tvf", path]);
      assert.equal(r.stderr, "");
      assert.equal(r.code, 0);
      const listed = await run("tar", ["--quoting-style=literal", "-tf", path]);
      assert.deepEqual(
        listed.stdout.trimEnd().split("\n"),
        cases().map(([e]) =>
          (e.type === "dir" && !e.name.endsWith("/") ? e.name + "/" : e.name).toWellFormed()
        ),
      );
    });

    await t.step("GNU tar extracts every attribute", async () => {
      const root = `${dir}/x`;
      await Deno.mkdir(root);
      const r = await run("tar", [
        "--xattrs",
        "--xattrs-include=*",
        "--numeric-owner",
        "--same-owner",
        "--same-permissions",
        // 1960 and 2400 are the point of those entries; GNU tar warns about both.
        "--warning=no-timestamp",
        "-xf",
        path,
        "-C",
        root,
      ]);
      assert.equal(r.stderr, "");
      assert.equal(r.code, 0);
      const fs = await python<Record<string, FsDump>>(PY_LSTAT, [root]);
      const byName = new Map(cases().map(([e]) => [e.name.replace(/\/$/, ""), e]));
      assert.deepEqual(new Set(Object.keys(fs)), new Set(byName.keys()));
      for (const [name, e] of byName) {
        const got = fs[name];
        if (e.type === "hardlink") {
          assert.equal(got.ino, fs[e.linkname].ino, name);
          continue;
        }
        const want: Partial<FsDump> = {
          type: e.type,
          uid: e.uid,
          gid: e.gid,
          sec: e.mtime,
          nsec: e.mtimeNsec,
          link: e.type === "symlink" ? e.linkname : null,
          major: e.devmajor,
          minor: e.devminor,
          xattrs: dumpEntry(e, null).xattrs,
        };
        if (e.type !== "symlink") want.mode = e.mode;
        if (e.type === "file") {
          want.size = e.size;
          want.sha256 = expected.find((m) => m.name === name)!.sha256;
        }
        const actual = Object.fromEntries(
          Object.keys(want).map((k) => [k, got[k as keyof FsDump]]),
        );
        assert.deepEqual(actual, want, name);
      }
    });

    await t.step("Python tarfile reads every field", async () => {
      assert.deepEqual(await pythonDump(path), expected);
    });

    await t.step("TarReader reads back what was written, in any chunking", () => {
      for (const size of [1, 7, 512, 513, 65536, bytes.length]) {
        const { members, sawEnd } = parseInChunks(bytes, size);
        assert.equal(sawEnd, true);
        assert.deepEqual(members.map((m) => m.dump), expected, `chunks of ${size}`);
      }
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

peerTest("GNU tar and Python agree with the reader on writer output made by GNU tar's own pipe", {
  peers: ["tar"],
  root: true,
}, async () => {
  // Re-archive what GNU tar extracted from our writer's output, then read that with TarReader:
  // the writer -> GNU tar -> GNU tar -> reader loop keeps every field.
  const dir = await Deno.makeTempDir({ prefix: "ocibox-tar-write-" });
  try {
    const bytes = archive(512);
    await Deno.mkdir(`${dir}/x`);
    await Deno.writeFile(`${dir}/in.tar`, bytes);
    await mustRun("tar", [
      "--xattrs",
      "--xattrs-include=*",
      "--numeric-owner",
      "-xpf",
      `${dir}/in.tar`,
      "-C",
      `${dir}/x`,
    ]);
    const order = cases().map(([e]) => e.name.replace(/\/$/, ""));
    const list = order.flatMap((n) => [encodeTarString(n), new Uint8Array(1)]);
    await Deno.writeFile(`${dir}/list`, concat(list));
    await mustRun("tar", [
      "--format=posix",
      "--xattrs",
      "--xattrs-include=*",
      "--numeric-owner",
      "--warning=no-timestamp",
      "-cf",
      `${dir}/re.tar`,
      "-C",
      `${dir}/x`,
      "--no-recursion",
      "--null",
      "-T",
      `${dir}/list`,
    ]);
    const re = parseInChunks(await Deno.readFile(`${dir}/re.tar`), 4096).members.map((m) => m.dump);
    const strip = (m: MemberDump) => ({ ...m, uname: "", gname: "" });
    // GNU tar looks owner names up locally, so those are the only fields allowed to differ.
    assert.deepEqual(re.map(strip), expectedDumps().map(strip));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
