/**
 * The syscall runner executed for real: a program is wrapped in the init ELF (runner_elf.ts) and
 * run natively, or under `qemu-ARCH-static` for the other architecture, and every feature a
 * program uses is checked: order, failure records with the index base, ignored and allowed
 * failures with jumps, slots, exact results, forks, running off the end.
 * @module
 */
import assert from "node:assert/strict";
import { runnerElf } from "./runner_elf.ts";
import { cstrBuf, type Item, slot } from "./runner_program.ts";
import { SYS_AARCH64, SYS_X86_64, type SyscallNumbers } from "./syscall_numbers.ts";

const EBADF = 9;

/** Runs `items` as an ELF for `arch`; stdout is both the output and the status records. */
async function run(arch: "x86_64" | "aarch64", items: Item[], indexBase = 0) {
  const dir = await Deno.makeTempDir({ prefix: "ocibox-runner-" });
  try {
    const path = `${dir}/prog`;
    await Deno.writeFile(path, runnerElf(arch, items, { statusFd: 1, indexBase }).bytes, {
      mode: 0o755,
    });
    const [cmd, args] = arch === Deno.build.arch ? [path, []] : [`qemu-${arch}-static`, [path]];
    const out = await new Deno.Command(cmd, { args, stdout: "piped" }).output();
    return { code: out.code, stdout: out.stdout };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Splits output into leading text and the 16-byte records after `textLength` bytes. */
function records(bytes: Uint8Array, textLength: number): bigint[][] {
  const v = new DataView(bytes.buffer, bytes.byteOffset + textLength);
  const out: bigint[][] = [];
  for (let i = 0; i + 16 <= v.byteLength; i += 16) {
    out.push([v.getBigUint64(i, true), v.getBigUint64(i + 8, true)]);
  }
  return out;
}

const text = (b: Uint8Array, n?: number) => new TextDecoder().decode(b.subarray(0, n));

function programs(sys: SyscallNumbers) {
  const write = (s: string, label = `write ${s}`): Item => ({
    nr: sys.write,
    args: [1, cstrBuf(s), s.length],
    label,
  });
  const exit = (code: number): Item => ({ nr: sys.exitGroup, args: [code], label: "exit" });
  const badSetns: Item = { nr: sys.setns, args: [-1, 0], label: "setns -1" };
  return {
    failing: [write("hello\n"), badSetns, exit(3)],
    ignored: [{ ...badSetns, mode: "ignore" as const }, write("ok\n"), exit(42)],
    end: [write("x")],
    jumps: [
      // An allowed failure jumps over "BAD1"; a success jumps over "BAD2".
      { ...badSetns, allow: [EBADF], onError: "after1" },
      write("BAD1"),
      { mark: "after1" },
      { ...write("a"), onOk: "after2" },
      write("BAD2"),
      { mark: "after2" },
      // A result saved in a slot and passed on: F_DUPFD 1 -> 20, then write to slot 0.
      { nr: sys.fcntl, args: [1, 0, 20], label: "dup stdout", save: 0 },
      { nr: sys.write, args: [slot(0), cstrBuf("b"), 1], label: "write b to the dup" },
      { nr: sys.close, args: [slot(0)], label: "close the dup" },
      { ...write("cd"), expect: 2 },
      { ...write("e"), expect: 5 },
      exit(0),
    ],
    forked: [
      { nr: sys.clone, args: [17, 0, 0, 0, 0], mode: "fork" as const, label: "fork" },
      write("child\n"),
      exit(0),
    ],
  };
}

/**
 * Runs the runner's test programs for `arch` (natively when it is this machine's, else under
 * `qemu-<arch>-static`) and checks what each printed, reported and exited with.
 */
export async function checkRunner(arch: "x86_64" | "aarch64"): Promise<void> {
  const sys = arch === "x86_64" ? SYS_X86_64 : SYS_AARCH64;
  const p = programs(sys);
  const failing = await run(arch, p.failing, 1000);
  assert.equal(failing.code, 126);
  assert.equal(text(failing.stdout, 6), "hello\n");
  assert.deepEqual(records(failing.stdout, 6), [[1001n, BigInt(EBADF)]]);

  const ignored = await run(arch, p.ignored);
  assert.equal(ignored.code, 42);
  assert.equal(text(ignored.stdout), "ok\n");

  const end = await run(arch, p.end);
  assert.equal(end.code, 127);

  // "e" wrote 1 byte where 5 were expected: step 8 (marks take no index) fails with errno 0.
  const jumps = await run(arch, p.jumps);
  assert.equal(jumps.code, 126);
  assert.equal(text(jumps.stdout, 5), "abcde");
  assert.deepEqual(records(jumps.stdout, 5), [[8n, 0n]]);

  // The parent of a fork reports (~0, child pid) and exits 0; the child goes on.
  const forked = await run(arch, p.forked);
  assert.equal(forked.code, 0);
  const all = forked.stdout;
  const at = text(all).indexOf("child\n");
  const rest = at === 0 ? all.subarray(6) : all.subarray(0, 16);
  const [[marker, pid]] = records(rest, 0);
  assert.equal(marker, 0xffffffffffffffffn);
  assert.ok(pid > 0n);
}
