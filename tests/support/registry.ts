/**
 * A real registry for tests: Debian's `docker-registry` (CNCF distribution v2.8) started on a
 * free port of 127.0.0.1 with its own config, storage, PKI and log in a temporary directory.
 *
 * Modes:
 * - `"plain"`: HTTP, no auth (`--tls-verify=false` for skopeo).
 * - `"htpasswd-tls"`: HTTPS with a test CA (`certDir` holds `ca.crt`) and Basic auth for `users`
 *   (bcrypt htpasswd file written with `htpasswd -B`).
 * - `"token"`: Bearer tokens from a {@linkcode TokenServer} started alongside (realm
 *   `tokenServer.realm`); HTTP unless `tls: true`.
 *
 * @example
 * ```ts
 * import { withRegistry } from "./registry.ts";
 * await withRegistry("htpasswd-tls", async (reg) => {
 *   const res = await reg.fetch("/v2/", { headers: { authorization: reg.basicAuth() } });
 *   await res.body?.cancel();
 * });
 * ```
 * @module
 */
import {
  type CertAuthority,
  type CertKeyPair,
  makeCa,
  makeCertDir,
  makeClientCert,
  makeServerCert,
  makeSigningCert,
} from "./certs.ts";
import { run } from "./peers.ts";
import {
  DEFAULT_USERS,
  type Grant,
  startTokenServer,
  type TokenServer,
  type TokenServerSettings,
} from "./token_server.ts";

/** How the registry authenticates clients. */
export type RegistryMode = "plain" | "htpasswd-tls" | "token";

/** A user name and password. */
export interface RegistryUser {
  name: string;
  password: string;
}

/** Options for {@linkcode startRegistry}. */
export interface RegistryOptions {
  mode: RegistryMode;
  /** Storage root to use (kept on stop); default a directory inside the temporary one. */
  storageDir?: string;
  /** Users (htpasswd and token modes); default alice/alice-secret and bob/bob-secret. */
  users?: RegistryUser[];
  /** Serve HTTPS; default true for "htpasswd-tls", false otherwise. */
  tls?: boolean;
  /** Require client certificates issued by the test CA (mutual TLS); implies `tls`. */
  clientCerts?: boolean;
  /** `http.relativeurls`: Location headers without scheme and host. */
  relativeUrls?: boolean;
  /** Registry log level; default "info". */
  logLevel?: "error" | "warn" | "info" | "debug";
  /** Token mode only: the token server's permissions, settings, names and scheme. */
  token?: {
    grants?: Grant[];
    settings?: Partial<TokenServerSettings>;
    service?: string;
    issuer?: string;
    /** Serve the token endpoint over HTTPS with the registry's server certificate. */
    tls?: boolean;
  };
}

/** A running registry. */
export interface Registry {
  mode: RegistryMode;
  /** `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`. */
  url: string;
  /** `127.0.0.1:PORT`, for image references. */
  host: string;
  tls: boolean;
  /** The temporary directory holding config, PKI, log (and storage unless given). */
  dir: string;
  storageDir: string;
  configPath: string;
  logPath: string;
  /** The test CA's certificate (TLS or token mode). */
  caCertPath?: string;
  /** A directory for skopeo's `--cert-dir`: `ca.crt` (+ `client.cert`/`client.key` for mTLS). */
  certDir?: string;
  ca?: CertAuthority;
  serverCert?: CertKeyPair;
  clientCert?: CertKeyPair;
  users: RegistryUser[];
  /** The token server (token mode). */
  tokenServer?: TokenServer;
  /**
   * fetch() that trusts the test CA and presents the client certificate; a path starting with
   * "/" is joined to `url`, anything else (e.g. a proxy's URL) is fetched as it is.
   */
  fetch(path: string | URL, init?: RequestInit): Promise<Response>;
  /** `Basic ...` for a user (default the first). */
  basicAuth(user?: RegistryUser): string;
  /**
   * skopeo's TLS and credential flags for this registry. `side` is "src", "dest" or "" (for
   * inspect and other one-image commands); `user` adds `--{side-}creds` (none when null; default
   * the first user in htpasswd and token modes, none in plain mode).
   */
  skopeoArgs(side: "src" | "dest" | "", user?: RegistryUser | null): string[];
  /** The registry's log (stdout and stderr) so far. */
  readLog(): Promise<string>;
  /** Stops the registry (and token server) and removes the temporary directory. */
  stop(): Promise<void>;
}

/** `Basic base64(name:password)`. */
export function basicAuthHeader(name: string, password: string): string {
  const bytes = new TextEncoder().encode(`${name}:${password}`);
  return `Basic ${btoa(String.fromCharCode(...bytes))}`;
}

/** A port on 127.0.0.1 that was free a moment ago. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function htpasswdFile(users: readonly RegistryUser[]): Promise<string> {
  const lines = [];
  for (const u of users) {
    lines.push((await run("htpasswd", ["-nbB", "-C", "4", u.name, u.password])).trim());
  }
  return lines.join("\n") + "\n";
}

/** Copies `stream` into `file` as chunks come (pipeTo held data back here), then closes it. */
async function pump(stream: ReadableStream<Uint8Array>, file: Deno.FsFile): Promise<void> {
  try {
    for await (const chunk of stream) {
      for (let off = 0; off < chunk.length;) off += await file.write(chunk.subarray(off));
    }
  } finally {
    file.close();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const START_ATTEMPTS = 5;
const READY_TIMEOUT_MS = 15_000;

/**
 * Starts a registry in `options.mode` on a free port (retrying when the port was taken
 * meanwhile) and waits until `/v2/` answers; call `stop()` when done, or use
 * {@linkcode withRegistry}.
 */
export async function startRegistry(options: RegistryOptions): Promise<Registry> {
  const mode = options.mode;
  const dir = await Deno.makeTempDir({ prefix: "ocibox-registry-" });
  const cleanups: (() => Promise<void>)[] = [() => Deno.remove(dir, { recursive: true })];
  const cleanup = async () => {
    for (const fn of cleanups.reverse()) await fn().catch(() => {});
    cleanups.length = 0;
  };
  try {
    const tls = options.tls ?? options.clientCerts ?? mode === "htpasswd-tls";
    const scheme = tls ? "https" : "http";
    const users = [...(options.users ?? DEFAULT_USERS)];
    const storageDir = options.storageDir ?? `${dir}/storage`;
    const configPath = `${dir}/config.yml`;
    const logPath = `${dir}/registry.log`;

    let ca: CertAuthority | undefined;
    let serverCert: CertKeyPair | undefined;
    let clientCert: CertKeyPair | undefined;
    let certDir: string | undefined;
    const needServerCert = tls || options.token?.tls === true;
    if (needServerCert || mode === "token") {
      ca = await makeCa(`${dir}/pki`);
      if (needServerCert) serverCert = await makeServerCert(`${dir}/pki`, ca);
      if (options.clientCerts) clientCert = await makeClientCert(`${dir}/pki`, ca);
      certDir = await makeCertDir(`${dir}/certs.d`, ca, clientCert);
    }

    const auth: Record<string, unknown> = {};
    let tokenServer: TokenServer | undefined;
    if (mode === "htpasswd-tls") {
      const path = `${dir}/htpasswd`;
      await Deno.writeTextFile(path, await htpasswdFile(users));
      auth.htpasswd = { realm: "ocibox-test", path };
    } else if (mode === "token") {
      const signing = await makeSigningCert(`${dir}/pki`, ca!);
      tokenServer = await startTokenServer({
        signing,
        users,
        grants: options.token?.grants,
        settings: options.token?.settings,
        service: options.token?.service,
        issuer: options.token?.issuer,
        tls: options.token?.tls ? serverCert : undefined,
      });
      const ts = tokenServer;
      cleanups.push(() => ts.stop());
      const bundle = `${dir}/pki/token-bundle.crt`;
      await Deno.writeTextFile(bundle, ca!.certPem + signing.certPem);
      auth.token = {
        realm: ts.realm,
        service: ts.service,
        issuer: ts.issuer,
        rootcertbundle: bundle,
      };
    }

    let httpClient: Deno.HttpClient | undefined;
    if (ca) {
      httpClient = Deno.createHttpClient({
        caCerts: [ca.certPem],
        ...(clientCert ? { cert: clientCert.certPem, key: clientCert.keyPem } : {}),
      });
      const client = httpClient;
      cleanups.push(() => Promise.resolve(client.close()));
    }

    let child: Deno.ChildProcess | undefined;
    let exited: Deno.CommandStatus | undefined;
    let pipes: Promise<void>[] = [];
    let port = 0;
    for (let attempt = 1;; attempt++) {
      port = freePort();
      const config = {
        version: "0.1",
        log: {
          level: options.logLevel ?? "info",
          formatter: "text",
          accesslog: { disabled: false },
        },
        storage: {
          filesystem: { rootdirectory: storageDir },
          delete: { enabled: true },
          maintenance: { uploadpurging: { enabled: false } },
        },
        http: {
          addr: `127.0.0.1:${port}`,
          secret: crypto.randomUUID(),
          relativeurls: options.relativeUrls ?? false,
          headers: { "X-Content-Type-Options": ["nosniff"] },
          ...(serverCert && tls
            ? {
              tls: {
                certificate: serverCert.certPath,
                key: serverCert.keyPath,
                ...(options.clientCerts ? { clientcas: [ca!.certPath] } : {}),
              },
            }
            : {}),
        },
        ...(Object.keys(auth).length ? { auth } : {}),
      };
      // JSON is YAML: no quoting worries.
      await Deno.writeTextFile(configPath, JSON.stringify(config, null, 2) + "\n");
      const out = await Deno.open(logPath, { append: true, create: true });
      const err = await Deno.open(logPath, { append: true, create: true });
      exited = undefined;
      const proc = new Deno.Command("docker-registry", {
        args: ["serve", configPath],
        clearEnv: true,
        env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      child = proc;
      pipes = [pump(proc.stdout, out), pump(proc.stderr, err)];
      proc.status.then((s) => exited = s);
      const base = `${scheme}://127.0.0.1:${port}`;
      const deadline = Date.now() + READY_TIMEOUT_MS;
      let ready = false;
      while (!exited && Date.now() < deadline) {
        try {
          const res = await fetch(`${base}/v2/`, {
            client: httpClient,
            signal: AbortSignal.timeout(2000),
          });
          await res.body?.cancel();
          ready = true;
          break;
        } catch {
          await sleep(10);
        }
      }
      if (ready) break;
      if (!exited) proc.kill("SIGKILL");
      await proc.status;
      await Promise.all(pipes);
      const log = await Deno.readTextFile(logPath);
      if (log.includes("address already in use") && attempt < START_ATTEMPTS) continue;
      throw new Error(`docker-registry did not start (${exited ? "exited" : "timeout"}):\n${log}`);
    }
    const proc = child!;
    cleanups.push(async () => {
      if (!exited) {
        proc.kill("SIGTERM");
        const timer = setTimeout(() => {
          if (!exited) proc.kill("SIGKILL");
        }, 5000);
        await proc.status;
        clearTimeout(timer);
      }
      await Promise.all(pipes);
    });

    const url = `${scheme}://127.0.0.1:${port}`;
    const registry: Registry = {
      mode,
      url,
      host: `127.0.0.1:${port}`,
      tls,
      dir,
      storageDir,
      configPath,
      logPath,
      caCertPath: ca?.certPath,
      certDir,
      ca,
      serverCert,
      clientCert,
      users,
      tokenServer,
      fetch(path, init) {
        const target = typeof path === "string" && path.startsWith("/") ? url + path : path;
        return fetch(target, { ...init, client: httpClient });
      },
      basicAuth(user = users[0]) {
        return basicAuthHeader(user.name, user.password);
      },
      skopeoArgs(side, user) {
        const prefix = side ? `--${side}-` : "--";
        const args = tls ? [`${prefix}cert-dir=${certDir}`] : [`${prefix}tls-verify=false`];
        const who = user === undefined ? (mode === "plain" ? undefined : users[0]) : user;
        if (who) args.push(`${prefix}creds=${who.name}:${who.password}`);
        else if (mode !== "plain") args.push(side ? `${prefix}no-creds` : "--no-creds");
        return args;
      },
      readLog() {
        return Deno.readTextFile(logPath);
      },
      stop: cleanup,
    };
    return registry;
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/**
 * Runs `fn` with a registry started in `modeOrOptions`, always stopping it and removing its
 * temporary directory afterwards.
 */
export async function withRegistry<T>(
  modeOrOptions: RegistryMode | RegistryOptions,
  fn: (registry: Registry) => Promise<T>,
): Promise<T> {
  const options = typeof modeOrOptions === "string" ? { mode: modeOrOptions } : modeOrOptions;
  const registry = await startRegistry(options);
  try {
    return await fn(registry);
  } finally {
    await registry.stop();
  }
}
