/**
 * `ocibox features`: what this runtime supports, as features-schema.json describes.
 * @module
 */
import { CAPABILITIES } from "../../runtime/plan/capabilities.ts";
import { KNOWN_MOUNT_OPTIONS } from "../../runtime/plan/mount_options.ts";
import {
  SECCOMP_ACTIONS,
  SECCOMP_ARCHES,
  SECCOMP_FLAGS,
  SECCOMP_OPERATORS,
} from "../../runtime/seccomp/compile.ts";
import { OCI_RUNTIME_SPEC_VERSION } from "../../runtime/spec/spec_types.ts";

export const help = `Usage: ocibox features

Prints the runtime's features as JSON (runtime-spec features.md): spec versions, hooks, mount
options, namespaces, capabilities, cgroup and seccomp support.`;

export function run(_args: string[]): Promise<number> {
  const features = {
    ociVersionMin: "1.0.0",
    ociVersionMax: OCI_RUNTIME_SPEC_VERSION,
    hooks: [
      "prestart",
      "createRuntime",
      "createContainer",
      "startContainer",
      "poststart",
      "poststop",
    ],
    mountOptions: [...KNOWN_MOUNT_OPTIONS],
    linux: {
      namespaces: ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
      capabilities: [...CAPABILITIES],
      cgroup: { v1: true, v2: true, systemd: false, systemdUser: false, rdma: false },
      seccomp: {
        enabled: true,
        actions: [...SECCOMP_ACTIONS],
        operators: [...SECCOMP_OPERATORS],
        archs: [...SECCOMP_ARCHES],
        knownFlags: [...SECCOMP_FLAGS],
        supportedFlags: [...SECCOMP_FLAGS],
      },
      apparmor: { enabled: false },
      selinux: { enabled: false },
      intelRdt: { enabled: false },
      mountExtensions: { idmap: { enabled: false } },
    },
    annotations: { "org.opencontainers.runc.checkpoint.enabled": "false" },
  };
  console.log(JSON.stringify(features, null, "    "));
  return Promise.resolve(0);
}
