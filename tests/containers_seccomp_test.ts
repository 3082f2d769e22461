/**
 * ocibox's default seccomp profile against its reference: containers-common's seccomp.json,
 * resolved by ocibox's resolver for every single capability and both architectures, and the
 * `linux.seccomp` podman 4.3 itself writes to config.json for the default capabilities,
 * `--cap-add SYS_ADMIN`, `--cap-add SYS_PTRACE` and `--cap-add ALL`; `--privileged` and
 * `seccomp=unconfined` have none under both. Profiles are compared by what they do with each
 * syscall (callPolicies): the argument rules in order and the first unconditional rule.
 */
import assert from "node:assert/strict";
import { PODMAN_CAPABILITIES } from "../lib/containers/container_spec.ts";
import { defaultSeccomp } from "../lib/containers/default_seccomp.ts";
import { callPolicies, resolveSeccompProfile } from "../lib/containers/seccomp_profile.ts";
import { CAPABILITIES } from "../lib/runtime/plan/capabilities.ts";
import type { LinuxSeccomp } from "../lib/runtime/spec/spec_types.ts";
import { withTempDir } from "./support/bundles.ts";
import { peerTest } from "./support/peers.ts";
import { podmanSpecs } from "./support/podman_spec.ts";

const REFERENCE = "/usr/share/containers/seccomp.json";

/** The syscalls on which two profiles differ, with both policies. */
function differences(a: LinuxSeccomp, b: LinuxSeccomp): string[] {
  const [x, y] = [callPolicies(a), callPolicies(b)];
  const out: string[] = [];
  for (const name of new Set([...x.keys(), ...y.keys()])) {
    const [p, q] = [JSON.stringify(x.get(name)), JSON.stringify(y.get(name))];
    if (p !== q) out.push(`${name}: ours ${p}, theirs ${q}`);
  }
  if (a.defaultAction !== b.defaultAction || a.defaultErrnoRet !== b.defaultErrnoRet) {
    out.push(
      `default: ${a.defaultAction}/${a.defaultErrnoRet} vs ${b.defaultAction}/${b.defaultErrnoRet}`,
    );
  }
  if (JSON.stringify(a.architectures) !== JSON.stringify(b.architectures)) {
    out.push(`architectures: ${a.architectures} vs ${b.architectures}`);
  }
  return out;
}

peerTest("seccomp: the default table does what containers-common's seccomp.json does", {
  peers: ["podman"],
}, () => {
  const reference = JSON.parse(Deno.readTextFileSync(REFERENCE));
  const sets = [
    [],
    [...PODMAN_CAPABILITIES],
    [...CAPABILITIES],
    ...CAPABILITIES.map((c) => [...PODMAN_CAPABILITIES, c]),
  ];
  for (const arch of ["x86_64", "aarch64"] as const) {
    for (const capabilities of sets) {
      const ours = defaultSeccomp({ arch, capabilities });
      const theirs = resolveSeccompProfile(reference, { arch, capabilities });
      assert.deepEqual(differences(ours, theirs), [], `${arch} ${capabilities.join(",")}`);
    }
  }
});

peerTest("seccomp: the profile podman writes for a container, cap by cap", {
  peers: ["podman", "runc", "busybox"],
  root: true,
}, async () => {
  await withTempDir("ocibox-seccomp-", async (dir) => {
    const podman = await podmanSpecs(dir);
    try {
      for (
        const flags of [
          [],
          ["--cap-add", "SYS_ADMIN"],
          ["--cap-add", "SYS_PTRACE"],
          ["--cap-add", "ALL"],
          ["--cap-drop", "ALL", "--cap-add", "AUDIT_WRITE"],
        ]
      ) {
        const { podman: theirs, ocibox: ours } = await podman.both(["--network", "none", ...flags]);
        assert.ok(theirs.linux?.seccomp && ours.linux?.seccomp, flags.join(" "));
        assert.deepEqual(
          differences(ours.linux!.seccomp!, theirs.linux!.seccomp!),
          [],
          flags.join(" "),
        );
      }
      for (const flags of [["--privileged"], ["--security-opt", "seccomp=unconfined"]]) {
        const { podman: theirs, ocibox: ours } = await podman.both(["--network", "none", ...flags]);
        assert.equal(theirs.linux?.seccomp, undefined);
        assert.equal(ours.linux?.seccomp, undefined);
      }
    } finally {
      await podman.close();
    }
  });
});
