/**
 * `ocibox run IMAGE` one-liners against busybox images served by a docker-registry on
 * 127.0.0.1 (tests/support/run_images.ts): every flag of podman's meaning checked from inside
 * the container (ids, env, cwd, mounts, capabilities, seccomp, read-only root, limits in the
 * container's cgroup files, rlimits, hostname, network, init, platform), and the image's own
 * defaults. Independent cases run side by side in one test (`runCases`) so the suite stays
 * fast; each one says what it checks in its name.
 */
import assert from "node:assert/strict";
import {
  type Box,
  IMAGE_PATH,
  inTerminal,
  newBox,
  RUN_PEERS,
  runCases,
  startRunFixture,
} from "./support/run_images.ts";
import { peerTest, which } from "./support/peers.ts";
import type { OciboxResult } from "./support/ocibox_cli.ts";

/** podman 4.3's default capability set (see lib/containers/container_spec.ts). */
const DEFAULT_CAPS = [0, 1, 3, 4, 5, 6, 7, 8, 10, 18, 31];
const CAP = { CHOWN: 0, NET_ADMIN: 12, SYS_ADMIN: 21, SYS_PTRACE: 19 };

/** A capability set as /proc/PID/status prints it. */
function capHex(caps: readonly number[]): string {
  let mask = 0n;
  for (const c of caps) mask |= 1n << BigInt(c);
  return mask.toString(16).padStart(16, "0");
}

/** `Name:\tvalue` lines of a /proc/PID/status text. */
function statusField(status: string, name: string): string {
  const line = status.split("\n").find((l) => l.startsWith(`${name}:`));
  if (!line) throw new Error(`no ${name} in ${status}`);
  return line.slice(name.length + 1).trim();
}

/** The host's capability bounding set (what --privileged and --cap-add ALL reach). */
function hostBounding(): string {
  return statusField(Deno.readTextFileSync("/proc/self/status"), "CapBnd");
}

/** Asserts a zero exit and returns stdout. */
function ok(r: OciboxResult, what: string): string {
  assert.equal(r.code, 0, `${what}: exit ${r.code}, stderr: ${r.stderr}`);
  return r.stdout;
}

/** `mountpoint -> options` from a /proc/mounts text, for the mounts at `paths`. */
function mountOptions(procMounts: string, path: string): { type: string; options: string[] } {
  const line = procMounts.trim().split("\n").map((l) => l.split(" ")).findLast((f) =>
    f[1] === path
  );
  if (!line) throw new Error(`${path} is not a mount point in:\n${procMounts}`);
  return { type: line[2], options: line[3].split(",") };
}

peerTest("run IMAGE: every flag, checked from inside the container", {
  peers: [...RUN_PEERS, "script"],
  root: true,
}, async () => {
  const fx = await startRunFixture();
  const box = await newBox(fx);
  const boxes: Box[] = [box];
  try {
    // Pulled once; every case below runs from the store.
    await box.ok(["pull", "-q", "bb"]);
    await box.ok(["pull", "-q", "app"]);
    const run = (args: string[], options?: Parameters<Box["run"]>[1]) =>
      box.run(["run", "--rm", ...args], options);
    const sh = async (flags: string[], script: string, options?: Parameters<Box["run"]>[1]) =>
      ok(await run([...flags, "bb", "sh", "-c", script], options), `${flags.join(" ")} ${script}`);

    // One case at a time: with three at once on a loaded 2-CPU machine, a container's program
    // was seen, rarely, to run and exit before `start` read the exec FIFO ("init exited before
    // start (exit code 0)"); an open defect of concurrent runs, noted in the issue, not hidden
    // here for good.
    await runCases({
      "--pull never|missing|always": async () => {
        const own = await newBox(fx);
        boxes.push(own);
        const never = await own.run(["run", "--rm", "--pull", "never", "bb", "true"]);
        assert.equal(never.code, 125, never.stderr);
        assert.match(never.stderr, /^error: /m);
        // A tag that moves in the registry: missing keeps what the store has, always follows.
        await fx.push("bb", "moving");
        const marker = ["sh", "-c", "cat /opt/app/marker 2>/dev/null || echo none"];
        const first = await own.run(["run", "--rm", "moving", ...marker]);
        assert.equal(ok(first, "first"), "none\n");
        assert.match(first.stderr, /Trying to pull/);
        await fx.push("app", "moving");
        const missing = await own.run(["run", "--rm", "--entrypoint", "", "moving", ...marker]);
        assert.equal(ok(missing, "missing"), "none\n");
        assert.doesNotMatch(missing.stderr, /Trying to pull/);
        const always = await own.run([
          "run",
          "--rm",
          "--pull",
          "always",
          "--entrypoint",
          "",
          "moving",
          ...marker,
        ]);
        assert.equal(ok(always, "always"), "app layer\n");
        assert.match(always.stderr, /Trying to pull/);
        const after = await own.run([
          "run",
          "--rm",
          "--pull=never",
          "--entrypoint=",
          "moving",
          ...marker,
        ]);
        assert.equal(ok(after, "never after always"), "app layer\n");
      },

      "--platform picks from an image index (pull missing checks the platform)": async () => {
        const own = await newBox(fx);
        boxes.push(own);
        const arch = Deno.build.arch === "aarch64" ? "arm64" : "amd64";
        const other = arch === "amd64" ? "arm64" : "amd64";
        const cat = (flags: string[]) =>
          own.run(["run", "--rm", ...flags, "multi", "cat", "/platform"]).then((r) =>
            ok(r, flags.join(" "))
          );
        assert.equal(await cat([]), `linux/${arch}\n`);
        assert.equal(await cat(["--platform", `linux/${other}`]), `linux/${other}\n`);
        assert.equal(await cat(["--platform", `linux/${arch}`]), `linux/${arch}\n`);
      },

      "--rm leaves nothing: no record, mount, runtime state, cgroup, upper dir": async () => {
        const own = await newBox(fx);
        boxes.push(own);
        const { cgroupDirs } = await import("./support/run_images.ts");
        const r = await own.run([
          "run",
          "--rm",
          "bb",
          "sh",
          "-c",
          "echo data > /in-upper; cat /proc/self/cgroup",
        ]);
        const dirs = cgroupDirs(ok(r, "--rm"));
        assert.ok(dirs.length > 0, r.stdout);
        for (const d of dirs) {
          assert.ok(!(await exists(d)), `cgroup ${d} is left`);
        }
        assert.deepEqual(await own.leftovers(), []);
        // The layer cache stays for the next container; nothing of this one's upper dir does.
        const upper = await find(own.store, "in-upper");
        assert.deepEqual(upper, []);
        // Without --rm the container stays (exited) until rm.
        const kept = await own.run(["run", "--name", "kept", "bb", "true"]);
        ok(kept, "kept");
        assert.match(await own.ok(["ps", "-a"]), /kept/);
        assert.deepEqual(
          (await own.leftovers()).filter((l) => !l.startsWith("container record")),
          [],
        );
        await own.ok(["rm", "kept"]);
        assert.deepEqual(await own.leftovers(), []);
      },
      "exit codes: the program's, 126 not executable, 127 not found, 125 ocibox's": async () => {
        const three = await run(["bb", "sh", "-c", "exit 3"]);
        assert.equal(three.code, 3, three.stderr);
        const notExec = await run(["bb", "/usr/bin/not-executable"]);
        assert.equal(notExec.code, 126, notExec.stderr);
        assert.match(notExec.stderr, /^error: .*not-executable/m);
        const notFound = await run(["bb", "no-such-command"]);
        assert.equal(notFound.code, 127, notFound.stderr);
        assert.match(notFound.stderr, /^error: .*no-such-command/m);
        const own = await run(["--memory", "1k", "bb", "true"]);
        assert.equal(own.code, 125, own.stderr);
        const ignored = await run(["bb", "sh", "-c", "kill -9 $$"]);
        assert.equal(ignored.code, 0, ignored.stderr); // pid 1 ignores it
        const reaped = await run(["--init", "bb", "sh", "-c", "kill -9 $$"]);
        assert.equal(reaped.code, 137, reaped.stderr);
      },

      "capabilities: podman's default set, --cap-add, --cap-drop, ALL": async () => {
        const caps = (flags: string[]) =>
          sh(flags, "grep -E '^Cap(Eff|Prm|Bnd|Inh|Amb)' /proc/self/status").then((s) =>
            Object.fromEntries(s.trim().split("\n").map((l) => l.split(":\t")))
          );
        const dflt = capHex(DEFAULT_CAPS);
        assert.deepEqual(await caps([]), {
          CapInh: capHex([]),
          CapPrm: dflt,
          CapEff: dflt,
          CapBnd: dflt,
          CapAmb: capHex([]),
        });
        const added = capHex([...DEFAULT_CAPS, CAP.NET_ADMIN, CAP.SYS_PTRACE]);
        const a = await caps(["--cap-add", "NET_ADMIN", "--cap-add", "sys_ptrace"]);
        assert.equal(a.CapEff, added);
        assert.equal(a.CapBnd, added);
        const dropped = capHex(DEFAULT_CAPS.filter((c) => c !== CAP.CHOWN));
        assert.equal((await caps(["--cap-drop", "CAP_CHOWN"])).CapEff, dropped);
        const none = await caps(["--cap-drop", "ALL"]);
        assert.equal(none.CapEff, capHex([]));
        assert.equal(none.CapBnd, capHex([]));
        assert.equal((await caps(["--cap-drop", "ALL", "--cap-add", "CHOWN"])).CapEff, capHex([0]));
        assert.equal((await caps(["--cap-add", "ALL"])).CapEff, hostBounding());
        // Effective for a non-root user: none (no ambient set), as in podman.
        assert.equal((await caps(["-u", "user"])).CapEff, capHex([]));
      },

      "-u: names through the image's passwd and group, uid:gid, numbers": async () => {
        assert.equal(
          await sh(["-u", "user"], "id; echo $HOME"),
          "uid=1000(user) gid=1000(user) groups=1000(user),3000(extra)\n/home/user\n",
        );
        assert.equal(await sh(["-u", "app:extra"], "id -u; id -g"), "1234\n3000\n");
        assert.equal(await sh(["-u", "1000:2345"], "id -u; id -g"), "1000\n2345\n");
        assert.equal(await sh(["-u", "4321"], "id -u; id -g"), "4321\n0\n");
        assert.equal(ok(await run(["-u", "root", "app", "id -u"]), "-u root"), "0\n");
        const bad = await run(["-u", "nobody-here", "bb", "true"]);
        assert.equal(bad.code, 125, bad.stderr);
        assert.match(bad.stderr, /^error: .*nobody-here/m);
      },

      '--entrypoint: replaces the image\'s (and drops its Cmd); "" and JSON forms': async () => {
        assert.equal(ok(await run(["--entrypoint", "echo", "app", "a", "b"]), "echo"), "a b\n");
        assert.equal(ok(await run(["--entrypoint", "echo", "app"]), "echo no cmd"), "\n");
        assert.equal(
          ok(await run(["--entrypoint", '["echo","-n","x"]', "app", "y"]), "json"),
          "x y",
        );
        assert.equal(ok(await run(["--entrypoint", "", "app", "echo", "plain"]), '""'), "plain\n");
      },

      "image defaults: Cmd under Entrypoint, User, WorkingDir, Env": async () => {
        const out = ok(await run(["app"]), "app");
        assert.equal(
          out,
          "from-cmd\nuid=1234(app) gid=2345(app) groups=2345(app),3000(extra)\n/srv/app\n" +
            "GREETING=hello\n",
        );
      },

      "image defaults: env, /etc/hosts, /etc/hostname, /etc/resolv.conf": async () => {
        const out = ok(
          await run([
            "app",
            "env | sort; echo ---; cat /etc/hostname; echo ---; cat /etc/hosts; echo ---; " +
            "test -s /etc/resolv.conf && echo resolv-ok; grep -E ' /etc/(hosts|hostname|resolv.conf) ' /proc/mounts | cut -d' ' -f2 | sort",
          ]),
          "app env",
        );
        const [env, hostname, hosts, rest] = out.split("---\n");
        const vars = env.trim().split("\n");
        const h = hostname.trim();
        assert.match(h, /^[0-9a-f]{12}$/);
        for (
          const want of [
            "GREETING=hello",
            "container=ocibox",
            `HOSTNAME=${h}`,
            "HOME=/srv/app",
            `PATH=${IMAGE_PATH}`,
            "TERM=xterm",
          ]
        ) assert.ok(vars.includes(want), `${want} missing from ${vars}`);
        assert.match(hosts, /^127\.0\.0\.1\s+localhost/m);
        assert.match(hosts, new RegExp(`\\s${h}(\\s|$)`, "m"));
        assert.equal(rest, "resolv-ok\n/etc/hostname\n/etc/hosts\n/etc/resolv.conf\n");
      },

      "--name: in /etc/hosts beside the hostname": async () => {
        const out = await sh(["--name", "named-one"], "cat /etc/hosts");
        assert.match(out, /\snamed-one(\s|$)/m);
      },

      "-e NAME=VALUE, -e NAME (host's value, absent when unset), --env-file, order": async () => {
        const envFile = `${box.dir}/env-file`;
        await Deno.writeTextFile(
          envFile,
          "# a comment\nFROM_FILE=file value\nOVERRIDDEN=file\nGREETING=from-file\n\n",
        );
        const out = ok(
          await box.run([
            "run",
            "--rm",
            "--env-file",
            envFile,
            "-e",
            "OVERRIDDEN=flag",
            "-e",
            "FROM_HOST",
            "-e",
            "UNSET_ON_HOST",
            "-e",
            "EMPTY=",
            "app",
            'for v in FROM_FILE OVERRIDDEN FROM_HOST GREETING EMPTY; do eval "echo $v=\\${$v-unset}"; done; env | grep -c UNSET_ON_HOST; true',
          ], { env: { FROM_HOST: "host value" } }),
          "env",
        );
        assert.equal(
          out,
          "FROM_FILE=file value\nOVERRIDDEN=flag\nFROM_HOST=host value\nGREETING=from-file\n" +
            "EMPTY=\n0\n",
        );
      },

      "-i: stdin reaches the program; without -i it reads nothing": async () => {
        const input = "line one\nline two\n";
        assert.equal(ok(await run(["-i", "bb", "cat"], { stdin: input }), "-i cat"), input);
        assert.equal(ok(await run(["bb", "cat"], { stdin: input }), "cat"), "");
      },

      "-t: a real pty of the caller's size; -it relays input and the exit code": async () => {
        const out = await inTerminal(
          box,
          ["run", "--rm", "-t", "bb", "sh", "-c", "tty; stty size; echo $TERM"],
          { rows: 33, cols: 101 },
        );
        assert.equal(out.code, 0, out.stdout);
        // \r\n from the container's pty, and no second \r from ours (raw, as podman makes it).
        assert.equal(out.stdout, "/dev/pts/0\r\n33 101\r\nxterm\r\n");
        const r = await inTerminal(box, ["run", "--rm", "-it", "bb", "sh"], {
          input: "echo from-$((6*7))\nexit 5\n",
        });
        assert.equal(r.code, 5, r.stdout);
        assert.match(r.stdout, /from-42/);
        // Without -t there is no terminal.
        const no = await run(["bb", "tty"]);
        assert.equal(no.code, 1);
        assert.equal(no.stdout, "not a tty\n");
      },

      "-v HOST:CTR created when missing, rw by default, :ro read-only": async () => {
        const fresh = `${box.dir}/vol/fresh/sub`;
        const ro = `${box.dir}/vol-ro`;
        await Deno.mkdir(ro, { recursive: true });
        await Deno.writeTextFile(`${ro}/in`, "host file\n");
        const out = await sh(
          ["-v", `${fresh}:/data`, "-v", `${ro}:/ro:ro`],
          "echo written > /data/out; cat /ro/in; touch /ro/x 2>&1 || echo ro-refused; " +
            "grep -E ' /(data|ro) ' /proc/mounts | cut -d' ' -f2,4 | cut -d, -f1",
        );
        assert.equal(
          out,
          "host file\ntouch: /ro/x: Read-only file system\nro-refused\n/data rw\n/ro ro\n",
        );
        assert.equal(await Deno.readTextFile(`${fresh}/out`), "written\n");
      },

      "--mount type=bind (readonly) and type=tmpfs (size, mode); --tmpfs": async () => {
        const src = `${box.dir}/mount-src`;
        await Deno.mkdir(src, { recursive: true });
        await Deno.writeTextFile(`${src}/f`, "bound\n");
        const procMounts = await sh([
          "--mount",
          `type=bind,source=${src},target=/b,readonly`,
          "--mount",
          "type=tmpfs,destination=/t,tmpfs-size=1m,tmpfs-mode=0700",
          "--tmpfs",
          "/scratch",
        ], "cat /b/f; touch /t/ok /scratch/ok && stat -c %a /t; cat /proc/mounts");
        assert.ok(procMounts.startsWith("bound\n700\n"), procMounts);
        const b = mountOptions(procMounts, "/b");
        assert.ok(b.options.includes("ro"), JSON.stringify(b));
        const t = mountOptions(procMounts, "/t");
        assert.equal(t.type, "tmpfs");
        assert.ok(t.options.includes("size=1024k"), JSON.stringify(t));
        const s = mountOptions(procMounts, "/scratch");
        assert.equal(s.type, "tmpfs");
        assert.ok(s.options.includes("rw") && s.options.includes("nosuid"), JSON.stringify(s));
      },

      "-w: the working directory, created when missing": async () => {
        assert.equal(await sh(["-w", "/tmp"], "pwd"), "/tmp\n");
        assert.equal(await sh(["-w", "/made/for/it"], "pwd"), "/made/for/it\n");
        assert.equal(ok(await run(["-w", "/", "app"]), "app -w /").split("\n")[2], "/");
      },

      "--hostname: hostname, /etc/hostname, $HOSTNAME, /etc/hosts": async () => {
        const out = await sh(
          ["--hostname", "box-one"],
          "hostname; cat /etc/hostname; echo $HOSTNAME; grep -c box-one /etc/hosts",
        );
        assert.equal(out, "box-one\nbox-one\nbox-one\n1\n");
      },

      "--read-only: the root refuses writes; /tmp /run /var/tmp are tmpfs": async () => {
        const out = await sh(
          ["--read-only"],
          "touch /x 2>&1; touch /tmp/a /run/a /var/tmp/a && echo tmp-ok; " +
            "grep -E ' / ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1",
        );
        assert.equal(out, "touch: /x: Read-only file system\ntmp-ok\nro\n");
        const none = await sh(
          ["--read-only", "--read-only-tmpfs=false"],
          "touch /tmp/a 2>&1; true",
        );
        assert.equal(none, "touch: /tmp/a: Read-only file system\n");
        assert.equal(await sh([], "touch /x && echo rw"), "rw\n");
      },

      "--privileged: every capability, no seccomp, the host's devices, rw /sys": async () => {
        const out = await sh(
          ["--privileged"],
          "grep -E '^(CapEff|Seccomp):' /proc/self/status; test -e /dev/loop-control && echo loop-control; " +
            "grep -E ' /sys ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1",
        );
        assert.equal(out, `CapEff:\t${hostBounding()}\nSeccomp:\t0\nloop-control\nrw\n`);
        assert.equal(
          await sh(
            [],
            "test -e /dev/loop-control || echo no-loop; grep -E ' /sys ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1",
          ),
          "no-loop\nro\n",
        );
      },

      "--security-opt: default seccomp, no-new-privileges, unconfined, a profile file":
        async () => {
          const st = (flags: string[]) =>
            sh(flags, "grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status | tr -d '\\t'");
          assert.equal(await st([]), "NoNewPrivs:0\nSeccomp:2\n");
          assert.equal(
            await st(["--security-opt", "no-new-privileges"]),
            "NoNewPrivs:1\nSeccomp:2\n",
          );
          assert.equal(
            await st(["--security-opt", "seccomp=unconfined"]),
            "NoNewPrivs:0\nSeccomp:0\n",
          );
          // The default profile refuses what podman's does (unshare of a user namespace without
          // CAP_SYS_ADMIN, keyctl ...); a file profile replaces it.
          const profile = `${box.dir}/seccomp.json`;
          await Deno.writeTextFile(
            profile,
            JSON.stringify({
              defaultAction: "SCMP_ACT_ALLOW",
              syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 1 }],
            }),
          );
          assert.equal(
            await sh(
              ["--security-opt", `seccomp=${profile}`],
              "mkdir /tmp/d 2>&1; grep Seccomp: /proc/self/status | tr -d '\\t'",
            ),
            "mkdir: can't create directory '/tmp/d': Operation not permitted\nSeccomp:2\n",
          );
        },

      "--memory, --cpus, --pids-limit: in the container's cgroup files": async () => {
        const read = "cat /sys/fs/cgroup/memory/memory.limit_in_bytes " +
          "/sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us " +
          "/sys/fs/cgroup/pids/pids.max";
        const v2 = "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max /sys/fs/cgroup/pids.max";
        const isV2 = (() => {
          try {
            return Deno.statSync("/sys/fs/cgroup/cgroup.controllers").isFile;
          } catch {
            return false;
          }
        })();
        const limited = await sh(
          ["--memory", "64m", "--cpus", "0.5", "--pids-limit", "100"],
          isV2 ? v2 : read,
        );
        assert.equal(
          limited,
          isV2 ? "67108864\n50000 100000\n100\n" : "67108864\n50000\n100000\n100\n",
        );
        // Defaults: no memory or CPU limit, podman's 2048 processes.
        const dflt = await sh([], isV2 ? v2 : read);
        const lines = dflt.trim().split("\n");
        assert.equal(lines.at(-1), "2048", dflt);
        if (!isV2) assert.equal(lines[1], "-1", dflt);
        assert.equal(
          await sh(["--pids-limit", "-1"], `cat /sys/fs/cgroup/${isV2 ? "" : "pids/"}pids.max`),
          "max\n",
        );
      },

      "--ulimit: soft and hard limits": async () => {
        assert.equal(
          await sh(
            ["--ulimit", "nofile=1000:2000", "--ulimit", "nproc=300"],
            "ulimit -n; ulimit -Hn; ulimit -u; ulimit -Hu",
          ),
          "1000\n2000\n300\n300\n",
        );
        // Default: podman's 1048576, cut to what this host allows.
        const [n, hn] = (await sh([], "ulimit -n; ulimit -Hn")).trim().split("\n").map(Number);
        assert.ok(n === hn && n > 1024, `nofile ${n}:${hn}`);
      },

      "--init: catatonit or tini is pid 1, the command its child": async () => {
        // Mounted as /run/ocibox-init (podman: /run/podman-init): the same bytes as the host's.
        const out = await sh(["--init"], "readlink /proc/1/exe; wc -c < /proc/1/exe; echo $$");
        const [exe, size, pid] = out.trim().split("\n");
        assert.equal(exe, "/run/ocibox-init");
        const sizes = ["catatonit", "tini"].map(which).filter((p) => p !== undefined)
          .map((p) => String(Deno.statSync(Deno.realPathSync(p)).size));
        assert.ok(sizes.includes(size), `${size} is not one of ${sizes}`);
        assert.notEqual(pid, "1");
        assert.equal(await sh([], "echo $$"), "1\n");
      },

      "--network none: only lo, up; --network host: the host's interfaces and name": async () => {
        assert.equal(
          await sh(["--network", "none"], "ls /sys/class/net; cat /sys/class/net/lo/operstate"),
          "lo\nunknown\n",
        );
        const host = [...Deno.readDirSync("/sys/class/net")].map((e) => e.name).sort();
        const out = await sh(["--network", "host"], "ls /sys/class/net; hostname");
        assert.equal(out, [...host, Deno.hostname(), ""].join("\n"));
      },

      "default network: pasta gives an interface besides lo (or a warning and none)": async () => {
        const r = await run(["bb", "sh", "-c", "ls /sys/class/net"]);
        const links = ok(r, "default network").trim().split("\n");
        if (which("pasta") || which("slirp4netns")) {
          assert.ok(links.includes("lo") && links.length >= 2, links.join(" "));
        } else {
          assert.deepEqual(links, ["lo"]);
          assert.match(r.stderr, /warning/i);
        }
      },

      "signals: TERM and INT sent to ocibox reach the container's program": async () => {
        for (const signal of ["SIGTERM", "SIGINT"] as const) {
          const ready = `${box.dir}/sig-${signal}`;
          await Deno.mkdir(ready, { recursive: true });
          const child = box.spawn([
            "run",
            "--rm",
            "-v",
            `${ready}:/ready`,
            "bb",
            "sh",
            "-c",
            `trap 'echo got-${signal}; exit 7' ${signal.slice(3)}; touch /ready/up; ` +
            "while :; do sleep 0.05; done",
          ]);
          const { waitForFile } = await import("./support/run_images.ts");
          await waitForFile(`${ready}/up`);
          child.kill(signal);
          const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
          const out = await child.output().finally(() => clearTimeout(timer));
          const text = new TextDecoder().decode(out.stdout);
          assert.equal(out.code, 7, `${signal}: ${new TextDecoder().decode(out.stderr)}`);
          assert.equal(text, `got-${signal}\n`);
        }
      },
    }, 1);
    assert.deepEqual(await box.leftovers(), []);
  } finally {
    for (const b of boxes) await b.close();
    await fx.close();
  }
});

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** Paths under `dir` whose name is `name`. */
async function find(dir: string, name: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      const p = `${d}/${e.name}`;
      if (e.name === name) found.push(p);
      if (e.isDirectory) await walk(p);
    }
  };
  await walk(dir);
  return found;
}
