/**
 * Starting the container's init: a clone()d child of the runtime joins or creates the
 * namespaces, waits for its uid/gid maps and time offsets, forks into joined pid and time
 * namespaces, moves the descriptors init needs to fixed numbers and execs the init program: a
 * tiny static ELF (ffi/runner_elf.ts) from a sealed memfd. From then on nothing of Deno is in
 * the container's process: a fresh address space of a few pages that performs the plan and
 * then execs the user's program.
 * @module
 */
import { AT_EMPTY_PATH, O_CLOEXEC } from "../../../ffi/constants.ts";
import {
  closeFd,
  dupAbove,
  sealedMemfd,
  type SpawnReport,
  spawnSyscalls,
} from "../../../ffi/process.ts";
import { runnerElf } from "../../../ffi/runner_elf.ts";
import { cstrArray, cstrBuf, type Item, type Step } from "../../../ffi/runner_program.ts";
import { SYS } from "../../../ffi/syscall_numbers.ts";
import { type InitFds, SCRATCH_FDS } from "./lower.ts";

/** Where init finds its descriptors: the runtime's pipes, FIFO and console socket, then scratch. */
export interface InitFdLayout extends InitFds {
  /** The console socket, when init sets up the terminal. */
  console?: number;
  /** The memfd init is exec'd from (closed by that exec). */
  memfd: number;
  /** The first descriptor beyond init's own: everything from here is closed at its start. */
  end: number;
}

/**
 * Init's descriptor numbers: right after the preserved ones (3 .. 3+preserve-1), so that
 * closing everything from `end` on leaves the program exactly stdio, the preserved descriptors
 * and what init itself closes at exec.
 */
export function initFdLayout(preserveFds: number): InitFdLayout {
  const base = 3 + preserveFds;
  return {
    status: base,
    control: base + 1,
    fifo: base + 2,
    console: base + 3,
    memfd: base + 4,
    scratch: base + 5,
    end: base + 5 + SCRATCH_FDS,
  };
}

/**
 * The first steps of every init program: close whatever else the runtime's caller left open
 * (beyond stdio and the preserved descriptors), including at the places of the FIFO and the
 * console socket when init gets neither, so nothing the caller gave stays open while init waits.
 */
export function initPrologue(
  layout: InitFdLayout,
  passes: { fifo: boolean; console: boolean },
): Step[] {
  const steps: Step[] = [{
    nr: SYS.closeRange,
    args: [layout.scratch, 0xffffffff, 0],
    label: "close inherited descriptors",
  }];
  for (
    const [fd, used] of [[layout.fifo, passes.fifo], [layout.console, passes.console]] as const
  ) {
    if (!used && fd !== undefined) {
      steps.push({
        nr: SYS.close,
        args: [fd],
        mode: "ignore",
        label: "close inherited descriptors",
      });
    }
  }
  return steps;
}

/** The runtime's own descriptors that init gets, at their numbers in the runtime. */
export interface PassedFds {
  status: number;
  control: number;
  fifo?: number;
  console?: number;
}

/** What {@linkcode launchInit} needs. */
export interface LaunchOptions {
  /** clone(2) namespace flags. */
  cloneFlags: number;
  /** Steps before init is exec'd: joining namespaces, the id-map handshake, forks. */
  setup: readonly Step[];
  /** The init program (lowered with `layout`'s descriptors). */
  program: readonly Item[];
  layout: InitFdLayout;
  passed: PassedFds;
  /** Runs with the child's pid right after clone (write its id maps, say). */
  afterClone?: (pid: number) => void;
  /** Whether the child may share the runtime's memory until it execs (not to join a time namespace). */
  shareMemory: boolean;
}

/**
 * Clones the container's init and has it exec the init program; returns once that exec
 * happened (or a setup step failed: `failed` names it).
 */
export function launchInit(o: LaunchOptions): SpawnReport & { program: readonly Step[] } {
  const { bytes: elf, steps: programSteps } = runnerElf(
    Deno.build.arch as "x86_64" | "aarch64",
    o.program,
    { statusFd: o.layout.status },
  );
  const own: number[] = [];
  try {
    // Every descriptor moved into place comes from above the target numbers, so no move can
    // overwrite one that is still to come.
    const above = (fd: number) => {
      const moved = dupAbove(fd, o.layout.end + 16);
      own.push(moved);
      return moved;
    };
    const sealed = sealedMemfd("ocibox-init", elf);
    own.push(sealed);
    const memfd = above(sealed);
    const moves: [from: number, to: number, cloexec: boolean][] = [
      [above(o.passed.status), o.layout.status, false],
      [above(o.passed.control), o.layout.control, false],
      [memfd, o.layout.memfd, true],
    ];
    if (o.passed.fifo !== undefined) moves.push([above(o.passed.fifo), o.layout.fifo!, false]);
    if (o.passed.console !== undefined) {
      moves.push([above(o.passed.console), o.layout.console!, false]);
    }
    const steps: Step[] = [
      ...o.setup,
      ...moves.map(([from, to, cloexec]): Step => ({
        nr: SYS.dup3,
        args: [from, to, cloexec ? O_CLOEXEC : 0],
        label: "pass descriptors to init",
      })),
      {
        nr: SYS.execveat,
        args: [
          o.layout.memfd,
          cstrBuf(""),
          cstrArray(["ocibox-init"]),
          cstrArray([]),
          AT_EMPTY_PATH,
        ],
        label: "exec the container init",
      },
    ];
    const report = spawnSyscalls(o.cloneFlags, steps, o.afterClone, {
      shareMemory: o.shareMemory,
    });
    return { ...report, program: programSteps };
  } finally {
    for (const fd of own) closeFd(fd);
  }
}
