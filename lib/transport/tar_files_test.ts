import assert from "node:assert/strict";
import { LimitExceededError, NotFoundError, UnsafePathError } from "../errors.ts";
import { makeEntry, type TarEntry } from "../archive/tar/entry.ts";
import { encodeEntryHeader, END_OF_ARCHIVE, paddingFor } from "../archive/tar/writer.ts";
import { withTempDir } from "./archive_test_util.ts";
import { MAX_ARCHIVE_MEMBERS, MAX_ARCHIVE_NAME_CHARS, TarFiles } from "./tar_files.ts";

const enc = new TextEncoder();

/** Writes a tar of `count` members made by `member(i)` (data only for files) to `path`. */
async function writeTar(
  path: string,
  count: number,
  member: (
    i: number,
  ) => { entry: Partial<TarEntry> & Pick<TarEntry, "name" | "type">; data?: Uint8Array },
): Promise<void> {
  using file = await Deno.open(path, { write: true, create: true, truncate: true });
  const chunk: Uint8Array[] = [];
  let pending = 0;
  const flush = async () => {
    const out = new Uint8Array(pending);
    let off = 0;
    for (const c of chunk) {
      out.set(c, off);
      off += c.length;
    }
    await file.write(out);
    chunk.length = 0;
    pending = 0;
  };
  const put = (b: Uint8Array) => {
    chunk.push(b);
    pending += b.length;
  };
  for (let i = 0; i < count; i++) {
    const { entry, data } = member(i);
    put(encodeEntryHeader(makeEntry({ ...entry, size: data?.length ?? 0 })));
    if (data) put(data), put(paddingFor(data.length));
    if (pending > 1 << 20) await flush();
  }
  put(END_OF_ARCHIVE);
  await flush();
}

Deno.test("TarFiles reads files through links and passes directories and devices over", async () => {
  await withTempDir(async (tmp) => {
    const members = [
      { entry: { name: "blobs/", type: "dir" as const } },
      { entry: { name: "blobs/sha256/a", type: "file" as const }, data: enc.encode("AAA") },
      { entry: { name: "link", type: "symlink" as const, linkname: "blobs/sha256/a" } },
      { entry: { name: "hard", type: "hardlink" as const, linkname: "blobs/sha256/a" } },
      { entry: { name: "escape", type: "symlink" as const, linkname: "../../../etc/hostname" } },
      { entry: { name: "fifo", type: "fifo" as const } },
      { entry: { name: "null", type: "char" as const, devmajor: 1, devminor: 3 } },
    ];
    await writeTar(`${tmp}/a.tar`, members.length, (i) => members[i]);
    const files = await TarFiles.open(`${tmp}/a.tar`);
    for (const p of ["blobs/sha256/a", "link", "hard"]) {
      assert.equal(new TextDecoder().decode(await files.read(p)), "AAA", p);
    }
    // Links resolve inside the archive only; one that climbs out of it is refused.
    await assert.rejects(files.exists("escape"), UnsafePathError);
    for (const p of ["fifo", "null", "blobs"]) {
      assert.equal(await files.exists(p), false, p);
      await assert.rejects(files.stream(p), NotFoundError);
    }
    assert.deepEqual(await files.list(), ["blobs/sha256/a", "hard", "link"]);
  });
});

Deno.test("TarFiles refuses an archive with more members than an image has", async () => {
  await withTempDir(async (tmp) => {
    // Directories cost the index nothing and are still counted: the cap bounds the scan.
    await writeTar(`${tmp}/many.tar`, MAX_ARCHIVE_MEMBERS + 1, (i) => ({
      entry: { name: `d${i}/`, type: "dir" },
    }));
    await assert.rejects(TarFiles.open(`${tmp}/many.tar`), (e: unknown) => {
      assert.ok(e instanceof LimitExceededError);
      assert.equal(e.code, "LIMIT_EXCEEDED");
      assert.equal(
        e.message,
        `${tmp}/many.tar: has more than ${MAX_ARCHIVE_MEMBERS} members; an image archive has a ` +
          "few per blob",
      );
      return true;
    });
    await writeTar(`${tmp}/enough.tar`, MAX_ARCHIVE_MEMBERS, (i) => ({
      entry: { name: `f${i}`, type: "file" },
      data: enc.encode("x"),
    }));
    const files = await TarFiles.open(`${tmp}/enough.tar`);
    assert.equal(await files.size(`f${MAX_ARCHIVE_MEMBERS - 1}`), 1);
  });
});

Deno.test("TarFiles refuses member names that add up to more than it keeps", async () => {
  await withTempDir(async (tmp) => {
    // PAX names of up to 1 MiB each: few members, much memory.
    const long = (i: number) => `${i}/${"n".repeat((1 << 20) - 100)}`;
    const count = Math.ceil(MAX_ARCHIVE_NAME_CHARS / ((1 << 20) - 100)) + 1;
    await writeTar(`${tmp}/names.tar`, count, (i) => ({
      entry: { name: long(i), type: "symlink", linkname: "x" },
    }));
    await assert.rejects(TarFiles.open(`${tmp}/names.tar`), {
      name: "LimitExceededError",
      message: `${tmp}/names.tar: its member names add up to more than ${MAX_ARCHIVE_NAME_CHARS} ` +
        "characters",
    });
  });
});
