/**
 * Rootless: an unprivileged user (made with useradd) runs a `spec --rootless` bundle. The
 * container gets a user namespace with a single-id mapping (its root is that user) and no
 * cgroup, as with rootless runc.
 */
import assert from "node:assert/strict";
import { busyboxBundle } from "./support/bundles.ts";
import { MAIN_TS } from "./support/ocibox_cli.ts";
import { peerTest } from "./support/peers.ts";

const USER = "ociboxtest";

async function ensureUser(): Promise<number> {
  const id = await new Deno.Command("id", { args: ["-u", USER], stdout: "piped", stderr: "null" })
    .output();
  if (!id.success) {
    const made = await new Deno.Command("useradd", { args: ["-M", "-s", "/bin/sh", USER] })
      .output();
    assert.ok(made.success, "useradd failed");
  }
  const out = await new Deno.Command("id", { args: ["-u", USER], stdout: "piped" }).output();
  return Number(new TextDecoder().decode(out.stdout).trim());
}

peerTest("an unprivileged user runs a rootless container with a single-id mapping", {
  peers: ["busybox", "runuser", "useradd"],
  root: true,
}, async () => {
  const uid = await ensureUser();
  const dir = await Deno.makeTempDir({ prefix: "ocibox-rootless-" });
  try {
    await Deno.chmod(dir, 0o755);
    const bundle = await busyboxBundle(
      `${dir}/b`,
      "id; cat /proc/self/uid_map /proc/self/gid_map; grep CapEff /proc/self/status; exit 5",
      undefined,
      { rootless: true },
    );
    // The bundle as the user would have made it: theirs, with their uid mapped to root.
    const spec = JSON.parse(await Deno.readTextFile(`${bundle}/config.json`));
    spec.linux.uidMappings = [{ containerID: 0, hostID: uid, size: 1 }];
    spec.linux.gidMappings = [{ containerID: 0, hostID: uid, size: 1 }];
    await Deno.writeTextFile(`${bundle}/config.json`, JSON.stringify(spec));
    await Deno.mkdir(`${dir}/home`);
    await new Deno.Command("chown", { args: ["-R", `${uid}:${uid}`, dir] }).output();
    const out = await new Deno.Command("runuser", {
      args: [
        "-u",
        USER,
        "--",
        "env",
        `HOME=${dir}/home`,
        `DENO_DIR=${dir}/home/deno`,
        Deno.execPath(),
        "run",
        "-A",
        "--no-lock",
        MAIN_TS,
        "--root",
        `${dir}/state`,
        "run",
        "rootless1",
      ],
      cwd: bundle,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 5, new TextDecoder().decode(out.stderr));
    assert.match(text, /^uid=0\(root\) gid=0\(root\)/);
    assert.match(text, new RegExp(`^\\s+0\\s+${uid}\\s+1$`, "m"));
    assert.match(text, /CapEff:\t0000000020000420/);
    // run deleted it: nothing left in the user's state root.
    assert.deepEqual([...Deno.readDirSync(`${dir}/state`)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
