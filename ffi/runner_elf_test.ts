/**
 * The syscall runner executed for real on this machine's architecture (the other one runs under
 * qemu with the peer tests): each program is wrapped in the init ELF (runner_elf.ts) and run
 * natively. Checks every feature a program uses: order, failure records with the index base,
 * ignored and allowed failures with jumps, slots, exact results, forks, running off the end.
 */
import { checkRunner } from "./runner_elf_test_util.ts";

Deno.test(`${Deno.build.arch} runner: steps, failures, jumps, slots, results, forks`, () =>
  checkRunner(Deno.build.arch));
