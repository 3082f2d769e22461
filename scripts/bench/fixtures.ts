/**
 * The unpack benchmark's fixture images, generated deterministically (seeded PRNG, reproducible
 * tar/gzip) and cached as OCI layouts:
 *
 * - `many-files`: ~30k small files (0-4 KiB, half text, half random) in 3 layers, a few hundred
 *   directories, symlinks and hardlinks — per-file overhead.
 * - `debian-like`: a ~230 MB rootfs shaped like Debian (merged /usr, packages with binaries,
 *   libraries, docs, man pages, locales, python and perl trees, zoneinfo with hardlinks, a few
 *   multi-MB binaries, setuid files, non-root owners) plus an "apt-get" layer with whiteouts,
 *   opaque directories, overwrites and type changes, and an application layer that whites out
 *   a whole directory.
 * - `big-file`: one layer with a single 512 MiB file (a 1 MiB half-random, half-text block,
 *   stamped with a counter every 4 KiB so no two MiB are equal) — streaming throughput and
 *   memory.
 *
 * @example
 * ```ts
 * import { ensureFixture } from "./fixtures.ts";
 * const f = await ensureFixture("many-files", {
 *   cacheDir: ".bench/fixtures",
 *   scratchDir: "/mnt/tmpfs/scratch",
 *   chown: Deno.uid() === 0,
 * });
 * console.log(f.layout, f.tag);
 * ```
 * @module
 */
import { Rng } from "./prng.ts";
import { TreeBuilder, type TreeStats } from "./tree_builder.ts";
import { writeOciLayout, type WrittenLayer } from "./oci_layout_writer.ts";

/** Bump when any generator changes, so stale caches are not reused. */
export const GENERATOR_VERSION = 2;

/** The fixtures, in the order the benchmark runs them. */
export const FIXTURE_NAMES = ["many-files", "debian-like", "big-file"] as const;

/** A fixture's name. */
export type FixtureName = typeof FIXTURE_NAMES[number];

/** A fixture ready to unpack. */
export interface Fixture {
  name: FixtureName;
  /** The OCI layout directory. */
  layout: string;
  tag: string;
  manifestDigest: string;
  layers: WrittenLayer[];
  /** What the layers contain, summed over layers. */
  stats: TreeStats;
  /** Whether this call generated it (false: it came from the cache). */
  generated: boolean;
}

/** Options of {@linkcode ensureFixture}. */
export interface FixtureOptions {
  /** Where layouts are cached (a persistent directory). */
  cacheDir: string;
  /** Where staging trees and tar files go while generating (should be a tmpfs). */
  scratchDir: string;
  /** Give some entries non-root owners (needs root). */
  chown: boolean;
  /** Progress lines. */
  log?: (line: string) => void;
}

const TAG = "bench";
const enc = new TextEncoder();
type Gen = (layers: TreeBuilder[], rng: Rng) => void;

interface Spec {
  layers: number;
  seed: number;
  gen: Gen;
}

const SPECS: Record<FixtureName, Spec> = {
  "many-files": { layers: 3, seed: 0x0f11e5, gen: genManyFiles },
  "debian-like": { layers: 3, seed: 0xdeb1a4, gen: genDebianLike },
  "big-file": { layers: 1, seed: 0xb16f11e, gen: genBigFile },
};

/** The cache directory of fixture `name` under `cacheDir`. */
export function fixtureDir(cacheDir: string, name: FixtureName, chown: boolean): string {
  return `${cacheDir}/${name}-g${GENERATOR_VERSION}${chown ? "" : "-nochown"}`;
}

/** Returns fixture `name`, generating and caching it first if needed. */
export async function ensureFixture(name: FixtureName, options: FixtureOptions): Promise<Fixture> {
  const dir = fixtureDir(options.cacheDir, name, options.chown);
  const meta = `${dir}/fixture.json`;
  try {
    const cached = JSON.parse(await Deno.readTextFile(meta)) as Omit<Fixture, "generated">;
    return { ...cached, layout: `${dir}/layout`, generated: false };
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const log = options.log ?? (() => {});
  await pruneOldGenerations(options.cacheDir, name, log);
  const started = performance.now();
  log(`generating fixture ${name} into ${dir} ...`);
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  const stage = `${options.scratchDir}/stage-${name}`;
  await Deno.remove(stage, { recursive: true }).catch(() => {});
  const spec = SPECS[name];
  const builders: TreeBuilder[] = [];
  const layerDirs: string[] = [];
  for (let i = 0; i < spec.layers; i++) {
    const d = `${stage}/layer-${i}`;
    await Deno.mkdir(d, { recursive: true });
    layerDirs.push(d);
    builders.push(new TreeBuilder(d, { chown: options.chown }));
  }
  spec.gen(builders, new Rng(spec.seed));
  const stats: TreeStats = { files: 0, dirs: 0, symlinks: 0, hardlinks: 0, whiteouts: 0, bytes: 0 };
  for (const b of builders) {
    for (const k of Object.keys(stats) as (keyof TreeStats)[]) stats[k] += b.stats[k];
  }
  log(
    `  ${name}: ${stats.files} files, ${stats.dirs} dirs, ${stats.symlinks} symlinks, ` +
      `${stats.hardlinks} hardlinks, ${stats.whiteouts} whiteouts, ${mb(stats.bytes)} MB; ` +
      `writing layers with tar + gzip ...`,
  );
  await Deno.mkdir(`${dir}/layout`, { recursive: true });
  const written = await writeOciLayout({
    layout: `${dir}/layout`,
    tag: TAG,
    layerDirs,
    scratch: stage,
  });
  await Deno.remove(stage, { recursive: true });
  const fixture: Omit<Fixture, "generated" | "layout"> = {
    name,
    tag: TAG,
    manifestDigest: written.manifestDigest,
    layers: written.layers.map((l) => ({ ...l, path: l.path.slice(`${dir}/layout/`.length) })),
    stats,
  };
  await Deno.writeTextFile(meta, JSON.stringify(fixture, null, 2) + "\n");
  const secs = ((performance.now() - started) / 1000).toFixed(1);
  log(`  ${name}: done in ${secs} s (${written.layers.map((l) => mb(l.size)).join(" + ")} MB gz)`);
  return { ...fixture, layers: fixture.layers, layout: `${dir}/layout`, generated: true };
}

/** Removes cached layouts of `name` made by other generator versions. */
async function pruneOldGenerations(
  cacheDir: string,
  name: FixtureName,
  log: (line: string) => void,
): Promise<void> {
  const pattern = new RegExp(`^${name}-g(\\d+)(-nochown)?$`);
  try {
    for await (const e of Deno.readDir(cacheDir)) {
      const m = e.name.match(pattern);
      if (e.isDirectory && m && Number(m[1]) !== GENERATOR_VERSION) {
        log(`removing ${cacheDir}/${e.name} (made by another fixture generator version)`);
        await Deno.remove(`${cacheDir}/${e.name}`, { recursive: true });
      }
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

function mb(n: number): string {
  return (n / 1e6).toFixed(1);
}

// ---------------------------------------------------------------------------------------------
// many-files

const EXTS = ["txt", "json", "js", "py", "conf", "dat", "bin", "md", "h", "c"];

function genManyFiles(layers: TreeBuilder[], rng: Rng): void {
  const plan = [{ files: 15_000, dirs: 150 }, { files: 10_000, dirs: 100 }, {
    files: 5_000,
    dirs: 60,
  }];
  const firstLayerFiles: string[] = [];
  plan.forEach((p, i) => {
    const t = layers[i];
    const r = rng.fork(i + 1);
    const top = `/opt/app${i}`;
    const dirs: string[] = [];
    for (let d = 0; d < p.dirs; d++) {
      let parent = dirs.length > 0 && r.chance(0.6) ? r.pick(dirs) : top;
      if (parent.split("/").length > 7) parent = top;
      const dir = `${parent}/${r.name(3, 8)}${d}`;
      t.dir(dir, { mode: r.chance(0.1) ? 0o750 : 0o755 });
      dirs.push(dir);
    }
    for (let f = 0; f < p.files; f++) {
      const size = r.int(4097);
      const data = r.chance(0.5) ? r.text(size) : r.bytes(size);
      const owned = r.chance(0.05);
      t.file(`${r.pick(dirs)}/${r.name(2, 12)}-${f}.${r.pick(EXTS)}`, data, {
        mode: r.chance(0.15) ? 0o755 : 0o644,
        mtime: 1_500_000_000 + r.int(100_000_000),
        uid: owned ? 1000 : undefined,
        gid: owned ? 1000 : undefined,
      });
    }
    const files = t.files.slice();
    if (i === 0) firstLayerFiles.push(...files);
    for (let k = 0; k < 100; k++) {
      const target = r.pick(files);
      const kind = r.int(10);
      if (kind < 5) t.symlink(`${r.pick(dirs)}/sl-${k}`, target);
      else if (kind < 9) {
        const slash = target.lastIndexOf("/");
        t.symlink(`${target.slice(0, slash)}/sl-${k}`, target.slice(slash + 1));
      } else t.symlink(`${r.pick(dirs)}/sl-${k}`, `../missing/${r.name()}`);
    }
    for (let k = 0; k < 70; k++) t.hardlink(`${r.pick(dirs)}/hl-${k}`, r.pick(files));
    if (i === 2) {
      // Overwrite files of the first layer.
      for (let k = 0; k < 500; k++) {
        const path = firstLayerFiles[(k * 29) % firstLayerFiles.length];
        t.file(path, r.text(r.int(4097)), { mtime: 1_650_000_000 + k });
      }
    }
  });
}

// ---------------------------------------------------------------------------------------------
// debian-like

const LANGS = [
  "ar",
  "bg",
  "ca",
  "cs",
  "da",
  "de",
  "el",
  "es",
  "fi",
  "fr",
  "gl",
  "hu",
  "id",
  "it",
  "ja",
  "ko",
  "nb",
  "nl",
  "pl",
  "pt",
  "pt_BR",
  "ro",
  "ru",
  "sv",
  "tr",
  "uk",
  "vi",
  "zh_CN",
];
const ARCH_LIB = "/usr/lib/x86_64-linux-gnu";
const MIB = 1 << 20;

interface PackageRecord {
  name: string;
  bins: string[];
  libs: string[];
}

function addPackage(t: TreeBuilder, r: Rng, name: string, pool: Uint8Array): PackageRecord {
  const paths: string[] = [];
  const put = (p: string, data: Uint8Array, mode = 0o644) => {
    t.file(p, data, { mode, mtime: 1_600_000_000 + r.int(80_000_000) });
    paths.push(p);
  };
  const rec: PackageRecord = { name, bins: [], libs: [] };
  put(`/usr/share/doc/${name}/copyright`, r.text(r.logRange(300, 20_000)));
  put(`/usr/share/doc/${name}/changelog.Debian.gz`, r.bytes(r.logRange(500, 30_000)));
  const nb = r.pick([0, 0, 1, 1, 1, 2, 3, 5]);
  for (let k = 0; k < nb; k++) {
    const bin = k === 0 ? name : `${name}-${r.name(2, 6)}`;
    const sbin = r.chance(0.2);
    const path = `/usr/${sbin ? "sbin" : "bin"}/${bin}`;
    put(path, r.binaryish(r.logRange(8_000, 600_000), pool), 0o755);
    put(
      `/usr/share/man/man${sbin ? 8 : 1}/${bin}.${sbin ? 8 : 1}.gz`,
      r.bytes(r.logRange(400, 8000)),
    );
    rec.bins.push(path);
  }
  const nl = r.pick([0, 0, 0, 1, 1, 2]);
  for (let k = 0; k < nl; k++) {
    const lib = `lib${name}${k === 0 ? "" : k}`;
    const major = r.range(0, 9);
    const real = `${lib}.so.${major}.${r.range(0, 30)}.${r.range(0, 9)}`;
    put(`${ARCH_LIB}/${real}`, r.binaryish(r.logRange(15_000, 1_200_000), pool));
    t.symlink(`${ARCH_LIB}/${lib}.so.${major}`, real);
    if (r.chance(0.5)) put(`/usr/share/man/man3/${lib}.3.gz`, r.bytes(r.logRange(400, 6000)));
    rec.libs.push(`${ARCH_LIB}/${real}`);
  }
  if (r.chance(0.3)) {
    for (const lang of LANGS) {
      put(
        `/usr/share/locale/${lang}/LC_MESSAGES/${name}.mo`,
        r.binaryish(r.logRange(1000, 60_000), pool),
      );
    }
  }
  const list = paths.join("\n") + "\n";
  t.file(`/var/lib/dpkg/info/${name}.list`, enc.encode(list));
  t.file(
    `/var/lib/dpkg/info/${name}.md5sums`,
    enc.encode(paths.map((p) => `${hex(r, 32)}  ${p.slice(1)}`).join("\n") + "\n"),
  );
  if (r.chance(0.3)) {
    t.file(`/var/lib/dpkg/info/${name}.postinst`, r.text(r.logRange(200, 4000)), { mode: 0o755 });
  }
  return rec;
}

function hex(r: Rng, n: number): string {
  let s = "";
  while (s.length < n) s += r.next().toString(16).padStart(8, "0");
  return s.slice(0, n);
}

function uniqueNames(r: Rng, n: number, taken = new Set<string>()): string[] {
  const out: string[] = [];
  while (out.length < n) {
    const name = r.chance(0.3) ? `${r.name(2, 6)}-${r.name(3, 8)}` : r.name(3, 10);
    if (taken.has(name)) continue;
    taken.add(name);
    out.push(name);
  }
  return out;
}

function genDebianLike(layers: TreeBuilder[], rng: Rng): void {
  const [base, update, app] = layers;
  const pool = rng.bytes(8192);
  const taken = new Set<string>();
  const packages: PackageRecord[] = [];

  // --- layer 0: the base system -------------------------------------------------------------
  {
    const t = base;
    const r = rng.fork(100);
    for (const [l, target] of [["bin", "usr/bin"], ["sbin", "usr/sbin"], ["lib", "usr/lib"]]) {
      t.symlink(`/${l}`, target);
    }
    t.symlink("/lib64", "usr/lib64");
    for (
      const d of [
        "boot",
        "dev",
        "home",
        "media",
        "mnt",
        "opt",
        "proc",
        "run",
        "srv",
        "sys",
        "usr/local/bin",
        "usr/local/lib",
        "usr/lib64",
        "var/cache/apt/archives/partial",
        "var/backups",
      ]
    ) t.dir(`/${d}`);
    t.dir("/root", { mode: 0o700 });
    t.dir("/tmp", { mode: 0o1777 });
    t.dir("/var/tmp", { mode: 0o1777 });
    t.dir("/var/mail", { mode: 0o2775, gid: 8 });
    t.dir("/var/log/apt", { mode: 0o750, gid: 4 });
    t.dir("/var/spool/cron/crontabs", { mode: 0o1730, gid: 101 });
    t.symlink("/usr/lib64/ld-linux-x86-64.so.2", "../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2");
    t.file(`${ARCH_LIB}/ld-linux-x86-64.so.2`, r.binaryish(210_000, pool), { mode: 0o755 });
    t.file(`${ARCH_LIB}/libc.so.6`, r.binaryish(1_900_000, pool), { mode: 0o755 });
    t.file(
      "/etc/passwd",
      enc.encode(
        "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n" +
          "bin:x:2:2:bin:/bin:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:" +
          "/usr/sbin/nologin\n",
      ),
    );
    t.file(
      "/etc/group",
      enc.encode("root:x:0:\ndaemon:x:1:\nbin:x:2:\nadm:x:4:\nmail:x:8:\nshadow:x:42:\n"),
    );
    t.file("/etc/shadow", enc.encode("root:*:19000:0:99999:7:::\n"), { mode: 0o640, gid: 42 });
    t.file("/etc/hostname", enc.encode("debian\n"));
    t.file(
      "/usr/lib/os-release",
      enc.encode('PRETTY_NAME="Debian-like bench fixture"\nID=debian\n'),
    );
    t.symlink("/etc/os-release", "../usr/lib/os-release");
    const etcDirs = [
      "/etc/default",
      "/etc/init.d",
      "/etc/cron.daily",
      "/etc/apt/apt.conf.d",
      "/etc/security",
      "/etc/pam.d",
      "/etc/ld.so.conf.d",
      "/etc/profile.d",
      "/etc/logrotate.d",
      "/etc/systemd/system",
      "/etc/dpkg/dpkg.cfg.d",
      "/etc/skel",
    ];
    const etcFiles: string[] = [];
    for (let k = 0; k < 350; k++) {
      const d = r.pick(etcDirs);
      const exec = d.endsWith("init.d") || d.endsWith("cron.daily");
      const p = `${d}/${r.name(3, 12)}${k}`;
      t.file(p, r.text(r.logRange(50, 8000)), { mode: exec ? 0o755 : 0o644 });
      etcFiles.push(p);
    }
    // Setuid/setgid programs.
    for (
      const [p, mode, gid] of [
        ["/usr/bin/passwd", 0o4755, 0],
        ["/usr/bin/su", 0o4755, 0],
        ["/usr/bin/mount", 0o4755, 0],
        ["/usr/bin/chage", 0o2755, 42],
        ["/usr/bin/expiry", 0o2755, 42],
      ] as const
    ) t.file(p, r.binaryish(r.range(30_000, 90_000), pool), { mode, gid });
    // Packages.
    for (const name of uniqueNames(r, 200, taken)) {
      packages.push(addPackage(t, r.fork(packages.length), name, pool));
    }
    // A few large binaries.
    const large: [string, number][] = [
      [`${ARCH_LIB}/libLLVM-15.so.1`, 24 * MIB],
      [`${ARCH_LIB}/libicudata.so.72.1`, 18 * MIB],
      ["/usr/lib/jvm/java-17-openjdk-amd64/lib/server/libjvm.so", 14 * MIB],
      ["/usr/lib/gcc/x86_64-linux-gnu/12/cc1", 9 * MIB],
      ["/usr/bin/python3.11", 6 * MIB],
      ["/usr/bin/perl5.36.0", 3.5 * MIB],
    ];
    for (const [p, size] of large) t.file(p, r.binaryish(size, pool), { mode: 0o755 });
    t.hardlink("/usr/bin/perl", "/usr/bin/perl5.36.0");
    t.symlink("/usr/bin/python3", "python3.11");
    t.symlink(`${ARCH_LIB}/libicudata.so.72`, "libicudata.so.72.1");
    // Python: deep trees, some paths longer than 100 bytes (PAX headers).
    const py = "/usr/lib/python3/dist-packages";
    for (let p = 0; p < 50; p++) {
      const pkg = `${r.name(3, 9)}_${p}`;
      const dirs = [`${py}/${pkg}`];
      for (let d = 0; d < 8; d++) {
        const parent = r.pick(dirs);
        if (parent.split("/").length < 10) dirs.push(`${parent}/${r.name(3, 10)}`);
      }
      for (let m = 0; m < 40; m++) {
        const dir = r.pick(dirs);
        const long = r.chance(0.05);
        const mod = long ? `${r.name(30, 40)}_${r.name(30, 40)}_${m}` : `${r.name(3, 12)}_${m}`;
        const size = r.logRange(200, 40_000);
        t.file(`${dir}/${mod}.py`, r.text(size));
        t.file(
          `${dir}/__pycache__/${mod}.cpython-311.pyc`,
          r.binaryish(Math.ceil(size * 0.6), pool),
        );
      }
    }
    // zoneinfo with hardlinks (posix/) and symlinks (aliases).
    const regions = ["Africa", "America", "Asia", "Atlantic", "Australia", "Europe", "Pacific"];
    const zones: string[] = [];
    for (let z = 0; z < 450; z++) {
      const p = `/usr/share/zoneinfo/${r.pick(regions)}/${r.name(4, 12)}_${z}`;
      t.file(p, r.binaryish(r.logRange(100, 3500), pool));
      zones.push(p);
    }
    for (let z = 0; z < 150; z++) {
      t.hardlink(zones[z].replace("/zoneinfo/", "/zoneinfo/posix/"), zones[z]);
    }
    for (let z = 0; z < 30; z++) {
      const target = zones[z * 7].slice("/usr/share/zoneinfo/".length);
      t.symlink(`/usr/share/zoneinfo/US/${r.name(4, 9)}${z}`, `../${target}`);
    }
    t.symlink("/etc/localtime", `/usr/share/zoneinfo/${zones[3].slice(20)}`);
    // Headers, perl, charmaps, licenses, certificates.
    const inc = ["linux", "asm-generic", "x86_64-linux-gnu/bits", "sys", "netinet", "rpc", "scsi"];
    for (let k = 0; k < 800; k++) {
      t.file(`/usr/include/${r.pick(inc)}/${r.name(3, 12)}${k}.h`, r.text(r.logRange(200, 30_000)));
    }
    const perlDirs: string[] = ["/usr/share/perl/5.36.0"];
    for (let d = 0; d < 60; d++) perlDirs.push(`${r.pick(perlDirs)}/${r.name(3, 9)}`);
    for (let k = 0; k < 700; k++) {
      t.file(`${r.pick(perlDirs)}/${r.name(3, 12)}${k}.pm`, r.text(r.logRange(300, 25_000)));
    }
    for (let k = 0; k < 180; k++) {
      t.file(`/usr/share/i18n/charmaps/${r.name(4, 12)}${k}.gz`, r.bytes(r.logRange(2000, 60_000)));
    }
    for (const lic of ["Apache-2.0", "Artistic", "BSD", "GFDL-1.3", "GPL-2", "GPL-3", "LGPL-2.1"]) {
      t.file(`/usr/share/common-licenses/${lic}`, r.text(r.range(5000, 35_000)));
    }
    for (let k = 0; k < 140; k++) {
      const name = `${r.name(5, 14)}_${k}`;
      t.file(`/usr/share/ca-certificates/mozilla/${name}.crt`, r.text(r.range(1200, 2400)));
      t.symlink(`/etc/ssl/certs/${name}.pem`, `/usr/share/ca-certificates/mozilla/${name}.crt`);
      t.symlink(`/etc/ssl/certs/${hex(r, 8)}.0`, `${name}.pem`);
    }
    for (let k = 0; k < 200; k++) {
      t.file(`/usr/share/man/man3/${r.name(3, 10)}_${k}.3.gz`, r.bytes(r.logRange(400, 8000)));
    }
    for (let k = 0; k < 4; k++) {
      t.file(
        `/var/lib/apt/lists/deb.debian.org_debian_dists_${k}_Packages`,
        r.text(r.range(2, 5) * MIB),
      );
    }
    t.file("/var/lib/dpkg/status", r.text(1_500_000));
    t.file("/var/cache/debconf/templates.dat", r.text(1_200_000));
    for (let k = 0; k < 5; k++) t.file(`/srv/data/part${k}`, r.text(r.range(100, 5000)));
    t.file("/srv/link", enc.encode("a file that becomes a directory\n"));
    for (let k = 0; k < 10; k++) t.file(`/opt/legacy/lib/mod${k}.so`, r.binaryish(20_000, pool));
    t.file("/var/log/dpkg.log", r.text(300_000), { mode: 0o640, gid: 4 });
  }

  // --- layer 1: "apt-get update && apt-get install ... && cleanup" ---------------------------
  {
    const t = update;
    const r = rng.fork(200);
    t.opaque("/var/lib/apt/lists");
    for (let k = 0; k < 3; k++) {
      t.file(
        `/var/lib/apt/lists/deb.debian.org_updates_${k}_Packages`,
        r.text(r.range(2, 4) * MIB),
      );
    }
    t.dir("/var/lib/apt/lists/partial", { mode: 0o700 });
    t.opaque("/etc/apt/apt.conf.d");
    t.file("/etc/apt/apt.conf.d/docker-clean", r.text(400));
    t.file("/etc/apt/apt.conf.d/docker-no-languages", r.text(120));
    t.file("/etc/apt/sources.list.d/extra.list", r.text(200));
    for (let k = 0; k < 20; k++) t.whiteout(`/usr/share/doc/${packages[k * 9].name}`);
    let removed = 0;
    for (const p of packages) {
      if (removed >= 30) break;
      if (p.bins.length > 1) {
        t.whiteout(p.bins[1]);
        removed++;
      }
    }
    t.whiteout("/opt/legacy");
    for (let k = 0; k < 40; k++) {
      t.file(`/etc/default/updated${k}`, r.text(r.logRange(50, 4000)));
    }
    t.file(
      "/etc/passwd",
      enc.encode(
        "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n" +
          "bin:x:2:2:bin:/bin:/usr/sbin/nologin\n_apt:x:42:65534::/nonexistent:/usr/sbin/nologin\n" +
          "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
      ),
    );
    t.file("/usr/lib/gcc/x86_64-linux-gnu/12/cc1", r.binaryish(9 * MIB + 4096, pool), {
      mode: 0o755,
    });
    for (const [k, name] of uniqueNames(r, 20, taken).entries()) {
      addPackage(t, r.fork(1000 + k), name, pool);
    }
    t.file("/srv/data", enc.encode("a directory that became a file\n"));
    t.file("/srv/link/inside", enc.encode("a file that became a directory\n"));
    t.file("/usr/bin/newtool-1.0", r.binaryish(250_000, pool), { mode: 0o755 });
    t.hardlink("/usr/bin/newtool", "/usr/bin/newtool-1.0");
    t.file("/var/lib/dpkg/status", r.text(1_600_000));
    t.file("/var/log/apt/history.log", r.text(40_000), { mode: 0o640, gid: 4 });
  }

  // --- layer 2: an application -------------------------------------------------------------
  {
    const t = app;
    const r = rng.fork(300);
    t.whiteout("/usr/share/man/man3");
    t.dir("/home/app", { uid: 1000, gid: 1000, mode: 0o750 });
    t.file("/home/app/.bashrc", r.text(3000), { uid: 1000, gid: 1000 });
    const nm = "/app/node_modules";
    let firstLicense = "";
    for (let m = 0; m < 250; m++) {
      const mod = `${r.name(3, 10)}-${m}`;
      const dir = `${nm}/${mod}`;
      t.file(`${dir}/package.json`, r.text(r.range(300, 2000)));
      t.file(`${dir}/index.js`, r.text(r.logRange(100, 8000)));
      t.file(`${dir}/README.md`, r.text(r.logRange(200, 12_000)));
      const lic = `${dir}/LICENSE`;
      if (firstLicense && m % 10 === 0) t.hardlink(lic, firstLicense);
      else {
        t.file(lic, r.text(1080));
        firstLicense ||= lic;
      }
      for (let k = r.range(3, 15); k > 0; k--) {
        t.file(`${dir}/lib/${r.name(3, 10)}${k}.js`, r.text(r.logRange(100, 20_000)));
      }
      if (m % 8 === 0) {
        t.file(`${dir}/bin/cli.js`, r.text(600), { mode: 0o755 });
        t.symlink(`${nm}/.bin/${mod}`, `../${mod}/bin/cli.js`);
      }
    }
    t.file("/app/server.js", r.text(12_000));
    t.file("/app/package.json", r.text(900));
  }
}

// ---------------------------------------------------------------------------------------------
// big-file

function genBigFile(layers: TreeBuilder[], rng: Rng): void {
  const t = layers[0];
  const block = new Uint8Array(MIB);
  rng.fill(block.subarray(0, MIB / 2));
  block.set(rng.text(MIB / 2), MIB / 2);
  t.dir("/data");
  const path = t.host("/data/big.bin");
  using f = Deno.openSync(path, { write: true, create: true, truncate: true });
  const chunk = new Uint8Array(MIB);
  const view = new DataView(chunk.buffer);
  for (let i = 0; i < 512; i++) {
    chunk.set(block);
    for (let off = 0; off < MIB; off += 4096) view.setUint32(off, i * 256 + off / 4096, true);
    let done = 0;
    while (done < chunk.length) done += f.writeSync(chunk.subarray(done));
  }
  Deno.utimeSync(path, 1_650_000_000, 1_650_000_000);
  t.stats.files++;
  t.stats.bytes += 512 * MIB;
}
