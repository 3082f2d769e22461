/**
 * A runner program as a tiny static ELF executable: the runner's machine code (ffi/asm) behind
 * a stub that points its first argument at the program's block, and the block itself in a
 * writable segment at a fixed address. Exec'd from a sealed memfd, it is the container's whole
 * init: a fresh address space of a few pages, no Deno, no libc, nothing of the runtime's memory.
 *
 * @example
 * ```ts
 * import { runnerElf } from "./runner_elf.ts";
 * const { bytes } = runnerElf("x86_64", [{ nr: 231, args: [7], label: "exit 7" }], {
 *   statusFd: 2,
 * });
 * ```
 * @module
 */
import { type Item, type LayoutOptions, layoutProgram, type Step } from "./runner_program.ts";
import { SYSCALL_LIST_CODE } from "./syscall_list_code.ts";

/** Where the code segment is mapped. */
export const ELF_CODE_BASE = 0x10000000;
/** The data segment is mapped at this base plus its file offset (64 KiB pages at most). */
export const ELF_DATA_BASE = 0x20000000;
const ALIGN = 0x10000;
const EHDR = 64, PHDR = 56, HEADERS = EHDR + 2 * PHDR;

function hexBytes(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g)!, (h) => parseInt(h, 16));
}

/** Machine code that loads `address` into the first argument register and falls through. */
function entryStub(arch: "x86_64" | "aarch64", address: bigint): Uint8Array {
  if (arch === "x86_64") {
    const stub = new Uint8Array(10);
    stub.set([0x48, 0xbf]); // movabs rdi, imm64
    new DataView(stub.buffer).setBigUint64(2, address, true);
    return stub;
  }
  // movz x0, #a0; movk x0, #a1, lsl 16; movk x0, #a2, lsl 32; movk x0, #a3, lsl 48
  const stub = new Uint8Array(16);
  const view = new DataView(stub.buffer);
  for (let hw = 0; hw < 4; hw++) {
    const imm = Number((address >> BigInt(16 * hw)) & 0xffffn);
    const op = hw === 0 ? 0xd2800000 : 0xf2800000;
    view.setUint32(hw * 4, (op | (hw << 21) | (imm << 5)) >>> 0, true);
  }
  return stub;
}

/**
 * A static ELF for `arch` that runs `items` as a runner program and exits like the runner;
 * `steps` are the program's steps by index (failure records name them).
 */
export function runnerElf(
  arch: "x86_64" | "aarch64",
  items: readonly Item[],
  options: LayoutOptions,
): { bytes: Uint8Array; steps: readonly Step[] } {
  const code = hexBytes(SYSCALL_LIST_CODE[arch]);
  const layout = layoutProgram(items, options);
  const stubLength = arch === "x86_64" ? 10 : 16;
  const codeEnd = HEADERS + stubLength + code.length;
  const dataOffset = Math.ceil(codeEnd / 16) * 16;
  const dataAddress = BigInt(ELF_DATA_BASE + dataOffset);
  if (dataOffset + layout.size > ALIGN * 256) throw new Error("the init program is too large");
  const out = new Uint8Array(dataOffset + layout.size);
  const view = new DataView(out.buffer);
  // ELF header: 64-bit, little-endian, ET_EXEC, no sections.
  out.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]);
  view.setUint16(16, 2, true);
  view.setUint16(18, arch === "x86_64" ? 62 : 183, true);
  view.setUint32(20, 1, true);
  view.setBigUint64(24, BigInt(ELF_CODE_BASE + HEADERS), true);
  view.setBigUint64(32, BigInt(EHDR), true);
  view.setUint16(52, EHDR, true);
  view.setUint16(54, PHDR, true);
  view.setUint16(56, 2, true);
  const segment = (i: number, flags: number, offset: number, vaddr: bigint, size: number) => {
    const at = EHDR + i * PHDR;
    view.setUint32(at, 1, true); // PT_LOAD
    view.setUint32(at + 4, flags, true);
    view.setBigUint64(at + 8, BigInt(offset), true);
    view.setBigUint64(at + 16, vaddr, true);
    view.setBigUint64(at + 24, vaddr, true);
    view.setBigUint64(at + 32, BigInt(size), true);
    view.setBigUint64(at + 40, BigInt(size), true);
    view.setBigUint64(at + 48, BigInt(ALIGN), true);
  };
  segment(0, 5, 0, BigInt(ELF_CODE_BASE), codeEnd); // read + execute
  segment(1, 6, dataOffset, dataAddress, layout.size); // read + write
  out.set(entryStub(arch, dataAddress), HEADERS);
  out.set(code, HEADERS + stubLength);
  layout.write(out.subarray(dataOffset), dataAddress);
  return { bytes: out, steps: layout.steps };
}
