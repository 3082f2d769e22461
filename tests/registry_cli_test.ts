/**
 * The registry commands as a user meets them, against docker-registry with authentication:
 * Basic auth over TLS with `--cert-dir`, `login`/`logout` with an auth file that skopeo reads
 * too, token auth with anonymous pulls of `public/*` and authenticated pushes, one token per
 * scope reused for every request, cross-repository mounts under token auth, and one clear
 * `error:` line with exit code 1 for wrong credentials, untrusted certificates, unknown
 * repositories and tags, and malformed references.
 *
 * Every ocibox run gets a private HOME, XDG_RUNTIME_DIR and REGISTRY_AUTH_FILE, so no
 * credentials of the machine running the tests take part.
 * @module
 */
import assert from "node:assert/strict";
import { type FaultProxy, startFaultProxy } from "./support/fault_proxy.ts";
import { ocibox, ociboxOk, type OciboxResult } from "./support/ocibox_cli.ts";
import { peerTest, run } from "./support/peers.ts";
import { type Registry, type RegistryUser, withRegistry } from "./support/registry.ts";

const TLS_PEERS = { peers: ["docker-registry", "skopeo", "openssl", "htpasswd"] };
const TOKEN_PEERS = { peers: ["docker-registry", "skopeo", "openssl"] };
const REF_NAME = "org.opencontainers.image.ref.name";

interface IndexJson {
  manifests: { digest: string; annotations?: Record<string, string> }[];
}

/** A temporary directory with a small image and an environment without credentials. */
interface Workspace {
  dir: string;
  /** `oci:<layout>:v1`, two layers. */
  image: string;
  digest: string;
  /** Environment for ocibox: private HOME, runtime dir and default auth file (absent). */
  env: Record<string, string>;
}

/** One line on stderr starting `error: `, nothing on stdout, the given exit code. */
function assertOneLineError(r: OciboxResult, code: number, message: RegExp, what = ""): void {
  const shown = `${what}: exit ${r.code}, stdout ${JSON.stringify(r.stdout)}, stderr ${
    JSON.stringify(r.stderr)
  }`;
  assert.equal(r.code, code, shown);
  assert.equal(r.stdout, "", shown);
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, shown);
  assert.match(lines[0], /^error: /, shown);
  assert.match(lines[0], message, shown);
}

async function tagDigest(layout: string, tag: string): Promise<string | undefined> {
  const index = JSON.parse(await Deno.readTextFile(`${layout}/index.json`)) as IndexJson;
  return index.manifests.find((m) => m.annotations?.[REF_NAME] === tag)?.digest;
}

async function withWorkspace(fn: (ws: Workspace) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ocibox-reg-cli-" });
  try {
    const env = {
      HOME: `${dir}/home`,
      XDG_RUNTIME_DIR: `${dir}/run`,
      XDG_CONFIG_HOME: `${dir}/home/.config`,
      DOCKER_CONFIG: `${dir}/home/.docker`,
      REGISTRY_AUTH_FILE: `${dir}/run/containers/auth.json`,
    };
    for (let i = 0; i < 4; i++) {
      await Deno.mkdir(`${dir}/layer${i}`, { recursive: true });
      await Deno.writeTextFile(`${dir}/layer${i}/file${i}.txt`, `layer ${i}\n`);
    }
    const layers = [0, 1, 2, 3].flatMap((i) => ["--layer", `${dir}/layer${i}`]);
    await ociboxOk(["append", "-q", ...layers, "--cmd", "/bin/true", `oci:${dir}/src:v1`]);
    const digest = (await tagDigest(`${dir}/src`, "v1"))!;
    await fn({ dir, image: `oci:${dir}/src:v1`, digest, env });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** `USER:PASSWORD` for --creds flags. */
function creds(user: RegistryUser, password = user.password): string {
  return `${user.name}:${password}`;
}

peerTest(
  "registry CLI: Basic auth over TLS, --cert-dir, login/logout, one-line errors",
  TLS_PEERS,
  async (t) => {
    await withWorkspace(async (ws) => {
      await withRegistry("htpasswd-tls", async (reg) => {
        await tlsSteps(t, ws, reg);
      });
    });
  },
);

async function tlsSteps(t: Deno.TestContext, ws: Workspace, reg: Registry): Promise<void> {
  const [alice, bob] = reg.users;
  const certDir = reg.certDir!;
  const env = { env: ws.env };
  const app = `docker://${reg.host}/alice/app`;
  const skopeoTls = [`--cert-dir=${certDir}`];

  await t.step(
    "push and pull with --cert-dir and --creds; skopeo sees the same image",
    async () => {
      await ociboxOk([
        "copy",
        "-q",
        "--dest-cert-dir",
        certDir,
        "--dest-creds",
        creds(alice),
        ws.image,
        `${app}:v1`,
      ], env);
      const info = JSON.parse(
        await run("skopeo", ["inspect", ...skopeoTls, `--creds=${creds(alice)}`, `${app}:v1`]),
      );
      assert.equal(info.Digest, ws.digest);
      const ours = JSON.parse(
        await ociboxOk(["inspect", "--cert-dir", certDir, "--creds", creds(bob), `${app}:v1`], env),
      );
      assert.equal(ours.Digest, ws.digest);
      assert.deepEqual(ours.Layers, info.Layers);
      await ociboxOk([
        "copy",
        "-q",
        "--src-cert-dir",
        certDir,
        "--src-creds",
        creds(alice),
        `${app}:v1`,
        `oci:${ws.dir}/pulled:v1`,
      ], env);
      assert.equal(await tagDigest(`${ws.dir}/pulled`, "v1"), ws.digest);
      // --tls-verify=false skips the certificate check (and so needs no --cert-dir).
      const insecure = JSON.parse(
        await ociboxOk(
          ["inspect", "--tls-verify=false", "--creds", creds(alice), `${app}:v1`],
          env,
        ),
      );
      assert.equal(insecure.Digest, ws.digest);
    },
  );

  await t.step(
    "wrong or missing credentials: one line, exit 1",
    async () => {
      assertOneLineError(
        await ocibox([
          "inspect",
          "--cert-dir",
          certDir,
          "--creds",
          creds(alice, "wrong"),
          `${app}:v1`,
        ], env),
        1,
        new RegExp(`wrong username or password for ${reg.host}`),
        "wrong password (inspect)",
      );
      assertOneLineError(
        await ocibox([
          "copy",
          "-q",
          "--dest-cert-dir",
          certDir,
          "--dest-creds",
          "mallory:guess",
          ws.image,
          `${app}:v2`,
        ], env),
        1,
        /wrong username or password/,
        "unknown user (copy)",
      );
      assertOneLineError(
        await ocibox(["list-tags", "--cert-dir", certDir, "--creds", creds(bob, "x"), app], env),
        1,
        /wrong username or password/,
        "wrong password (list-tags)",
      );
      assertOneLineError(
        await ocibox(["inspect", "--cert-dir", certDir, `${app}:v1`], env),
        1,
        new RegExp(`401.*ocibox login ${reg.host}`),
        "no credentials",
      );
      // Nothing was pushed by the refused copy.
      const tags = JSON.parse(
        await ociboxOk(["list-tags", "--cert-dir", certDir, "--creds", creds(alice), app], env),
      );
      assert.deepEqual(tags.Tags, ["v1"]);
    },
  );

  await t.step(
    "unknown repository, unknown tag, malformed reference: one line, exit 1",
    async () => {
      const flags = ["--cert-dir", certDir, "--creds", creds(alice)];
      const cases: [string, string[], RegExp][] = [
        ["inspect unknown repository", [
          "inspect",
          ...flags,
          `docker://${reg.host}/alice/nothing:v1`,
        ], /NAME_UNKNOWN|MANIFEST_UNKNOWN/],
        ["inspect unknown tag", ["inspect", ...flags, `${app}:nope`], /MANIFEST_UNKNOWN/],
        [
          "copy unknown tag",
          [
            "copy",
            "-q",
            "--src-cert-dir",
            certDir,
            "--src-creds",
            creds(alice),
            `${app}:nope`,
            `oci:${ws.dir}/nope:v1`,
          ],
          /MANIFEST_UNKNOWN/,
        ],
        [
          "inspect unknown digest",
          ["inspect", ...flags, `${app}@sha256:${"0".repeat(64)}`],
          /MANIFEST_UNKNOWN|not found/i,
        ],
        ["list-tags unknown repository", [
          "list-tags",
          ...flags,
          `docker://${reg.host}/alice/nothing`,
        ], /NAME_UNKNOWN/],
        [
          "upper-case repository",
          ["inspect", ...flags, `docker://${reg.host}/Alice/App:v1`],
          /invalid reference.*lowercase/,
        ],
        ["bad tag", ["inspect", ...flags, `${app}:bad!tag`], /invalid reference/],
        ["short digest", ["inspect", ...flags, `${app}@sha256:abc`], /invalid (reference|digest)/],
        ["empty repository", ["inspect", ...flags, `docker://${reg.host}/`], /invalid reference/],
        ["copy to a malformed reference", [
          "copy",
          "-q",
          ws.image,
          `docker://${reg.host}/alice/app:a:b`,
        ], /invalid reference/],
      ];
      for (const [what, args, message] of cases) {
        assertOneLineError(await ocibox(args, env), 1, message, what);
      }
    },
  );

  await t.step("a certificate the client does not trust: the error says so", async () => {
    // Without --cert-dir the test CA is unknown. The registry is on the loopback, so after the
    // TLS failure ocibox also tries plain http, which this HTTPS server answers with 400; the
    // error must still name the certificate problem, not the http long shot.
    for (const target of [reg.host, `localhost:${reg.host.split(":")[1]}`]) {
      assertOneLineError(
        await ocibox(["inspect", "--creds", creds(alice), `docker://${target}/alice/app:v1`], env),
        1,
        /certificate|UnknownIssuer|TLS/i,
        `no CA (${target})`,
      );
    }
  });

  await t.step("delete of an unknown tag fails in one line with exit 1", async () => {
    // A missing manifest is a failure (1), not a usage error (2).
    assertOneLineError(
      await ocibox(["delete", "--cert-dir", certDir, "--creds", creds(alice), `${app}:nope`], env),
      1,
      /nope/,
      "delete unknown tag",
    );
    assertOneLineError(
      await ocibox([
        "delete",
        "--cert-dir",
        certDir,
        "--creds",
        creds(alice),
        `docker://${reg.host}/alice/nothing:v1`,
      ], env),
      1,
      /nothing/,
      "delete in an unknown repository",
    );
  });

  await t.step(
    "login, copy with the saved credentials (skopeo reads them too), logout",
    async () => {
      const authFile = `${ws.dir}/auth/auth.json`;
      const login = await ocibox([
        "login",
        "--authfile",
        authFile,
        "--cert-dir",
        certDir,
        "-u",
        alice.name,
        "-p",
        alice.password,
        reg.host,
      ], env);
      assert.equal(login.code, 0, login.stderr);
      assert.match(login.stdout, /Login Succeeded/);
      assert.equal((await Deno.stat(authFile)).mode! & 0o777, 0o600);
      const saved = JSON.parse(await Deno.readTextFile(authFile));
      assert.equal(atob(saved.auths[reg.host].auth), creds(alice));

      await ociboxOk([
        "copy",
        "-q",
        "--authfile",
        authFile,
        "--dest-cert-dir",
        certDir,
        ws.image,
        `${app}:v2`,
      ], env);
      const ours = JSON.parse(
        await ociboxOk(
          ["inspect", "--authfile", authFile, "--cert-dir", certDir, `${app}:v2`],
          env,
        ),
      );
      assert.equal(ours.Digest, ws.digest);
      assert.deepEqual(ours.RepoTags.toSorted(), ["v1", "v2"]);
      const theirs = JSON.parse(
        await run("skopeo", ["inspect", ...skopeoTls, `--authfile=${authFile}`, `${app}:v2`]),
      );
      assert.equal(theirs.Digest, ws.digest);
      // The default auth file ($REGISTRY_AUTH_FILE) is found without --authfile.
      await Deno.mkdir(`${ws.dir}/run/containers`, { recursive: true });
      await Deno.copyFile(authFile, ws.env.REGISTRY_AUTH_FILE);
      await ociboxOk(["inspect", "--cert-dir", certDir, `${app}:v2`], env);
      await Deno.remove(ws.env.REGISTRY_AUTH_FILE);

      const logout = await ocibox(["logout", "--authfile", authFile, reg.host], env);
      assert.equal(logout.code, 0, logout.stderr);
      assert.match(logout.stdout, new RegExp(`Removed login credentials for ${reg.host}`));
      assert.equal(JSON.parse(await Deno.readTextFile(authFile)).auths[reg.host], undefined);
      assertOneLineError(
        await ocibox([
          "copy",
          "-q",
          "--authfile",
          authFile,
          "--dest-cert-dir",
          certDir,
          ws.image,
          `${app}:v3`,
        ], env),
        1,
        new RegExp(`ocibox login ${reg.host}`),
        "copy after logout",
      );
      assertOneLineError(
        await ocibox(["logout", "--authfile", authFile, reg.host], env),
        1,
        /not logged in/,
        "second logout",
      );

      // A wrong password is refused before anything is saved.
      assertOneLineError(
        await ocibox([
          "login",
          "--authfile",
          authFile,
          "--cert-dir",
          certDir,
          "-u",
          alice.name,
          "-p",
          "wrong",
          reg.host,
        ], env),
        1,
        /wrong username or password/,
        "login with a wrong password",
      );
      assert.equal(JSON.parse(await Deno.readTextFile(authFile)).auths[reg.host], undefined);

      // What skopeo login writes, ocibox reads.
      const skopeoAuth = `${ws.dir}/skopeo-auth.json`;
      await run("skopeo", [
        "login",
        `--authfile=${skopeoAuth}`,
        ...skopeoTls,
        "-u",
        bob.name,
        "-p",
        bob.password,
        reg.host,
      ]);
      const viaSkopeo = JSON.parse(
        await ociboxOk(
          ["inspect", "--authfile", skopeoAuth, "--cert-dir", certDir, `${app}:v2`],
          env,
        ),
      );
      assert.equal(viaSkopeo.Digest, ws.digest);
    },
  );
}

peerTest(
  "registry CLI: token auth, anonymous public pulls, token reuse, mounts",
  TOKEN_PEERS,
  async (t) => {
    await withWorkspace(async (ws) => {
      await withRegistry("token", async (reg) => {
        const proxy = await startFaultProxy(reg);
        try {
          await tokenSteps(t, ws, reg, proxy);
        } finally {
          await proxy.stop();
        }
      });
    });
  },
);

async function tokenSteps(
  t: Deno.TestContext,
  ws: Workspace,
  reg: Registry,
  proxy: FaultProxy,
): Promise<void> {
  const ts = reg.tokenServer!;
  const [alice, bob] = reg.users;
  const env = { env: ws.env };
  // Through the proxy, so registry requests can be counted; the realm is the token server's.
  const host = proxy.host;

  await t.step("alice pushes to public/*; anyone pulls without credentials", async () => {
    await ociboxOk([
      "copy",
      "-q",
      "--dest-creds",
      creds(alice),
      ws.image,
      `docker://${host}/public/app:v1`,
    ], env);
    ts.requests.length = 0;
    const info = JSON.parse(await ociboxOk(["inspect", `docker://${host}/public/app:v1`], env));
    assert.equal(info.Digest, ws.digest);
    await ociboxOk(["copy", "-q", `docker://${host}/public/app:v1`, `oci:${ws.dir}/anon:v1`], env);
    assert.equal(await tagDigest(`${ws.dir}/anon`, "v1"), ws.digest);
    assert.ok(ts.requests.length > 0);
    for (const r of ts.requests) {
      assert.equal(r.user, "", "anonymous token requests");
      assert.deepEqual(r.scopes, ["repository:public/app:pull"]);
      assert.deepEqual(r.granted, [{ type: "repository", name: "public/app", actions: ["pull"] }]);
    }
    // skopeo pulls it anonymously as well.
    const theirs = JSON.parse(
      await run("skopeo", [
        "inspect",
        "--tls-verify=false",
        "--no-creds",
        `docker://${host}/public/app:v1`,
      ]),
    );
    assert.equal(theirs.Digest, ws.digest);
  });

  await t.step("what the token server does not grant fails in one line, exit 1", async () => {
    await ociboxOk([
      "copy",
      "-q",
      "--dest-creds",
      creds(alice),
      ws.image,
      `docker://${host}/alice/app:v1`,
    ], env);
    assertOneLineError(
      await ocibox(["copy", "-q", ws.image, `docker://${host}/public/app:v2`], env),
      1,
      /401|403|UNAUTHORIZED|DENIED/i,
      "anonymous push",
    );
    assertOneLineError(
      await ocibox(["inspect", `docker://${host}/alice/app:v1`], env),
      1,
      /401|UNAUTHORIZED/i,
      "anonymous pull of alice/*",
    );
    assertOneLineError(
      await ocibox([
        "copy",
        "-q",
        "--dest-creds",
        creds(bob),
        ws.image,
        `docker://${host}/alice/app:v2`,
      ], env),
      1,
      /401|403|UNAUTHORIZED|DENIED/i,
      "bob pushes to alice/*",
    );
    assertOneLineError(
      await ocibox(
        ["inspect", "--creds", creds(alice, "wrong"), `docker://${host}/alice/app:v1`],
        env,
      ),
      1,
      new RegExp(`wrong username or password for ${host}`),
      "wrong password",
    );
    assertOneLineError(
      await ocibox(
        ["login", "--authfile", `${ws.dir}/t.json`, "-u", alice.name, "-p", "no", host],
        env,
      ),
      1,
      /wrong username or password/,
      "login with a wrong password",
    );
    const tags = await reg.fetch("/v2/alice/app/tags/list", {
      headers: {
        authorization: `Bearer ${(await ts.issue("alice", ["repository:alice/app:pull"])).token}`,
      },
    });
    assert.deepEqual((await tags.json()).tags, ["v1"]);
  });

  await t.step("one token per scope, reused for every request of a push and a pull", async () => {
    ts.requests.length = 0;
    const start = proxy.log.length;
    await ociboxOk([
      "copy",
      "-q",
      "--dest-creds",
      creds(alice),
      ws.image,
      `docker://${host}/alice/multi:v1`,
    ], env);
    const pushTokens = ts.requests.map((r) => r.scopes.toSorted().join(" "));
    const registryCalls = proxy.log.slice(start).filter((e) => e.authScheme === "Bearer");
    assert.ok(pushTokens.length >= 1 && pushTokens.length <= 2, JSON.stringify(pushTokens));
    assert.equal(
      new Set(pushTokens).size,
      pushTokens.length,
      `a scope fetched twice: ${pushTokens}`,
    );
    assert.ok(ts.requests.every((r) => r.user === "alice"));
    // 5 blobs (HEAD, POST, PUT each) and the manifest: far more requests than tokens.
    assert.ok(registryCalls.length >= 15, `${registryCalls.length} registry requests`);
    assert.ok(
      registryCalls.every((e) => e.status !== 401),
      "no request was refused for want of a token",
    );

    ts.requests.length = 0;
    await ociboxOk([
      "copy",
      "-q",
      "--src-creds",
      creds(alice),
      `docker://${host}/alice/multi:v1`,
      `oci:${ws.dir}/multi:v1`,
    ], env);
    assert.deepEqual(
      ts.requests.map((r) => r.scopes),
      [["repository:alice/multi:pull"]],
      "a pull needs one token",
    );
  });

  await t.step(
    "registry-to-registry copy under token auth mounts across repositories",
    async () => {
      ts.requests.length = 0;
      const start = proxy.log.length;
      await ociboxOk([
        "copy",
        "-q",
        "--src-creds",
        creds(alice),
        "--dest-creds",
        creds(alice),
        `docker://${host}/alice/multi:v1`,
        `docker://${host}/public/mirror:v1`,
      ], env);
      const log = proxy.log.slice(start);
      const mounts = log.filter((e) => e.method === "POST" && e.path.includes("mount="));
      assert.equal(
        mounts.length,
        5,
        JSON.stringify(log.map((e) => `${e.method} ${e.path} ${e.status}`)),
      );
      assert.ok(mounts.every((e) => e.status === 201), JSON.stringify(mounts));
      assert.equal(log.filter((e) => e.method === "PATCH").length, 0);
      assert.equal(log.filter((e) => e.method === "GET" && e.path.includes("/blobs/")).length, 0);
      const mountToken = ts.requests.find((r) =>
        r.scopes.includes("repository:alice/multi:pull") &&
        r.scopes.includes("repository:public/mirror:pull,push")
      );
      assert.ok(mountToken, JSON.stringify(ts.requests.map((r) => r.scopes)));
      const info = JSON.parse(
        await ociboxOk(["inspect", `docker://${host}/public/mirror:v1`], env),
      );
      assert.equal(info.Digest, ws.digest);
    },
  );

  await t.step("login with token auth, then push with the saved credentials", async () => {
    const authFile = `${ws.dir}/token-auth.json`;
    await ociboxOk(
      ["login", "--authfile", authFile, "-u", alice.name, "-p", alice.password, host],
      env,
    );
    ts.requests.length = 0;
    await ociboxOk([
      "copy",
      "-q",
      "--authfile",
      authFile,
      ws.image,
      `docker://${host}/alice/saved:v1`,
    ], env);
    assert.ok(ts.requests.length > 0 && ts.requests.every((r) => r.user === "alice"));
    await ociboxOk(["logout", "--authfile", authFile, host], env);
    assertOneLineError(
      await ocibox([
        "copy",
        "-q",
        "--authfile",
        authFile,
        ws.image,
        `docker://${host}/alice/saved:v2`,
      ], env),
      1,
      /401|UNAUTHORIZED|DENIED|ocibox login/i,
      "push after logout",
    );
  });
}
