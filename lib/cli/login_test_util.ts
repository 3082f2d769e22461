/**
 * Helpers for the login/logout tests: ocibox run in a child with only a given environment, a
 * Bearer-token registry that knows alice/s3cret, and a private home to keep the machine's
 * credentials out. Nothing here needs a peer tool.
 * @module
 */
import { serve, type TestServer } from "../http/http_test_util.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const DENO_DIR = Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`;

/** What one ocibox run produced. */
export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs ocibox in a child with only the given environment (plus PATH and Deno's cache). */
export async function ocibox(
  args: string[],
  env: Record<string, string>,
  stdin?: string,
): Promise<Run> {
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
export function bearerRegistry(): {
  registry: TestServer;
  auth: TestServer;
  close(): Promise<void>;
} {
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

/** A private HOME and XDG_RUNTIME_DIR, so no credentials of the machine take part. */
export async function sandbox(): Promise<{ home: string; env: Record<string, string> }> {
  const home = await Deno.makeTempDir({ prefix: "ocibox-login-" });
  await Deno.mkdir(`${home}/run`);
  return { home, env: { HOME: home, XDG_RUNTIME_DIR: `${home}/run` } };
}
