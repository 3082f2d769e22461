import assert from "node:assert/strict";
import {
  type MemberDump,
  mustRun,
  parseInChunks,
  pythonDump,
  sha256,
} from "./interop_test_util.ts";
import { readTarEntries, scanTarFile } from "./reader.ts";
import { checkHeaderBlock } from "./header.ts";

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

Deno.test("TarReader reports what Python tarfile reports, for GNU tar and Python archives", async (t) => {
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

Deno.test("readTarEntries stops cleanly when the consumer stops early", async () => {
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
