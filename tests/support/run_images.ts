/**
 * What the `ocibox run IMAGE` tests share: busybox images built here and served by a
 * docker-registry on 127.0.0.1, a private store and runtime root per test ("box") with the
 * ocibox command line bound to them, a check that a box holds nothing (no container record, no
 * mount under the store, no runtime state, no cgroup), and a small pool that runs independent
 * cases side by side.
 *
 * The images, in one OCI layout and pushed by skopeo:
 * - `bb`: busybox-static with every applet, /etc/passwd with root, `user` (1000:1000) and `app`
 *   (1234:2345), /etc/group with `extra` (3000) listing app and user, a 1777 /tmp, /www for
 *   httpd; Cmd `sh`.
 * - `app`: bb plus a second layer (/opt/app/marker), Entrypoint `sh -c`, a Cmd script, Env
 *   GREETING=hello, WorkingDir /srv/app (not in any layer), User app, StopSignal SIGUSR1.
 * - `multi`: an image index with linux/amd64 and linux/arm64 images (both run this host's
 *   busybox; /platform says which one was picked).
 *
 * @example
 * ```ts
 * import { newBox, startRunFixture } from "./run_images.ts";
 * const fx = await startRunFixture();
 * const box = await newBox(fx);
 * const r = await box.run(["run", "--rm", "bb", "echo", "hi"]);
 * await box.close();
 * await fx.close();
 * ```
 * @module
 */
import assert from "node:assert/strict";
import { busyboxBundle, unmountUnder } from "./bundles.ts";
import { sha256Digest } from "./images.ts";
import { MAIN_TS, ociboxOk, type OciboxResult, toResult } from "./ocibox_cli.ts";
import { run } from "./peers.ts";
import { type Registry, startRegistry } from "./registry.ts";

/** The peers every one-liner test needs. */
export const RUN_PEERS = ["docker-registry", "skopeo", "busybox"];

/** The images' passwd and group (see the module doc). */
export const PASSWD = [
  "root:x:0:0:root:/root:/bin/sh",
  "user:x:1000:1000:user:/home/user:/bin/sh",
  "app:x:1234:2345:app:/srv/app:/bin/sh",
  "",
].join("\n");
export const GROUP = ["root:x:0:", "user:x:1000:", "app:x:2345:", "extra:x:3000:app,user", ""]
  .join("\n");

/** The app image's Cmd (run by its Entrypoint `sh -c`). */
export const APP_CMD = 'echo from-cmd; id; pwd; echo "GREETING=$GREETING"';

/** PATH in the images' Env, as in Docker's busybox. */
export const IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** A registry serving the test images. */
export interface RunFixture {
  reg: Registry;
  /** Temporary directory (layout, rootfs, boxes). */
  dir: string;
  /** The OCI layout the images were written to (tags bb, app, multi). */
  layout: string;
  /** Full names in the registry: `127.0.0.1:PORT/bb:latest` ... */
  names: { bb: string; app: string; multi: string };
  /** Image ids (config digests) of bb and app, `sha256:…`. */
  ids: { bb: string; app: string };
  /** Pushes `oci:LAYOUT:TAG` to the registry as `REPO:latest` (skopeo, every platform). */
  push(tag: string, repo: string): Promise<void>;
  close(): Promise<void>;
}

const REF_NAME = "org.opencontainers.image.ref.name";

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { os: string; architecture: string; variant?: string };
}

function blobPath(layout: string, digest: string): string {
  return `${layout}/blobs/sha256/${digest.slice(7)}`;
}

async function putBlob(layout: string, value: unknown): Promise<{ digest: string; size: number }> {
  const bytes = new TextEncoder().encode(JSON.stringify(value));
  const digest = sha256Digest(bytes);
  await Deno.writeFile(blobPath(layout, digest), bytes);
  return { digest, size: bytes.length };
}

async function readIndex(layout: string): Promise<{ manifests: Descriptor[] }> {
  return JSON.parse(await Deno.readTextFile(`${layout}/index.json`));
}

async function tagged(layout: string, tag: string): Promise<Descriptor> {
  const d = (await readIndex(layout)).manifests.find((m) => m.annotations?.[REF_NAME] === tag);
  if (!d) throw new Error(`no ${tag} in ${layout}`);
  return d;
}

async function setTag(layout: string, tag: string, desc: Descriptor): Promise<void> {
  const index = await readIndex(layout);
  index.manifests = index.manifests.filter((m) => m.annotations?.[REF_NAME] !== tag);
  index.manifests.push({ ...desc, annotations: { [REF_NAME]: tag } });
  await Deno.writeTextFile(`${layout}/index.json`, JSON.stringify(index));
}

/** Rewrites the config of image `tag` through `edit` (what `append` has no flag for). */
async function editConfig(
  layout: string,
  tag: string,
  edit: (config: Record<string, unknown>) => void,
): Promise<string> {
  const desc = await tagged(layout, tag);
  const manifest = JSON.parse(await Deno.readTextFile(blobPath(layout, desc.digest)));
  const config = JSON.parse(await Deno.readTextFile(blobPath(layout, manifest.config.digest)));
  edit(config.config);
  const c = await putBlob(layout, config);
  manifest.config = { ...manifest.config, ...c };
  const m = await putBlob(layout, manifest);
  await setTag(layout, tag, { mediaType: desc.mediaType, ...m });
  return c.digest;
}

/** Tags an OCI image index of the images tagged `tags` as `tag`. */
async function writeIndex(layout: string, tag: string, tags: string[]): Promise<void> {
  const manifests: Descriptor[] = [];
  for (const t of tags) {
    const desc = await tagged(layout, t);
    const manifest = JSON.parse(await Deno.readTextFile(blobPath(layout, desc.digest)));
    const config = JSON.parse(await Deno.readTextFile(blobPath(layout, manifest.config.digest)));
    manifests.push({
      mediaType: desc.mediaType,
      digest: desc.digest,
      size: desc.size,
      platform: { os: config.os, architecture: config.architecture },
    });
  }
  const mediaType = "application/vnd.oci.image.index.v1+json";
  const idx = await putBlob(layout, { schemaVersion: 2, mediaType, manifests });
  await setTag(layout, tag, { mediaType, ...idx });
}

async function configDigest(layout: string, tag: string): Promise<string> {
  const desc = await tagged(layout, tag);
  return JSON.parse(await Deno.readTextFile(blobPath(layout, desc.digest))).config.digest;
}

/** Writes the busybox rootfs of the images (see the module doc) at `dir`/rootfs. */
async function writeRootfs(dir: string): Promise<string> {
  await busyboxBundle(`${dir}/bb-bundle`, "true");
  const rootfs = `${dir}/rootfs`;
  await Deno.rename(`${dir}/bb-bundle/rootfs`, rootfs);
  await Deno.remove(`${dir}/bb-bundle`, { recursive: true });
  for (const d of ["run", "home/user", "www", "var/tmp", "usr/bin"]) {
    await Deno.mkdir(`${rootfs}/${d}`, { recursive: true });
  }
  await Deno.chmod(`${rootfs}/tmp`, 0o1777);
  await Deno.chmod(`${rootfs}/var/tmp`, 0o1777);
  await Deno.chown(`${rootfs}/home/user`, 1000, 1000);
  await Deno.writeTextFile(`${rootfs}/etc/passwd`, PASSWD);
  await Deno.writeTextFile(`${rootfs}/etc/group`, GROUP);
  await Deno.writeTextFile(`${rootfs}/www/index.html`, "hello from httpd\n");
  // A file that exists but is not executable (exit code 126).
  await Deno.writeTextFile(`${rootfs}/usr/bin/not-executable`, "#!/bin/sh\necho no\n");
  await Deno.chmod(`${rootfs}/usr/bin/not-executable`, 0o644);
  return rootfs;
}

async function layerDir(dir: string, name: string, files: Record<string, string>) {
  const root = `${dir}/${name}`;
  for (const [path, text] of Object.entries(files)) {
    const parent = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "";
    await Deno.mkdir(`${root}/${parent}`, { recursive: true });
    await Deno.writeTextFile(`${root}/${path}`, text);
  }
  return root;
}

/** Builds the images into `dir`/layout (see the module doc). */
export async function writeRunImages(dir: string): Promise<string> {
  const layout = `${dir}/layout`;
  const rootfs = await writeRootfs(dir);
  const append = (args: string[]) => ociboxOk(["append", "-q", ...args]);
  const base = ["--layer", rootfs, "--env", `PATH=${IMAGE_PATH}`, "--cmd", "sh"];
  await append([...base, `oci:${layout}:bb`]);
  const appLayer = await layerDir(dir, "app-layer", { "opt/app/marker": "app layer\n" });
  await append([
    "--base",
    `oci:${layout}:bb`,
    "--layer",
    appLayer,
    "--entrypoint",
    '["sh","-c"]',
    "--cmd",
    JSON.stringify([APP_CMD]),
    "--env",
    "GREETING=hello",
    "--workdir",
    "/srv/app",
    "--user",
    "app",
    `oci:${layout}:app`,
  ]);
  await editConfig(layout, "app", (c) => c.StopSignal = "SIGUSR1");
  const arches = ["amd64", "arm64"];
  for (const arch of arches) {
    const marker = await layerDir(dir, `platform-${arch}`, { platform: `linux/${arch}\n` });
    await append([
      "--platform",
      `linux/${arch}`,
      ...base,
      "--layer",
      marker,
      `oci:${layout}:multi-${arch}`,
    ]);
  }
  await writeIndex(layout, "multi", arches.map((a) => `multi-${a}`));
  return layout;
}

/** Starts a registry and pushes the images (bb, app, multi) to it. */
export async function startRunFixture(): Promise<RunFixture> {
  const dir = await Deno.makeTempDir({ prefix: "ocibox-run-" });
  await Deno.chmod(dir, 0o755);
  let reg: Registry | undefined;
  try {
    const layout = await writeRunImages(dir);
    const r = await startRegistry({ mode: "plain" });
    reg = r;
    const push = async (tag: string, repo: string) => {
      await run("skopeo", [
        "copy",
        "-q",
        "--all",
        "--dest-tls-verify=false",
        `oci:${layout}:${tag}`,
        `docker://${r.host}/${repo}:latest`,
      ]);
    };
    await Promise.all([push("bb", "bb"), push("app", "app"), push("multi", "multi")]);
    return {
      reg: r,
      dir,
      layout,
      names: {
        bb: `${r.host}/bb:latest`,
        app: `${r.host}/app:latest`,
        multi: `${r.host}/multi:latest`,
      },
      ids: { bb: await configDigest(layout, "bb"), app: await configDigest(layout, "app") },
      push,
      async close() {
        await r.stop();
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      },
    };
  } catch (e) {
    await reg?.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw e;
  }
}

/** Options of one command of a box. */
export interface BoxRunOptions {
  /** Bytes for stdin (else /dev/null). */
  stdin?: string;
  /** Extra environment. */
  env?: Record<string, string>;
  /** Killed (SIGKILL) after this long; default 60 s. */
  timeoutSeconds?: number;
  /** Working directory (runc's forms read ./config.json). */
  cwd?: string;
}

/** A private store and runtime root with the ocibox command line bound to them. */
export interface Box {
  store: string;
  root: string;
  /** A scratch directory for volumes and files (inside the box's directory). */
  dir: string;
  env: Record<string, string>;
  /** `ocibox --store STORE --root ROOT ARGS...` to its end. */
  run(args: readonly string[], options?: BoxRunOptions): Promise<OciboxResult>;
  /** Same, and stdout; throws with stderr unless it exits 0. */
  ok(args: readonly string[], options?: BoxRunOptions): Promise<string>;
  /** The argv of `ocibox --store STORE --root ROOT ARGS...` (for `script`, `timeout` ...). */
  argv(args: readonly string[]): string[];
  /** Starts `ocibox --store STORE --root ROOT ARGS...` with piped stdio. */
  spawn(args: readonly string[], options?: BoxRunOptions): Deno.ChildProcess;
  /** What is left of containers: records, mounts, runtime state (empty when nothing). */
  leftovers(): Promise<string[]>;
  /** Takes down whatever a failed test left and removes the box. */
  close(): Promise<void>;
}

let boxes = 0;

/** A new box in `fx`'s directory, its short names resolved against `fx`'s registry. */
export async function newBox(fx: RunFixture): Promise<Box> {
  const dir = `${fx.dir}/box-${++boxes}`;
  await Deno.mkdir(`${dir}/config`, { recursive: true });
  await Deno.mkdir(`${dir}/scratch`);
  const store = `${dir}/store`;
  const root = `${dir}/state`;
  const env = {
    OCIBOX_REGISTRY: fx.reg.host,
    XDG_CONFIG_HOME: `${dir}/config`,
    NO_COLOR: "1",
  };
  const argv = (args: readonly string[]) => [
    Deno.execPath(),
    "run",
    "-A",
    "--no-lock",
    // Deno's own progress lines would reach the container's terminal under -t.
    "--quiet",
    MAIN_TS,
    "--store",
    store,
    "--root",
    root,
    ...args,
  ];
  const spawn = (args: readonly string[], options: BoxRunOptions = {}) => {
    const [cmd, ...rest] = argv(args);
    const child = new Deno.Command(cmd, {
      args: rest,
      env: { ...env, ...options.env },
      cwd: options.cwd,
      stdin: options.stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    if (options.stdin !== undefined) {
      const w = child.stdin.getWriter();
      w.write(new TextEncoder().encode(options.stdin)).then(() => w.close()).catch(() => {});
    }
    return child;
  };
  const box: Box = {
    store,
    root,
    dir: `${dir}/scratch`,
    env,
    argv,
    spawn,
    async run(args, options = {}) {
      const child = spawn(args, options);
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* ended */ }
      }, (options.timeoutSeconds ?? 60) * 1000);
      try {
        return toResult(await child.output());
      } finally {
        clearTimeout(timer);
      }
    },
    async ok(args, options) {
      const r = await box.run(args, options);
      if (r.code !== 0) {
        throw new Error(`ocibox ${args.join(" ")} failed (${r.code}): ${r.stderr.trim()}`);
      }
      return r.stdout;
    },
    async leftovers() {
      const left: string[] = [];
      for (const id of await entries(`${store}/containers`)) left.push(`container record ${id}`);
      for (const p of mountsUnder(store)) left.push(`mount ${p}`);
      for (const e of await entries(root)) left.push(`runtime state ${root}/${e}`);
      return left;
    },
    async close() {
      for (const id of await entries(root)) {
        await box.run(["delete", "--force", id]).catch(() => {});
      }
      for (let i = 0; i < 5 && mountsUnder(dir).length; i++) await unmountUnder(dir);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
  return box;
}

async function entries(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) names.push(e.name);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return names.sort();
}

/** Mount points at or below `dir` in this mount namespace. */
export function mountsUnder(dir: string): string[] {
  return Deno.readTextFileSync("/proc/self/mountinfo").split("\n")
    .map((line) => line.split(" ")[4])
    .filter((p) => p && (p === dir || p.startsWith(`${dir}/`)));
}

/**
 * The cgroup directories of a container, from its /proc/self/cgroup as printed inside it (v1:
 * one per controller, the container's full path since there is no cgroup namespace; v2: the
 * one tree).
 */
export function cgroupDirs(procSelfCgroup: string): string[] {
  const dirs: string[] = [];
  for (const line of procSelfCgroup.trim().split("\n")) {
    const [, controllers, path] = line.split(":");
    if (!path || path === "/") continue;
    if (controllers === "") dirs.push(`/sys/fs/cgroup${path}`);
    else dirs.push(`/sys/fs/cgroup/${controllers.replace(/^name=/, "").split(",")[0]}${path}`);
  }
  return dirs;
}

/** Every `ocibox/<id>` cgroup directory on this host with no process left in it. */
export async function emptyOciboxCgroups(): Promise<Set<string>> {
  const found = new Set<string>();
  const walk = async (dir: string, depth: number) => {
    let list: Deno.DirEntry[] = [];
    try {
      list = await Array.fromAsync(Deno.readDir(dir));
    } catch {
      return;
    }
    for (const e of list) {
      if (!e.isDirectory) continue;
      const path = `${dir}/${e.name}`;
      if (/\/ocibox\/[0-9a-f]{64}$/.test(path)) {
        const procs = await Deno.readTextFile(`${path}/cgroup.procs`).catch(() => "");
        if (procs.trim() === "") found.add(path);
      } else if (depth < 4) await walk(path, depth + 1);
    }
  };
  await walk("/sys/fs/cgroup", 0);
  return found;
}

/** Asserts that `r` failed with `code` and said so in exactly one `error:` line. */
export function assertOneError(r: OciboxResult, code: number, pattern?: RegExp): string {
  const lines = r.stderr.split("\n").filter((l) => l !== "");
  const errors = lines.filter((l) => l.startsWith("error:"));
  assert.equal(r.code, code, `exit code ${r.code}, stderr: ${r.stderr}`);
  assert.equal(errors.length, 1, `one error line expected, stderr: ${r.stderr}`);
  assert.equal(lines.at(-1), errors[0], `the error is the last line, stderr: ${r.stderr}`);
  assert.ok(!lines.some((l) => /^\s+at /.test(l)), `a stack trace: ${r.stderr}`);
  if (pattern) assert.match(errors[0], pattern);
  return errors[0];
}

/** RUN_CASES_TIMES=1 prints how long each case took (to keep the suite's wall time down). */
const SHOW_TIMES = Deno.env.get("RUN_CASES_TIMES") === "1";

/**
 * Runs `cases` (name -> test) at most `limit` at a time and fails with every failing case's
 * name and error at the end (not at the first, so one run shows all that is wrong).
 */
export async function runCases(
  cases: Record<string, () => Promise<void>>,
  limit = 3,
): Promise<void> {
  const queue = Object.entries(cases);
  const failures: string[] = [];
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const [name, fn] = next;
      const start = Date.now();
      try {
        await fn();
      } catch (e) {
        failures.push(`${name}: ${e instanceof Error ? e.stack ?? e.message : e}`);
      }
      if (SHOW_TIMES) console.error(`${((Date.now() - start) / 1000).toFixed(1)} s  ${name}`);
    }
  };
  await Promise.all(Array.from({ length: limit }, worker));
  if (failures.length) {
    throw new Error(`${failures.length} case(s) failed:\n\n${failures.join("\n\n")}`);
  }
}

/** Waits until `path` exists (a container's signal to the test), up to `ms`. */
export async function waitForFile(path: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      await Deno.lstat(path);
      return;
    } catch { /* not yet */ }
    if (Date.now() > end) throw new Error(`${path} did not appear within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Runs `ocibox ARGS...` of `box` on a terminal of its own: under script(1), whose pty is sized
 * `rows` x `cols` first; `input` is typed into it. The output has the terminal's \r\n.
 */
export async function inTerminal(
  box: Box,
  args: readonly string[],
  options: { input?: string; rows?: number; cols?: number } = {},
): Promise<{ code: number; stdout: string }> {
  const quoted = box.argv(args).map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(" ");
  const size = `stty rows ${options.rows ?? 24} cols ${options.cols ?? 80}`;
  // stdin stays open until the end: at its end script(1) types an EOF character into the
  // terminal, which the container's pty would echo (^@) after the program's output.
  const child = new Deno.Command("script", {
    args: ["-qefc", `${size}; exec ${quoted}`, "/dev/null"],
    env: box.env,
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const w = child.stdin.getWriter();
  if (options.input !== undefined) await w.write(new TextEncoder().encode(options.input));
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const [stdout, status] = await Promise.all([new Response(child.stdout).bytes(), child.status])
    .finally(() => clearTimeout(timer));
  await w.close().catch(() => {});
  const out = { code: status.code, stdout };
  return { code: out.code, stdout: new TextDecoder().decode(out.stdout) };
}

/** Polls `check` until it returns something other than undefined, up to `ms`. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  ms = 20_000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
