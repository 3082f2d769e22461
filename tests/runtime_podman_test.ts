/**
 * A real client: podman 4.3 drives ocibox exactly as it drives runc (create with --log and
 * --log-format json, start, exec --process, kill, delete through conmon), with the
 * containers.conf lines the README gives. Every scenario runs under runc too, and what the
 * container sees must be the same: users (-u, an image's USER, --uidmap), exec and
 * healthcheck on a default container (seccomp without no_new_privs), loopback under
 * --network=none, cgroup limits read from inside, missing and non-executable commands
 * (127/126), and stop with a TERM trap.
 */
import assert from "node:assert/strict";
import { unmountUnder, writeBusyboxImage } from "./support/bundles.ts";
import { writeRuntimeWrapper } from "./support/ocibox_cli.ts";
import { peerTest, runPeer, which } from "./support/peers.ts";

const RUNTIMES = ["runc", "ocibox"] as const;

/** An isolated podman: its own storage, and containers.conf registering ocibox. */
async function podmanIn(dir: string) {
  const wrapper = await writeRuntimeWrapper(`${dir}/ocibox`, `${dir}/argv.log`);
  const conf = `${dir}/containers.conf`;
  // The README's lines for ocibox, plus what this host needs: no network setup by default,
  // no default ulimits (podman's 1048576 is above this host's hard limit), cgroupfs, file events.
  await Deno.writeTextFile(
    conf,
    `[containers]
netns = "none"
default_ulimits = []

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime_supports_json = ["crun", "runc", "ocibox"]

[engine.runtimes]
ocibox = ["${wrapper}"]
runc = ["${which("runc")}"]
`,
  );
  const base = ["--root", `${dir}/storage`, "--runroot", `${dir}/run`, "--tmpdir", `${dir}/tmp`];
  return (args: string[]) =>
    runPeer("podman", [...base, ...args], { env: { CONTAINERS_CONF: conf } });
}

peerTest("podman runs, execs and stops containers under ocibox as under runc", {
  peers: ["podman", "runc", "busybox"],
  root: true,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "ocibox-podman-" });
  await Deno.chmod(dir, 0o755);
  const podman = await podmanIn(dir);
  try {
    const layout = `${dir}/img`;
    await writeBusyboxImage(dir, `oci:${layout}:bb`);
    await writeBusyboxImage(dir, `oci:${layout}:user`, ["--user", "1000"]);
    for (const tag of ["bb", "user"]) {
      const pulled = await podman(["pull", "-q", `oci:${layout}:${tag}`]);
      assert.equal(pulled.code, 0, pulled.stderr);
      assert.equal((await podman(["tag", pulled.stdout.trim(), `localhost/${tag}`])).code, 0);
    }
    const run = (runtime: string, args: string[]) =>
      podman(["--runtime", runtime, "run", "--rm", ...args]);

    // One-shot scenarios: exit code and output must be the same under both runtimes.
    const scenarios: [string, string[], number][] = [
      ["-u 1000:1000", ["-u", "1000:1000", "localhost/bb", "sh", "-c", "id"], 0],
      ["an image's USER", ["localhost/user", "sh", "-c", "id; echo $HOME"], 0],
      [
        "--uidmap",
        [
          "--uidmap",
          "0:100000:65536",
          "--gidmap",
          "0:100000:65536",
          "localhost/bb",
          "sh",
          "-c",
          "id; cat /proc/self/uid_map; echo hi > /tmp/x && cat /tmp/x",
        ],
        0,
      ],
      [
        "--network=none reaches 127.0.0.1",
        [
          "--network=none",
          "localhost/bb",
          "sh",
          "-c",
          "(nc -l -p 8080 -e echo pong &); sleep 0.3; echo ping | nc 127.0.0.1 8080; ls /sys/class/net",
        ],
        0,
      ],
      [
        "limits read from inside",
        [
          "--pids-limit",
          "100",
          "--memory",
          "64m",
          "localhost/bb",
          "sh",
          "-c",
          "cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/memory/memory.limit_in_bytes",
        ],
        0,
      ],
      ["a missing command", ["localhost/bb", "nosuchcommand"], 127],
      ["a non-executable command", ["localhost/bb", "/etc/passwd"], 126],
      ["exit code", ["localhost/bb", "sh", "-c", "exit 3"], 3],
    ];
    for (const [name, args, code] of scenarios) {
      const [runc, ocibox] = [await run("runc", args), await run("ocibox", args)];
      assert.equal(runc.code, code, `${name} under runc: ${runc.stderr}`);
      assert.equal(ocibox.code, code, `${name} under ocibox: ${ocibox.stderr}`);
      assert.equal(ocibox.stdout, runc.stdout, name);
    }
    assert.match((await run("ocibox", scenarios[0][1])).stdout, /^uid=1000\(user\) gid=1000/);
    assert.match((await run("ocibox", scenarios[3][1])).stdout, /^pong\nlo\n$/);
    assert.match((await run("ocibox", scenarios[4][1])).stdout, /^100\n67108864\n$/);

    // A detached default container (seccomp, no no_new_privs): exec, exec as a user,
    // healthcheck, exec of a missing command, then stop with a TERM trap.
    const seen: Record<string, string[]> = {};
    for (const runtime of RUNTIMES) {
      const name = `c-${runtime}`;
      const out: string[] = (seen[runtime] = []);
      const started = await podman([
        "--runtime",
        runtime,
        "run",
        "-d",
        "--name",
        name,
        "--health-cmd",
        "id -u",
        "--health-interval",
        "disable",
        "localhost/bb",
        "sh",
        "-c",
        'trap "echo got TERM; exit 0" TERM; echo up; while true; do sleep 0.1; done',
      ]);
      assert.equal(started.code, 0, `${runtime}: ${started.stderr}`);
      const exec = await podman([
        "exec",
        name,
        "sh",
        "-c",
        "id; grep -E 'NoNewPrivs|Seccomp:' /proc/self/status",
      ]);
      assert.equal(exec.code, 0, `${runtime} exec: ${exec.stderr}`);
      out.push(exec.stdout);
      const asUser = await podman(["exec", "-u", "1000", name, "id"]);
      assert.equal(asUser.code, 0, `${runtime} exec -u: ${asUser.stderr}`);
      out.push(asUser.stdout);
      const health = await podman(["healthcheck", "run", name]);
      assert.equal(health.code, 0, `${runtime} healthcheck: ${health.stderr}`);
      out.push(String((await podman(["exec", name, "nosuchcommand"])).code));
      const t0 = Date.now();
      const stop = await podman(["stop", "-t", "10", name]);
      assert.equal(stop.code, 0, `${runtime} stop: ${stop.stderr}`);
      assert.ok(Date.now() - t0 < 5000, `${runtime}: stop waited for the timeout`);
      const state = await podman(["inspect", "--format", "{{.State.ExitCode}}", name]);
      out.push(state.stdout);
      out.push((await podman(["logs", name])).stdout);
      await podman(["rm", "-f", name]);
    }
    assert.deepEqual(seen.ocibox, seen.runc);
    assert.match(seen.ocibox[0], /^uid=0\(root\).*\nNoNewPrivs:\t0\nSeccomp:\t2\n$/s);
    assert.deepEqual(seen.ocibox.slice(2, 5), ["127", "0\n", "up\ngot TERM\n"]);
    // ocibox was really driven, with runtime_supports_json's --log-format json.
    const calls = await Deno.readTextFile(`${dir}/argv.log`);
    assert.match(calls, /^--log-format=json --log \S+ create --bundle /m);
    assert.match(calls, /^--log-format=json --log \S+ exec .*--process /m);
    assert.match(calls, /^kill \S+ 15$/m);
  } finally {
    await podman(["rm", "-af"]);
    await podman(["rmi", "-af"]);
    await unmountUnder(dir);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
