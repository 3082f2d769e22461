/**
 * Containers of the local store after `ocibox run`: detached ones (`-d` prints the id) with
 * ps, logs, logs -f, exec, inspect, stop (the image's StopSignal, then KILL after -t) and rm;
 * published ports; runc's `run --bundle` and `ps ID` forms beside podman's; two containers of
 * one image on the same cached layers; rmi refused while a container uses the image; the store
 * read by skopeo and umoci; `load` of skopeo's docker-archive and `save` read by skopeo.
 */
import assert from "node:assert/strict";
import { busyboxBundle } from "./support/bundles.ts";
import { peerTest, run } from "./support/peers.ts";
import {
  assertOneError,
  type Box,
  eventually,
  inTerminal,
  mountsUnder,
  newBox,
  RUN_PEERS,
  runCases,
  type RunFixture,
  startRunFixture,
  waitForFile,
} from "./support/run_images.ts";

const ID = /^[0-9a-f]{64}$/;

/** Output of a command that must succeed. */
async function ok(box: Box, args: string[]): Promise<string> {
  return await box.ok(args);
}

/** `ps -a` rows as [name, status] for the container called `name`. */
async function psRow(box: Box, name: string, all = true): Promise<string | undefined> {
  const out = await ok(box, ["ps", ...(all ? ["-a"] : [])]);
  return out.split("\n").find((l) => l.trim().endsWith(` ${name}`));
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

peerTest("run IMAGE: detached containers, ports, runc forms, the layer cache, rmi, the store", {
  peers: [...RUN_PEERS, "script", "pasta", "umoci"],
  root: true,
}, async () => {
  const fx = await startRunFixture();
  const box = await newBox(fx);
  try {
    await box.ok(["pull", "-q", "bb"]);
    await box.ok(["pull", "-q", "app"]);
    await runCases({
      // Each in a box of its own (they count layers and images), beside the cases below.
      "two containers share the cached layers; rmi refused, then --force; image prune": () =>
        layerCacheAndRmi(fx),
      "the store read by skopeo and umoci; load and save with skopeo's archives": () =>
        storeReadByPeers(fx),
      "-d prints the id; ps, logs, exec, exec -it, inspect; stop uses StopSignal; logs -f, rm":
        async () => {
          const script = 'trap "echo got-usr1; exit 0" USR1; echo started; ' +
            "while :; do sleep 0.05; done";
          const id = (await ok(box, ["run", "-d", "--name", "web", "app", script])).trim();
          assert.match(id, ID);
          const row = await psRow(box, "web", false);
          assert.ok(row?.startsWith(id.slice(0, 12)), `ps: ${row}`);
          assert.match(row!, /\bUp\b/);
          assert.match(row!, /app:latest/);
          assert.ok((await ok(box, ["ps", "-q"])).split("\n").includes(id.slice(0, 12)));
          await eventually("logs", async () => {
            const logs = await ok(box, ["logs", "web"]);
            return logs === "started\n" ? logs : undefined;
          });
          // exec: by name, in the container's namespaces, as the image's user.
          assert.equal(
            await ok(box, ["exec", "web", "sh", "-c", "cat /etc/hostname; id -un; pwd"]),
            `${id.slice(0, 12)}\napp\n/srv/app\n`,
          );
          const it = await inTerminal(box, ["exec", "-it", "web", "sh", "-c", "tty; stty size"], {
            rows: 20,
            cols: 70,
          });
          assert.equal(it.code, 0, it.stdout);
          assert.match(it.stdout, /^\/dev\/pts\/\d+\r\n20 70\r\n$/);
          const [info] = JSON.parse(await ok(box, ["inspect", "web"]));
          assert.equal(info.Id, id);
          assert.equal(info.Name, "web");
          assert.equal(info.State.Running, true);
          assert.ok(info.State.Pid > 0);
          // logs -f goes on until the container ends; stop sends the image's SIGUSR1.
          const follow = box.spawn(["logs", "-f", "web"]);
          const stop = await box.run(["stop", "web"]);
          assert.equal(stop.code, 0, stop.stderr);
          assert.equal(stop.stdout, "web\n");
          const followed = await follow.output();
          assert.equal(new TextDecoder().decode(followed.stdout), "started\ngot-usr1\n");
          assert.equal(await psRow(box, "web", false), undefined);
          assert.match((await psRow(box, "web"))!, /Exited \(0\)/);
          assert.equal(JSON.parse(await ok(box, ["inspect", "web"]))[0].State.Running, false);
          assert.equal(await ok(box, ["rm", "web"]), "web\n");
          assert.equal(await psRow(box, "web"), undefined);
        },

      "stop -t: KILL after the timeout for a program that ignores the signal": async () => {
        const name = "stubborn";
        await ok(box, [
          "run",
          "-d",
          "--name",
          name,
          "bb",
          "sh",
          "-c",
          "trap '' TERM; echo up; while :; do sleep 0.05; done",
        ]);
        await eventually("up", async () => (await ok(box, ["logs", name])) ? true : undefined);
        const start = Date.now();
        assert.equal(await ok(box, ["stop", "-t", "1", name]), `${name}\n`);
        const took = Date.now() - start;
        assert.ok(took >= 1000, `stopped after ${took} ms`);
        assert.match((await psRow(box, name))!, /Exited \(137\)/);
        await ok(box, ["rm", name]);
      },

      "rm of a running container is refused (one line); rm -f kills it; kill NAME sends KILL":
        async () => {
          await ok(box, ["run", "-d", "--name", "busy", "bb", "sleep", "1000"]);
          const refused = await box.run(["rm", "busy"]);
          assertOneError(refused, refused.code, /busy/);
          assert.notEqual(refused.code, 0);
          assert.match((await psRow(box, "busy", false))!, /Up/);
          assert.equal(await ok(box, ["rm", "-f", "busy"]), "busy\n");
          assert.equal(await psRow(box, "busy"), undefined);
          // kill NAME: podman's default signal, KILL (runc's kill ID sends TERM).
          await ok(box, [
            "run",
            "-d",
            "--name",
            "killed",
            "bb",
            "sh",
            "-c",
            "trap '' TERM; sleep 1000",
          ]);
          await ok(box, ["kill", "killed"]);
          await eventually(
            "killed",
            async () =>
              /Exited \(137\)/.test((await psRow(box, "killed")) ?? "") ? true : undefined,
          );
          await ok(box, ["rm", "killed"]);
        },

      "--name taken: one error line, 125; the first container is untouched": async () => {
        await ok(box, ["run", "-d", "--name", "dup", "bb", "sleep", "1000"]);
        const second = await box.run(["run", "--rm", "--name", "dup", "bb", "true"]);
        assertOneError(second, 125, /"dup" is already in use/);
        assert.match((await psRow(box, "dup", false))!, /Up/);
        await ok(box, ["rm", "-f", "dup"]);
      },

      "-p: httpd answers on the published 127.0.0.1 port; the port is free after stop":
        async () => {
          const port = freePort();
          await ok(box, [
            "run",
            "-d",
            "--name",
            "httpd",
            "-p",
            `127.0.0.1:${port}:80`,
            "bb",
            "httpd",
            "-f",
            "-p",
            "80",
            "-h",
            "/www",
          ]);
          const body = await eventually("httpd", async () => {
            try {
              const r = await fetch(`http://127.0.0.1:${port}/`);
              return await r.text();
            } catch {
              return undefined;
            }
          });
          assert.equal(body, "hello from httpd\n");
          const [info] = JSON.parse(await ok(box, ["inspect", "httpd"]));
          assert.match(
            JSON.stringify(info.NetworkSettings ?? info.HostConfig),
            new RegExp(`${port}`),
          );
          await ok(box, ["stop", "-t", "2", "httpd"]);
          await ok(box, ["rm", "httpd"]);
          await eventually("port free", () => {
            try {
              Deno.listen({ hostname: "127.0.0.1", port }).close();
              return Promise.resolve(true);
            } catch {
              return Promise.resolve(undefined);
            }
          });
        },

      "runc's forms: run --bundle DIR ID, run ID in a bundle directory, ps ID": async () => {
        const bundle = await busyboxBundle(`${box.dir}/bundle`, "echo from-bundle");
        const id = "runc-form";
        assert.equal(await ok(box, ["run", "-b", bundle, id]), "from-bundle\n");
        const cwd = await box.run(["run", `${id}-2`], { cwd: bundle });
        assert.equal(cwd.code, 0, cwd.stderr);
        assert.equal(cwd.stdout, "from-bundle\n");
        // runc's ps of a container (by the store's name too), podman's list without one.
        await ok(box, ["run", "-d", "--name", "listed", "bb", "sleep", "1000"]);
        const procs = await ok(box, ["ps", "listed"]);
        assert.match(procs, /^UID\s+PID\s+PPID/);
        assert.match(procs, /sleep 1000/);
        assert.match(await ok(box, ["ps", "--format", "json", "listed"]), /^\[\d+(,\d+)*\]\n?$/);
        assert.match(await ok(box, ["ps"]), /^CONTAINER ID\s+IMAGE/);
        await ok(box, ["rm", "-f", "listed"]);
      },
    });
    assert.deepEqual(await box.leftovers(), []);
  } finally {
    await box.close();
    await fx.close();
  }
});

/** Two containers share the cached layers; rmi refused while in use, then --force; prune. */
async function layerCacheAndRmi(fx: RunFixture): Promise<void> {
  const box = await newBox(fx);
  try {
    await box.ok(["pull", "-q", "bb"]);
    const ready = `${box.dir}/ready`;
    await Deno.mkdir(ready);
    await Deno.chmod(ready, 0o777); // the image's user (app) writes there
    const start = (name: string) =>
      box.run([
        "run",
        "-d",
        "--name",
        name,
        "-v",
        `${ready}:/ready`,
        "app",
        `touch /ready/${name}; exec sleep 1000`,
      ]);
    const first = await start("one");
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /Unpacking layer 1\/2.*\n(.*\n)*Unpacking layer 2\/2/);
    const second = await start("two");
    assert.equal(second.code, 0, second.stderr);
    assert.doesNotMatch(second.stderr, /Unpacking|Trying to pull/);
    await waitForFile(`${ready}/one`);
    await waitForFile(`${ready}/two`);

    // One cache directory per chain id (bb's layer, app's on top), two overlays on them.
    const layers = [...Deno.readDirSync(`${box.store}/layers/sha256`)].map((e) => e.name).sort();
    assert.equal(layers.length, 2, layers.join(" "));
    const overlays = Deno.readTextFileSync("/proc/self/mountinfo").split("\n")
      .filter((l) => l.includes(`${box.store}/containers/`) && l.includes(" - overlay "));
    assert.equal(overlays.length, 2, overlays.join("\n"));
    for (const line of overlays) {
      for (const chain of layers) assert.ok(line.includes(chain), `${chain} not in ${line}`);
    }
    // What one container writes the other does not see.
    await box.ok(["exec", "-u", "0", "one", "sh", "-c", "echo mine > /opt/app/marker"]);
    assert.equal(await box.ok(["exec", "two", "cat", "/opt/app/marker"]), "app layer\n");

    // rmi: refused while containers use the image; --force removes them with it.
    const refused = await box.run(["rmi", "app"]);
    assertOneError(refused, refused.code, /one|two|in use|container/);
    assert.notEqual(refused.code, 0);
    assert.match(await box.ok(["images"]), /\/app\s/);
    const forced = await box.run(["rmi", "--force", "app"]);
    assert.equal(forced.code, 0, forced.stderr);
    assert.doesNotMatch(await box.ok(["images"]), /\/app\s/);
    assert.match(await box.ok(["images"]), /\/bb\s/);
    assert.equal(await box.ok(["ps", "-aq"]), "");
    assert.deepEqual(await box.leftovers(), []);
    // image prune drops the app layer's cache; bb's stays for the image left and is used.
    await box.ok(["image", "prune"]);
    const kept = [...Deno.readDirSync(`${box.store}/layers/sha256`)].map((e) => e.name);
    assert.equal(kept.length, 1, kept.join(" "));
    assert.ok(layers.includes(kept[0]));
    const again = await box.run(["run", "--rm", "bb", "true"]);
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stderr, /Unpacking/);
  } finally {
    await box.close();
  }
}

/** The store read by skopeo and umoci; load of skopeo's docker-archive; save read by skopeo. */
async function storeReadByPeers(fx: RunFixture): Promise<void> {
  const box = await newBox(fx);
  try {
    await box.ok(["pull", "-q", "app"]);
    const name = fx.names.app;
    const layout = `${box.store}/images`;
    const inspected = JSON.parse(await run("skopeo", ["inspect", `oci:${layout}:${name}`]));
    assert.equal(inspected.Layers.length, 2);
    assert.equal(
      JSON.parse(await run("skopeo", ["inspect", "--config", `oci:${layout}:${name}`])).config
        .WorkingDir,
      "/srv/app",
    );
    assert.ok((await run("umoci", ["ls", "--layout", layout])).split("\n").includes(name));
    const stat = await run("umoci", ["stat", "--image", `${layout}:${name}`]);
    assert.match(stat, /LAYER/);
    // skopeo copies out of the store, checking every blob.
    await run("skopeo", ["copy", "-q", `oci:${layout}:${name}`, `dir:${box.dir}/out`]);

    // load: a docker-archive written by skopeo, run from the store without a registry.
    const archive = `${box.dir}/app.tar`;
    await run("skopeo", [
      "copy",
      "-q",
      `oci:${fx.layout}:app`,
      `docker-archive:${archive}:example.com/loaded/app:v1`,
    ]);
    const loaded = await box.run(["load", "-i", archive]);
    assert.equal(loaded.code, 0, loaded.stderr);
    assert.match(loaded.stdout, /example\.com\/loaded\/app:v1/);
    const r = await box.run(["run", "--rm", "--pull", "never", "example.com/loaded/app:v1"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^from-cmd\n/);

    // save: docker-archive (default) and oci-archive, read back by skopeo.
    await box.ok(["save", "-q", "-o", `${box.dir}/saved.tar`, "app"]);
    const saved = JSON.parse(
      await run("skopeo", ["inspect", "--raw", `docker-archive:${box.dir}/saved.tar`]),
    );
    assert.equal(saved.config.digest, fx.ids.app);
    await box.ok(["save", "-q", "--format", "oci-archive", "-o", `${box.dir}/saved.oci`, "app"]);
    const ociCfg = JSON.parse(
      await run("skopeo", ["inspect", "--config", `oci-archive:${box.dir}/saved.oci`]),
    );
    assert.equal(ociCfg.config.User, "app");
    assert.deepEqual(await box.leftovers(), []);
    assert.deepEqual(mountsUnder(box.store), []);
  } finally {
    await box.close();
  }
}
