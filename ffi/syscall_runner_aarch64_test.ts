/**
 * The aarch64 syscall runner, executed for real: the bytes of ffi/syscall_list_code.ts wrapped
 * in a minimal static aarch64 ELF and run under qemu-aarch64-static (this machine is x86_64).
 */
import assert from "node:assert/strict";
import { SYSCALL_LIST_CODE } from "./syscall_list_code.ts";
import { peerTest } from "../tests/support/peers.ts";

const BASE = 0x400000;
const HEADERS = 64 + 56; // ELF header + one program header

/** A step as the runner reads it: nr, six arguments, mode (0 strict, 1 fork, 2 ignore). */
type Step = [nr: number, args: (number | bigint | "msg")[], mode: 0 | 1 | 2];

/** A static aarch64 ELF whose _start points x0 at a block of `steps` and branches to the runner. */
function program(steps: Step[], message: string): Uint8Array {
  const runner = Uint8Array.from(SYSCALL_LIST_CODE.aarch64.match(/../g)!, (h) => parseInt(h, 16));
  const stubSize = 8; // adr x0, block; b runner
  const runnerAt = HEADERS + stubSize;
  const blockAt = (runnerAt + runner.length + 7) & ~7;
  const blockSize = 16 + steps.length * 64;
  const msgAt = blockAt + blockSize;
  const msg = new TextEncoder().encode(message);
  const total = msgAt + msg.length;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  // ELF header.
  out.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]);
  view.setUint16(16, 2, true); // ET_EXEC
  view.setUint16(18, 183, true); // EM_AARCH64
  view.setUint32(20, 1, true);
  view.setBigUint64(24, BigInt(BASE + HEADERS), true); // entry: the stub
  view.setBigUint64(32, 64n, true); // program headers right after
  view.setUint16(52, 64, true);
  view.setUint16(54, 56, true);
  view.setUint16(56, 1, true);
  // One PT_LOAD of the whole file, read+write+execute.
  view.setUint32(64, 1, true);
  view.setUint32(68, 7, true);
  view.setBigUint64(72, 0n, true);
  view.setBigUint64(80, BigInt(BASE), true);
  view.setBigUint64(88, BigInt(BASE), true);
  view.setBigUint64(96, BigInt(total), true);
  view.setBigUint64(104, BigInt(total), true);
  view.setBigUint64(112, 0x1000n, true);
  // adr x0, block (pc-relative from the adr itself); b runner (from the b).
  const adr = blockAt - HEADERS;
  view.setUint32(HEADERS, 0x10000000 | ((adr & 3) << 29) | (((adr >> 2) & 0x7ffff) << 5), true);
  view.setUint32(HEADERS + 4, 0x14000000 | (((runnerAt - (HEADERS + 4)) >> 2) & 0x3ffffff), true);
  out.set(runner, runnerAt);
  view.setBigUint64(blockAt, BigInt(steps.length), true);
  view.setBigUint64(blockAt + 8, 1n, true); // status records go to stdout
  steps.forEach(([nr, args, mode], i) => {
    const at = blockAt + 16 + i * 64;
    view.setBigUint64(at, BigInt(nr), true);
    args.forEach((a, j) => {
      const v = a === "msg" ? BigInt(BASE + msgAt) : BigInt.asUintN(64, BigInt(a));
      view.setBigUint64(at + 8 + j * 8, v, true);
    });
    view.setBigUint64(at + 56, BigInt(mode), true);
  });
  out.set(msg, msgAt);
  return out;
}

const WRITE = 64, SETNS = 268, CLONE = 220, EXIT_GROUP = 94;

async function runUnderQemu(dir: string, elf: Uint8Array) {
  const path = `${dir}/prog`;
  await Deno.writeFile(path, elf, { mode: 0o755 });
  const out = await new Deno.Command("qemu-aarch64-static", { args: [path], stdout: "piped" })
    .output();
  return { code: out.code, stdout: out.stdout };
}

/** The runner's 16-byte status records in `bytes`. */
function records(bytes: Uint8Array): bigint[][] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: bigint[][] = [];
  for (let i = 0; i + 16 <= bytes.length; i += 16) {
    out.push([v.getBigUint64(i, true), v.getBigUint64(i + 8, true)]);
  }
  return out;
}

peerTest("aarch64 runner: steps in order, a failing step reported, ignore and exit", {
  peers: ["qemu-aarch64-static"],
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "ocibox-arm64-" });
  try {
    // write; a failing strict setns -> record (1, EBADF) and exit 126.
    const failing = await runUnderQemu(
      dir,
      program([[WRITE, [1, "msg", 6], 0], [SETNS, [-1, 0], 0], [EXIT_GROUP, [3], 0]], "hello\n"),
    );
    assert.equal(failing.code, 126);
    assert.equal(new TextDecoder().decode(failing.stdout.subarray(0, 6)), "hello\n");
    assert.deepEqual(records(failing.stdout.subarray(6)), [[1n, 9n]]);

    // An ignored failure goes on; the last step decides the exit.
    const ignored = await runUnderQemu(
      dir,
      program([[SETNS, [-1, 0], 2], [WRITE, [1, "msg", 3], 0], [EXIT_GROUP, [42], 0]], "ok\n"),
    );
    assert.equal(ignored.code, 42);
    assert.equal(new TextDecoder().decode(ignored.stdout), "ok\n");

    // Falling off the end exits 127.
    const end = await runUnderQemu(dir, program([[WRITE, [1, "msg", 1], 0]], "x"));
    assert.equal(end.code, 127);

    // A fork step: the parent reports (~0, child pid) and exits 0; the child goes on.
    const forked = await runUnderQemu(
      dir,
      program(
        [[CLONE, [17, 0, 0, 0, 0], 1], [WRITE, [1, "msg", 6], 0], [EXIT_GROUP, [0], 0]],
        "child\n",
      ),
    );
    assert.equal(forked.code, 0);
    // (output() waits for every holder of the pipe, the forked child too)
    const text = new TextDecoder().decode(forked.stdout);
    const at = forked.stdout.findIndex((_, i) => text.startsWith("child\n", i));
    const rest = at === 0 ? forked.stdout.subarray(6) : forked.stdout.subarray(0, 16);
    const [[marker, pid]] = records(rest);
    assert.equal(marker, 0xffffffffffffffffn);
    assert.ok(pid > 0n);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
