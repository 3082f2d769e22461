/**
 * A real client: buildah 1.28 builds with ocibox as its OCI runtime (`--isolation oci`), as it
 * does with runc: `from`, `run` (exit codes, a terminal, another user), `commit`, `bud` of a
 * Containerfile with RUN steps before and after `USER 1000`, and a user namespace. buildah
 * runs its runtime from a working directory it has already deleted, and reads `state`.
 */
import assert from "node:assert/strict";
import { unmountUnder, writeBusyboxImage } from "./support/bundles.ts";
import { writeRuntimeWrapper } from "./support/ocibox_cli.ts";
import { peerTest, runPeer, which } from "./support/peers.ts";

peerTest("buildah builds and runs with ocibox as with runc", {
  peers: ["buildah", "runc", "busybox"],
  root: true,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "ocibox-buildah-" });
  await Deno.chmod(dir, 0o755);
  const archive = `${dir}/bb.tar`;
  await writeBusyboxImage(dir, `docker-archive:${archive}:localhost/bb:test`);
  const seen: Record<string, string[]> = {};
  try {
    const ocibox = await writeRuntimeWrapper(`${dir}/ocibox`, `${dir}/argv.log`);
    for (const [name, runtime] of [["runc", which("runc")!], ["ocibox", ocibox]]) {
      const t = `${dir}/with-${name}`;
      for (const d of ["tmp", "ctx"]) await Deno.mkdir(`${t}/${d}`, { recursive: true });
      await Deno.writeTextFile(
        `${t}/storage.conf`,
        `[storage]\ndriver = "vfs"\ngraphroot = "${t}/root"\nrunroot = "${t}/runroot"\n`,
      );
      await Deno.writeTextFile(
        `${t}/policy.json`,
        JSON.stringify({ default: [{ type: "insecureAcceptAnything" }] }),
      );
      const buildah = (args: string[]) =>
        runPeer("buildah", ["--cgroup-manager", "cgroupfs", ...args], {
          env: { CONTAINERS_STORAGE_CONF: `${t}/storage.conf`, TMPDIR: `${t}/tmp` },
        });
      const rt = ["--runtime", runtime, "--isolation", "oci"];
      const out: string[] = (seen[name] = []);
      const ok = async (args: string[], code = 0) => {
        const r = await buildah(args);
        assert.equal(r.code, code, `${name} buildah ${args.join(" ")}: ${r.stderr}`);
        return r.stdout;
      };
      await ok([
        "pull",
        "-q",
        "--signature-policy",
        `${t}/policy.json`,
        `docker-archive:${archive}`,
      ]);
      await ok(["from", "-q", "--pull=never", "--name", "w1", "localhost/bb:test"]);
      out.push(
        await ok(["run", ...rt, "w1", "--", "sh", "-c", "id; echo data > /made; exit 4"], 4),
      );
      out.push((await ok(["run", ...rt, "-t", "w1", "--", "tty"])).replaceAll("\r", ""));
      out.push(await ok(["run", ...rt, "--user", "1000", "w1", "--", "id"]));
      await ok(["commit", "-q", "w1", "localhost/committed:1"]);
      await ok(["from", "-q", "--pull=never", "--name", "w2", "localhost/committed:1"]);
      out.push(await ok(["run", ...rt, "w2", "--", "cat", "/made"]));
      await Deno.writeTextFile(
        `${t}/ctx/Containerfile`,
        [
          "FROM localhost/bb:test",
          "RUN echo root-step > /tmp/root-step && id -u > /tmp/uid-root",
          "USER 1000",
          "RUN id -u > /tmp/uid-user && cat /tmp/root-step",
        ].join("\n") + "\n",
      );
      await ok(["bud", ...rt, "--pull=never", "-t", "localhost/built:1", `${t}/ctx`]);
      await ok(["from", "-q", "--pull=never", "--name", "w3", "localhost/built:1"]);
      out.push(
        await ok(["run", ...rt, "w3", "--", "sh", "-c", "cat /tmp/uid-root /tmp/uid-user; id -u"]),
      );
      await ok([
        "from",
        "-q",
        "--pull=never",
        "--name",
        "u1",
        "--userns-uid-map",
        "0:100000:65536",
        "--userns-gid-map",
        "0:100000:65536",
        "localhost/bb:test",
      ]);
      out.push(
        await ok([
          "run",
          ...rt,
          "u1",
          "--",
          "sh",
          "-c",
          "id -u; cat /proc/self/uid_map; touch /tmp/x && echo w",
        ]),
      );
      await buildah(["rm", "--all"]);
      await buildah(["rmi", "--all", "--force"]);
    }
    assert.deepEqual(seen.ocibox, seen.runc);
    assert.deepEqual(seen.ocibox.slice(1, 4), [
      "/dev/pts/0\n",
      "uid=1000(user) gid=1000(user) groups=1000(user)\n",
      "data\n",
    ]);
    assert.equal(seen.ocibox[4], "0\n1000\n1000\n");
    assert.match(seen.ocibox[5], /^0\n +0 +100000 +65536\nw\n$/);
    const calls = await Deno.readTextFile(`${dir}/argv.log`);
    for (const verb of ["create", "start", "state", "delete"]) {
      assert.match(calls, new RegExp(`^${verb} `, "m"), verb);
    }
  } finally {
    await unmountUnder(dir);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
