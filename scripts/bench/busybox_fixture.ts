/**
 * A busybox-sized image (~1 MB of gzip: the host's busybox-static with a link per applet and a
 * minimal /etc) for the benchmark cases where fixed costs dominate: a small pull or push, a
 * small archive conversion, inspect. Written with tar + gzip (oci_layout_writer.ts), not with
 * ocibox, and cached beside the generated fixtures.
 *
 * @example
 * ```ts
 * import { ensureBusyboxFixture } from "./busybox_fixture.ts";
 * const f = await ensureBusyboxFixture(".bench/fixtures", "/mnt/tmpfs/scratch");
 * console.log(f.layout, f.layers[0].size);
 * ```
 * @module
 */
import type { Fixture } from "./fixtures.ts";
import { run, writeOciLayout } from "./oci_layout_writer.ts";

/** A benchmark image: a generated fixture or one built from the host's files. */
export type BenchImage = Omit<Fixture, "name"> & { name: string };

/** The fixture's name in tables and cache paths. */
export const BUSYBOX_FIXTURE = "busybox";

/**
 * Returns the busybox image, building it into `cacheDir` first when missing or when the host's
 * busybox changed (its size and mtime are part of the cache key).
 */
export async function ensureBusyboxFixture(
  cacheDir: string,
  scratchDir: string,
  log: (line: string) => void = () => {},
): Promise<BenchImage> {
  const busybox = (await run(["which", "busybox"])).trim();
  if (!busybox) throw new Error("busybox is not on PATH (apt-get install busybox-static)");
  const st = await Deno.stat(busybox);
  const key = `${st.size}-${Math.floor((st.mtime?.getTime() ?? 0) / 1000)}`;
  const dir = `${cacheDir}/busybox-${key}`;
  try {
    const cached = JSON.parse(await Deno.readTextFile(`${dir}/fixture.json`));
    return { ...cached, layout: `${dir}/layout`, generated: false };
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  log(`building the busybox image from ${busybox} into ${dir} ...`);
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  const root = `${scratchDir}/busybox-rootfs`;
  await Deno.remove(root, { recursive: true }).catch(() => {});
  for (const d of ["bin", "etc", "tmp", "root"]) {
    await Deno.mkdir(`${root}/${d}`, { recursive: true });
  }
  await Deno.copyFile(busybox, `${root}/bin/busybox`);
  await Deno.chmod(`${root}/bin/busybox`, 0o755);
  const applets = (await run([busybox, "--list"])).split("\n").map((a) => a.trim());
  for (const a of applets) {
    if (a && a !== "busybox" && /^[\w.[-]+$/.test(a)) {
      await Deno.symlink("busybox", `${root}/bin/${a}`).catch(() => {});
    }
  }
  await Deno.writeTextFile(`${root}/etc/passwd`, "root:x:0:0:root:/root:/bin/sh\n");
  await Deno.writeTextFile(`${root}/etc/group`, "root:x:0:\n");
  await Deno.mkdir(`${dir}/layout`, { recursive: true });
  const written = await writeOciLayout({
    layout: `${dir}/layout`,
    tag: "bench",
    layerDirs: [root],
    scratch: scratchDir,
    imageConfig: { Cmd: ["sh"] },
  });
  await Deno.remove(root, { recursive: true });
  const image = {
    name: BUSYBOX_FIXTURE,
    tag: "bench",
    manifestDigest: written.manifestDigest,
    layers: written.layers.map((l) => ({ ...l, path: l.path.slice(`${dir}/layout/`.length) })),
    stats: {
      files: 1,
      dirs: 4,
      symlinks: applets.length,
      hardlinks: 0,
      whiteouts: 0,
      bytes: st.size,
    },
  };
  await Deno.writeTextFile(`${dir}/fixture.json`, JSON.stringify(image, null, 2) + "\n");
  return { ...image, layout: `${dir}/layout`, generated: true };
}
