/**
 * Busybox bundles for runtime tests: a rootfs with busybox-static and its applets, and a
 * config.json from ocibox's default spec with the test's command and edits.
 * @module
 */
import { defaultSpec } from "../../lib/runtime/spec/default_spec.ts";
import type { Spec } from "../../lib/runtime/spec/spec_types.ts";
import { which } from "./peers.ts";

let applets: string[] | undefined;

/** Writes a bundle at `dir` running `args` (sh -c when given one string); returns `dir`. */
export async function busyboxBundle(
  dir: string,
  args: string[] | string,
  edit?: (spec: Spec) => void,
  options: { rootless?: boolean } = {},
): Promise<string> {
  const busybox = which("busybox");
  if (!busybox) throw new Error("busybox is not installed");
  await Deno.mkdir(`${dir}/rootfs/bin`, { recursive: true });
  for (const d of ["proc", "sys", "dev", "tmp", "etc", "root"]) {
    await Deno.mkdir(`${dir}/rootfs/${d}`, { recursive: true });
  }
  await Deno.copyFile(busybox, `${dir}/rootfs/bin/busybox`);
  await Deno.chmod(`${dir}/rootfs/bin/busybox`, 0o755);
  if (!applets) {
    const out = await new Deno.Command(busybox, { args: ["--list"], stdout: "piped" }).output();
    applets = new TextDecoder().decode(out.stdout).split("\n").filter(Boolean);
  }
  for (const a of applets) {
    if (a !== "busybox") await Deno.symlink("busybox", `${dir}/rootfs/bin/${a}`).catch(() => {});
  }
  await Deno.writeTextFile(`${dir}/rootfs/etc/passwd`, "root:x:0:0:root:/root:/bin/sh\n");
  await Deno.writeTextFile(`${dir}/rootfs/etc/group`, "root:x:0:\n");
  const spec = defaultSpec({
    rootless: options.rootless,
    args: typeof args === "string" ? ["sh", "-c", args] : args,
    terminal: false,
    hostUid: options.rootless ? undefined : 0,
  });
  edit?.(spec);
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(spec, null, 2));
  return dir;
}

/** Whether this host runs cgroup v2 only (else v1 or hybrid, with per-controller trees). */
export const CGROUP_V2 = (() => {
  try {
    return Deno.statSync("/sys/fs/cgroup/cgroup.controllers").isFile;
  } catch {
    return false;
  }
})();

/** The directory of cgroup `path` for `controller` (the one tree on v2). */
export function cgroupDir(controller: string, path: string): string {
  return CGROUP_V2 ? `/sys/fs/cgroup${path}` : `/sys/fs/cgroup/${controller}${path}`;
}

/** Rewrites a bundle's config.json through `edit`. */
export async function editBundle(dir: string, edit: (spec: Spec) => void): Promise<void> {
  const spec = JSON.parse(await Deno.readTextFile(`${dir}/config.json`)) as Spec;
  edit(spec);
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(spec, null, 2));
}

/**
 * Runs `fn` with a fresh temporary directory, removed afterwards. Mode 0755 so that a mapped
 * root or another user can reach a bundle inside it.
 */
export async function withTempDir(
  prefix: string,
  fn: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix });
  await Deno.chmod(dir, 0o755);
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Writes a busybox image for the runtime's real clients to `destination` (any ocibox location,
 * e.g. `oci:DIR:TAG` or `docker-archive:FILE:REF`) with ocibox itself: busybox with every
 * applet, /etc/passwd and /etc/group with root and `user` (1000), /run and a 1777 /tmp, and
 * `extra` append flags (`--user 1000`, say).
 */
export async function writeBusyboxImage(
  dir: string,
  destination: string,
  extra: string[] = [],
): Promise<void> {
  const layer = `${dir}/busybox-layer`;
  try {
    await Deno.stat(layer);
  } catch {
    await busyboxBundle(`${dir}/busybox-bundle`, "true");
    await Deno.rename(`${dir}/busybox-bundle/rootfs`, layer);
    await Deno.remove(`${dir}/busybox-bundle`, { recursive: true });
    for (const d of ["run", "home/user"]) await Deno.mkdir(`${layer}/${d}`, { recursive: true });
    await Deno.chmod(`${layer}/tmp`, 0o1777);
    await Deno.writeTextFile(
      `${layer}/etc/passwd`,
      "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n",
    );
    await Deno.writeTextFile(`${layer}/etc/group`, "root:x:0:\nuser:x:1000:\n");
  }
  const { ociboxOk } = await import("./ocibox_cli.ts");
  await ociboxOk([
    "append",
    "-q",
    "--layer",
    layer,
    "--cmd",
    "sh",
    "--env",
    "PATH=/bin",
    ...extra,
    destination,
  ]);
}

/** Detaches every mount at or below `dir` (what a killed client may leave), deepest first. */
export async function unmountUnder(dir: string): Promise<void> {
  const points = (await Deno.readTextFile("/proc/self/mountinfo")).split("\n")
    .map((line) => line.split(" ")[4])
    .filter((p) => p && (p === dir || p.startsWith(`${dir}/`)))
    .sort().reverse();
  for (const p of points) {
    await new Deno.Command("umount", { args: ["-l", p], stderr: "null" }).output();
  }
}
