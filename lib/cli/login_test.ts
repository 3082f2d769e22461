import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { serve } from "../http/http_test_util.ts";
import { bearerRegistry, ocibox, sandbox } from "./login_test_util.ts";

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
