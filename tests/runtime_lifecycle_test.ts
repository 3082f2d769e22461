/**
 * The runtime lifecycle through the CLI, as runtime.md describes it: states at each step, hook
 * order, exec, pause/resume, kill (with --all), delete (refused while running unless --force)
 * leaving no state, mount or cgroup; bad bundles fail at create and leave nothing behind.
 */
import assert from "node:assert/strict";
import { busyboxBundle, CGROUP_V2, cgroupDir, withTempDir } from "./support/bundles.ts";
import { ocibox, ociboxDetached, ociboxOk } from "./support/ocibox_cli.ts";
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
