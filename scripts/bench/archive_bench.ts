/**
 * Suite `archive`: `ocibox copy docker-archive:X.tar oci:DIR:t` against `skopeo copy` of the
 * same archive, for each image (busybox, debian-like). The archives are written by skopeo from
 * the fixture layouts (untimed), so their layers are uncompressed tars, as `docker save` writes
 * them, and the copy must compress every layer: the case that shows whether compression uses
 * the cores.
 *
 * Each run times both tools, alternating which goes first, each into a new layout. After the
 * last run the two outputs are checked: the same config (so the same diff_ids) and every ocibox
 * layer decompresses (gzip -dc) to its diff_id; the compressed sizes are compared, because a
 * faster copy that compresses less is not the same result (the summary's note gives the ratio).
 *
 * @example
 * ```ts
 * import { archiveSuite } from "./archive_bench.ts";
 * await archiveSuite(images, { runs: 3, warmup: 1, runDir: "/mnt/tmpfs/run", ocibox: ".",
 *   rssMethod: "gnu-time" });
 * ```
 * @module
 */
import type { BenchImage } from "./busybox_fixture.ts";
import { CommandFailed, measure, median, type RssMethod, type Sample } from "./measure.ts";
import { recordRatio } from "./summary.ts";

/** Options of {@linkcode archiveSuite}. */
export interface ArchiveBenchOptions {
  runs: number;
  warmup: number;
  /** A directory on tmpfs for archives and outputs. */
  runDir: string;
  /** The ocibox checkout (main.ts) to measure. */
  ocibox: string;
  rssMethod: RssMethod;
  log?: (line: string) => void;
  checkpoint?: () => void;
}

/** One image's result. */
export interface ArchiveResult {
  image: string;
  ocibox: Sample[];
  skopeo: Sample[];
  /** Sum of layer blob sizes written by each tool. */
  ociboxBytes: number;
  skopeoBytes: number;
  /** "ok" or "FAILED: ...". */
  verified: string;
  error?: string;
}

async function run(cmd: string[]): Promise<string> {
  const out = await new Deno.Command(cmd[0], { args: cmd.slice(1), stderr: "piped" }).output();
  const dec = new TextDecoder();
  if (!out.success) {
    throw new Error(`${cmd.join(" ")} failed: ${dec.decode(out.stderr).trim()}`);
  }
  return dec.decode(out.stdout);
}

interface Written {
  config: string;
  layers: { digest: string; size: number }[];
}

async function readLayout(dir: string): Promise<Written> {
  const blob = (d: string) => `${dir}/blobs/${d.replace(":", "/")}`;
  const index = JSON.parse(await Deno.readTextFile(`${dir}/index.json`));
  const manifest = JSON.parse(await Deno.readTextFile(blob(index.manifests[0].digest)));
  return { config: manifest.config.digest, layers: manifest.layers };
}

/** Checks ocibox's output against skopeo's; returns problems (none: same image). */
async function verify(ours: string, theirs: string): Promise<string[]> {
  const [a, b] = await Promise.all([readLayout(ours), readLayout(theirs)]);
  const problems: string[] = [];
  if (a.config !== b.config) problems.push(`config ${a.config} != skopeo's ${b.config}`);
  const config = JSON.parse(
    await Deno.readTextFile(`${ours}/blobs/${a.config.replace(":", "/")}`),
  );
  const diffIds: string[] = config.rootfs.diff_ids;
  for (const [i, l] of a.layers.entries()) {
    const path = `${ours}/blobs/${l.digest.replace(":", "/")}`;
    const sum = (await run(["bash", "-c", 'gzip -dc "$1" | sha256sum', "-", path])).split(" ")[0];
    if (`sha256:${sum}` !== diffIds[i]) {
      problems.push(`layer ${i} decompresses to sha256:${sum}, not ${diffIds[i]}`);
    }
  }
  return problems;
}

const bytesOf = (w: Written) => w.layers.reduce((n, l) => n + l.size, 0);

/** Times the archive conversions of `images`; records summary rows; returns the results. */
export async function archiveSuite(
  images: readonly BenchImage[],
  options: ArchiveBenchOptions,
): Promise<ArchiveResult[]> {
  const log = options.log ?? (() => {});
  const results: ArchiveResult[] = [];
  for (const image of images) {
    options.checkpoint?.();
    const base = `${options.runDir}/archive-${image.name}`;
    await Deno.remove(base, { recursive: true }).catch(() => {});
    await Deno.mkdir(base, { recursive: true });
    const archive = `${base}/${image.name}.tar`;
    log(`  archive ${image.name}: writing ${archive} with skopeo (untimed)`);
    await run([
      "skopeo",
      "copy",
      "-q",
      `oci:${image.layout}:${image.tag}`,
      `docker-archive:${archive}:bench/${image.name}:latest`,
    ]);
    const result: ArchiveResult = {
      image: image.name,
      ocibox: [],
      skopeo: [],
      ociboxBytes: NaN,
      skopeoBytes: NaN,
      verified: "not run",
    };
    const src = `docker-archive:${archive}`;
    const cmd = (tool: "ocibox" | "skopeo", out: string) =>
      tool === "ocibox"
        ? [
          Deno.execPath(),
          "run",
          "-A",
          `${options.ocibox}/main.ts`,
          "copy",
          "-q",
          src,
          `oci:${out}:t`,
        ]
        : ["skopeo", "copy", "-q", src, `oci:${out}:t`];
    for (let i = -options.warmup; i < options.runs && !result.error; i++) {
      const order = ((i + options.warmup) % 2 ? ["skopeo", "ocibox"] : ["ocibox", "skopeo"]) as (
        | "ocibox"
        | "skopeo"
      )[];
      for (const tool of order) {
        options.checkpoint?.();
        const out = `${base}/out-${tool}`;
        await Deno.remove(out, { recursive: true }).catch(() => {});
        try {
          const s = await measure(cmd(tool, out), {
            method: options.rssMethod,
            statsFile: `${base}/stats`,
          });
          if (i >= 0) result[tool].push(s);
          log(
            `  archive ${image.name} ${i < 0 ? "warm-up" : `run ${i + 1}`} ${tool}: ${
              s.wallS.toFixed(2)
            } s`,
          );
        } catch (e) {
          if (!(e instanceof CommandFailed) || tool !== "ocibox") throw e;
          result.error = e.message.split("\n").find((l) => l.startsWith("error:")) ?? e.message;
          log(`  archive ${image.name} ocibox FAILED: ${result.error}`);
          break;
        }
      }
    }
    if (!result.error) {
      const [a, b] = await Promise.all([
        readLayout(`${base}/out-ocibox`),
        readLayout(`${base}/out-skopeo`),
      ]);
      result.ociboxBytes = bytesOf(a);
      result.skopeoBytes = bytesOf(b);
      const problems = await verify(`${base}/out-ocibox`, `${base}/out-skopeo`);
      result.verified = problems.length ? `FAILED: ${problems.join("; ")}` : "ok";
    }
    await Deno.remove(base, { recursive: true }).catch(() => {});
    results.push(result);
    const m = (s: Sample[]) => s.length ? median(s.map((x) => x.wallS)) : NaN;
    const large = image.name !== "busybox";
    recordRatio({
      suite: "archive",
      case: `copy docker-archive:${image.name}.tar oci:`,
      ocibox: result.error || result.verified !== "ok" ? NaN : m(result.ocibox),
      peer: "skopeo",
      peerS: m(result.skopeo),
      goal: large ? 0.5 : 1,
      note: result.error ??
        (result.verified !== "ok"
          ? result.verified
          : `layers ${(result.ociboxBytes / 1e6).toFixed(1)} MB vs skopeo's ${
            (result.skopeoBytes / 1e6).toFixed(1)
          } MB (${(result.ociboxBytes / result.skopeoBytes).toFixed(3)}x)`),
    });
  }
  return results;
}
