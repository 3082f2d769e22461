/**
 * `host-usr`: an image of real files from this machine (Python's library and /usr/share/doc,
 * ~200 MB in 2 layers, written with tar + gzip), for the cases where the data's compressibility
 * matters: the generated debian-like fixture is half random bytes, which no gzip level
 * compresses, so only real files show how an output size compares with skopeo's at a level.
 * Its content differs between machines; compare ratios only within one run.
 *
 * @example
 * ```ts
 * import { ensureHostFixture } from "./host_fixture.ts";
 * const f = await ensureHostFixture(".bench/fixtures", "/mnt/tmpfs/scratch");
 * ```
 * @module
 */
import type { BenchImage } from "./busybox_fixture.ts";
import { run, writeOciLayout } from "./oci_layout_writer.ts";

/** The fixture's name. */
export const HOST_FIXTURE = "host-usr";

/** Trees per layer, those present on this machine. */
const LAYERS = [["/usr/lib/python3.11", "/usr/lib/python3"], ["/usr/share/doc", "/usr/share/perl"]];

async function present(paths: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    try {
      if ((await Deno.stat(p)).isDirectory) out.push(p);
    } catch { /* not on this machine */ }
  }
  return out;
}

/** Returns the image, building it into `cacheDir` first when missing. */
export async function ensureHostFixture(
  cacheDir: string,
  scratchDir: string,
  log: (line: string) => void = () => {},
): Promise<BenchImage> {
  const dir = `${cacheDir}/${HOST_FIXTURE}`;
  try {
    const cached = JSON.parse(await Deno.readTextFile(`${dir}/fixture.json`));
    return { ...cached, layout: `${dir}/layout`, generated: false };
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  log(`building ${HOST_FIXTURE} from ${LAYERS.flat().join(", ")} into ${dir} ...`);
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  const layerDirs: string[] = [];
  for (const [i, trees] of LAYERS.entries()) {
    const root = `${scratchDir}/host-layer-${i}`;
    await Deno.remove(root, { recursive: true }).catch(() => {});
    await Deno.mkdir(root, { recursive: true });
    for (const t of await present(trees)) {
      await run(["cp", "-a", "--parents", t.slice(1), root], "/");
    }
    layerDirs.push(root);
  }
  await Deno.mkdir(`${dir}/layout`, { recursive: true });
  const written = await writeOciLayout({
    layout: `${dir}/layout`,
    tag: "bench",
    layerDirs,
    scratch: scratchDir,
  });
  for (const d of layerDirs) await Deno.remove(d, { recursive: true });
  const image = {
    name: HOST_FIXTURE,
    tag: "bench",
    manifestDigest: written.manifestDigest,
    layers: written.layers.map((l) => ({ ...l, path: l.path.slice(`${dir}/layout/`.length) })),
    stats: { files: 0, dirs: 0, symlinks: 0, hardlinks: 0, whiteouts: 0, bytes: 0 },
  };
  await Deno.writeTextFile(`${dir}/fixture.json`, JSON.stringify(image, null, 2) + "\n");
  return { ...image, layout: `${dir}/layout`, generated: true };
}
