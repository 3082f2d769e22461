/**
 * A real client: podman runs a local busybox image with ocibox as its OCI runtime (create,
 * start, state, kill, delete through runc's command line, with --log and --log-format json).
 */
import assert from "node:assert/strict";
import { MAIN_TS, ociboxOk } from "./support/ocibox_cli.ts";
import { peerTest, which } from "./support/peers.ts";

peerTest("podman --runtime ocibox runs a local image", {
  peers: ["podman", "busybox"],
  root: true,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "ocibox-podman-" });
  try {
    const layer = `${dir}/layer`;
    for (const d of ["bin", "etc", "proc", "sys", "dev"]) {
      await Deno.mkdir(`${layer}/${d}`, { recursive: true });
    }
    await Deno.copyFile(which("busybox")!, `${layer}/bin/busybox`);
    await Deno.chmod(`${layer}/bin/busybox`, 0o755);
    for (const c of ["sh", "echo", "id", "cat"]) await Deno.symlink("busybox", `${layer}/bin/${c}`);
    await Deno.writeTextFile(`${layer}/etc/passwd`, "root:x:0:0:root:/root:/bin/sh\n");
    await Deno.writeTextFile(`${layer}/etc/group`, "root:x:0:\n");
    await ociboxOk([
      "append",
      "-q",
      "--layer",
      layer,
      "--cmd",
      "sh",
      "--env",
      "PATH=/bin",
      `oci:${dir}/img:bb`,
    ]);
    const podman = (args: string[]) =>
      new Deno.Command("podman", { args, stdout: "piped", stderr: "piped" }).output();
    const pulled = await podman(["pull", "-q", `oci:${dir}/img:bb`]);
    assert.ok(pulled.success, new TextDecoder().decode(pulled.stderr));
    const imageId = new TextDecoder().decode(pulled.stdout).trim();
    const wrapper = `${dir}/ocibox-runtime`;
    await Deno.writeTextFile(
      wrapper,
      `#!/bin/sh\nexec ${Deno.execPath()} run -A --no-lock ${MAIN_TS} "$@"\n`,
    );
    await Deno.chmod(wrapper, 0o755);
    try {
      const out = await podman([
        "--runtime",
        wrapper,
        "--cgroup-manager=cgroupfs",
        "--events-backend=file",
        "run",
        "--rm",
        "--network=none",
        // The host's hard limits cannot be raised to podman's defaults here.
        "--ulimit",
        "nofile=20000:20000",
        "--ulimit",
        "nproc=20000:20000",
        imageId,
        "sh",
        "-c",
        "echo hello from podman; id; cat /proc/self/status | grep NoNewPrivs; exit 3",
      ]);
      const text = new TextDecoder().decode(out.stdout);
      assert.equal(out.code, 3, new TextDecoder().decode(out.stderr));
      assert.match(text, /^hello from podman\nuid=0\(root\) gid=0\(root\)/);
    } finally {
      await podman(["rmi", "-f", imageId]);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
