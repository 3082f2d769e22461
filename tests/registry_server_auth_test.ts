/**
 * `ocibox serve` with authentication, against real clients: skopeo, podman and ocibox's own
 * client log in, push and pull with `--htpasswd` (Basic on every request) and `--auth token`
 * (the server's own /token issuing JWTs), with htpasswd files made by Apache's `htpasswd -B`.
 * Shows: wrong passwords get 401 (login fails), anonymous pulls work only with
 * `--anonymous-read` (or an anonymous access rule), anonymous pushes never do, and the config
 * file's per-repository access rules hold (403/denied for a user without push).
 */
import assert from "node:assert/strict";
import { parseChallenges } from "../lib/registry/auth/challenge.ts";
import { ocibox } from "./support/ocibox_cli.ts";
import { type Serve, startServe } from "./support/ocibox_serve.ts";
import { buildTar, writeImage } from "./support/images.ts";
import { peerTest, runPeer } from "./support/peers.ts";

async function setup(): Promise<{ dir: string; htpasswd: string; layout: string }> {
  const dir = await Deno.makeTempDir({ prefix: "ocibox-auth-" });
  const lines: string[] = [];
  for (const [user, password] of [["alice", "alice-pw"], ["bob", "bob-pw"]]) {
    const r = await runPeer("htpasswd", ["-Bbn", user, password]);
    assert.equal(r.code, 0, r.stderr);
    lines.push(r.stdout.trim());
  }
  const htpasswd = `${dir}/htpasswd`;
  await Deno.writeTextFile(htpasswd, lines.join("\n") + "\n");
  const layout = `${dir}/layout`;
  const tar = buildTar([{ name: "hello.txt", type: "file", data: "hello auth\n" }]);
  await writeImage(layout, "v1", { layers: [{ tar, compression: "gzip" }] });
  return { dir, htpasswd, layout };
}

function skopeo(args: string[]) {
  return runPeer("skopeo", ["--insecure-policy", ...args], { timeoutSeconds: 120 });
}

async function skopeoOk(args: string[]): Promise<string> {
  const r = await skopeo(args);
  assert.equal(r.code, 0, `skopeo ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** ocibox with its own auth file. */
function oc(authfile: string, args: string[]) {
  return ocibox(args, { env: { REGISTRY_AUTH_FILE: authfile } });
}

async function ocOk(authfile: string, args: string[]): Promise<string> {
  const r = await oc(authfile, args);
  assert.equal(r.code, 0, `ocibox ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

async function withServe(args: string[], fn: (s: Serve) => Promise<void>): Promise<void> {
  const serve = await startServe(args);
  try {
    await fn(serve);
  } catch (e) {
    console.error(serve.stderr().split("\n").slice(-40).join("\n"));
    throw e;
  } finally {
    await serve.stop();
  }
}

const basicHeader = (u: string, p: string) => `Basic ${btoa(`${u}:${p}`)}`;

peerTest(
  "serve --htpasswd: Basic auth with skopeo and ocibox; anonymous reads only when asked",
  { peers: ["skopeo", "htpasswd"] },
  async (t) => {
    const { dir, htpasswd, layout } = await setup();
    try {
      await withServe(
        ["--root", `${dir}/root`, "--htpasswd", htpasswd, "--anonymous-read"],
        async (s) => {
          await t.step("401 with the Basic challenge; wrong passwords 401", async () => {
            const r = await fetch(`${s.url}/v2/`);
            assert.equal(r.status, 401);
            assert.deepEqual(parseChallenges(r.headers.get("www-authenticate")), [
              { scheme: "basic", params: { realm: "ocibox" } },
            ]);
            assert.equal((await r.json()).errors[0].code, "UNAUTHORIZED");
            const bad = await fetch(`${s.url}/v2/`, {
              headers: { authorization: basicHeader("alice", "nope") },
            });
            assert.equal(bad.status, 401);
            await bad.body?.cancel();
            const ok = await fetch(`${s.url}/v2/`, {
              headers: { authorization: basicHeader("alice", "alice-pw") },
            });
            assert.equal(ok.status, 200);
            await ok.body?.cancel();
          });
          await t.step(
            "skopeo: push needs the right credentials, pulls are anonymous",
            async () => {
              const dest = `docker://${s.host}/team/app:v1`;
              const anon = await skopeo([
                "copy",
                "--dest-tls-verify=false",
                `oci:${layout}:v1`,
                dest,
              ]);
              assert.notEqual(anon.code, 0);
              assert.match(anon.stderr, /unauthorized|authentication required/i);
              const wrong = await skopeo([
                "copy",
                "--dest-tls-verify=false",
                "--dest-creds",
                "alice:wrong",
                `oci:${layout}:v1`,
                dest,
              ]);
              assert.notEqual(wrong.code, 0);
              await skopeoOk([
                "copy",
                "--dest-tls-verify=false",
                "--dest-creds",
                "alice:alice-pw",
                `oci:${layout}:v1`,
                dest,
              ]);
              const info = JSON.parse(await skopeoOk(["inspect", "--tls-verify=false", dest]));
              assert.deepEqual(info.RepoTags, ["v1"]);
              assert.match(
                s.stderr(),
                /method=PUT \S*uri=\/v2\/team\/app\/manifests\/v1 .*user\.name=alice/,
              );
            },
          );
          await t.step(
            "ocibox: login (wrong, right), copy both ways, anonymous push refused",
            async () => {
              const auth = `${dir}/ocibox-auth.json`;
              const bad = await oc(auth, [
                "login",
                "--tls-verify=false",
                "-u",
                "bob",
                "-p",
                "x",
                s.host,
              ]);
              assert.notEqual(bad.code, 0);
              assert.match(bad.stderr, /wrong username or password/);
              await ocOk(auth, [
                "login",
                "--tls-verify=false",
                "-u",
                "bob",
                "-p",
                "bob-pw",
                s.host,
              ]);
              await ocOk(auth, [
                "copy",
                "-q",
                "--dest-tls-verify=false",
                `oci:${layout}:v1`,
                `docker://${s.host}/bob/app:v1`,
              ]);
              await ocOk(auth, [
                "copy",
                "-q",
                "--src-tls-verify=false",
                `docker://${s.host}/bob/app:v1`,
                `oci:${dir}/pulled:v1`,
              ]);
              const anonAuth = `${dir}/none.json`;
              await ocOk(anonAuth, [
                "copy",
                "-q",
                "--src-tls-verify=false",
                `docker://${s.host}/team/app:v1`,
                `oci:${dir}/anon:v1`,
              ]);
              const push = await oc(anonAuth, [
                "copy",
                "-q",
                "--dest-tls-verify=false",
                `oci:${layout}:v1`,
                `docker://${s.host}/team/app:v2`,
              ]);
              assert.notEqual(push.code, 0);
              assert.match(push.stderr, /401|unauthorized/i);
            },
          );
        },
      );
      await withServe(["--root", `${dir}/root`, "--htpasswd", htpasswd], async (s) => {
        await t.step("without --anonymous-read, anonymous pulls get 401", async () => {
          const r = await skopeo([
            "inspect",
            "--tls-verify=false",
            `docker://${s.host}/team/app:v1`,
          ]);
          assert.notEqual(r.code, 0);
          assert.match(r.stderr, /unauthorized|authentication required/i);
          await skopeoOk([
            "inspect",
            "--tls-verify=false",
            "--creds",
            "bob:bob-pw",
            `docker://${s.host}/team/app:v1`,
          ]);
          const direct = await fetch(`${s.url}/v2/team/app/tags/list`);
          assert.equal(direct.status, 401);
          await direct.body?.cancel();
        });
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

peerTest(
  "serve --auth token: the Bearer flow with skopeo and ocibox; access rules from the config",
  { peers: ["skopeo", "htpasswd"] },
  async (t) => {
    const { dir, htpasswd, layout } = await setup();
    try {
      const config = `${dir}/config.json`;
      await Deno.writeTextFile(
        config,
        JSON.stringify({
          auth: {
            mode: "token",
            htpasswd,
            token: { service: "test-registry", expiry: "2m" },
            access: [
              { repository: "team/*", users: ["alice"], actions: ["*"] },
              { repository: "team/*", users: ["bob"], actions: ["pull"] },
              { repository: "${user}/*", users: ["*"], actions: ["pull", "push"] },
              { repository: "team/public", anonymous: ["pull"] },
            ],
          },
        }),
      );
      await withServe(["--root", `${dir}/root`, "--config", config], async (s) => {
        await t.step("401 names the realm, service and scope", async () => {
          const r = await fetch(`${s.url}/v2/team/app/tags/list`);
          assert.equal(r.status, 401);
          await r.body?.cancel();
          const [c] = parseChallenges(r.headers.get("www-authenticate"));
          assert.deepEqual(c, {
            scheme: "bearer",
            params: {
              realm: `${s.url}/token`,
              service: "test-registry",
              scope: "repository:team/app:pull",
            },
          });
          const bad = await fetch(`${s.url}/token?service=test-registry`, {
            headers: { authorization: basicHeader("alice", "nope") },
          });
          assert.equal(bad.status, 401);
          await bad.body?.cancel();
        });
        await t.step(
          "skopeo: alice pushes, bob may pull but not push, wrong password fails",
          async () => {
            for (const tag of ["app:v1", "public:v1"]) {
              await skopeoOk([
                "copy",
                "--dest-tls-verify=false",
                "--dest-creds",
                "alice:alice-pw",
                `oci:${layout}:v1`,
                `docker://${s.host}/team/${tag}`,
              ]);
            }
            await skopeoOk([
              "inspect",
              "--tls-verify=false",
              "--creds",
              "bob:bob-pw",
              `docker://${s.host}/team/app:v1`,
            ]);
            const push = await skopeo([
              "copy",
              "--dest-tls-verify=false",
              "--dest-creds",
              "bob:bob-pw",
              `oci:${layout}:v1`,
              `docker://${s.host}/team/app:bob`,
            ]);
            assert.notEqual(push.code, 0);
            assert.match(push.stderr, /denied|unauthorized/i);
            const wrong = await skopeo([
              "inspect",
              "--tls-verify=false",
              "--creds",
              "bob:nope",
              `docker://${s.host}/team/app:v1`,
            ]);
            assert.notEqual(wrong.code, 0);
            assert.match(wrong.stderr, /invalid username or password|unauthorized/i);
          },
        );
        await t.step("anonymous pulls: the anonymous rule's repository only", async () => {
          await skopeoOk(["inspect", "--tls-verify=false", `docker://${s.host}/team/public:v1`]);
          const r = await skopeo([
            "inspect",
            "--tls-verify=false",
            `docker://${s.host}/team/app:v1`,
          ]);
          assert.notEqual(r.code, 0);
        });
        await t.step(
          "ocibox: login, push to its own namespace, pull, mount from team/",
          async () => {
            const auth = `${dir}/ocibox-auth.json`;
            const bad = await oc(auth, [
              "login",
              "--tls-verify=false",
              "-u",
              "bob",
              "-p",
              "x",
              s.host,
            ]);
            assert.notEqual(bad.code, 0);
            await ocOk(auth, ["login", "--tls-verify=false", "-u", "bob", "-p", "bob-pw", s.host]);
            await ocOk(auth, [
              "copy",
              "-q",
              "--src-tls-verify=false",
              "--dest-tls-verify=false",
              `docker://${s.host}/team/app:v1`,
              `docker://${s.host}/bob/app:v1`,
            ]);
            await ocOk(auth, [
              "copy",
              "-q",
              "--src-tls-verify=false",
              `docker://${s.host}/bob/app:v1`,
              `oci:${dir}/pulled:v1`,
            ]);
            const push = await oc(auth, [
              "copy",
              "-q",
              "--dest-tls-verify=false",
              `oci:${layout}:v1`,
              `docker://${s.host}/team/app:bob`,
            ]);
            assert.notEqual(push.code, 0);
            assert.match(push.stderr, /403|denied/i);
          },
        );
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

peerTest(
  "serve auth: podman login, push and pull in Basic and token mode",
  { peers: ["podman", "htpasswd"], root: true },
  async (t) => {
    const { dir, htpasswd, layout } = await setup();
    const authfile = `${dir}/podman-auth.json`;
    const podman = (args: string[]) =>
      runPeer("podman", [
        "--root",
        `${dir}/storage`,
        "--runroot",
        `${dir}/run`,
        "--storage-driver",
        "vfs",
        ...args,
      ], { env: { REGISTRY_AUTH_FILE: authfile }, timeoutSeconds: 180 });
    const podmanOk = async (args: string[]) => {
      const r = await podman(args);
      assert.equal(r.code, 0, `podman ${args.join(" ")}: ${r.stderr}`);
      return r.stdout;
    };
    try {
      await Deno.writeTextFile(authfile, "{}");
      await podmanOk(["pull", "-q", `oci:${layout}:v1`]);
      for (const mode of ["basic", "token"]) {
        await withServe(
          ["--root", `${dir}/root-${mode}`, "--htpasswd", htpasswd, "--auth", mode],
          async (s) => {
            await t.step(`${mode}: wrong login fails, login, push, pull, logout`, async () => {
              const bad = await podman([
                "login",
                "--tls-verify=false",
                "-u",
                "alice",
                "-p",
                "nope",
                s.host,
              ]);
              assert.notEqual(bad.code, 0);
              assert.match(bad.stderr, /invalid username\/password|unauthorized/i);
              await podmanOk([
                "login",
                "--tls-verify=false",
                "-u",
                "alice",
                "-p",
                "alice-pw",
                s.host,
              ]);
              const ref = `${s.host}/team/podman:${mode}`;
              const images = await podmanOk(["images", "-q"]);
              const id = images.trim().split("\n")[0];
              await podmanOk(["tag", id, ref]);
              await podmanOk(["push", "-q", "--tls-verify=false", ref]);
              await podmanOk(["rmi", ref]);
              await podmanOk(["pull", "-q", "--tls-verify=false", ref]);
              await podmanOk(["logout", s.host]);
              const anon = await podman(["pull", "-q", "--tls-verify=false", ref]);
              assert.notEqual(anon.code, 0);
            });
          },
        );
      }
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
);
