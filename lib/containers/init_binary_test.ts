import assert from "node:assert/strict";
import { findInitBinary, isStaticElf } from "./init_binary.ts";
import { NotFoundError } from "../errors.ts";

function elf(phdrTypes: number[]): Uint8Array {
  const b = new Uint8Array(64 + phdrTypes.length * 56);
  const v = new DataView(b.buffer);
  v.setUint32(0, 0x7f454c46);
  b[4] = 2;
  b[5] = 1;
  v.setBigUint64(32, 64n, true);
  v.setUint16(54, 56, true);
  v.setUint16(56, phdrTypes.length, true);
  phdrTypes.forEach((t, i) => v.setUint32(64 + i * 56, t, true));
  return b;
}

Deno.test("isStaticElf: an ELF asking for a dynamic linker is not static", () => {
  assert.equal(isStaticElf(elf([1, 1, 4])), true);
  assert.equal(isStaticElf(elf([6, 3, 1])), false);
  assert.equal(isStaticElf(new TextEncoder().encode("#!/bin/sh\n".padEnd(80))), false);
});

Deno.test("findInitBinary: skips dynamic and missing files, names what to install", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/dynamic`, elf([3]));
    await Deno.writeFile(`${dir}/static`, elf([1]));
    assert.equal(
      findInitBinary([`${dir}/none`, `${dir}/dynamic`, `${dir}/static`]),
      `${dir}/static`,
    );
    assert.throws(() => findInitBinary([`${dir}/dynamic`]), NotFoundError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
