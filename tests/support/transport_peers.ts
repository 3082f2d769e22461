/**
 * The peer side of the transport tests: images built with umoci, the facts skopeo reports about
 * an image (in the shape ocibox's facts have, for comparison), and an image unpacked by skopeo
 * and umoci. umoci runs with `--rootless` unless the tests run as root.
 * @module
 */
import { digestOf } from "../../lib/digest/digester.ts";
import type { ImageFacts } from "../../lib/transport/archive_test_util.ts";
import { IS_ROOT, run } from "./peers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Builds a one-layer-per-directory image with umoci: `<layout>:<tag>`. */
export async function makeUmociImage(
  root: string,
  layers: Record<string, string>[],
  tag = "t",
): Promise<string> {
  const layout = `${root}/umoci-layout`;
  await run("umoci", ["init", "--layout", layout]);
  await run("umoci", ["new", "--image", `${layout}:${tag}`]);
  for (const [i, files] of layers.entries()) {
    const src = `${root}/umoci-src-${i}`;
    for (const [path, text] of Object.entries(files)) {
      const full = `${src}/${path}`;
      await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
      if (text.startsWith("->")) await Deno.symlink(text.slice(2), full);
      else await Deno.writeTextFile(full, text);
    }
    await run("umoci", ["insert", ...rootless(), "--image", `${layout}:${tag}`, src, "/"]);
  }
  return layout;
}

function rootless(): string[] {
  return IS_ROOT ? [] : ["--rootless"];
}

/** The facts skopeo reports (`inspect --raw`, `inspect --config --raw`). */
export async function skopeoFacts(location: string): Promise<ImageFacts> {
  const manifest = JSON.parse(await run("skopeo", ["inspect", "--raw", location]));
  const configText = await run("skopeo", ["inspect", "--config", "--raw", location]);
  const config = JSON.parse(configText);
  return {
    configDigest: digestOf(enc.encode(configText)),
    diffIds: config.rootfs.diff_ids,
    layerDigests: manifest.layers.map((l: { digest: string }) => l.digest),
  };
}

/**
 * Has skopeo copy `location` into a fresh OCI layout, unpacks that with umoci, and returns the
 * text of each of `paths` in the rootfs ("->target" for symlinks).
 */
export async function unpackWithPeers(
  root: string,
  location: string,
  paths: string[],
): Promise<Record<string, string>> {
  const layout = `${root}/unpack-layout`;
  const bundle = `${root}/unpack-bundle`;
  await run("skopeo", ["copy", "--quiet", location, `oci:${layout}:u`]);
  await run("umoci", ["unpack", ...rootless(), "--image", `${layout}:u`, bundle]);
  const out: Record<string, string> = {};
  for (const p of paths) {
    const full = `${bundle}/rootfs/${p}`;
    const st = await Deno.lstat(full);
    out[p] = st.isSymlink
      ? `->${await Deno.readLink(full)}`
      : dec.decode(await Deno.readFile(full));
  }
  await Deno.remove(layout, { recursive: true });
  await Deno.remove(bundle, { recursive: true });
  return out;
}
