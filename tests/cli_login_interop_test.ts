/**
 * ocibox login against a registry over TLS (a test PKI made with openssl): untrusted without
 * `--cert-dir`, trusted with it, accepted with `--tls-verify=false`; and one auth file shared
 * with `skopeo login`/`logout`, each reading what the other wrote.
 * @module
 */
import { ok, strictEqual } from "node:assert/strict";
import { bearerRegistry, ocibox, sandbox } from "../lib/cli/login_test_util.ts";
import { serve } from "../lib/http/http_test_util.ts";
import { peerTest } from "./support/peers.ts";
import { testPki } from "./support/test_pki.ts";

peerTest(
  "ocibox login: TLS with --cert-dir or --tls-verify=false",
  { peers: ["openssl"] },
  async () => {
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
  },
);

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
