import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { peerTest } from "../../tests/support/peers.ts";
import { serve, testPki, type TestServer } from "../registry/registry_test_util.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const DENO_DIR = Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs ocibox in a child with only the given environment (plus PATH and Deno's cache). */
async function ocibox(args: string[], env: Record<string, string>, stdin?: string): Promise<Run> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-lock", MAIN, ...args],
    clearEnv: true,
    env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", DENO_DIR, NO_COLOR: "1", ...env },
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** A registry behind a Bearer token server that knows alice/s3cret. */
function bearerRegistry(): { registry: TestServer; auth: TestServer; close(): Promise<void> } {
  const auth = serve((req) => {
    const a = req.headers.get("authorization");
    if (a && a !== `Basic ${btoa("alice:s3cret")}`) return new Response("no", { status: 401 });
    return Response.json({ token: a ? "alice-token" : "anonymous-token" });
  });
  const registry = serve((req) => {
    if (req.headers.get("authorization") === "Bearer alice-token") return new Response("{}");
    return new Response("{}", {
      status: 401,
      headers: { "www-authenticate": `Bearer realm="${auth.url}token",service="test"` },
    });
  });
  return {
    registry,
    auth,
    close: async () => {
      await registry.close();
      await auth.close();
    },
  };
}

async function sandbox(): Promise<{ home: string; env: Record<string, string> }> {
  const home = await Deno.makeTempDir({ prefix: "ocibox-login-" });
  await Deno.mkdir(`${home}/run`);
  return { home, env: { HOME: home, XDG_RUNTIME_DIR: `${home}/run` } };
}

Deno.test("ocibox login/logout: round trip through the auth file", async () => {
  const reg = bearerRegistry();
  const { home, env } = await sandbox();
  const host = reg.registry.host;
  const file = `${home}/run/containers/auth.json`;
  try {
    let r = await ocibox(["login", "-u", "alice", "-p", "wrong", host], env);
    strictEqual(r.code, 1, r.stderr);
    strictEqual(r.stderr.trim(), `error: unauthorized: wrong username or password for ${host}`);
    await Deno.stat(file).then(() => ok(false, "no file after a failed login"), () => {});

    r = await ocibox(["login", "-u", "alice", "--password-stdin", host], env, "s3cret\n");
    strictEqual(r.code, 0, r.stderr);
    strictEqual(r.stdout.trim(), "Login Succeeded!");
    const doc = JSON.parse(await Deno.readTextFile(file));
    deepStrictEqual(doc, { auths: { [host]: { auth: btoa("alice:s3cret") } } });
    strictEqual((await Deno.stat(file)).mode! & 0o777, 0o600);

    r = await ocibox(["login", "--get-login", host], env);
    strictEqual(r.stdout.trim(), "alice");

    // Without flags, stored credentials that work are kept (no prompt needed).
    r = await ocibox(["login", host], env);
    strictEqual(r.code, 0, r.stderr);
    ok(r.stdout.includes(`Already logged in to ${host}`));

    r = await ocibox(["logout", host], env);
    strictEqual(r.code, 0, r.stderr);
    strictEqual(r.stdout.trim(), `Removed login credentials for ${host}`);
    deepStrictEqual(JSON.parse(await Deno.readTextFile(file)), { auths: {} });

    r = await ocibox(["logout", host], env);
    strictEqual(r.code, 1);
    strictEqual(r.stderr.trim(), `error: not logged into ${host}`);
  } finally {
    await reg.close();
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("ocibox login: --authfile, Basic registries, a namespace key; logout --all", async () => {
  const basic = serve((req) =>
    req.headers.get("authorization") === `Basic ${btoa("bob:pw")}`
      ? new Response("{}")
      : new Response("{}", { status: 401, headers: { "www-authenticate": 'Basic realm="r"' } })
  );
  const { home, env } = await sandbox();
  const file = `${home}/custom/auth.json`;
  try {
    let r = await ocibox(
      ["login", "--authfile", file, "-u", "bob", "-p", "pw", `${basic.host}/team`],
      env,
    );
    strictEqual(r.code, 0, r.stderr);
    deepStrictEqual(Object.keys(JSON.parse(await Deno.readTextFile(file)).auths), [
      `${basic.host}/team`,
    ]);
    r = await ocibox(["login", "-u", "bob", "-p", "pw", basic.host], {
      ...env,
      REGISTRY_AUTH_FILE: file,
    });
    strictEqual(r.code, 0, r.stderr);
    r = await ocibox(["login", "-u", "bob", "-p", "nope", basic.host], env);
    strictEqual(r.code, 1);
    ok(r.stderr.includes("wrong username or password"));
    r = await ocibox(["logout", "--all", "--authfile", file], env);
    strictEqual(r.code, 0, r.stderr);
    deepStrictEqual(JSON.parse(await Deno.readTextFile(file)), { auths: {} });
  } finally {
    await basic.close();
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("ocibox login: TLS with --cert-dir or --tls-verify=false", async () => {
  const pki = await testPki();
  const srv = serve(
    (req) =>
      req.headers.get("authorization") === `Basic ${btoa("u:p")}`
        ? new Response("{}")
        : new Response("{}", { status: 401, headers: { "www-authenticate": 'Basic realm="r"' } }),
    { cert: pki.server.certPem, key: pki.server.keyPem },
  );
  const { home, env } = await sandbox();
  // A loopback host: after https fails, http is tried too; the TLS reason must still show.
  const host = srv.host;
  try {
    let r = await ocibox(["login", "-u", "u", "-p", "p", host], env);
    strictEqual(r.code, 1);
    ok(/UnknownIssuer/.test(r.stderr), r.stderr);
    r = await ocibox(["login", "--cert-dir", pki.caOnlyDir, "-u", "u", "-p", "p", host], env);
    strictEqual(r.code, 0, r.stderr);
    r = await ocibox(["login", "--tls-verify=false", "-u", "u", "-p", "p", host], env);
    strictEqual(r.code, 0, r.stderr);
  } finally {
    await srv.close();
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("ocibox login/logout: usage errors exit 2", async () => {
  const { home, env } = await sandbox();
  try {
    for (
      const args of [
        ["login"],
        ["login", "-u", "a", "not a host"],
        ["login", "-p", "x", "--password-stdin", "-u", "a", "localhost:1"],
        ["login", "--password-stdin", "localhost:1"],
        ["login", "--tls-verify=maybe", "localhost:1"],
        ["login", "localhost:1"], // no terminal to ask on
        ["logout", "--all", "localhost:1"],
        ["logout"],
      ]
    ) {
      const r = await ocibox(args, env);
      strictEqual(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      ok(r.stderr.startsWith("error: "), r.stderr);
      strictEqual(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

peerTest("ocibox login and skopeo login share the auth file", { peers: ["skopeo"] }, async () => {
  const reg = bearerRegistry();
  const { home, env } = await sandbox();
  const host = reg.registry.host;
  const file = `${home}/shared.json`;
  const skopeo = async (args: string[]) => {
    const out = await new Deno.Command("skopeo", {
      args,
      clearEnv: true,
      env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", ...env },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  };
  try {
    let r = await ocibox(["login", "--authfile", file, "-u", "alice", "-p", "s3cret", host], env);
    strictEqual(r.code, 0, r.stderr);
    let s = await skopeo(["login", "--get-login", "--authfile", file, host]);
    strictEqual(s.stdout.trim(), "alice", s.stderr);
    s = await skopeo(["logout", "--authfile", file, host]);
    strictEqual(s.code, 0, s.stderr);
    r = await ocibox(["login", "--get-login", "--authfile", file, host], env);
    strictEqual(r.code, 1);
    s = await skopeo([
      "login",
      "--tls-verify=false",
      "--authfile",
      file,
      "-u",
      "alice",
      "-p",
      "s3cret",
      host,
    ]);
    strictEqual(s.code, 0, s.stderr);
    r = await ocibox(["login", "--get-login", "--authfile", file, host], env);
    strictEqual(r.stdout.trim(), "alice", r.stderr);
    r = await ocibox(["logout", "--authfile", file, host], env);
    strictEqual(r.code, 0, r.stderr);
  } finally {
    await reg.close();
    await Deno.remove(home, { recursive: true });
  }
});
