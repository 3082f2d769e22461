/**
 * Nothing half-written is ever visible. `ocibox copy` of an image with a ~200 MB layer (into an
 * OCI layout that already holds another tagged image, into `oci-archive:` and into
 * `docker-archive:`) and `ocibox unpack` of it are killed at several moments:
 *
 * - with SIGKILL (no chance to clean up): the old image must still validate and inspect, the
 *   new one must be absent or complete (every blob index.json reaches exists with its digest,
 *   and no blob file holds anything but the content its name promises), an archive file must
 *   be absent, the old one, or a complete new one (`skopeo inspect` reads it), a bundle must
 *   not appear; only `.tmp-*` leftovers may remain beside the target;
 * - with SIGINT (Ctrl-C): the process removes its temporary files and exits 130.
 *
 * The moments are 100, 300 and 600 ms after the start (a whole copy takes 0.5 to 1.5 s here)
 * and some taken from progress, so that the signal surely lands mid-way: when a blob's
 * temporary file appears, when the archive file itself is being written, when the big file
 * of the layer is being unpacked. SIGINT is always sent at such a moment.
 * @module
 */
import assert from "node:assert/strict";
import { createHash, randomFillSync } from "node:crypto";
import zlib from "node:zlib";
import { makeEntry } from "../lib/archive/tar/entry.ts";
import { encodeEntryHeader, END_OF_ARCHIVE, paddingFor } from "../lib/archive/tar/writer.ts";
import { buildTar, writeImage, type WrittenImage } from "./support/images.ts";
import { ociboxOk, spawnOcibox, toResult } from "./support/ocibox_cli.ts";
import type { OciboxResult } from "./support/ocibox_cli.ts";
import { peerTest, run, runRaw } from "./support/peers.ts";

const PEERS = { peers: ["oci-image-tool", "skopeo"] };
const BIG_SIZE = 200 << 20;
const REF_NAME = "org.opencontainers.image.ref.name";

/** The images every trial starts from. */
interface Fixture {
  dir: string;
  /** `oci:` layout holding the big image, tagged `big`. */
  big: WrittenImage;
  /** A layout holding only a small image tagged `old`: each destination starts as a copy. */
  oldLayout: string;
  old: WrittenImage;
  /** An oci-archive of the old image (for "an existing archive is replaced atomically"). */
  oldArchive: string;
}

let fixture: Promise<Fixture> | undefined;

/** One tar holding one regular file of `size` random bytes, built in a single buffer. */
function bigTar(size: number): Uint8Array {
  const header = encodeEntryHeader(makeEntry({ name: "big.bin", type: "file", size, mode: 0o644 }));
  const pad = paddingFor(size).length;
  const tar = new Uint8Array(header.length + size + pad + END_OF_ARCHIVE.length);
  tar.set(header, 0);
  randomFillSync(tar.subarray(header.length, header.length + size));
  return tar;
}

/**
 * /dev/shm when it is a tmpfs with room to spare (4 GiB), else the system's temporary
 * directory. Every trial writes hundreds of megabytes; on the ext4 disk here that costs ~1.5 s
 * per 200 MB, on tmpfs a fifth of it. A kill is a kill on either: renames are atomic on both
 * and fsync only matters for power loss, which these tests do not simulate.
 */
async function scratchParent(): Promise<string | undefined> {
  const df = await runRaw("df", ["-Pk", "/dev/shm"]);
  const fields = df.stdout.trim().split("\n").at(-1)?.split(/\s+/) ?? [];
  const availKiB = Number(fields[3]);
  return df.success && availKiB > 4 * 1024 * 1024 ? "/dev/shm" : undefined;
}

/** Builds the fixture once per test file; it is removed when the file's tests end. */
function getFixture(): Promise<Fixture> {
  fixture ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "ocibox-atomic-", dir: await scratchParent() });
    globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
    const tar = bigTar(BIG_SIZE);
    // Random data does not compress: gzip level 0 (stored blocks) is as small and far faster.
    const blob = new Uint8Array(zlib.gzipSync(tar, { level: 0 }));
    const small = buildTar([{ name: "small.txt", type: "file", data: "small\n" }]);
    const big = await writeImage(`${dir}/src`, "big", {
      layers: [{ tar: small, compression: "gzip" }, { tar, blob, compression: "gzip" }],
      config: { Cmd: ["/big"] },
    });
    const oldTar = buildTar([{ name: "old.txt", type: "file", data: "old image\n" }]);
    const old = await writeImage(`${dir}/old`, "old", {
      layers: [{ tar: oldTar, compression: "gzip" }],
      config: { Cmd: ["/old"] },
    });
    const oldArchive = `${dir}/old-archive.tar`;
    await run("skopeo", ["copy", "--quiet", old.ref, `oci-archive:${oldArchive}:old`]);
    return { dir, big, oldLayout: `${dir}/old`, old, oldArchive };
  })();
  return fixture;
}

/** `sha256:<hex>` of a file, streamed. */
async function fileDigest(path: string): Promise<string> {
  const h = createHash("sha256");
  using f = await Deno.open(path);
  for await (const chunk of f.readable) h.update(chunk);
  return `sha256:${h.digest("hex")}`;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

/** When to send the signal: milliseconds after the start, or once `ready()` says so. */
type Moment = { label: string; afterMs: number } | {
  label: string;
  ready: () => Promise<boolean>;
};

/** How a signalled run ended. */
interface KillResult extends OciboxResult {
  /** The signal was sent to the running process (false: it had ended before the moment). */
  sent: boolean;
  /**
   * The work was stopped by the signal: for SIGKILL the process died of it; for SIGINT it was
   * sent while the work was under way (a process that then finishes anyway has ignored it).
   */
  stopped: boolean;
}

/** Starts `ocibox ARGS`, sends `signal` at `moment`, and waits for the end. */
async function runAndSignal(
  args: string[],
  moment: Moment,
  signal: "SIGKILL" | "SIGINT",
): Promise<KillResult> {
  const child = spawnOcibox(args);
  let exited = false;
  const status = child.status.then(() => {
    exited = true;
  });
  if ("afterMs" in moment) {
    await Promise.race([status, new Promise((r) => setTimeout(r, moment.afterMs))]);
  } else {
    const deadline = Date.now() + 20_000;
    while (!exited && !(await moment.ready())) {
      if (Date.now() > deadline) throw new Error(`${moment.label}: never reached`);
      await new Promise((r) => setTimeout(r, 2));
    }
  }
  let sent = false;
  if (!exited) {
    try {
      child.kill(signal);
      sent = true;
    } catch { /* it exited in between */ }
  }
  const out = toResult(await child.output());
  const stopped = signal === "SIGKILL" ? out.signal === "SIGKILL" : sent;
  return { ...out, sent, stopped };
}

/** An entry named `prefix...` exists in `dir`. */
function tmpAppears(dir: string, prefix = ".tmp-"): () => Promise<boolean> {
  return async () => {
    try {
      for await (const e of Deno.readDir(dir)) {
        if (e.name.startsWith(prefix)) return true;
      }
    } catch { /* not there yet */ }
    return false;
  };
}

/** The big layer is being unpacked: a staging directory beside the bundle has rootfs/big.bin. */
function bigFileWriting(parent: string): () => Promise<boolean> {
  return async () => {
    try {
      for await (const e of Deno.readDir(parent)) {
        if (e.name.startsWith(".tmp-ocibox-unpack-")) {
          if (await exists(`${parent}/${e.name}/rootfs/big.bin`)) return true;
        }
      }
    } catch { /* not there yet */ }
    return false;
  };
}

/**
 * The archive file itself is being written: archive destinations stage blobs in a `.tmp-*`
 * directory beside the target and, at commit, write the tar to a temporary file named
 * `.tmp-<target name>-*` inside that directory before renaming it over the target.
 */
function archiveWriting(parent: string, target: string): () => Promise<boolean> {
  const prefix = `.tmp-${target.slice(target.lastIndexOf("/") + 1)}-`;
  return async () => {
    try {
      for await (const e of Deno.readDir(parent)) {
        if (e.isDirectory && e.name.startsWith(".tmp-")) {
          if (await tmpAppears(`${parent}/${e.name}`, prefix)()) return true;
        }
      }
    } catch { /* not there yet */ }
    return false;
  };
}

/** An image manifest or index, as far as reachability needs it. */
interface ManifestJson {
  config?: Descriptor;
  layers?: Descriptor[];
  manifests?: Descriptor[];
}

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

/**
 * Checks the layout at `layout`: only `oci-layout`, `index.json`, `blobs` and `.tmp-*` entries
 * at its root; every blob file holds exactly the content its name is the digest of; every
 * descriptor reachable from index.json names an existing blob of the right size. Returns the
 * tags of index.json and the digests they name.
 */
async function checkLayout(layout: string): Promise<Map<string, string>> {
  for (const n of await names(layout)) {
    assert.ok(
      ["oci-layout", "index.json", "blobs"].includes(n) || n.startsWith(".tmp-"),
      `unexpected ${n} at the layout root`,
    );
  }
  const blobs = new Map<string, number>();
  for await (const e of Deno.readDir(`${layout}/blobs/sha256`)) {
    const path = `${layout}/blobs/sha256/${e.name}`;
    assert.ok(e.isFile, `${path} is a file`);
    assert.equal(await fileDigest(path), `sha256:${e.name}`, `${path} is complete`);
    blobs.set(`sha256:${e.name}`, (await Deno.stat(path)).size);
  }
  const index = JSON.parse(await Deno.readTextFile(`${layout}/index.json`)) as ManifestJson;
  const tags = new Map<string, string>();
  const queue = [...(index.manifests ?? [])];
  for (const d of index.manifests ?? []) {
    const tag = d.annotations?.[REF_NAME];
    if (tag !== undefined) tags.set(tag, d.digest);
  }
  while (queue.length) {
    const d = queue.shift()!;
    assert.equal(blobs.get(d.digest), d.size, `${d.digest} (${d.mediaType}) is there, whole`);
    if (/manifest|index/.test(d.mediaType)) {
      const m = JSON.parse(
        await Deno.readTextFile(`${layout}/blobs/sha256/${d.digest.slice(7)}`),
      ) as ManifestJson;
      queue.push(...(m.config ? [m.config] : []), ...(m.layers ?? []), ...(m.manifests ?? []));
    }
  }
  return tags;
}

/** Asserts the `old` image of a destination layout is intact for every tool. */
async function checkOldImage(layout: string, f: Fixture): Promise<void> {
  const v = await runRaw("oci-image-tool", [
    "validate",
    "--type",
    "image",
    "--ref",
    "name=old",
    layout,
  ]);
  assert.equal(v.code, 0, `oci-image-tool validate: ${v.stdout}${v.stderr}`);
  const info = JSON.parse(await ociboxOk(["inspect", `oci:${layout}:old`])) as { Layers: string[] };
  assert.deepEqual(info.Layers, f.old.layerDigests);
}

/** Asserts a new `big` image is complete wherever it is found. */
async function checkBigImage(location: string, f: Fixture): Promise<void> {
  const info = JSON.parse(await run("skopeo", ["inspect", location])) as { Layers: string[] };
  assert.equal(info.Layers.length, 2, location);
  const ours = JSON.parse(await ociboxOk(["inspect", location])) as { Layers: string[] };
  assert.deepEqual(ours.Layers, info.Layers);
  const config = JSON.parse(await run("skopeo", ["inspect", "--config", location])) as {
    rootfs: { diff_ids: string[] };
  };
  assert.deepEqual(config.rootfs.diff_ids, f.big.diffIds, `${location}: the same image`);
}

/**
 * After SIGINT: ocibox handled it, said so in one error line and exited 130. (At the time of
 * writing it exits 1: withInterrupt in lib/cli/common.ts sets `Deno.exitCode = 130`, but the
 * AbortedError then reaches main.ts, whose fail() returns 1 for `Deno.exit(await main(...))`,
 * which overrides Deno.exitCode.)
 */
function exit130(r: KillResult): void {
  assert.equal(r.signal, null, "ocibox handles SIGINT itself");
  assert.equal(r.code, 130, `exit code after SIGINT (stderr: ${r.stderr.trim()})`);
  assert.match(r.stderr, /^error: [^\n]*\n$/);
}

/** A fresh trial directory holding `dst`, a copy of the layout with the old image. */
async function trialLayout(f: Fixture, name: string): Promise<string> {
  const dst = `${f.dir}/${name}`;
  await run("cp", ["-a", f.oldLayout, dst]);
  return dst;
}

/** The SIGKILL moments: three times, and one from progress (`ready`). */
function killMoments(ready: Moment & { ready: unknown }): Moment[] {
  return [
    { label: "after 100 ms", afterMs: 100 },
    { label: "after 300 ms", afterMs: 300 },
    { label: "after 600 ms", afterMs: 600 },
    ready,
  ];
}

/** Copying into a layout: the trial's checks after the process ended (killed or not). */
async function checkLayoutAfter(
  dst: string,
  r: KillResult,
  f: Fixture,
  signal: "SIGKILL" | "SIGINT",
): Promise<void> {
  const tags = await checkLayout(dst);
  assert.equal(tags.get("old"), f.old.manifestDigest, "the old tag is unchanged");
  await checkOldImage(dst, f);
  if (!r.stopped) {
    assert.equal(r.code, 0, `finished before the signal, so successfully: ${r.stderr}`);
    assert.equal(tags.get("new"), f.big.manifestDigest);
  }
  if (tags.has("new")) await checkBigImage(`oci:${dst}:new`, f);
  if (signal === "SIGKILL") {
    if (r.stopped) assert.equal(r.signal, "SIGKILL");
  } else {
    const left = (await names(dst)).filter((n) => n.startsWith(".tmp-"));
    assert.deepEqual(left, [], "SIGINT leaves no temporary file");
    assert.equal(tags.has("new"), !r.stopped, "an interrupted copy tags nothing");
  }
}

/** An archive target after the process ended: absent, the old file, or complete. */
async function checkArchiveAfter(
  parent: string,
  target: string,
  location: string,
  r: KillResult,
  f: Fixture,
  before: string | undefined,
  signal: "SIGKILL" | "SIGINT",
): Promise<void> {
  const base = target.slice(target.lastIndexOf("/") + 1);
  for (const n of await names(parent)) {
    assert.ok(n === base || n.startsWith(".tmp-"), `unexpected ${n} beside the archive`);
  }
  const now = (await exists(target)) ? await fileDigest(target) : undefined;
  if (!r.stopped) assert.equal(r.code, 0, `finished before the signal: ${r.stderr}`);
  if (now !== undefined && now !== before) {
    await checkBigImage(location, f); // replaced: then by the whole new archive
  } else {
    assert.ok(r.stopped, "a finished copy replaced the file");
    if (before !== undefined) {
      // The old archive is still whole and readable.
      const info = JSON.parse(await run("skopeo", ["inspect", `oci-archive:${target}:old`])) as {
        Layers: string[];
      };
      assert.deepEqual(info.Layers, f.old.layerDigests);
    }
  }
  if (signal === "SIGINT") {
    assert.deepEqual(
      (await names(parent)).filter((n) => n.startsWith(".tmp-")),
      [],
      "SIGINT leaves no temporary file",
    );
    if (r.stopped) assert.equal(now, before, "an interrupted copy leaves the target as it was");
  }
}

/** An unpack target after the process ended: no bundle unless it finished, then whole. */
async function checkBundleAfter(
  parent: string,
  r: KillResult,
  signal: "SIGKILL" | "SIGINT",
): Promise<void> {
  const entries = await names(parent);
  const allowed = signal === "SIGKILL" ? ".tmp-ocibox-unpack-" : "\0";
  for (const n of entries) {
    assert.ok(n === "bundle" || n.startsWith(allowed), `unexpected ${n} beside the bundle`);
  }
  if (r.stopped) {
    assert.ok(
      !entries.includes("bundle"),
      `no bundle appears when the unpack was stopped (it exited ${r.code}: ${r.stderr.trim()})`,
    );
  } else {
    assert.equal(r.code, 0, `finished before the signal: ${r.stderr}`);
    assert.ok(await exists(`${parent}/bundle/config.json`));
    assert.equal((await Deno.stat(`${parent}/bundle/rootfs/big.bin`)).size, BIG_SIZE);
  }
}

peerTest(
  "atomic writes: SIGKILL during copy into a layout holding another image",
  PEERS,
  async (t) => {
    const f = await getFixture();
    for (let i = 0; i < 4; i++) {
      const dst = await trialLayout(f, `kill-layout-${i}`);
      const m = killMoments({ label: "while a blob is written", ready: tmpAppears(dst) })[i];
      await t.step(m.label, async () => {
        const r = await runAndSignal(["copy", "-q", f.big.ref, `oci:${dst}:new`], m, "SIGKILL");
        await checkLayoutAfter(dst, r, f, "SIGKILL");
        if ("ready" in m) {
          // The layout stays usable: the same copy, run again over the leftovers, completes.
          await ociboxOk(["copy", "-q", f.big.ref, `oci:${dst}:new`]);
          const tags = await checkLayout(dst);
          assert.equal(tags.get("new"), f.big.manifestDigest);
          await checkOldImage(dst, f);
        }
      });
      await Deno.remove(dst, { recursive: true });
    }
  },
);

peerTest(
  "atomic writes: SIGKILL during copy to oci-archive: and docker-archive:",
  PEERS,
  async (t) => {
    const f = await getFixture();
    const kinds = [
      { transport: "oci-archive", existing: false },
      { transport: "oci-archive", existing: true },
      { transport: "docker-archive", existing: false },
    ];
    for (const [k, kind] of kinds.entries()) {
      // Five moments: the three times, while blobs go into the staging directory, and while the
      // archive file itself is written (a temporary regular file beside the target).
      for (let i = 0; i < 5; i++) {
        const parent = `${f.dir}/kill-archive-${k}-${i}`;
        await Deno.mkdir(parent);
        const target = `${parent}/image.tar`;
        if (kind.existing) await Deno.copyFile(f.oldArchive, target);
        const before = kind.existing ? await fileDigest(target) : undefined;
        const m = [
          ...killMoments({ label: "while staging blobs", ready: tmpAppears(parent) }),
          { label: "while writing the archive", ready: archiveWriting(parent, target) },
        ][i];
        const location = kind.transport === "oci-archive"
          ? `oci-archive:${target}:new`
          : `docker-archive:${target}:example/big:new`;
        const over = kind.existing ? " over an existing archive" : "";
        await t.step(`${kind.transport}${over}, ${m.label}`, async () => {
          const r = await runAndSignal(["copy", "-q", f.big.ref, location], m, "SIGKILL");
          const read = kind.transport === "oci-archive" ? location : `docker-archive:${target}`;
          await checkArchiveAfter(parent, target, read, r, f, before, "SIGKILL");
        });
        await Deno.remove(parent, { recursive: true });
      }
    }
  },
);

peerTest("atomic writes: SIGKILL during unpack leaves no bundle", PEERS, async (t) => {
  const f = await getFixture();
  for (let i = 0; i < 4; i++) {
    const parent = `${f.dir}/kill-unpack-${i}`;
    await Deno.mkdir(parent);
    const m =
      killMoments({ label: "while the big layer is written", ready: bigFileWriting(parent) })[i];
    await t.step(m.label, async () => {
      const r = await runAndSignal(["unpack", "-q", f.big.ref, `${parent}/bundle`], m, "SIGKILL");
      await checkBundleAfter(parent, r, "SIGKILL");
      if ("ready" in m && r.stopped) {
        // A staging directory left by SIGKILL does not stop the next unpack.
        await ociboxOk(["unpack", "-q", f.big.ref, `${parent}/bundle`]);
        await checkBundleAfter(parent, { ...r, stopped: false, code: 0 }, "SIGKILL");
      }
    });
    await Deno.remove(parent, { recursive: true });
  }
});

peerTest("atomic writes: SIGINT during copy cleans up and exits 130", PEERS, async (t) => {
  // Each interrupt lands while the work is under way (its temporary file or directory
  // exists). The state is checked first and the exit code last, so both kinds of failure show.
  const f = await getFixture();

  await t.step("copy into a layout", async () => {
    const dst = await trialLayout(f, "int-layout");
    const r = await runAndSignal(
      ["copy", "-q", f.big.ref, `oci:${dst}:new`],
      { label: "writing", ready: tmpAppears(dst) },
      "SIGINT",
    );
    assert.ok(r.sent, "the interrupt was sent while copying");
    await checkLayoutAfter(dst, r, f, "SIGINT");
    exit130(r);
  });

  const archives = [
    { transport: "oci-archive", label: "staging blobs", writing: false },
    { transport: "oci-archive", label: "writing the archive", writing: true },
    { transport: "docker-archive", label: "staging blobs", writing: false },
    { transport: "docker-archive", label: "writing the archive", writing: true },
  ];
  for (const [i, a] of archives.entries()) {
    await t.step(`copy to ${a.transport}:, ${a.label}`, async () => {
      const parent = `${f.dir}/int-archive-${i}`;
      await Deno.mkdir(parent);
      const target = `${parent}/image.tar`;
      const r = await runAndSignal(
        ["copy", "-q", f.big.ref, `${a.transport}:${target}`],
        {
          label: a.label,
          ready: a.writing ? archiveWriting(parent, target) : tmpAppears(parent),
        },
        "SIGINT",
      );
      assert.ok(r.sent, "the interrupt was sent while copying");
      await checkArchiveAfter(
        parent,
        target,
        `${a.transport}:${target}`,
        r,
        f,
        undefined,
        "SIGINT",
      );
      exit130(r);
    });
  }
});

peerTest(
  "atomic writes: SIGINT during the unpack of a big layer stops it, exit 130",
  PEERS,
  async () => {
    const f = await getFixture();
    const parent = `${f.dir}/int-unpack`;
    await Deno.mkdir(parent);
    const r = await runAndSignal(
      ["unpack", "-q", f.big.ref, `${parent}/bundle`],
      { label: "while the big layer is written", ready: bigFileWriting(parent) },
      "SIGINT",
    );
    assert.ok(r.sent, "the interrupt was sent while unpacking");
    // A layer streams without a single turn of the event loop (lib/io/file_stream.ts reads
    // with readSync, node:zlib's gunzip completes in microtasks, rootfs writes are synchronous
    // FFI calls), so the SIGINT listener of withInterrupt (lib/cli/common.ts) only runs once
    // the layer is done; with one big layer the interrupt is ignored: the bundle appears and
    // the exit code is 0.
    await checkBundleAfter(parent, r, "SIGINT");
    assert.deepEqual(await names(parent), [], "nothing at all is left");
    exit130(r);
  },
);
