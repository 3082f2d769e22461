import assert from "node:assert/strict";
import { AT_FDCWD, O_CREAT, O_DIRECTORY, O_RDONLY, O_WRONLY } from "./constants.ts";
import { DT, readDirents, readlinkBytes } from "./dirents.ts";
import { close, openat } from "./fs.ts";

Deno.test("readDirents lists names as raw bytes (not UTF-8 too) with their types", () => {
  const dir = Deno.makeTempDirSync();
  try {
    Deno.writeTextFileSync(`${dir}/file`, "f");
    Deno.mkdirSync(`${dir}/sub`);
    Deno.symlinkSync("file", `${dir}/link`);
    for (let i = 0; i < 2000; i++) Deno.writeTextFileSync(`${dir}/sub/${"n".repeat(100)}${i}`, "");
    // A name with bytes that are not UTF-8 (surrogate escapes become raw bytes in ffi/fs.ts).
    close(openat(AT_FDCWD, `${dir}/bad\udcff\udcfe`, O_WRONLY | O_CREAT, 0o600));
    const fd = openat(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY);
    try {
      const entries = readDirents(fd);
      const byName = new Map(entries.map((e) => [Array.from(e.name).join(","), e.type]));
      const key = (s: string) => Array.from(new TextEncoder().encode(s)).join(",");
      assert.equal(byName.get(key("file")), DT.REG);
      assert.equal(byName.get(key("sub")), DT.DIR);
      assert.equal(byName.get(key("link")), DT.LNK);
      assert.equal(byName.size, 4);
      assert.ok(byName.has("98,97,100,255,254"), "bad\\xff\\xfe");
      // Listing twice from one descriptor gives the same entries.
      assert.equal(readDirents(fd).length, entries.length);
      assert.equal(
        new TextDecoder().decode(readlinkBytes(fd, new TextEncoder().encode("link\0"))),
        "file",
      );
    } finally {
      close(fd);
    }
    const sub = openat(AT_FDCWD, `${dir}/sub`, O_RDONLY | O_DIRECTORY);
    try {
      assert.equal(readDirents(sub).length, 2000, "more than one getdents64 buffer");
    } finally {
      close(sub);
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
