/**
 * One-liner networking with the real runtime and pasta: a busybox httpd in a container built
 * by containerSpec answers on a port published on 127.0.0.1 through pasta; a second pasta on
 * the same port fails with one line (found by ocibox first, and as pasta itself reports it);
 * `--network none` leaves only `lo`, under ocibox and under runc alike; pasta is gone after
 * stop and the port is free again.
 */
import assert from "node:assert/strict";
import { containerSpec } from "../lib/containers/container_spec.ts";
import { writeEtcFiles } from "../lib/containers/etc_files.ts";
import { readHostFacts } from "../lib/containers/host_facts.ts";
import { PortInUseError, startNetwork } from "../lib/containers/network.ts";
import { parseRunArgs } from "../lib/containers/run_flags.ts";
import { busyboxBundle, withTempDir } from "./support/bundles.ts";
import { ocibox, ociboxDetached, ociboxOk } from "./support/ocibox_cli.ts";
import { peerTest, runPeer } from "./support/peers.ts";

const IMAGE = {
  architecture: "amd64",
  os: "linux",
  config: { Env: ["PATH=/bin"], Cmd: ["sh"] },
};

/** A busybox bundle whose config.json is containerSpec's for `run ARGS busybox`. */
async function oneLinerBundle(dir: string, id: string, runArgs: string[]): Promise<string> {
  const bundle = await busyboxBundle(`${dir}/bundle`, "true");
  const request = parseRunArgs(runArgs);
  const etc = await writeEtcFiles(dir, {
    hostname: id.slice(0, 12),
    network: request.network,
    hostResolvConf: await Deno.readTextFile("/etc/resolv.conf").catch(() => ""),
  });
  const spec = containerSpec({
    id,
    image: IMAGE,
    passwd: await Deno.readTextFile(`${bundle}/rootfs/etc/passwd`),
    group: await Deno.readTextFile(`${bundle}/rootfs/etc/group`),
    request,
    env: [],
    etc,
    host: readHostFacts(),
  });
  await Deno.writeTextFile(`${bundle}/config.json`, JSON.stringify(spec, null, 2));
  return bundle;
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function fetchText(url: string): Promise<string> {
  let last: unknown;
  for (let i = 0; i < 50; i++) {
    try {
      const r = await fetch(url);
      return await r.text();
    } catch (e) {
      last = e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${url}: ${last}`);
}

const newId = () => crypto.randomUUID().replaceAll("-", "").repeat(2);

peerTest("network: pasta publishes a container's httpd on 127.0.0.1; a port in use is one line", {
  peers: ["pasta", "busybox"],
  root: true,
}, async () => {
  await withTempDir("ocibox-net-", async (dir) => {
    const root = `${dir}/state`;
    const id = newId();
    const port = freePort();
    const publish = `127.0.0.1:${port}:80`;
    const bundle = await oneLinerBundle(dir, id, [
      "-p",
      publish,
      "busybox",
      "httpd",
      "-f",
      "-p",
      "80",
      "-h",
      "/www",
    ]);
    await Deno.mkdir(`${bundle}/rootfs/www`);
    await Deno.writeTextFile(`${bundle}/rootfs/www/index.html`, "hello from httpd\n");
    await ociboxDetached(root, ["create", "--bundle", bundle, id]);
    const { pid } = JSON.parse(await ociboxOk(["--root", root, "state", id]));
    const mapping = parseRunArgs(["-p", publish, "x"]).publish;
    const net = await startNetwork(pid, { mode: "private", publish: mapping });
    try {
      assert.ok(net.pid && net.pid > 0);
      await ociboxOk(["--root", root, "start", id]);
      assert.equal(await fetchText(`http://127.0.0.1:${port}/`), "hello from httpd\n");

      // The same port again: ocibox finds it taken, and so does pasta when not asked first.
      for (const checkPorts of [true, false]) {
        await assert.rejects(
          startNetwork(pid, { mode: "private", publish: mapping, checkPorts }),
          (e: unknown) => {
            assert.ok(e instanceof PortInUseError, String(e));
            assert.match(
              e.message,
              new RegExp(`^cannot publish 127\\.0\\.0\\.1:${port}->80/tcp: `),
            );
            assert.ok(!e.message.includes("\n"));
            return true;
          },
        );
      }
    } finally {
      await ocibox(["--root", root, "delete", "--force", id]);
      await net.stop();
    }
    // pasta is gone (or a zombie waiting for whoever adopted it), and the port is free.
    let state = "";
    try {
      state = Deno.readTextFileSync(`/proc/${net.pid}/stat`).replace(/^.*\) /, "")[0];
    } catch { /* reaped */ }
    assert.ok(state === "" || state === "Z", `pasta ${net.pid} is in state ${state}`);
    const again = Deno.listen({ hostname: "127.0.0.1", port });
    again.close();
  });
});

peerTest("network: --network none has only lo, under ocibox and runc", {
  peers: ["busybox", "runc"],
  root: true,
}, async () => {
  await withTempDir("ocibox-none-", async (dir) => {
    const id = newId();
    const bundle = await oneLinerBundle(dir, id, [
      "--network",
      "none",
      "busybox",
      "sh",
      "-c",
      "ls /sys/class/net; cat /etc/hostname; ip -o link | wc -l",
    ]);
    const want = `lo\n${id.slice(0, 12)}\n1\n`;
    const mine = await ocibox(["--root", `${dir}/state`, "run", "--bundle", bundle, id]);
    assert.equal(mine.code, 0, mine.stderr);
    assert.equal(mine.stdout, want);
    const runc = await runPeer("runc", ["--root", `${dir}/runc`, "run", "--bundle", bundle, id]);
    assert.equal(runc.code, 0, runc.stderr);
    assert.equal(runc.stdout, want);
  });
});
