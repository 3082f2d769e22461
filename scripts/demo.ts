/**
 * The main job, offline: builds a small image with `append`, copies it through every local
 * transport and back, inspects it, unpacks it into a runtime bundle, pushes it to ocibox's own
 * registry (`ocibox serve`) on 127.0.0.1 and runs it from there as `ocibox run` does every day
 * (pull into the store, the layer cache, an overlay per container), narrating each step.
 * Without root it does what it can and says why the rest was skipped.
 * Run: `deno task demo [--keep]` (keeps the work directory for a look around).
 * @module
 */
const MAIN = new URL("../main.ts", import.meta.url).pathname;
const keep = Deno.args.includes("--keep");
const work = await Deno.makeTempDir({ prefix: "ocibox-demo-" });
const dec = new TextDecoder();

function say(text: string): void {
  console.log(`\n\x1b[1m== ${text}\x1b[0m`);
}

async function ocibox(...args: string[]): Promise<string> {
  console.log(`$ ocibox ${args.join(" ").replaceAll(work, "$WORK")}`);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = dec.decode(out.stderr).trim();
  if (stderr) {
    console.log(stderr.replaceAll(work, "$WORK").split("\n").map((l) => `  ${l}`).join("\n"));
  }
  if (!out.success) throw new Error(`ocibox ${args[0]} failed with exit code ${out.code}`);
  return dec.decode(out.stdout);
}

try {
  say("A directory to turn into an image");
  const app = `${work}/app`;
  await Deno.mkdir(`${app}/bin`, { recursive: true });
  await Deno.mkdir(`${app}/etc`, { recursive: true });
  await addPrograms(app);
  await Deno.writeTextFile(
    `${app}/etc/passwd`,
    "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
  );
  await Deno.writeTextFile(`${app}/etc/group`, "root:x:0:\napp:x:1000:\n");
  await Deno.writeTextFile(`${app}/etc/motd`, "hello from an ocibox image\n");
  console.log("  app/etc/passwd, app/etc/group, app/etc/motd");

  say("1. append: scratch + that directory as a gzip layer, with a config");
  const layout = `oci:${work}/layout:demo`;
  await ocibox(
    "append",
    "--layer",
    app,
    "--cmd",
    "/bin/sh",
    "--env",
    "GREETING=hello",
    "--user",
    "app",
    "--workdir",
    "/",
    "--label",
    "org.opencontainers.image.title=demo",
    layout,
  );

  say("2. inspect it (the same JSON fields as skopeo inspect)");
  console.log(await ocibox("inspect", layout));

  say("3. copy it through every local transport and back");
  await ocibox("copy", "-q", layout, `oci-archive:${work}/demo-oci.tar:demo`);
  await ocibox(
    "copy",
    "-q",
    `oci-archive:${work}/demo-oci.tar:demo`,
    `docker-archive:${work}/demo-docker.tar:example/demo:v1`,
  );
  await ocibox(
    "copy",
    "-q",
    `docker-archive:${work}/demo-docker.tar:example/demo:v1`,
    `dir:${work}/demo-dir`,
  );
  await ocibox("copy", `dir:${work}/demo-dir`, `oci:${work}/layout:roundtrip`);

  say("4. the round trip kept the config (and so the image's identity)");
  const a = JSON.parse(await ocibox("inspect", "--config", "--raw", layout));
  const b = JSON.parse(
    await ocibox("inspect", "--config", "--raw", `oci:${work}/layout:roundtrip`),
  );
  const same = JSON.stringify(a) === JSON.stringify(b);
  console.log(
    `  config identical after oci -> oci-archive -> docker-archive -> dir -> oci: ${same}`,
  );
  console.log(`  diff_ids: ${a.rootfs.diff_ids.join(", ")}`);
  if (!same) throw new Error("the round trip changed the config");

  say(
    "5. unpack into a runtime bundle (rootfs/ + config.json by the image spec's conversion rules)",
  );
  await ocibox("unpack", layout, `${work}/bundle`);
  const spec = JSON.parse(await Deno.readTextFile(`${work}/bundle/config.json`));
  console.log(`  process.args = ${JSON.stringify(spec.process.args)}`);
  console.log(
    `  process.user = ${
      JSON.stringify(spec.process.user)
    }  (app resolved through the image's /etc/passwd)`,
  );
  console.log(`  process.env  = ${JSON.stringify(spec.process.env)}`);
  console.log(
    `  rootfs/etc/motd: ${(await Deno.readTextFile(`${work}/bundle/rootfs/etc/motd`)).trim()}`,
  );
  await registryPart(layout);

  say("Done");
  console.log(keep ? `Everything is in ${work}` : "Run with --keep to keep the files.");
} finally {
  if (!keep) await Deno.remove(work, { recursive: true });
}

/**
 * The image's programs: busybox-static when installed, else the host's own /bin/sh, cat and
 * sleep with the libraries they load (as ldd lists them).
 */
async function addPrograms(app: string): Promise<void> {
  try {
    await Deno.copyFile("/bin/busybox", `${app}/bin/busybox`);
    for (const name of ["sh", "cat", "echo", "sleep", "id", "ls"]) {
      await Deno.symlink("busybox", `${app}/bin/${name}`);
    }
    console.log("  app/bin/busybox (from busybox-static), sh, cat, echo, sleep, id, ls -> busybox");
    return;
  } catch { /* no busybox: the host's programs */ }
  const programs = ["/bin/sh", "/bin/cat", "/bin/sleep", "/bin/echo", "/bin/id"];
  const files = new Set<string>();
  for (const program of programs) {
    files.add(await Deno.realPath(program));
    const out = await new Deno.Command("ldd", { args: [program], stdout: "piped", stderr: "null" })
      .output().catch(() => undefined);
    for (const m of dec.decode(out?.stdout ?? new Uint8Array()).matchAll(/(\/\S+) \(0x/g)) {
      files.add(m[1]);
    }
  }
  for (const program of programs) {
    await Deno.copyFile(await Deno.realPath(program), `${app}${program}`);
  }
  for (const file of files) {
    if (programs.some((p) => file.endsWith(p.slice(p.lastIndexOf("/"))))) continue;
    const dest = `${app}${file}`;
    await Deno.mkdir(dest.slice(0, dest.lastIndexOf("/")), { recursive: true });
    await Deno.copyFile(file, dest);
  }
  console.log(
    `  the host's ${programs.join(", ")} and the ${
      files.size - programs.length
    } libraries they load`,
  );
}

/**
 * 7. `ocibox run` from the registry: pulled into a store of its own, each layer unpacked once
 * into the cache, an overlay per container; a second run, a detached one, ps/logs/exec/stop/rm.
 */
async function runPart(image: string): Promise<void> {
  say("7. run it from the registry: pull, layer cache, overlay, container (ocibox run)");
  if (Deno.uid() !== 0) {
    console.log(
      "  (skipped: containers need root here — namespaces, mounts and the overlay; run the demo as root)",
    );
    return;
  }
  const store = ["--store", `${work}/store`, "--root", `${work}/state`];
  console.log(await ocibox(...store, "run", "--rm", image, "cat", "/etc/motd"));
  console.log(await ocibox(...store, "images"));
  say("8. a second container of the same image starts from the cached layers");
  const t = performance.now();
  console.log(
    await ocibox(...store, "run", "--rm", image, "sh", "-c", "echo from $(id -un) in $(pwd)"),
  );
  console.log(`  (${Math.round(performance.now() - t)} ms, no layer unpacked again)`);
  say("9. a detached container: ps, logs, exec, stop, rm");
  await ocibox(
    ...store,
    "run",
    "-d",
    "--name",
    "demo",
    image,
    "sh",
    "-c",
    "echo started; while true; do sleep 1; done",
  );
  console.log(await ocibox(...store, "ps"));
  console.log(await ocibox(...store, "logs", "demo"));
  console.log(await ocibox(...store, "exec", "demo", "cat", "/etc/motd"));
  await ocibox(...store, "stop", "-t", "1", "demo");
  console.log(await ocibox(...store, "ps", "-a"));
  await ocibox(...store, "rm", "demo");
  await ocibox(...store, "rmi", image);
  await ocibox(...store, "image", "prune", "-a");
}

/**
 * Push, list, inspect and pull through ocibox's own registry (`ocibox serve` on 127.0.0.1), whose
 * repositories are OCI layouts too; then the containers part runs the image from there.
 */
async function registryPart(layout: string): Promise<void> {
  say("6. serve a registry, push to it, list its tags, pull it back (ocibox serve on 127.0.0.1)");
  const root = `${work}/registry`;
  console.log(`$ ocibox serve --root ${root.replaceAll(work, "$WORK")} --addr 127.0.0.1:0 &`);
  const server = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "serve", "--root", root, "--addr", "127.0.0.1:0"],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  try {
    const url = await firstLine(server.stdout);
    const m = /^listening on https?:\/\/(\S+?)\/?$/.exec(url);
    if (!m) throw new Error(`ocibox serve did not start (it said ${JSON.stringify(url)})`);
    const host = m[1];
    console.log(`  ${url}`);
    const remote = `docker://${host}/demo/app:v1`;
    await ocibox("copy", layout, remote);
    console.log(await ocibox("list-tags", `docker://${host}/demo/app`));
    await ocibox("copy", "-q", remote, `oci:${work}/layout:pulled`);
    const pushed = JSON.parse(await ocibox("inspect", layout)).Digest;
    const pulled = JSON.parse(await ocibox("inspect", `oci:${work}/layout:pulled`)).Digest;
    console.log(`  pushed ${pushed}\n  pulled ${pulled}\n  same manifest: ${pushed === pulled}`);
    if (pushed !== pulled) throw new Error("the pulled image differs from the pushed one");
    console.log("  the registry's repository is an OCI image layout as well:");
    const served = JSON.parse(await ocibox("inspect", `oci:${root}/repositories/demo/app:v1`));
    console.log(`  ${served.Digest}`);
    await runPart(`${host}/demo/app:v1`);
  } finally {
    server.kill("SIGTERM");
    await server.stdout.cancel().catch(() => {});
    await server.status;
  }
}

/** The first line a process writes to `stream` ("" when it ends without one). */
async function firstLine(stream: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stream.getReader();
  let text = "";
  try {
    while (!text.includes("\n")) {
      const { done, value } = await reader.read();
      if (done) break;
      text += dec.decode(value, { stream: true });
    }
  } finally {
    reader.releaseLock();
  }
  return text.split("\n")[0].trim();
}
