/**
 * `ocibox serve` against real clients, started as a subprocess on 127.0.0.1:0: skopeo (push,
 * pull, inspect, list-tags, delete), ocibox's own client, podman, buildah and containerd's ctr;
 * TLS with the test PKI; a repository pushed by skopeo read as an OCI layout at
 * ROOT/repositories/NAME; and faults: serve killed with SIGKILL during a push and restarted
 * (the store consistent, the retried push succeeds), two pushes of one image at once.
 * @module
 */
import assert from "node:assert/strict";
import { buildTar, writeImage, type WrittenImage } from "./support/images.ts";
import { ociboxOk } from "./support/ocibox_cli.ts";
import { type Serve, startServe } from "./support/ocibox_serve.ts";
import { peerTest, run, runPeer } from "./support/peers.ts";
import { testPki } from "./support/test_pki.ts";

/** `ocibox serve` on `root` (kept for the checks that read repositories as OCI layouts). */
async function serveOn(root: string, args: string[] = []): Promise<Serve & { root: string }> {
  return { ...(await startServe(["--root", root, ...args])), root };
}

async function withServe(
  fn: (s: Serve & { root: string }, tmp: string) => Promise<void>,
  args: string[] = [],
): Promise<void> {
  const tmp = await Deno.makeTempDir({ prefix: "ocibox-serve-interop-" });
  const s = await serveOn(`${tmp}/root`, args);
  try {
    await fn(s, tmp);
  } finally {
    const status = await s.stop();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    assert.equal(status.code, 0, `serve exit after SIGTERM: ${s.stderr().slice(-2000)}`);
  }
}

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let at = 0; at < n; at += 65536) crypto.getRandomValues(out.subarray(at, at + 65536));
  return out;
}

/** A small image in an OCI layout: `layers` random layers of `size` bytes each. */
async function fixture(
  dir: string,
  tag: string,
  layers = 2,
  size = 200_000,
): Promise<WrittenImage> {
  return await writeImage(dir, tag, {
    layers: Array.from({ length: layers }, (_, i) => ({
      tar: buildTar([{
        name: `file${i}`,
        type: "file",
        data: randomBytes(size),
      }]),
      compression: "gzip" as const,
    })),
  });
}

async function skopeo(args: string[]): Promise<string> {
  const r = await runPeer("skopeo", args, { timeoutSeconds: 300 });
  if (r.code !== 0) throw new Error(`skopeo ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

const PLAIN = ["--src-tls-verify=false", "--dest-tls-verify=false"];

peerTest("skopeo: push, inspect, list-tags, pull, delete; the repository is an OCI layout", {
  peers: ["skopeo"],
}, async () => {
  await withServe(async (s, tmp) => {
    const img = await fixture(`${tmp}/src`, "v1");
    await skopeo(["copy", ...PLAIN, img.ref, `docker://${s.host}/team/app:v1`]);
    await skopeo(["copy", ...PLAIN, img.ref, `docker://${s.host}/team/app:v2`]);
    const inspect = JSON.parse(
      await skopeo(["inspect", "--tls-verify=false", `docker://${s.host}/team/app:v1`]),
    );
    assert.equal(inspect.Digest, img.manifestDigest);
    const tags = JSON.parse(
      await skopeo(["list-tags", "--tls-verify=false", `docker://${s.host}/team/app`]),
    );
    assert.deepEqual(tags.Tags, ["v1", "v2"]);
    await skopeo(["copy", ...PLAIN, `docker://${s.host}/team/app:v1`, `oci:${tmp}/pulled:v1`]);
    const index = JSON.parse(await Deno.readTextFile(`${tmp}/pulled/index.json`));
    assert.equal(index.manifests[0].digest, img.manifestDigest);
    // The repository directory is an OCI layout skopeo reads directly.
    const layout = JSON.parse(
      await skopeo(["inspect", `oci:${s.root}/repositories/team/app:v1`]),
    );
    assert.equal(layout.Digest, img.manifestDigest);
    // Delete by tag (spec end-9) keeps the manifest and its other tags.
    const del = await fetch(`${s.url}/v2/team/app/manifests/v2`, { method: "DELETE" });
    assert.equal(del.status, 202);
    const afterTag = await skopeo([
      "list-tags",
      "--tls-verify=false",
      `docker://${s.host}/team/app`,
    ]);
    assert.deepEqual(JSON.parse(afterTag).Tags, ["v1"]);
    // skopeo delete removes the manifest by digest, and so every tag on it.
    await skopeo(["delete", "--tls-verify=false", `docker://${s.host}/team/app:v1`]);
    const after = await skopeo(["list-tags", "--tls-verify=false", `docker://${s.host}/team/app`]);
    assert.deepEqual(JSON.parse(after).Tags, []);
    assert.match(
      s.stderr(),
      /http\.request\.method=PUT http\.request\.uri=\/v2\/team\/app\/manifests\/v1 .*status=201/,
    );
  });
});

peerTest(
  "ocibox's client: copy, inspect, list-tags, delete against serve",
  { peers: [] },
  async () => {
    await withServe(async (s, tmp) => {
      const img = await fixture(`${tmp}/src`, "v1");
      await ociboxOk([
        "copy",
        "--dest-tls-verify=false",
        img.ref,
        `docker://${s.host}/mine/img:v1`,
      ]);
      const info = JSON.parse(
        await ociboxOk(["inspect", "--tls-verify=false", `docker://${s.host}/mine/img:v1`]),
      );
      assert.equal(info.Digest, img.manifestDigest);
      const tags = JSON.parse(
        await ociboxOk(["list-tags", "--tls-verify=false", `docker://${s.host}/mine/img`]),
      );
      assert.deepEqual(tags.Tags, ["v1"]);
      await ociboxOk([
        "copy",
        "--src-tls-verify=false",
        `docker://${s.host}/mine/img:v1`,
        `oci:${tmp}/back:v1`,
      ]);
      const info2 = JSON.parse(
        await ociboxOk(["inspect", `oci:${s.root}/repositories/mine/img:v1`]),
      );
      assert.equal(info2.Digest, img.manifestDigest);
      await ociboxOk(["delete", "--tls-verify=false", `docker://${s.host}/mine/img:v1`]);
      const gone = await fetch(`${s.url}/v2/mine/img/manifests/${img.manifestDigest}`);
      assert.equal(gone.status, 404);
      await gone.body?.cancel();
    });
  },
);

peerTest("TLS: skopeo with the test CA against serve --tls-cert/--tls-key", {
  peers: ["skopeo", "openssl"],
}, async () => {
  const pki = await testPki();
  await withServe(async (s, tmp) => {
    assert.match(s.url, /^https:/);
    const img = await fixture(`${tmp}/src`, "v1", 1);
    await skopeo([
      "copy",
      `--dest-cert-dir=${pki.caOnlyDir}`,
      img.ref,
      `docker://${s.host}/tls/img:v1`,
    ]);
    const inspect = JSON.parse(
      await skopeo(["inspect", `--cert-dir=${pki.caOnlyDir}`, `docker://${s.host}/tls/img:v1`]),
    );
    assert.equal(inspect.Digest, img.manifestDigest);
  }, ["--tls-cert", pki.server.certPath, "--tls-key", pki.server.keyPath]);
});

peerTest(
  "podman push and pull --tls-verify=false",
  { peers: ["podman", "skopeo"], root: true },
  async () => {
    await withServe(async (s, tmp) => {
      const img = await fixture(`${tmp}/src`, "v1", 1);
      const name = `${s.host}/podman/img:v1`;
      // podman wants a runroot of at most 50 characters.
      const runroot = await Deno.makeTempDir({ dir: "/tmp", prefix: "pr-" });
      const storage = ["--root", `${tmp}/podman-root`, "--runroot", runroot];
      await run("podman", [...storage, "pull", img.ref]);
      const id = (await run("podman", [...storage, "images", "-q"])).trim().split("\n")[0];
      await run("podman", [...storage, "push", "--tls-verify=false", id, `docker://${name}`]);
      await run("podman", [...storage, "pull", "--tls-verify=false", name]);
      const inspect = JSON.parse(
        await skopeo(["inspect", "--tls-verify=false", `docker://${name}`]),
      );
      assert.ok(inspect.Digest);
      await run("podman", [...storage, "rmi", "-a", "-f"]).catch(() => "");
      await Deno.remove(runroot, { recursive: true }).catch(() => {});
    });
  },
);

peerTest("buildah push", { peers: ["buildah", "skopeo"], root: true }, async () => {
  await withServe(async (s, tmp) => {
    const img = await fixture(`${tmp}/src`, "v1", 1);
    const storage = ["--root", `${tmp}/b-root`, "--runroot", `${tmp}/b-run`];
    await run("buildah", [...storage, "pull", img.ref]);
    const id = (await run("buildah", [...storage, "images", "-q"])).trim().split("\n")[0];
    await run("buildah", [
      ...storage,
      "push",
      "--tls-verify=false",
      id,
      `docker://${s.host}/buildah/img:v1`,
    ]);
    const tags = JSON.parse(
      await skopeo(["list-tags", "--tls-verify=false", `docker://${s.host}/buildah/img`]),
    );
    assert.deepEqual(tags.Tags, ["v1"]);
    await run("buildah", [...storage, "rmi", "-a", "-f"]).catch(() => "");
  });
});

peerTest("containerd ctr: push and pull --plain-http", {
  peers: ["ctr", "containerd", "skopeo"],
  root: true,
}, async () => {
  const { startContainerd } = await import("./support/containerd.ts");
  await withServe(async (s, tmp) => {
    const img = await fixture(`${tmp}/src`, "v1", 1);
    await skopeo(["copy", ...PLAIN, img.ref, `docker://${s.host}/ctr/img:v1`]);
    const cd = await startContainerd();
    try {
      const ref = `${s.host}/ctr/img:v1`;
      for (
        const args of [
          ["images", "pull", "--plain-http", ref],
          ["images", "tag", ref, `${s.host}/ctr/copy:v2`],
          ["images", "push", "--plain-http", `${s.host}/ctr/copy:v2`],
        ]
      ) {
        const r = await cd.ctr(args);
        assert.equal(r.code, 0, `ctr ${args.join(" ")}: ${r.stderr}`);
      }
      const inspect = JSON.parse(
        await skopeo(["inspect", "--tls-verify=false", `docker://${s.host}/ctr/copy:v2`]),
      );
      assert.equal(inspect.Digest, img.manifestDigest);
    } finally {
      await cd.stop();
    }
  });
});

peerTest(
  "fault: serve SIGKILLed during a skopeo push; restarted, the store is consistent and the push succeeds",
  {
    peers: ["skopeo"],
  },
  async () => {
    const tmp = await Deno.makeTempDir({ prefix: "ocibox-serve-kill-" });
    try {
      const img = await fixture(`${tmp}/src`, "v1", 4, 3_000_000);
      let s = await serveOn(`${tmp}/root`);
      const push = runPeer(
        "skopeo",
        ["copy", ...PLAIN, img.ref, `docker://${s.host}/kill/img:v1`],
        {
          timeoutSeconds: 120,
        },
      );
      // Kill once the first blob has been asked for.
      const deadline = Date.now() + 30_000;
      while (!/blobs\/uploads/.test(s.stderr()) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      await s.stop("SIGKILL");
      const first = await push;
      assert.notEqual(first.code, 0);
      // No partial blob is visible: every blob file hashes to its name.
      const blobDir = `${tmp}/root/blobs/sha256`;
      const names = await Array.fromAsync(Deno.readDir(blobDir)).catch(() => []);
      for (const e of names) {
        const bytes = await Deno.readFile(`${blobDir}/${e.name}`);
        const hex = Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)))
          .map((b) => b.toString(16).padStart(2, "0")).join("");
        assert.equal(hex, e.name);
      }
      s = await serveOn(`${tmp}/root`);
      try {
        await skopeo(["copy", ...PLAIN, img.ref, `docker://${s.host}/kill/img:v1`]);
        const inspect = JSON.parse(
          await skopeo(["inspect", "--tls-verify=false", `docker://${s.host}/kill/img:v1`]),
        );
        assert.equal(inspect.Digest, img.manifestDigest);
        await skopeo(["copy", ...PLAIN, `docker://${s.host}/kill/img:v1`, `oci:${tmp}/back:v1`]);
      } finally {
        assert.equal((await s.stop()).code, 0);
      }
    } finally {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
  },
);

peerTest(
  "fault: two skopeo pushes of one image at once both succeed",
  { peers: ["skopeo"] },
  async () => {
    await withServe(async (s, tmp) => {
      const img = await fixture(`${tmp}/src`, "v1", 3, 1_000_000);
      const dest = `docker://${s.host}/race/img:v1`;
      const [a, b] = await Promise.all([
        runPeer("skopeo", ["copy", ...PLAIN, img.ref, dest]),
        runPeer("skopeo", ["copy", ...PLAIN, img.ref, dest]),
      ]);
      assert.equal(a.code, 0, a.stderr);
      assert.equal(b.code, 0, b.stderr);
      await skopeo(["copy", ...PLAIN, dest, `oci:${tmp}/back:v1`]);
      const index = JSON.parse(await Deno.readTextFile(`${tmp}/back/index.json`));
      assert.equal(index.manifests[0].digest, img.manifestDigest);
    });
  },
);
