import assert from "node:assert/strict";
import { makeEntry, type TarEntry } from "./entry.ts";
import { encodeTarString } from "./header.ts";
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
} from "./interop_test_util.ts";
import { encodeEntryHeader, endOfArchive, paddingFor, RECORD_SIZE } from "./writer.ts";

const enc = (s: string) => new TextEncoder().encode(s);
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

Deno.test("archives from the writer read back identically in GNU tar, Python and TarReader", async (t) => {
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

Deno.test("GNU tar and Python agree with the reader on writer output made by GNU tar's own pipe", async () => {
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
