/**
 * The runtime's command-line contract around the lifecycle: `spec` writes what `runc spec`
 * writes, `features` follows features-schema.json, `list`/`ps` tables, `--log-format json`
 * error lines (what podman reads), and `--systemd-cgroup` cgroup placement.
 */
import assert from "node:assert/strict";
import { busyboxBundle, cgroupDir, withTempDir } from "./support/bundles.ts";
import { MAIN_TS, ocibox, ociboxOk } from "./support/ocibox_cli.ts";
import { peerTest } from "./support/peers.ts";

const SCHEMA_DIR = new URL("../../shared/specs/runtime-spec/schema/", import.meta.url);

peerTest("spec and spec --rootless write runc's config.json (hostname and version aside)", {
  peers: ["runc"],
}, async () => {
  await withTempDir("ocibox-spec-", async (dir) => {
    for (const flags of [[], ["--rootless"]]) {
      await Deno.mkdir(`${dir}/o`, { recursive: true });
      await Deno.mkdir(`${dir}/r`, { recursive: true });
      await ociboxOk(["spec", ...flags], { cwd: `${dir}/o` });
      const runc = await new Deno.Command("runc", { args: ["spec", ...flags], cwd: `${dir}/r` })
        .output();
      assert.ok(runc.success);
      const ours = JSON.parse(await Deno.readTextFile(`${dir}/o/config.json`));
      const theirs = JSON.parse(await Deno.readTextFile(`${dir}/r/config.json`));
      assert.equal(ours.hostname, "ocibox");
      assert.equal(theirs.hostname, "runc");
      ours.hostname = theirs.hostname;
      // runc 1.1 calls its spec version "1.0.2-dev".
      assert.equal(ours.ociVersion, "1.0.2");
      ours.ociVersion = theirs.ociVersion;
      assert.deepEqual(ours, theirs, `spec ${flags.join(" ")}`);
      // A second spec refuses to overwrite it.
      const again = await ocibox(["spec", ...flags], { cwd: `${dir}/o` });
      assert.equal(again.code, 1);
      assert.match(again.stderr, /config.json exists already: remove it first/);
      await Deno.remove(`${dir}/o`, { recursive: true });
      await Deno.remove(`${dir}/r`, { recursive: true });
    }
  });
});

Deno.test("features prints JSON per features-schema.json", async () => {
  const schema = JSON.parse(await Deno.readTextFile(new URL("features-schema.json", SCHEMA_DIR)));
  const linuxSchema = JSON.parse(
    await Deno.readTextFile(new URL("features-linux.json", SCHEMA_DIR)),
  );
  const features = JSON.parse(await ociboxOk(["features"]));
  for (const key of schema.required) assert.ok(key in features, key);
  for (const key of Object.keys(features)) assert.ok(key in schema.properties, key);
  const linuxKeys = Object.keys(linuxSchema.properties ?? linuxSchema.linux?.properties ?? {});
  for (const key of Object.keys(features.linux)) {
    assert.ok(linuxKeys.length === 0 || linuxKeys.includes(key), `linux.${key}`);
  }
  assert.ok(features.hooks.includes("createContainer"));
  assert.ok(features.mountOptions.includes("rbind"));
  assert.ok(features.linux.namespaces.includes("time"));
  assert.ok(features.linux.capabilities.includes("CAP_CHECKPOINT_RESTORE"));
  assert.ok(features.linux.seccomp.operators.includes("SCMP_CMP_MASKED_EQ"));
});

peerTest("list and ps tables, --log-format json errors, --systemd-cgroup placement", {
  peers: ["busybox", "ps"],
  root: true,
}, async () => {
  await withTempDir("ocibox-rtcli-", async (dir) => {
    const root = `${dir}/state`;
    const bundle = await busyboxBundle(`${dir}/b`, "sleep 1000", (spec) => {
      spec.linux!.cgroupsPath = "machine.slice:ocibox:tablecheck";
    });
    const status = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--no-lock",
        MAIN_TS,
        "--root",
        root,
        "--systemd-cgroup",
        "run",
        "-d",
        "t1",
      ],
      cwd: bundle,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn().status;
    assert.ok(status.success);
    try {
      // slice:prefix:name placed as systemd would, with cgroupfs.
      const cgroup = cgroupDir("pids", "/machine.slice/ocibox-tablecheck.scope");
      const pid = JSON.parse(await ociboxOk(["--root", root, "state", "t1"])).pid;
      assert.ok((await Deno.readTextFile(`${cgroup}/cgroup.procs`)).includes(String(pid)));

      const list = (await ociboxOk(["--root", root, "list"])).split("\n");
      assert.match(list[0], /^ID +PID +STATUS +BUNDLE +CREATED +OWNER$/);
      assert.match(list[1], new RegExp(`^t1 +${pid} +running +${bundle} +\\S+ +root$`));
      assert.equal(await ociboxOk(["--root", root, "list", "-q"]), "t1\n");

      const ps = (await ociboxOk(["--root", root, "ps", "t1"])).trim().split("\n");
      assert.match(ps[0], /PID/);
      assert.equal(ps.length, 2);
      assert.match(ps[1], /sleep 1000/);

      const log = `${dir}/log.json`;
      const bad = await ocibox([
        "--root",
        root,
        "--log",
        log,
        "--log-format",
        "json",
        "start",
        "t1",
      ]);
      assert.equal(bad.code, 1);
      const line = JSON.parse((await Deno.readTextFile(log)).trim());
      assert.equal(line.level, "error");
      assert.match(line.msg, /cannot start container "t1": it is running/);
      assert.ok(!Number.isNaN(Date.parse(line.time)));
    } finally {
      await ociboxOk(["--root", root, "delete", "--force", "t1"]);
      await Deno.remove(cgroupDir("pids", "/machine.slice")).catch(() => {});
      for (
        const c of [
          "memory",
          "cpu",
          "cpuacct",
          "cpuset",
          "devices",
          "freezer",
          "blkio",
          "systemd",
          "unified",
          "net_cls",
          "perf_event",
          "hugetlb",
        ]
      ) {
        await Deno.remove(`/sys/fs/cgroup/${c}/machine.slice`).catch(() => {});
      }
    }
  });
});
