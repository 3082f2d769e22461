/**
 * A private containerd for runtime tests: root, state, sockets, the runc root and FIFOs under
 * a temporary directory, the CRI plugin and unused snapshotters off, stopped and cleaned up
 * (tasks, containers, mounts, its cgroup directories) by `stop()`.
 *
 * containerd 1.6 drops `--runc-binary` when a task has a user namespace (containerd issues
 * 11480 and 11568): the shim then runs the `runc` in its PATH. So containerd gets a `runc` of
 * its own in front of its PATH that runs whichever runtime `useRuntime` last chose.
 * @module
 */
import { unmountUnder } from "./bundles.ts";
import { type PeerResult, runPeer, which } from "./peers.ts";

/** A running private containerd. */
export interface Containerd {
  dir: string;
  /** `ctr` against it, in namespace "ocibox-test"; resolves to exit code and output. */
  ctr(args: string[], options?: { tty?: boolean }): Promise<PeerResult>;
  /** The runtime the shim's `runc` runs (for user-namespaced tasks). */
  useRuntime(path: string): Promise<void>;
  /** Flags that point ctr at a runtime and keep its files under `dir`. */
  runtimeFlags(path: string): string[];
  /** Kills every task, removes containers, stops containerd, removes everything. */
  stop(): Promise<void>;
}

const NAMESPACE = "ocibox-test";

/** Starts containerd with everything under a new temporary directory. */
export async function startContainerd(): Promise<Containerd> {
  const dir = await Deno.makeTempDir({ prefix: "ocibox-containerd-" });
  // A mapped root must traverse to the bundle's rootfs.
  await Deno.chmod(dir, 0o755);
  for (const d of ["bin", "fifo", "runc"]) await Deno.mkdir(`${dir}/${d}`);
  await Deno.writeTextFile(
    `${dir}/bin/runc`,
    `#!/bin/sh\nexec "$(cat ${dir}/runtime)" "$@"\n`,
  );
  await Deno.chmod(`${dir}/bin/runc`, 0o755);
  await Deno.writeTextFile(`${dir}/runtime`, which("runc")!);
  const disabled = [
    "io.containerd.grpc.v1.cri",
    "io.containerd.snapshotter.v1.aufs",
    "io.containerd.snapshotter.v1.btrfs",
    "io.containerd.snapshotter.v1.devmapper",
    "io.containerd.snapshotter.v1.zfs",
    "io.containerd.tracing.processor.v1.otlp",
    "io.containerd.internal.v1.tracing",
  ];
  await Deno.writeTextFile(
    `${dir}/config.toml`,
    `version = 2
root = "${dir}/root"
state = "${dir}/state"
disabled_plugins = ${JSON.stringify(disabled)}
[grpc]
  address = "${dir}/c.sock"
[ttrpc]
  address = "${dir}/c.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "${dir}/opt"
`,
  );
  const daemon = new Deno.Command("containerd", {
    args: ["--config", `${dir}/config.toml`],
    env: { PATH: `${dir}/bin:${Deno.env.get("PATH")}` },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  // Its log, for a failing test to look at.
  const log = await Deno.open(`${dir}/containerd.log`, { write: true, create: true });
  const drain = daemon.stderr.pipeTo(log.writable).catch(() => {});

  const ctr = (args: string[], options: { tty?: boolean } = {}): Promise<PeerResult> => {
    const argv = ["-a", `${dir}/c.sock`, "-n", NAMESPACE, ...args];
    // ctr -t needs a terminal on stdin: script(1) gives it one.
    const [cmd, cmdArgs] = options.tty
      ? ["script", ["-qec", ["ctr", ...argv].map(shellQuote).join(" "), "/dev/null"]]
      : ["ctr", argv];
    return runPeer(cmd, cmdArgs as string[], { timeoutSeconds: 60 });
  };
  for (let i = 0; i < 100 && (await ctr(["version"])).code !== 0; i++) {
    await new Promise((r) => setTimeout(r, 100));
  }

  return {
    dir,
    ctr,
    useRuntime: (path) => Deno.writeTextFile(`${dir}/runtime`, path),
    runtimeFlags: (path) => [
      "--runc-binary",
      path,
      "--runc-root",
      `${dir}/runc`,
      "--fifo-dir",
      `${dir}/fifo`,
    ],
    async stop() {
      const ids = async (kind: "t" | "c") =>
        (await ctr([kind, "ls", "-q"])).stdout.split("\n").filter(Boolean);
      for (const t of await ids("t")) await ctr(["t", "kill", "-s", "SIGKILL", t]);
      await new Promise((r) => setTimeout(r, 300));
      for (const t of await ids("t")) await ctr(["t", "rm", "-f", t]);
      for (const c of await ids("c")) await ctr(["c", "rm", c]);
      daemon.kill("SIGTERM");
      await daemon.status;
      await drain;
      await new Deno.Command("sh", {
        args: [
          "-c",
          `rmdir /sys/fs/cgroup/*/${NAMESPACE} 2>/dev/null; rm -rf /run/containerd/runc/${NAMESPACE}`,
        ],
      }).output();
      await unmountUnder(dir);
      await Deno.remove(dir, { recursive: true });
    },
  };
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}
