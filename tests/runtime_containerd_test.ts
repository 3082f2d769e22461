/**
 * A real client: containerd 1.6 (its own instance, everything under a temporary directory)
 * runs an image ocibox made, through `ctr run --runc-binary` and the runc v2 shim, with ocibox
 * and with runc: plain runs, `-t`, task exec (also as a user and with a terminal),
 * pause/resume, kill, and a user-namespaced container; what the container sees is the same.
 */
import assert from "node:assert/strict";
import { startContainerd } from "./support/containerd.ts";
import { writeBusyboxImage } from "./support/bundles.ts";
import { writeRuntimeWrapper } from "./support/ocibox_cli.ts";
import { peerTest, which } from "./support/peers.ts";

const IMAGE = "localhost/bb:test";
const LOOK = "id; grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status; ls /sys/class/net; " +
  "cat /proc/self/uid_map | tr -s ' '; touch /tmp/w && echo writable";

peerTest("containerd drives ocibox through the runc shim as it drives runc", {
  peers: ["containerd", "ctr", "runc", "busybox", "script"],
  root: true,
}, async () => {
  const containerd = await startContainerd();
  const { ctr, dir } = containerd;
  try {
    const ocibox = await writeRuntimeWrapper(`${dir}/ocibox`, `${dir}/argv.log`);
    // An image written by ocibox as a docker-archive, as `docker save` would.
    await writeBusyboxImage(dir, `docker-archive:${dir}/bb.tar:${IMAGE}`);
    const imported = await ctr(["image", "import", `${dir}/bb.tar`]);
    assert.equal(imported.code, 0, imported.stderr);
    const seen: Record<string, string[]> = {};
    for (const [name, runtime] of [["runc", which("runc")!], ["ocibox", ocibox]]) {
      const out: string[] = (seen[name] = []);
      const flags = containerd.runtimeFlags(runtime);
      const run = await ctr(["run", "--rm", ...flags, IMAGE, "r1", "sh", "-c", `${LOOK}; exit 3`]);
      assert.equal(run.code, 3, `${name}: ${run.stderr}`);
      out.push(run.stdout);

      // A terminal: ctr -t needs one on stdin, so under script(1).
      const tty = await ctr(
        ["run", "--rm", "-t", ...flags, IMAGE, "r2", "sh", "-c", "tty; exit 5"],
        {
          tty: true,
        },
      );
      assert.equal(tty.code, 5, `${name} -t: ${tty.stdout}${tty.stderr}`);
      assert.ok(tty.stdout.includes("/dev/pts/0"), tty.stdout);

      // Detached: exec (plain, as a user, with a terminal), pause/resume, kill.
      const detached = await ctr(["run", "-d", ...flags, IMAGE, "r3", "sleep", "1000"]);
      assert.equal(detached.code, 0, `${name} -d: ${detached.stderr}`);
      const exec = await ctr(["t", "exec", "--exec-id", "e1", "r3", "sh", "-c", `${LOOK}; exit 7`]);
      assert.equal(exec.code, 7, `${name} exec: ${exec.stderr}`);
      out.push(exec.stdout);
      const asUser = await ctr(["t", "exec", "--exec-id", "e2", "--user", "1000", "r3", "id"]);
      out.push(asUser.stdout);
      const execTty = await ctr([
        "t",
        "exec",
        "-t",
        "--exec-id",
        "e3",
        "r3",
        "sh",
        "-c",
        "tty; exit 4",
      ], {
        tty: true,
      });
      assert.equal(execTty.code, 4, `${name} exec -t: ${execTty.stdout}`);
      const status = async () =>
        (await ctr(["t", "ls"])).stdout.split("\n").find((l) => l.startsWith("r3 "))?.split(
          /\s+/,
        )[2];
      assert.equal((await ctr(["t", "pause", "r3"])).code, 0);
      assert.equal(await status(), "PAUSED");
      assert.equal((await ctr(["t", "resume", "r3"])).code, 0);
      assert.equal(await status(), "RUNNING");
      assert.equal((await ctr(["t", "kill", "-s", "SIGKILL", "r3"])).code, 0);
      for (let i = 0; i < 100 && (await status()) !== "STOPPED"; i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(await status(), "STOPPED");
      await ctr(["t", "rm", "r3"]);
      await ctr(["c", "rm", "r3"]);

      // A user namespace (the shim runs the runc in its PATH here: see support/containerd.ts).
      await containerd.useRuntime(runtime);
      const userns = await ctr([
        "run",
        "--rm",
        ...flags,
        "--uidmap",
        "0:100000:65536",
        "--gidmap",
        "0:100000:65536",
        IMAGE,
        "r4",
        "sh",
        "-c",
        LOOK,
      ]);
      assert.equal(userns.code, 0, `${name} userns: ${userns.stderr}`);
      out.push(userns.stdout);
    }
    assert.deepEqual(seen.ocibox, seen.runc);
    assert.match(seen.ocibox[0], /^uid=0\(root\) gid=0\(root\)/);
    assert.match(seen.ocibox[2], /^uid=1000\(user\)/);
    assert.match(seen.ocibox[3], /^uid=0\(root\)[^\n]*\n(.*\n){4} 0 100000 65536\nwritable\n$/);
    // ocibox was driven for real, with the shim's JSON log.
    const calls = await Deno.readTextFile(`${dir}/argv.log`);
    for (const verb of ["create", "start", "exec", "pause", "resume", "kill", "delete"]) {
      assert.match(calls, new RegExp(`--log-format json ${verb} `), verb);
    }
  } finally {
    await containerd.stop();
  }
});
