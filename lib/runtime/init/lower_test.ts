/**
 * The lowering of plans to runner programs, run through the runner's simulator (the recording
 * double of ffi/asm): the order of system calls, their arguments and the branches, without
 * root or peers.
 */
import assert from "node:assert/strict";
import { Errno } from "../../../ffi/errno.ts";
import {
  Buf,
  describeFailure,
  type SimArg,
  simulateProgram,
  type Step,
} from "../../../ffi/runner_program.ts";
import { SYS } from "../../../ffi/syscall_numbers.ts";
import { defaultSpec } from "../spec/default_spec.ts";
import type { Op } from "../plan/ops.ts";
import { planContainer } from "../plan/planner.ts";
import type { LinuxSeccomp } from "../spec/spec_types.ts";
import { type InitFds, lowerOps, PROGRAM_PATH_MAX } from "./lower.ts";

const FDS: InitFds = { status: 3, control: 4, fifo: 5, scratch: 8 };
const NAMES = new Map(Object.entries(SYS).map(([name, nr]) => [nr, name]));

const text = (a: SimArg) =>
  a instanceof Buf ? new TextDecoder().decode(a.bytes).replace(/\0+$/, "") : a;

/** A kernel where everything succeeds: opens return new descriptors, reads and writes in full. */
function okKernel(fail: (name: string, args: SimArg[]) => number | undefined = () => undefined) {
  let next = 20;
  return (step: Step, args: SimArg[]) => {
    const name = NAMES.get(step.nr) ?? String(step.nr);
    const errno = fail(name, args);
    if (errno !== undefined) return { errno };
    if (step.expect !== undefined) return BigInt(step.expect);
    if (["openat", "openat2", "socket", "ioctl"].includes(name) && step.save !== undefined) {
      return next++;
    }
    return 0;
  };
}

/** The calls a program makes, as "name arg arg" lines (buffers as their text). */
function trace(ops: Op[], kernel = okKernel()) {
  const { calls, end } = simulateProgram(lowerOps(ops, { fds: FDS }), kernel);
  return {
    end,
    lines: calls.map((c) =>
      [NAMES.get(c.step.nr), ...c.args.slice(0, 2).map((a) => String(text(a)))].join(" ")
    ),
    calls,
  };
}

const PROFILE: LinuxSeccomp = { defaultAction: "SCMP_ACT_ALLOW" };
const compileSeccomp = () => ({ program: new Uint8Array(8), flags: 0, warnings: [] });

function plan(edit: (s: ReturnType<typeof defaultSpec>) => void = () => {}) {
  const spec = defaultSpec({ terminal: false });
  edit(spec);
  return planContainer(spec, {
    bundle: "/b",
    rootless: false,
    userns: false,
    cgroupV2: true,
    isFile: () => false,
    compileSeccomp,
  }).ops;
}

Deno.test("lowerOps: nothing of the runtime's own runs after the seccomp filter", () => {
  for (const nnp of [true, false]) {
    const { calls, end } = simulateProgram(
      lowerOps(
        plan((s) => {
          s.linux!.seccomp = PROFILE;
          s.process!.noNewPrivileges = nnp;
        }),
        { fds: FDS },
      ),
      okKernel(),
    );
    const names = calls.map((c) => NAMES.get(c.step.nr));
    assert.deepEqual(names.slice(-2), ["seccomp", "execve"], `nnp ${nnp}`);
    assert.deepEqual(end, { exit: 127 }); // the simulated execve "returns"
    // The wait for start, the user switch and the capabilities all come before.
    const at = (name: string) => names.lastIndexOf(name);
    assert.ok(at("capset") < at("openat") && at("openat") < at("seccomp"));
    assert.ok(at("setresuid") < at("capset"));
    assert.ok(at("closeRange") < at("seccomp"));
    assert.equal(names.at(-3) === "prctl", nnp); // no_new_privs right before the filter
  }
});

Deno.test("lowerOps: the program's path comes from the runtime at the program sync", () => {
  const { calls } = simulateProgram(lowerOps(plan(), { fds: FDS }), okKernel());
  const read = calls.find((c) => NAMES.get(c.step.nr) === "read" && c.args[0] === 4n)!;
  assert.equal(read.args[2], BigInt(PROGRAM_PATH_MAX));
  const exec = calls.at(-1)!;
  assert.equal(NAMES.get(exec.step.nr), "execve");
  assert.equal(exec.args[0], read.args[1]); // the very buffer the runtime fills
  // The exec FIFO is reopened through the handle on /proc/self/fd, by its number.
  const fifo = calls.find((c) => NAMES.get(c.step.nr) === "openat" && text(c.args[1]) === "5");
  assert.ok(fifo, "no reopen of the FIFO");
});

Deno.test("lowerOps: a mask mounts a tmpfs on a directory, /dev/null on anything else", () => {
  const dir = trace([{ op: "openRootfs", rootfs: "/r" }, { op: "mask", path: "/proc/kcore" }]);
  assert.ok(dir.lines.includes("mount tmpfs /proc/self/fd/9"));
  assert.ok(!dir.lines.includes("mount /proc/self/fd/10 /proc/self/fd/9"));
  const file = trace(
    [{ op: "openRootfs", rootfs: "/r" }, { op: "mask", path: "/proc/kcore" }],
    okKernel((name, args) =>
      name === "mount" && text(args[0]) === "tmpfs" ? Errno.ENOTDIR : undefined
    ),
  );
  assert.ok(file.lines.includes("mount /proc/self/fd/10 /proc/self/fd/9"));
  // Missing: nothing is mounted.
  const missing = trace(
    [{ op: "openRootfs", rootfs: "/r" }, { op: "mask", path: "/proc/kcore" }],
    okKernel((name, args) =>
      name === "openat2" && text(args[1]) === "proc/kcore" ? Errno.ENOENT : undefined
    ),
  );
  assert.ok(!missing.lines.some((l) => l.startsWith("mount")));
  assert.deepEqual(missing.end, { exit: 127 });
});

Deno.test("lowerOps: a mask after a missing one still opens /dev/null before binding it", () => {
  // The first mask's path is missing (its branch skips everything); the second is a file.
  const t = trace(
    [
      { op: "openRootfs", rootfs: "/r" },
      { op: "mask", path: "/proc/kcore" },
      { op: "mask", path: "/proc/keys" },
    ],
    okKernel((name, args) =>
      name === "openat2" && text(args[1]) === "proc/kcore"
        ? Errno.ENOENT
        : name === "mount" && text(args[0]) === "tmpfs"
        ? Errno.ENOTDIR
        : undefined
    ),
  );
  const bind = t.lines.indexOf("mount /proc/self/fd/10 /proc/self/fd/9");
  const devNull = t.lines.findIndex((l) => l.endsWith(" dev/null"));
  assert.ok(bind > 0, "no bind of /dev/null");
  assert.ok(devNull >= 0 && devNull < bind, "/dev/null is not opened before the bind");
  // ... and that open lands on the descriptor the bind names.
  const moved = t.calls.slice(devNull, bind).filter((c) => NAMES.get(c.step.nr) === "dup3");
  assert.deepEqual(moved.map((c) => Number(c.args[1])), [10]);
});

Deno.test("lowerOps: a missing mount target is made, then the mount goes through its handle", () => {
  let first = true;
  const t = trace(
    [{ op: "openRootfs", rootfs: "/r" }, {
      op: "mount",
      source: "tmpfs",
      target: "/run/a",
      fstype: "tmpfs",
      flags: 0,
      data: null,
      kind: "dir",
      propagation: [],
    }],
    okKernel((name, args) => {
      if (name === "openat2" && text(args[1]) === "run/a" && first) {
        first = false;
        return Errno.ENOENT;
      }
      return undefined;
    }),
  );
  const made = t.lines.filter((l) => l.startsWith("mkdirat")).map((l) => l.split(" ").at(-1));
  assert.deepEqual(made, ["run", "a"]);
  assert.equal(t.lines.at(-1), "mount tmpfs /proc/self/fd/9");
  // Mount targets are resolved beneath the rootfs: a symlink out of it is refused (EXDEV).
  const open = t.calls.find((c) => text(c.args[1]) === "run/a")!;
  const how = new BigUint64Array((open.args[2] as Buf).bytes.slice().buffer);
  assert.equal(how[2] & 0x08n, 0x08n); // RESOLVE_BENEATH
  assert.match(
    describeFailure(open.step, Errno.EXDEV),
    /mount tmpfs on \/run\/a \(its target\): the path leaves the rootfs through a symlink/,
  );
});

Deno.test("lowerOps: init's fixed descriptors are reserved before anything is opened", () => {
  const t = trace([{ op: "openRootfs", rootfs: "/r" }]);
  assert.deepEqual(t.lines.slice(0, 5), [
    "dup3 3 8",
    "dup3 3 9",
    "dup3 3 10",
    "dup3 3 11",
    "dup3 3 12",
  ]);
});

Deno.test("lowerOps: exec's program needs no descriptors of init; init's operations do", () => {
  const items = lowerOps([
    { op: "dumpable", on: false },
    { op: "joinNamespace", type: "pid", fd: 7, flag: 0x20000000 },
    { op: "fork" },
    { op: "exec", path: "/bin/sh", args: ["sh"], env: [] },
  ]);
  const { calls } = simulateProgram(items, okKernel(), { stop: () => false });
  assert.deepEqual(calls.map((c) => NAMES.get(c.step.nr)), ["prctl", "setns", "clone", "execve"]);
  // The fork is the runtime's child (CLONE_PARENT), so it can wait for it.
  assert.equal(calls[2].args[0], BigInt(17 | 0x8000));
  assert.throws(() => lowerOps([{ op: "mask", path: "/x" }]), /needs init's descriptors/);
  assert.throws(
    () => lowerOps([{ op: "exec", path: null, args: ["sh"], env: [] }], { fds: FDS }),
    /program sync/,
  );
});
