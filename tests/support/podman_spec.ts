/**
 * What podman 4.3 writes to `config.json` for a set of `podman run` flags, next to what
 * `containerSpec` builds for the same flags and image: a private podman (its own storage,
 * runc, cgroupfs, file events; the host's containers.conf defaults) creates the container,
 * `podman init` makes it write its bundle, and the config is read from its storage.
 * @module
 */
import { containerSpec } from "../../lib/containers/container_spec.ts";
import { readHostFacts } from "../../lib/containers/host_facts.ts";
import { parseRunArgs, resolveRunEnv } from "../../lib/containers/run_flags.ts";
import type { Spec } from "../../lib/runtime/spec/spec_types.ts";
import { unmountUnder, writeBusyboxImage } from "./bundles.ts";
import { ociboxOk } from "./ocibox_cli.ts";
import { runPeer, which } from "./peers.ts";

/** The host's hard limits are 20000 (podman's default 1048576 cannot be set here). */
export const PODMAN_ULIMITS = ["--ulimit", "nofile=20000:20000", "--ulimit", "nproc=20000:20000"];

/** A private podman with a busybox image `localhost/bb`, and ocibox's view of the same image. */
export interface PodmanSpecs {
  /** podman's and ocibox's config for `run FLAGS localhost/bb CMD...`. */
  both(flags: string[], cmd?: string[]): Promise<{ podman: Spec; ocibox: Spec; id: string }>;
  close(): Promise<void>;
}

/** Sets up the private podman and the image in `dir`. */
export async function podmanSpecs(dir: string): Promise<PodmanSpecs> {
  const base = [
    "--root",
    `${dir}/storage`,
    "--runroot",
    `${dir}/run`,
    "--tmpdir",
    `${dir}/tmp`,
    "--runtime",
    which("runc")!,
    "--cgroup-manager=cgroupfs",
    "--events-backend=file",
  ];
  const podman = async (args: string[]) => {
    const r = await runPeer("podman", [...base, ...args]);
    if (r.code !== 0) throw new Error(`podman ${args.join(" ")}: ${r.stderr.trim()}`);
    return r.stdout.trim();
  };
  const layout = `${dir}/img`;
  await writeBusyboxImage(dir, `oci:${layout}:bb`);
  const imageId = await podman(["pull", "-q", `oci:${layout}:bb`]);
  await podman(["tag", imageId, "localhost/bb"]);
  const image = JSON.parse(await ociboxOk(["inspect", "--config", `oci:${layout}:bb`]));
  const passwd = await Deno.readTextFile(`${dir}/busybox-layer/etc/passwd`);
  const group = await Deno.readTextFile(`${dir}/busybox-layer/etc/group`);
  const host = readHostFacts();
  const created: string[] = [];
  return {
    async both(flags, cmd = []) {
      const id = await podman(["create", ...PODMAN_ULIMITS, ...flags, "localhost/bb", ...cmd]);
      created.push(id);
      await podman(["init", id]);
      const podmanSpec = JSON.parse(
        await Deno.readTextFile(`${dir}/storage/overlay-containers/${id}/userdata/config.json`),
      ) as Spec;
      const request = parseRunArgs([...PODMAN_ULIMITS, ...flags, "localhost/bb", ...cmd]);
      const ocibox = containerSpec({
        id,
        image,
        passwd,
        group,
        request,
        env: resolveRunEnv(request, {
          hostEnv: (name) => Deno.env.get(name),
          readTextFile: Deno.readTextFileSync,
        }),
        etc: { hosts: `${dir}/hosts`, hostname: `${dir}/hostname` },
        host,
        devices: request.privileged
          ? (await import("../../lib/containers/host_facts.ts")).hostDevices()
          : undefined,
      });
      return { podman: podmanSpec, ocibox, id };
    },
    async close() {
      if (created.length) await runPeer("podman", [...base, "rm", "-f", ...created]);
      await runPeer("podman", [...base, "rmi", "-af"]);
      // conmon runs `podman container cleanup` when a container ends; let those finish first.
      for (let i = 0; i < 100 && podmansUsing(dir).length > 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      // podman stacks mounts on its storage; detach until none is left.
      for (let i = 0; i < 5 && mountsUnder(dir).length > 0; i++) await unmountUnder(dir);
      // conmon may still be writing its exit files for a moment.
      for (const sub of ["storage", "run", "tmp"]) {
        for (let i = 0;; i++) {
          try {
            await Deno.remove(`${dir}/${sub}`, { recursive: true });
            break;
          } catch (e) {
            if (e instanceof Deno.errors.NotFound) break;
            if (i === 20) throw e;
            await new Promise((r) => setTimeout(r, 100));
          }
        }
      }
    },
  };
}

function mountsUnder(dir: string): string[] {
  return Deno.readTextFileSync("/proc/self/mountinfo").split("\n")
    .map((line) => line.split(" ")[4])
    .filter((p) => p && (p === dir || p.startsWith(`${dir}/`)));
}

/** Pids of processes (podman, conmon) whose command line names `dir`. */
function podmansUsing(dir: string): number[] {
  const pids: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name) || Number(e.name) === Deno.pid) continue;
    try {
      const cmdline = Deno.readTextFileSync(`/proc/${e.name}/cmdline`);
      if (cmdline.includes(`${dir}/`)) pids.push(Number(e.name));
    } catch { /* gone */ }
  }
  return pids;
}
