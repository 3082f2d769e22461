/**
 * The runtime lifecycle through the CLI, as runtime.md describes it: states at each step, hook
 * order, exec, pause/resume, kill (with --all), delete (refused while running unless --force)
 * leaving no state, mount or cgroup; bad bundles fail at create and leave nothing behind.
 */
import assert from "node:assert/strict";
import { busyboxBundle, CGROUP_V2, cgroupDir, withTempDir } from "./support/bundles.ts";
import {
  MAIN_TS,
  ocibox,
  ociboxDetached,
  ociboxOk,
  writeRuntimeWrapper,
} from "./support/ocibox_cli.ts";
import { peerTest } from "./support/peers.ts";

const STATE_SCHEMA = JSON.parse(
  Deno.readTextFileSync(
    new URL("../../shared/specs/runtime-spec/schema/state-schema.json", import.meta.url),
  ),
);

/** Checks a state object against state-schema.json (required fields, types, status enum). */
function assertValidState(state: Record<string, unknown>): void {
  for (const key of STATE_SCHEMA.required as string[]) assert.ok(key in state, `missing ${key}`);
  assert.equal(typeof state.ociVersion, "string");
  assert.equal(typeof state.id, "string");
  // "paused" is runc's extension that podman and containerd expect; the rest is the schema's.
  const statuses = [...STATE_SCHEMA.properties.status.enum, "paused"];
  assert.ok(statuses.includes(state.status), String(state.status));
  if ("pid" in state) assert.ok(Number.isInteger(state.pid) && (state.pid as number) >= 0);
  assert.equal(typeof state.bundle, "string");
  for (const key of Object.keys(state)) {
    assert.ok(key in STATE_SCHEMA.properties, `unexpected field ${key}`);
  }
}

function cgroupDirs(id: string): string[] {
  const found: string[] = [];
  for (const c of ["memory", "pids", "cpu", "freezer", "unified", "systemd", "."]) {
    try {
      Deno.statSync(`/sys/fs/cgroup/${c}/${id}`);
      found.push(`${c}/${id}`);
    } catch { /* absent */ }
  }
  return found;
}

peerTest("create, start, exec, pause, resume, kill, delete: states and hooks in order", {
  peers: ["busybox"],
  root: true,
}, async () => {
  await withTempDir("ocibox-life-", async (dir) => {
    const root = `${dir}/state`;
    const log = `${dir}/hooks.log`;
    const hook = (name: string) => ({
      path: "/bin/sh",
      args: ["sh", "-c", `read -r state; echo "${name} $state" >> ${log}`],
    });
    const id = `life-${crypto.randomUUID().slice(0, 8)}`;
    const bundle = await busyboxBundle(
      `${dir}/b`,
      'trap "exit 143" TERM; echo started > /tmp/started; sleep 1000 & wait',
      (spec) => {
        spec.root!.readonly = false;
        spec.hooks = {
          prestart: [hook("prestart")],
          createRuntime: [hook("createRuntime")],
          createContainer: [hook("createContainer")],
          // startContainer runs in the container: its path and file are the container's.
          startContainer: [{ path: "/bin/sh", args: ["sh", "-c", "echo startContainer > /sc"] }],
          poststart: [hook("poststart")],
          poststop: [hook("poststop")],
        };
        spec.linux!.resources = { ...spec.linux!.resources, memory: { limit: 64 << 20 } };
      },
    );
    const cli = (...args: string[]) => ociboxOk(["--root", root, ...args], { cwd: bundle });
    const state = async () => {
      const s = JSON.parse(await cli("state", id));
      assertValidState(s);
      return s;
    };

    await ociboxDetached(root, ["create", "--bundle", bundle, id]);
    const created = await state();
    assert.equal(created.status, "created");
    assert.ok(created.pid > 0);
    assert.equal(created.bundle, bundle);
    const hooksAtCreate = (await Deno.readTextFile(log)).trim().split("\n").map((l) =>
      l.split(" ")[0]
    );
    assert.deepEqual(hooksAtCreate, ["prestart", "createRuntime", "createContainer"]);
    // Hooks get the state on stdin; the program has not run yet.
    assert.match(await Deno.readTextFile(log), new RegExp(`"id":"${id}"`));
    await assert.rejects(Deno.stat(`${bundle}/rootfs/tmp/started`));
    assert.ok(cgroupDirs(id).length > 0, "no cgroup made");
    assert.equal(
      Deno.readTextFileSync(
        `${cgroupDir("memory", `/${id}`)}/${CGROUP_V2 ? "memory.max" : "memory.limit_in_bytes"}`,
      ).trim(),
      String(64 << 20),
    );

    await cli("start", id);
    assert.equal((await state()).status, "running");
    for (let i = 0; i < 200 && !(await exists(`${bundle}/rootfs/tmp/started`)); i++) {
      await sleep(10);
    }
    assert.equal(await Deno.readTextFile(`${bundle}/rootfs/sc`), "startContainer\n");
    assert.match(await Deno.readTextFile(log), /\npoststart /);

    // exec runs in the container with its namespaces and cgroup.
    const out = await cli("exec", id, "--", "sh", "-c", "hostname; cat /proc/self/cgroup; echo $$");
    assert.match(out, /^ocibox\n/);
    assert.match(out, new RegExp(`(memory|0:):/${id}\\n`));
    const list = JSON.parse(await cli("list", "--format", "json"));
    assert.deepEqual(list.map((c: { id: string; status: string }) => [c.id, c.status]), [
      [id, "running"],
    ]);
    const pids = JSON.parse(await cli("ps", "--format", "json", id));
    assert.ok(pids.includes(created.pid), `${pids} lacks init ${created.pid}`);

    await cli("pause", id);
    assert.equal((await state()).status, "paused");
    await cli("resume", id);
    assert.equal((await state()).status, "running");

    // delete refuses a running container.
    const refused = await ocibox(["--root", root, "delete", id]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^error: cannot delete .* it is running/);

    await cli("kill", id, "TERM");
    for (let i = 0; i < 200 && (await state()).status !== "stopped"; i++) await sleep(10);
    const stopped = await state();
    assert.equal(stopped.status, "stopped");
    assert.equal(stopped.pid, 0);
    const notRunning = await ocibox(["--root", root, "kill", id, "KILL"]);
    assert.match(notRunning.stderr, /it is stopped/);

    await cli("delete", id);
    assert.deepEqual(cgroupDirs(id), []);
    await assert.rejects(Deno.stat(`${root}/${id}`));
    const hooks = (await Deno.readTextFile(log)).trim().split("\n").map((l) => l.split(" ")[0]);
    assert.deepEqual(hooks, [
      "prestart",
      "createRuntime",
      "createContainer",
      "poststart",
      "poststop",
    ]);
    const gone = await ocibox(["--root", root, "state", id]);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /does not exist/);
  });
});

peerTest("kill --all and delete --force end every process of the container", {
  peers: ["busybox"],
  root: true,
}, async () => {
  await withTempDir("ocibox-life-", async (dir) => {
    const root = `${dir}/state`;
    const id = `force-${crypto.randomUUID().slice(0, 8)}`;
    const bundle = await busyboxBundle(`${dir}/b`, "sleep 1000 & sleep 1000 & wait");
    const cli = (...args: string[]) => ociboxOk(["--root", root, ...args], { cwd: bundle });
    await ociboxDetached(root, ["run", "--detach", id], bundle);
    const pids = JSON.parse(await cli("ps", "--format", "json", id));
    assert.equal(pids.length, 3);
    await cli("kill", "--all", id, "9");
    for (let i = 0; i < 200 && JSON.parse(await cli("state", id)).status !== "stopped"; i++) {
      await sleep(10);
    }
    for (const pid of pids) assert.ok(!(await exists(`/proc/${pid}/cmdline`)) || zombie(pid));
    await cli("delete", id);

    await ociboxDetached(root, ["run", "--detach", id], bundle);
    await cli("delete", "--force", id);
    assert.deepEqual(cgroupDirs(id), []);
    assert.deepEqual(JSON.parse(await cli("list", "--format", "json")), []);
  });
});

peerTest("run returns the program's exit code and 128+signal", {
  peers: ["busybox"],
  root: true,
}, async () => {
  await withTempDir("ocibox-life-", async (dir) => {
    const bundle = await busyboxBundle(`${dir}/b`, "exit 42");
    const r = await ocibox(["--root", `${dir}/state`, "run", "exit42"], { cwd: bundle });
    assert.equal(r.code, 42, r.stderr);
    const bundle2 = await busyboxBundle(`${dir}/d`, ["sh", "-c", "sleep 5"]);
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--no-lock",
        new URL("../main.ts", import.meta.url).pathname,
        "--root",
        `${dir}/state`,
        "run",
        "sig",
      ],
      cwd: bundle2,
      stdout: "null",
      stderr: "null",
    }).spawn();
    for (let i = 0; i < 300; i++) {
      const s = await ocibox(["--root", `${dir}/state`, "state", "sig"]);
      if (s.code === 0 && JSON.parse(s.stdout).status === "running") break;
      await sleep(20);
    }
    // SIGTERM to ocibox is passed on; sh as pid 1 has no handler, so SIGKILL via kill --all.
    await ociboxOk(["--root", `${dir}/state`, "kill", "--all", "sig", "KILL"]);
    const status = await child.status;
    assert.equal(status.code, 137);
  });
});

peerTest("bad bundles fail at create with one line and leave nothing behind", {
  peers: ["busybox"],
  root: true,
}, async () => {
  await withTempDir("ocibox-life-", async (dir) => {
    const root = `${dir}/state`;
    const cases: [string, (b: string) => Promise<void>, RegExp][] = [
      [
        "missing rootfs",
        (b) => Deno.remove(`${b}/rootfs`, { recursive: true }),
        /root.path .* is not a directory/,
      ],
      [
        "invalid JSON",
        (b) => Deno.writeTextFile(`${b}/config.json`, "{ nope"),
        /config.json: is not valid JSON/,
      ],
      [
        "unknown namespace",
        (b) => edit(b, (s) => s.linux.namespaces.push({ type: "bogus" })),
        /unknown namespace type "bogus"/,
      ],
      ["symlink escape", async (b) => {
        await Deno.symlink("../../../../../../tmp", `${b}/rootfs/evil`);
        await edit(
          b,
          (s) => s.mounts.push({ destination: "/evil/x", type: "tmpfs", source: "tmpfs" }),
        );
      }, /symlink \/evil -> .*out of the rootfs/],
      ["absolute symlink escape", async (b) => {
        await Deno.symlink("/etc", `${b}/rootfs/abs`);
        await edit(
          b,
          (s) =>
            s.mounts.push({ destination: "/abs", type: "bind", source: "/tmp", options: ["bind"] }),
        );
      }, /symlink \/abs -> \/etc, out of the rootfs/],
    ];
    for (const [name, breakIt, message] of cases) {
      const id = `bad-${crypto.randomUUID().slice(0, 8)}`;
      const bundle = await busyboxBundle(`${dir}/${id}`, "true");
      await breakIt(bundle);
      const mountsBefore = await Deno.readTextFile("/proc/self/mountinfo");
      const r = await ocibox(["--root", root, "create", "--bundle", bundle, id]);
      assert.equal(r.code, 1, name);
      assert.equal(r.stderr.trim().split("\n").length, 1, `${name}: ${r.stderr}`);
      assert.match(r.stderr, message, name);
      await assert.rejects(Deno.stat(`${root}/${id}`), name);
      assert.deepEqual(cgroupDirs(id), [], name);
      assert.equal(await Deno.readTextFile("/proc/self/mountinfo"), mountsBefore, name);
    }
  });
});

peerTest("a missing or non-executable program fails create with runc's words", {
  peers: ["busybox", "runc"],
  root: true,
}, async () => {
  await withTempDir("ocibox-life-", async (dir) => {
    // podman turns "executable file not found" / "no such file or directory" into 127 and
    // "permission denied" into 126, from create's error: it must fail there, as runc's does.
    const cases: [string[], RegExp][] = [
      [["nope"], /exec: "nope": executable file not found in \$PATH/],
      [["/bin/nope"], /exec: "\/bin\/nope": stat \/bin\/nope: no such file or directory/],
      [["/etc/passwd"], /exec: "\/etc\/passwd": permission denied/],
      [["/bin"], /exec: "\/bin": permission denied/],
    ];
    for (const [args, message] of cases) {
      const id = `prog-${crypto.randomUUID().slice(0, 8)}`;
      const bundle = await busyboxBundle(`${dir}/${id}`, args);
      const mountsBefore = await Deno.readTextFile("/proc/self/mountinfo");
      const r = await ocibox(["--root", `${dir}/state`, "create", "--bundle", bundle, id]);
      assert.equal(r.code, 1, args[0]);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.match(r.stderr, message);
      await assert.rejects(Deno.stat(`${dir}/state/${id}`));
      assert.deepEqual(cgroupDirs(id), []);
      assert.equal(await Deno.readTextFile("/proc/self/mountinfo"), mountsBefore);
      const runc = await new Deno.Command("runc", {
        args: ["--root", `${dir}/runc`, "create", "--bundle", bundle, id],
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).output();
      assert.equal(runc.code, 1);
      // (runc's logger escapes the quotes)
      assert.match(new TextDecoder().decode(runc.stderr).replaceAll('\\"', '"'), message);
    }
  });
});

peerTest("an unsupported ociVersion fails create", { peers: ["busybox"], root: true }, async () => {
  await withTempDir("ocibox-life-", async (dir) => {
    for (
      const [version, message] of [
        ["2.0.0", /runtime-spec 2\.0\.0 is not supported \(ocibox runs 1\.x\)/],
        ["banana", /ociVersion: "banana" is not a SemVer version/],
      ] as const
    ) {
      const bundle = await busyboxBundle(
        `${dir}/${version}`,
        "true",
        (s) => s.ociVersion = version,
      );
      const r = await ocibox(["--root", `${dir}/state`, "create", "--bundle", bundle, "v"]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, message);
      await assert.rejects(Deno.stat(`${dir}/state/v`));
    }
  });
});

peerTest("non-root users in a 0700 state root, with and without a user namespace", {
  peers: ["busybox"],
  root: true,
}, async () => {
  await withTempDir("ocibox-life-", async (dir) => {
    // containerd's state root is 0700: the container's user reaches the exec FIFO only
    // through the descriptor init holds.
    const root = `${dir}/state`;
    await Deno.mkdir(root, { mode: 0o700 });
    const check = "id -u; id -g; echo ok > /tmp/out";
    const plain = await busyboxBundle(`${dir}/plain`, check, (s) => {
      s.process!.user = { uid: 1000, gid: 1000 };
      s.root!.readonly = false;
      s.mounts!.push({ destination: "/tmp", type: "tmpfs", source: "tmpfs" });
    });
    const mapped = await busyboxBundle(`${dir}/mapped`, check, (s) => {
      s.process!.user = { uid: 1000, gid: 1000 };
      s.root!.readonly = false;
      s.mounts!.push({ destination: "/tmp", type: "tmpfs", source: "tmpfs" });
      s.linux!.namespaces!.push({ type: "user" });
      s.linux!.uidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
      s.linux!.gidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
    });
    await new Deno.Command("chown", { args: ["-R", "200000:200000", `${mapped}/rootfs`] })
      .output();
    for (const bundle of [plain, mapped]) {
      const id = bundle.endsWith("plain") ? "plain" : "mapped";
      const pidFile = `${dir}/${id}.pid`;
      await ociboxDetached(root, ["create", "--bundle", bundle, "--pid-file", pidFile, id]);
      assert.equal(JSON.parse(await ociboxOk(["--root", root, "state", id])).status, "created");
      await ociboxOk(["--root", root, "start", id]);
      const pid = Number(await Deno.readTextFile(pidFile));
      for (let i = 0; i < 200 && zombie(pid) === false && (await exists(`/proc/${pid}`)); i++) {
        await sleep(10);
      }
      assert.equal(JSON.parse(await ociboxOk(["--root", root, "state", id])).status, "stopped");
      await ociboxOk(["--root", root, "delete", id]);
    }
    // run relays output: both print the user's ids.
    for (const bundle of [plain, mapped]) {
      const r = await ocibox(["--root", root, "run", "--bundle", bundle, "again"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "1000\n1000\n");
    }
  });
});

peerTest("create --console-socket leaves nothing of the caller's open: its pipes reach EOF", {
  peers: ["busybox"],
  root: true,
}, async () => {
  await withTempDir("ocibox-life-", async (dir) => {
    const bundle = await busyboxBundle(`${dir}/b`, "sleep 30", (s) => s.process!.terminal = true);
    const { listenUnix, acceptFd, recvFd } = await import("../ffi/socket.ts");
    const { close } = await import("../ffi/fs.ts");
    const socket = `${dir}/console.sock`;
    const listener = listenUnix(socket);
    // stdout and stderr are pipes, as containerd's shim gives them: create's end closes them
    // only if init holds no copy while it waits for start.
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--no-lock",
        MAIN_TS,
        "--root",
        `${dir}/state`,
        "create",
        "--bundle",
        bundle,
        "--console-socket",
        socket,
        "tty",
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const conn = acceptFd(listener);
    const { fd } = recvFd(conn);
    close(conn);
    close(listener);
    const out = await Promise.race([
      child.output(),
      sleep(10_000).then(() => "timeout" as const),
    ]);
    assert.notEqual(out, "timeout", "create's stdout/stderr never reached EOF");
    assert.equal((out as Deno.CommandOutput).code, 0);
    assert.equal(
      JSON.parse(await ociboxOk(["--root", `${dir}/state`, "state", "tty"])).status,
      "created",
    );
    await ociboxOk(["--root", `${dir}/state`, "delete", "--force", "tty"]);
    close(fd);
  });
});

peerTest("create keeps none of the caller's descriptors beyond stdio in the waiting init", {
  peers: ["busybox"],
  root: true,
}, async () => {
  await withTempDir("ocibox-life-", async (dir) => {
    const bundle = await busyboxBundle(`${dir}/b`, "sleep 30");
    // The caller's pipe sits at descriptors 4 to 9 (where init keeps its own handles), stdio
    // elsewhere: once create returns, nothing may hold the pipe.
    const moves = [4, 5, 6, 7, 8, 9].map((n) => `${n}>&1`).join(" ");
    const child = new Deno.Command("sh", {
      args: [
        "-c",
        `exec ${Deno.execPath()} run -A --no-lock ${MAIN_TS} --root ${dir}/state ` +
        `create --bundle ${bundle} held ${moves} >/dev/null 2>/dev/null`,
      ],
      stdin: "null",
      stdout: "piped",
    }).spawn();
    const out = await Promise.race([
      child.output(),
      sleep(10_000).then(() => "timeout" as const),
    ]);
    assert.notEqual(out, "timeout", "a copy of the caller's descriptor stayed open");
    assert.equal((out as Deno.CommandOutput).code, 0);
    await ociboxOk(["--root", `${dir}/state`, "delete", "--force", "held"]);
  });
});

peerTest("create, start and delete from a deleted working directory; delete --force of nothing", {
  peers: ["busybox"],
  root: true,
}, async () => {
  await withTempDir("ocibox-life-", async (dir) => {
    const bundle = await busyboxBundle(`${dir}/b`, "true");
    const wrapper = await writeRuntimeWrapper(`${dir}/ocibox`);
    const gone = `${dir}/gone`;
    await Deno.mkdir(gone);
    // buildah runs its runtime from a directory it has already removed.
    // (No pipes: the created container keeps create's stdio for its program, as with runc.)
    const log = `${dir}/log`;
    const inGone = async (...args: string[]) => {
      const status = await new Deno.Command("sh", {
        args: ["-c", `cd ${gone} && rmdir ${gone} && exec "$@"`, "sh", wrapper, ...args],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn().status;
      await Deno.mkdir(gone).catch(() => {});
      return { code: status.code, stderr: await Deno.readTextFile(log).catch(() => "") };
    };
    for (
      const args of [["create", "--bundle", bundle, "c"], ["start", "c"], [
        "delete",
        "--force",
        "c",
      ]]
    ) {
      const out = await inGone("--root", `${dir}/state`, "--log", log, ...args);
      assert.equal(out.code, 0, `${args[0]}: ${out.stderr}`);
    }
    await assert.rejects(Deno.stat(`${dir}/state/c`));
    // runc: deleting a container that does not exist with --force is no error.
    const none = await ocibox(["--root", `${dir}/state`, "delete", "--force", "nothing-here"]);
    assert.equal(none.code, 0);
    assert.equal(none.stderr, "");
    assert.equal((await ocibox(["--root", `${dir}/state`, "delete", "nothing-here"])).code, 1);
  });
});

peerTest("a low RLIMIT_AS limits the program, not the runtime's setup", {
  peers: ["busybox"],
  root: true,
}, async () => {
  await withTempDir("ocibox-life-", async (dir) => {
    // runc cannot (its Go init needs more address space): init here is a few pages.
    const bundle = await busyboxBundle(`${dir}/b`, "ulimit -v", (s) => {
      s.process!.rlimits = [{ type: "RLIMIT_AS", soft: 16 << 20, hard: 16 << 20 }];
      s.linux!.seccomp = JSON.parse(
        Deno.readTextFileSync(new URL("./fixtures/seccomp/deny_mkdir.json", import.meta.url)),
      );
    });
    const r = await ocibox(["--root", `${dir}/state`, "run", "--bundle", bundle, "as"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "16384\n");
  });
});

// deno-lint-ignore no-explicit-any
async function edit(bundle: string, f: (spec: any) => void): Promise<void> {
  const spec = JSON.parse(await Deno.readTextFile(`${bundle}/config.json`));
  f(spec);
  await Deno.writeTextFile(`${bundle}/config.json`, JSON.stringify(spec));
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

function zombie(pid: number): boolean {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1].startsWith("Z");
  } catch {
    return true;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
