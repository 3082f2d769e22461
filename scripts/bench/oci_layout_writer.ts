/**
 * Writes an OCI image layout from staging directories, one gzip layer per directory, with the
 * peers the benchmark compares against: GNU tar (reproducible PAX archive: sorted names,
 * numeric owners, clamped mtimes), `gzip -n` and `sha256sum`. Manifests and configs are written
 * here as JSON; digests are over the exact bytes written.
 *
 * @example
 * ```ts
 * import { writeOciLayout } from "./oci_layout_writer.ts";
 * const layout = await writeOciLayout({
 *   layout: "/tmp/layout",
 *   tag: "v1",
 *   layerDirs: ["/tmp/stage/layer0"],
 *   scratch: "/tmp/stage",
 * });
 * layout.manifestDigest; // "sha256:..."
 * ```
 * @module
 */
import { createHash } from "node:crypto";

/** Options of {@linkcode writeOciLayout}. */
export interface LayoutOptions {
  /** The layout directory to create (must not exist or be empty). */
  layout: string;
  /** Tag (org.opencontainers.image.ref.name) of the manifest in index.json. */
  tag: string;
  /** Staging directories, lowest layer first. */
  layerDirs: readonly string[];
  /** A directory (ideally on tmpfs) for the uncompressed tar files while they are hashed. */
  scratch: string;
  /** gzip level (default 6, gzip's default). */
  gzipLevel?: number;
  /** Clamp every mtime newer than this (seconds since the epoch); default 1700000000. */
  sourceDateEpoch?: number;
  /** Extra fields of the image config's `config` object. */
  imageConfig?: Record<string, unknown>;
}

/** A written layer. */
export interface WrittenLayer {
  digest: string;
  size: number;
  diffId: string;
  /** Size of the uncompressed tar. */
  tarSize: number;
  /** Path of the blob inside the layout. */
  path: string;
}

/** A written layout. */
export interface WrittenLayout {
  manifestDigest: string;
  layers: WrittenLayer[];
}

const MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json";
const CONFIG_TYPE = "application/vnd.oci.image.config.v1+json";
const LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip";

/** The OCI architecture name of this machine. */
export function ociArch(): string {
  const a = Deno.build.arch as string;
  return a === "x86_64" ? "amd64" : a === "aarch64" ? "arm64" : a;
}

/** Runs a command; throws with its stderr when it fails. Returns stdout as text. */
export async function run(cmd: readonly string[], cwd?: string): Promise<string> {
  const out = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr).trim();
    throw new Error(`${cmd.join(" ")} failed (exit ${out.code}): ${err}`);
  }
  return new TextDecoder().decode(out.stdout);
}

async function sha256File(path: string): Promise<string> {
  const out = await run(["sha256sum", "--", path]);
  return out.slice(0, 64);
}

async function putJson(blobs: string, value: unknown): Promise<{ digest: string; size: number }> {
  const bytes = new TextEncoder().encode(JSON.stringify(value));
  const hex = createHash("sha256").update(bytes).digest("hex");
  await Deno.writeFile(`${blobs}/${hex}`, bytes);
  return { digest: `sha256:${hex}`, size: bytes.length };
}

/** Writes the layout described by `options`. */
export async function writeOciLayout(options: LayoutOptions): Promise<WrittenLayout> {
  const blobs = `${options.layout}/blobs/sha256`;
  await Deno.mkdir(blobs, { recursive: true });
  const epoch = options.sourceDateEpoch ?? 1_700_000_000;
  const layers: WrittenLayer[] = [];
  for (const [i, dir] of options.layerDirs.entries()) {
    const names: string[] = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    names.sort();
    const tarPath = `${options.scratch}/layer-${i}.tar`;
    await run([
      "tar",
      "--create",
      `--file=${tarPath}`,
      "--format=pax",
      "--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime",
      "--sort=name",
      "--numeric-owner",
      `--mtime=@${epoch}`,
      "--clamp-mtime",
      "-C",
      dir,
      "--",
      ...names,
    ]);
    const diffHex = await sha256File(tarPath);
    const tarSize = (await Deno.stat(tarPath)).size;
    const tmpBlob = `${blobs}/.tmp-layer-${i}`;
    await run([
      "bash",
      "-c",
      `gzip -n -${options.gzipLevel ?? 6} -c -- "$1" > "$2"`,
      "gzip",
      tarPath,
      tmpBlob,
    ]);
    await Deno.remove(tarPath);
    const hex = await sha256File(tmpBlob);
    const size = (await Deno.stat(tmpBlob)).size;
    await Deno.rename(tmpBlob, `${blobs}/${hex}`);
    layers.push({
      digest: `sha256:${hex}`,
      size,
      diffId: `sha256:${diffHex}`,
      tarSize,
      path: `${blobs}/${hex}`,
    });
  }
  const created = new Date(epoch * 1000).toISOString().replace(/\.000Z$/, "Z");
  const config = await putJson(blobs, {
    created,
    architecture: ociArch(),
    os: "linux",
    config: {
      Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
      Cmd: ["/bin/sh"],
      WorkingDir: "/",
      ...options.imageConfig,
    },
    rootfs: { type: "layers", diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((_, i) => ({ created, created_by: `ocibox bench fixture layer ${i}` })),
  });
  const manifest = await putJson(blobs, {
    schemaVersion: 2,
    mediaType: MANIFEST_TYPE,
    config: { mediaType: CONFIG_TYPE, digest: config.digest, size: config.size },
    layers: layers.map((l) => ({ mediaType: LAYER_TYPE, digest: l.digest, size: l.size })),
  });
  await Deno.writeTextFile(
    `${options.layout}/oci-layout`,
    JSON.stringify({ imageLayoutVersion: "1.0.0" }),
  );
  await Deno.writeTextFile(
    `${options.layout}/index.json`,
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [{
        mediaType: MANIFEST_TYPE,
        digest: manifest.digest,
        size: manifest.size,
        annotations: { "org.opencontainers.image.ref.name": options.tag },
      }],
    }),
  );
  return { manifestDigest: manifest.digest, layers };
}
