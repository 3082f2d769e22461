/**
 * The same one-liners under `podman run` (podman 4.3 with runc, cgroupfs, file events, a
 * private root) and `ocibox run`, pulled from the same docker-registry on 127.0.0.1, give the
 * same observable results from inside the container: user and groups, working directory,
 * environment, capabilities, no_new_privs and seccomp mode, rlimits, the cgroup limits, the
 * hostname, whether the root is writable, the mounts (point, type, ro/rw), exit codes.
 *
 * Differences with a reason are normalised, each said where it is done: the container's own
 * id (hostname, HOSTNAME) differs by nature, `container=` names the engine, podman adds
 * /run/.containerenv and /run/secrets, and its init is mounted as /run/podman-init. One is
 * left out of the report: the mode of `/` when no layer sets it (these images' layers have no
 * `./` entry) is 0555 under podman (containers/storage's default for a base layer) and 0755
 * under ocibox (as `umoci unpack`), so root without CAP_DAC_OVERRIDE (`--cap-drop ALL`) may
 * create files in / only under ocibox; the root's writability is reported as EROFS or not.
 */
import assert from "node:assert/strict";
import { PODMAN_ULIMITS } from "./support/podman_spec.ts";
import { runPeer, which } from "./support/peers.ts";
import { peerTest } from "./support/peers.ts";
import { unmountUnder } from "./support/bundles.ts";
import { mountsUnder, newBox, RUN_PEERS, runCases, startRunFixture } from "./support/run_images.ts";

/** What the container reports about itself, one `key: value` line each. */
const REPORT = [
  'echo "id: $(id)"',
  'echo "pwd: $(pwd)"',
  "env | sort | sed 's/^/env: /'",
  "grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):' /proc/self/status | tr -d '\\t'",
  'echo "ulimit: $(ulimit -n) $(ulimit -Hn) $(ulimit -u) $(ulimit -Hu)"',
  "for f in memory/memory.limit_in_bytes cpu/cpu.cfs_quota_us cpu/cpu.cfs_period_us " +
  'pids/pids.max; do echo "cgroup $f: $(cat /sys/fs/cgroup/$f 2>&1)"; done',
  'echo "hostname: $(hostname)"',
  // Whether the root file system is writable (EROFS), whatever the permissions say.
  '{ touch /probe 2>&1 | grep -q "Read-only file system" && echo "root: ro" || echo "root: rw"; }',
  'awk \'{split($4, o, ","); print "mount:", $2, $3, o[1]}\' /proc/mounts | sort',
].join("; ");

/** Makes two reports comparable (see the module doc for each difference). */
function normalise(report: string): string {
  const host = /^hostname: (.*)$/m.exec(report)?.[1] ?? "";
  return report.split("\n")
    .map((l) => host ? l.replaceAll(host, "<hostname>") : l)
    // The engine's name.
    .map((l) => l.replace(/^env: container=(podman|ocibox)$/, "env: container=<engine>"))
    // podman's own files: the container's environment file and the secrets directory.
    .filter((l) => !/^mount: \/run\/(\.containerenv|secrets) /.test(l))
    // The init binary's mount point is named after the engine.
    .map((l) => l.replace(/\/run\/(podman|ocibox)-init\b/, "/run/<engine>-init"))
    .join("\n");
}

peerTest("run IMAGE: ocibox and podman run give the same results from inside", {
  peers: [...RUN_PEERS, "podman", "runc"],
  root: true,
}, async () => {
  const fx = await startRunFixture();
  const box = await newBox(fx);
  // podman refuses a runroot of more than 50 characters: a short temporary directory.
  const dir = await Deno.makeTempDir({ prefix: "ocibox-pm-" });
  const base = [
    "--root",
    `${dir}/storage`,
    "--runroot",
    `${dir}/run`,
    "--tmpdir",
    `${dir}/tmp`,
    "--runtime",
    which("runc")!,
    "--cgroup-manager=cgroupfs",
    "--events-backend=file",
  ];
  const podman = (args: string[], env: Record<string, string> = {}) =>
    runPeer("podman", [...base, ...args], { env: { ...env, PATH: Deno.env.get("PATH")! } });
  try {
    await Promise.all(["bb", "app"].map(async (img) => {
      const r = await podman(["pull", "-q", "--tls-verify=false", fx.names[img as "bb"]]);
      assert.equal(r.code, 0, r.stderr);
      await box.ok(["pull", "-q", img]);
    }));
    const vol = `${box.dir}/vol`;
    await Deno.mkdir(vol);
    const envFile = `${box.dir}/env`;
    await Deno.writeTextFile(envFile, "FROM_FILE=1\nGREETING=file\n");
    const hostEnv = { FROM_HOST: "host value" };

    // Both without a network of their own (podman 4.3 has no pasta; its bridge would change
    // the host) and with the same explicit rlimits: podman's default 1048576 cannot be set on
    // a host whose hard limits are lower, where ocibox cuts it down instead.
    const common = ["--rm", "--network", "none", ...PODMAN_ULIMITS];
    const both = async (flags: string[], image: "bb" | "app", cmd: string[]) => {
      const [p, o] = await Promise.all([
        podman(["run", ...common, ...flags, fx.names[image], ...cmd], hostEnv),
        box.run(["run", ...common, ...flags, image, ...cmd], { env: hostEnv }),
      ]);
      return { podman: p, ocibox: o };
    };
    const same = async (flags: string[], image: "bb" | "app" = "bb") => {
      const cmd = image === "bb" ? ["sh", "-c", REPORT] : [REPORT];
      const r = await both(flags, image, cmd);
      assert.equal(r.podman.code, 0, `podman ${flags.join(" ")}: ${r.podman.stderr}`);
      assert.equal(r.ocibox.code, 0, `ocibox ${flags.join(" ")}: ${r.ocibox.stderr}`);
      assert.equal(
        normalise(r.ocibox.stdout),
        normalise(r.podman.stdout),
        `run ${flags.join(" ")} ${image}`,
      );
    };

    const cases: Record<string, () => Promise<void>> = {
      "image defaults (User, WorkingDir, Env, Entrypoint)": () => same([], "app"),
      "defaults of a plain image": () => same([]),
      "-u name, -u uid:gid, -u name:group": async () => {
        await same(["-u", "user"]);
        await same(["-u", "1000:3000"]);
        await same(["-u", "app:extra"], "app");
      },
      "-w": () => same(["-w", "/tmp"]),
      "-e, -e NAME, --env-file": () =>
        same(["--env-file", envFile, "-e", "A=1", "-e", "FROM_HOST", "-e", "UNSET_HERE"], "app"),
      "--hostname": () => same(["--hostname", "h1"]),
      "--read-only": () => same(["--read-only"]),
      "--cap-add, --cap-drop": async () => {
        await same(["--cap-add", "NET_ADMIN", "--cap-drop", "CHOWN"]);
        await same(["--cap-drop", "ALL"]);
      },
      "--privileged": () => same(["--privileged"]),
      "--security-opt": async () => {
        await same(["--security-opt", "no-new-privileges"]);
        await same(["--security-opt", "seccomp=unconfined"]);
      },
      "--memory, --cpus, --pids-limit": () =>
        same(["--memory", "64m", "--cpus", "0.5", "--pids-limit", "100"]),
      "--ulimit": () => same(["--ulimit", "nofile=1000:2000"]),
      "-v (ro), --tmpfs, --mount type=tmpfs": () =>
        same(["-v", `${vol}:/data:ro`, "--tmpfs", "/scratch", "--mount", "type=tmpfs,dst=/t"]),
      "--init": () => same(["--init"]),
      "exit codes: the program's, 126, 127": async () => {
        for (
          const cmd of [["sh", "-c", "exit 3"], ["/usr/bin/not-executable"], ["no-such-command"]]
        ) {
          const r = await both([], "bb", cmd);
          assert.equal(r.ocibox.code, r.podman.code, `${cmd.join(" ")}: ${r.podman.stderr}`);
        }
      },
    };
    await runCases(cases);
  } finally {
    await podman(["rm", "-af"]).catch(() => {});
    await podman(["rmi", "-af"]).catch(() => {});
    for (let i = 0; i < 5 && mountsUnder(dir).length > 0; i++) await unmountUnder(dir);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    await box.close();
    await fx.close();
  }
});
