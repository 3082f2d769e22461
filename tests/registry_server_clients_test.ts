/**
 * The client matrix against `ocibox serve` beyond plain HTTP (tests/registry_server_interop_test.ts
 * has that): buildah and containerd's `ctr` push and pull over TLS (the test PKI's CA:
 * `buildah --cert-dir`; ctr through a hosts.toml naming it, as `--tlscacert` alone leaves
 * ctr on plain HTTP for 127.0.0.1), with Basic auth (`--htpasswd`; `buildah --creds`,
 * `ctr --user`) and with token auth (`--auth token`: the server's own /token), and podman over
 * TLS with `--cert-dir`. One server per mode; the clients of a mode run side by side, each on
 * its own repository.
 * @module
 */
import assert from "node:assert/strict";
import { buildTar, writeImage, type WrittenImage } from "./support/images.ts";
import { type Serve, startServe } from "./support/ocibox_serve.ts";
import { peerTest, run, runPeer } from "./support/peers.ts";
import { testPki } from "./support/test_pki.ts";

const PEERS = ["skopeo", "buildah", "ctr", "containerd", "htpasswd", "openssl"];

/** How each client reaches one server: TLS trust and credentials as its flags. */
interface Mode {
  serveArgs: string[];
  skopeo: string[];
  buildah: string[];
  /** ctr's flags, given the server's HOST:PORT and a directory to write config to. */
  ctr: string[] | ((host: string, dir: string) => Promise<string[]>);
  podman?: string[];
  /** What the server's access log must show (e.g. token requests). */
  log?: RegExp[];
}

async function skopeoOk(args: string[]): Promise<string> {
  const r = await runPeer("skopeo", ["--insecure-policy", ...args], { timeoutSeconds: 120 });
  assert.equal(r.code, 0, `skopeo ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

async function fixture(dir: string): Promise<WrittenImage> {
  const data = new Uint8Array(300_000);
  crypto.getRandomValues(data.subarray(0, 65536));
  return await writeImage(dir, "v1", {
    layers: [{ tar: buildTar([{ name: "f", type: "file", data }]), compression: "gzip" }],
  });
}

async function htpasswdFile(dir: string): Promise<string> {
  const r = await runPeer("htpasswd", ["-Bbn", "alice", "alice-pw"]);
  assert.equal(r.code, 0, r.stderr);
  await Deno.writeTextFile(`${dir}/htpasswd`, r.stdout.trim() + "\n");
  return `${dir}/htpasswd`;
}

/** buildah pulls `from`, pushes it to `to`. */
async function buildahRoundTrip(mode: Mode, tmp: string, from: string, to: string) {
  const runroot = await Deno.makeTempDir({ dir: "/tmp", prefix: "br-" });
  const storage = ["--root", `${tmp}/buildah-root`, "--runroot", runroot];
  try {
    await run("buildah", [...storage, "pull", ...mode.buildah, `docker://${from}`]);
    await run("buildah", [...storage, "push", ...mode.buildah, from, `docker://${to}`]);
    await run("buildah", [...storage, "rmi", "-a", "-f"]).catch(() => "");
  } finally {
    await Deno.remove(runroot, { recursive: true }).catch(() => {});
  }
}

/** podman pulls `from`, pushes it to `to`. */
async function podmanRoundTrip(mode: Mode, tmp: string, from: string, to: string) {
  const runroot = await Deno.makeTempDir({ dir: "/tmp", prefix: "pr-" });
  const storage = ["--root", `${tmp}/podman-root`, "--runroot", runroot];
  try {
    await run("podman", [...storage, "pull", ...mode.podman!, from]);
    await run("podman", [...storage, "push", ...mode.podman!, from, `docker://${to}`]);
    await run("podman", [...storage, "rmi", "-a", "-f"]).catch(() => "");
  } finally {
    await Deno.remove(runroot, { recursive: true }).catch(() => {});
  }
}

/** ctr pulls `from`, tags and pushes it as `to`. */
async function ctrRoundTrip(mode: Mode, tmp: string, host: string, from: string, to: string) {
  const { startContainerd } = await import("./support/containerd.ts");
  const flags = typeof mode.ctr === "function" ? await mode.ctr(host, tmp) : mode.ctr;
  const cd = await startContainerd();
  try {
    for (
      const args of [
        ["images", "pull", ...flags, from],
        ["images", "tag", from, to],
        ["images", "push", ...flags, to],
      ]
    ) {
      const r = await cd.ctr(args);
      assert.equal(r.code, 0, `ctr ${args.join(" ")}: ${r.stdout}${r.stderr}`);
    }
  } finally {
    await cd.stop();
  }
}

/** Seeds one image with skopeo, then every client of `mode` pulls it and pushes a copy. */
async function matrix(mode: Mode, label: string): Promise<void> {
  const tmp = await Deno.makeTempDir({ prefix: `ocibox-clients-${label}-` });
  let serve: Serve | undefined;
  try {
    serve = await startServe(["--root", `${tmp}/root`, ...mode.serveArgs]);
    const img = await fixture(`${tmp}/src`);
    const h = serve.host;
    await skopeoOk([
      "copy",
      ...mode.skopeo.map((f) => f.replace("--", "--dest-")),
      img.ref,
      `docker://${h}/seed/img:v1`,
    ]);
    const seed = `${h}/seed/img:v1`;
    const jobs: Array<[string, Promise<void>]> = [
      ["buildah", buildahRoundTrip(mode, tmp, seed, `${h}/buildah/img:v1`)],
      ["ctr", ctrRoundTrip(mode, tmp, h, seed, `${h}/ctr/img:v1`)],
    ];
    if (mode.podman) jobs.push(["podman", podmanRoundTrip(mode, tmp, seed, `${h}/podman/img:v1`)]);
    const results = await Promise.allSettled(jobs.map(([, p]) => p));
    const failed = results.flatMap((r, i) =>
      r.status === "rejected" ? [`${jobs[i][0]}: ${r.reason?.message ?? r.reason}`] : []
    );
    assert.deepEqual(failed, []);
    // Each copy is the seed image, pulled back whole by skopeo (digests checked).
    for (const [client] of jobs) {
      const ref = `docker://${h}/${client}/img:v1`;
      const src = mode.skopeo.map((f) => f.replace("--", "--src-"));
      await skopeoOk(["copy", ...src, ref, `oci:${tmp}/back-${client}:t`]);
      const raw = JSON.parse(await skopeoOk(["inspect", "--raw", `oci:${tmp}/back-${client}:t`]));
      const layers = raw.layers.map((l: { digest: string }) => l.digest);
      // buildah and podman may recompress or convert; the layer count and config survive.
      assert.equal(layers.length, img.layerDigests.length, client);
    }
    assert.doesNotMatch(serve.stderr(), /legacy behavior/);
    for (const re of mode.log ?? []) assert.match(serve.stderr(), re);
  } catch (e) {
    if (serve) console.error(serve.stderr().split("\n").slice(-30).join("\n"));
    throw e;
  } finally {
    await serve?.stop();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

peerTest(
  "TLS: buildah --cert-dir, ctr (hosts.toml with the CA) and podman --cert-dir push and pull",
  {
    peers: [...PEERS, "podman"],
    root: true,
  },
  async () => {
    const pki = await testPki();
    await matrix({
      serveArgs: ["--tls-cert", pki.server.certPath, "--tls-key", pki.server.keyPath],
      skopeo: [`--cert-dir=${pki.caOnlyDir}`],
      buildah: ["--cert-dir", pki.caOnlyDir],
      // containerd talks plain HTTP to 127.0.0.1 unless a hosts.toml says https (with the CA).
      ctr: async (host, dir) => {
        await Deno.mkdir(`${dir}/hosts.d/${host}`, { recursive: true });
        await Deno.writeTextFile(
          `${dir}/hosts.d/${host}/hosts.toml`,
          `server = "https://${host}"\n\n[host."https://${host}"]\n` +
            `  capabilities = ["pull", "resolve", "push"]\n  ca = "${pki.ca.certPath}"\n`,
        );
        return ["--hosts-dir", `${dir}/hosts.d`];
      },
      podman: ["--cert-dir", pki.caOnlyDir],
    }, "tls");
  },
);

peerTest("Basic auth (--htpasswd): buildah --creds and ctr --user push and pull", {
  peers: PEERS,
  root: true,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "ocibox-clients-pw-" });
  try {
    const htpasswd = await htpasswdFile(dir);
    await matrix({
      serveArgs: ["--htpasswd", htpasswd],
      skopeo: ["--tls-verify=false", "--creds=alice:alice-pw"],
      buildah: ["--tls-verify=false", "--creds", "alice:alice-pw"],
      ctr: ["--plain-http", "--user", "alice:alice-pw"],
    }, "basic");
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

peerTest("token auth (--auth token): buildah --creds and ctr --user push and pull", {
  peers: PEERS,
  root: true,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "ocibox-clients-tok-" });
  try {
    const htpasswd = await htpasswdFile(dir);
    await matrix({
      serveArgs: ["--htpasswd", htpasswd, "--auth", "token"],
      skopeo: ["--tls-verify=false", "--creds=alice:alice-pw"],
      buildah: ["--tls-verify=false", "--creds", "alice:alice-pw"],
      ctr: ["--plain-http", "--user", "alice:alice-pw"],
      // Every client got Bearer tokens from /token, as alice.
      log: [
        /uri="?\/token[^\n]*useragent="containerd[^\n]*status=200/,
        /uri="?\/token[^\n]*useragent="?(?:Buildah|containers)[^\n]*status=200/,
        /method=PUT http\.request\.uri=\/v2\/ctr\/img\/manifests\/v1 [^\n]*status=201[^\n]*auth\.user\.name=alice/,
      ],
    }, "token");
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
