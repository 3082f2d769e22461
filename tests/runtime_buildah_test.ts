/**
 * A real client: buildah 1.28 builds with ocibox as its OCI runtime (`--isolation oci`), as it
 * does with runc: `from`, `run` (exit codes, a terminal, another user), `commit`, `bud` of a
 * Containerfile with RUN steps before and after `USER 1000`, and a user namespace. buildah
 * runs its runtime from a working directory it has already deleted, and reads `state`.
 */
import assert from "node:assert/strict";
import { ociboxOk, writeRuntimeWrapper } from "./support/ocibox_cli.ts";
import { peerTest, which } from "./support/peers.ts";

/** A busybox image written by ocibox as a docker-archive. */
async function imageArchive(dir: string): Promise<string> {
  const layer = `${dir}/layer`;
  for (const d of ["bin", "etc", "proc", "sys", "dev", "run", "root"]) {
    await Deno.mkdir(`${layer}/${d}`, { recursive: true });
  }
  await Deno.mkdir(`${layer}/tmp`);
  await Deno.chmod(`${layer}/tmp`, 0o1777);
  await Deno.copyFile(which("busybox")!, `${layer}/bin/busybox`);
  await Deno.chmod(`${layer}/bin/busybox`, 0o755);
  for (const c of ["sh", "id", "cat", "echo", "tty", "touch", "tr"]) {
    await Deno.symlink("busybox", `${layer}/bin/${c}`);
  }
  await Deno.writeTextFile(
    `${layer}/etc/passwd`,
    "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/tmp:/bin/sh\n",
  );
  await Deno.writeTextFile(`${layer}/etc/group`, "root:x:0:\nuser:x:1000:\n");
  const archive = `${dir}/bb.tar`;
  await ociboxOk([
    "append",
    "-q",
    "--layer",
    layer,
    "--cmd",
    "sh",
    "--env",
    "PATH=/bin",
    `docker-archive:${archive}:localhost/bb:test`,
  ]);
  return archive;
}

peerTest("buildah builds and runs with ocibox as with runc", {
  peers: ["buildah", "runc", "busybox"],
  root: true,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "ocibox-buildah-" });
  await Deno.chmod(dir, 0o755);
  const archive = await imageArchive(dir);
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
      const buildah = async (args: string[]) => {
        // A hang fails the test instead of stopping CI.
        const out = await new Deno.Command("timeout", {
          args: ["-k", "5", "120", "buildah", "--cgroup-manager", "cgroupfs", ...args],
          env: { CONTAINERS_STORAGE_CONF: `${t}/storage.conf`, TMPDIR: `${t}/tmp` },
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }).output();
        const dec = new TextDecoder();
        return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
      };
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
    await new Deno.Command("sh", {
      args: [
        "-c",
        `grep -o ' ${dir}[^ ]*' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l`,
      ],
    }).output();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
