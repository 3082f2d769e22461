import assert from "node:assert/strict";
import { NotAFileError, NotFoundError, UnsafePathError } from "../errors.ts";
import { mkfifo, withTempDir } from "./archive_test_util.ts";
import { openArchivePath, statBeneath, streamBeneath } from "./safe_open.ts";

async function text(stream: ReadableStream<Uint8Array>): Promise<string> {
  return await new Response(stream).text();
}

/** Runs `fn` with a UNIX socket bound at `path`. */
async function withSocket(path: string, fn: () => Promise<void>): Promise<void> {
  const listener = Deno.listen({ transport: "unix", path });
  try {
    await fn();
  } finally {
    listener.close();
  }
}

Deno.test("streamBeneath follows links that stay inside the directory", async () => {
  await withTempDir(async (tmp) => {
    await Deno.mkdir(`${tmp}/root/a`, { recursive: true });
    await Deno.writeTextFile(`${tmp}/root/data.tar`, "inside");
    await Deno.symlink("../data.tar", `${tmp}/root/a/layer.tar`);
    await Deno.symlink("a", `${tmp}/root/link-dir`);
    assert.equal(await text(await streamBeneath(`${tmp}/root`, "a/layer.tar")), "inside");
    assert.equal(await text(await streamBeneath(`${tmp}/root`, "link-dir/layer.tar")), "inside");
    assert.deepEqual(statBeneath(`${tmp}/root`, "a/layer.tar"), {
      kind: "regular file",
      size: 6,
    });
    assert.equal(statBeneath(`${tmp}/root`, "missing"), undefined);
    assert.equal(statBeneath(`${tmp}/root`, "data.tar/under-a-file"), undefined);
    await assert.rejects(streamBeneath(`${tmp}/root`, "missing"), NotFoundError);
  });
});

Deno.test("streamBeneath refuses links that lead out of the directory", async () => {
  await withTempDir(async (tmp) => {
    await Deno.mkdir(`${tmp}/root/blobs`, { recursive: true });
    await Deno.writeTextFile(`${tmp}/secret`, "SECRET");
    await Deno.symlink(`${tmp}/secret`, `${tmp}/root/absolute`);
    await Deno.symlink("../secret", `${tmp}/root/relative`);
    await Deno.symlink("../../secret", `${tmp}/root/blobs/deeper`);
    await Deno.symlink(tmp, `${tmp}/root/outside-dir`);
    // Absolute, even when it names a file inside: it would leave a copied or moved directory.
    await Deno.writeTextFile(`${tmp}/root/inside`, "x");
    await Deno.symlink(`${tmp}/root/inside`, `${tmp}/root/absolute-inside`);
    await Deno.symlink("/proc/self/root/etc/hostname", `${tmp}/root/magic`);
    for (const rel of ["absolute", "relative", "blobs/deeper", "outside-dir/secret"]) {
      await assert.rejects(streamBeneath(`${tmp}/root`, rel), (e: unknown) => {
        assert.ok(e instanceof UnsafePathError, rel);
        assert.equal(e.code, "UNSAFE_PATH");
        assert.match(e.message, /a symbolic link leads outside/);
        assert.doesNotMatch(e.message, /SECRET/);
        return true;
      });
      assert.throws(() => statBeneath(`${tmp}/root`, rel), UnsafePathError);
    }
    await assert.rejects(streamBeneath(`${tmp}/root`, "absolute-inside"), UnsafePathError);
    await assert.rejects(streamBeneath(`${tmp}/root`, "magic"), UnsafePathError);
    // The directory itself may be reached through a link: the user named it.
    await Deno.symlink(`${tmp}/root`, `${tmp}/root-link`);
    assert.equal(await text(await streamBeneath(`${tmp}/root-link`, "inside")), "x");
  });
});

Deno.test("streamBeneath refuses FIFOs, sockets, devices and directories without blocking", async () => {
  await withTempDir(async (tmp) => {
    await Deno.mkdir(`${tmp}/root/dir`, { recursive: true });
    mkfifo(`${tmp}/root/fifo`);
    await Deno.symlink("/dev/zero", `${tmp}/root/zero`); // leaves the root: refused for that
    await withSocket(`${tmp}/root/sock`, async () => {
      const cases: [string, string][] = [
        ["fifo", "FIFO"],
        ["sock", "socket"],
        ["dir", "directory"],
      ];
      for (const [rel, kind] of cases) {
        await assert.rejects(streamBeneath(`${tmp}/root`, rel), (e: unknown) => {
          assert.ok(e instanceof NotAFileError, rel);
          assert.equal(e.code, "NOT_A_FILE");
          assert.equal(e.message, `${tmp}/root/${rel}: is a ${kind}, not a regular file`);
          return true;
        });
        assert.equal(statBeneath(`${tmp}/root`, rel)?.kind, kind);
      }
    });
    await assert.rejects(streamBeneath(`${tmp}/root`, "zero"), UnsafePathError);
  });
  // A device inside the directory: /dev itself as the root.
  await assert.rejects(streamBeneath("/dev", "null"), NotAFileError);
});

Deno.test("openArchivePath takes regular files and pipes and refuses the rest", async () => {
  await withTempDir(async (tmp) => {
    await Deno.writeTextFile(`${tmp}/a.tar`, "tar");
    await Deno.symlink(`${tmp}/a.tar`, `${tmp}/link.tar`);
    for (const p of ["a.tar", "link.tar"]) {
      const held = openArchivePath(`${tmp}/${p}`);
      try {
        assert.equal(held.kind, "regular file");
        assert.equal(held.size, 3);
        assert.equal(await Deno.readTextFile(held.path), "tar");
      } finally {
        held.close();
      }
    }
    mkfifo(`${tmp}/fifo`);
    const fifo = openArchivePath(`${tmp}/fifo`);
    assert.equal(fifo.kind, "FIFO");
    fifo.close();
    assert.throws(() => openArchivePath(`${tmp}/missing`), NotFoundError);
    assert.throws(() => openArchivePath(tmp), {
      name: "NotAFileError",
      message: `${tmp}: is a directory, not a tar archive`,
    });
    for (const dev of ["/dev/zero", "/dev/null"]) {
      assert.throws(() => openArchivePath(dev), {
        name: "NotAFileError",
        message: `${dev}: is a character device, not a tar archive (a regular file or a pipe)`,
      });
    }
    await withSocket(`${tmp}/sock`, () => {
      assert.throws(() => openArchivePath(`${tmp}/sock`), NotAFileError);
      return Promise.resolve();
    });
  });
});
