/**
 * A small registry on 127.0.0.1 for hostile-input tests of the real command line. It serves one
 * image (`app:latest`: an OCI manifest, its config and one uncompressed layer, with Range
 * support) and lets a test replace any answer. It is written on raw TCP because the answers a
 * hostile registry gives are what Deno.serve will not send: control characters in header
 * values (Deno.serve panics on them) and a body that stops halfway and stays silent.
 * {@linkcode ociboxWithin} runs the command line with a time and heap limit, so a client that
 * would loop or wait for ever fails its test instead of hanging it.
 *
 * @example
 * ```ts
 * import { hostileRegistry, ociboxWithin } from "./hostile_registry.ts";
 * const reg = hostileRegistry((req) =>
 *   req.path.includes("/tags/list")
 *     ? { status: 200, headers: { Link: `<${req.path}>; rel="next"` }, body: '{"tags":[]}' }
 *     : undefined
 * );
 * const run = await ociboxWithin(["list-tags", `docker://${reg.host}/app`], { seconds: 20 });
 * await reg.close();
 * ```
 * @module
 */
import { buildTar, hostArchitecture, sha256Digest } from "./images.ts";
import { type OciboxResult, spawnOcibox, toResult } from "./ocibox_cli.ts";

/** One request the registry received. */
export interface HostileRequest {
  method: string;
  /** Path and query, as sent. */
  path: string;
  headers: Headers;
}

/** An answer, written byte for byte as given. */
export interface RawAnswer {
  status: number;
  /** Header fields, written as they are (any character but CR and LF). */
  headers?: Record<string, string>;
  body?: Uint8Array | string;
  /**
   * Send a Content-Length for all of `body` but only this many of its bytes, then nothing:
   * the connection stays open, silent, until the client hangs up (or 60 s passed).
   */
  stallAfter?: number;
}

/** The image the registry serves as `app:latest`. */
export interface HostileImage {
  manifest: Uint8Array;
  manifestDigest: string;
  config: Uint8Array;
  configDigest: string;
  layer: Uint8Array;
  layerDigest: string;
}

/** A running {@linkcode hostileRegistry}. */
export interface HostileRegistry {
  /** `127.0.0.1:PORT`. */
  host: string;
  image: HostileImage;
  /** Every request so far, `GET /v2/` included. */
  requests: HostileRequest[];
  /** Stops listening and ends every connection, stalled ones included. */
  close(): Promise<void>;
}

const enc = new TextEncoder();
const STALL_LIMIT_MS = 60_000;

function makeImage(): HostileImage {
  // 512 KiB of varied bytes: big enough to be cut in the middle, small enough to be quick.
  const data = new Uint8Array(512 << 10).map((_, i) => (i * 2654435761) >>> 24);
  const layer = buildTar([{ name: "data.bin", type: "file", data }]);
  const layerDigest = sha256Digest(layer);
  const config = enc.encode(JSON.stringify({
    architecture: hostArchitecture(),
    os: "linux",
    config: {},
    rootfs: { type: "layers", diff_ids: [layerDigest] },
  }));
  const configDigest = sha256Digest(config);
  const manifest = enc.encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: {
      mediaType: "application/vnd.oci.image.config.v1+json",
      digest: configDigest,
      size: config.length,
    },
    layers: [{
      mediaType: "application/vnd.oci.image.layer.v1.tar",
      digest: layerDigest,
      size: layer.length,
    }],
  }));
  return {
    manifest,
    manifestDigest: sha256Digest(manifest),
    config,
    configDigest,
    layer,
    layerDigest,
  };
}

function bytesOf(body: Uint8Array | string | undefined): Uint8Array {
  return typeof body === "string" ? enc.encode(body) : body ?? new Uint8Array(0);
}

/** What a well-behaved registry answers. */
function wellBehaved(req: HostileRequest, image: HostileImage): RawAnswer {
  const url = new URL(req.path, "http://registry");
  const path = url.pathname;
  if (path === "/v2/") return { status: 200, body: "{}" };
  if (path === "/v2/app/tags/list") {
    return {
      status: 200,
      headers: { "Content-Type": "application/json" },
      body: '{"tags":["latest"]}',
    };
  }
  if (path === "/v2/app/manifests/latest" || path === `/v2/app/manifests/${image.manifestDigest}`) {
    return {
      status: 200,
      headers: {
        "Content-Type": "application/vnd.oci.image.manifest.v1+json",
        "Docker-Content-Digest": image.manifestDigest,
      },
      body: image.manifest,
    };
  }
  const blob = path === `/v2/app/blobs/${image.configDigest}`
    ? image.config
    : path === `/v2/app/blobs/${image.layerDigest}`
    ? image.layer
    : undefined;
  if (blob) {
    const m = /^bytes=(\d+)-$/.exec(req.headers.get("range") ?? "");
    if (!m) return { status: 200, body: blob };
    const from = Number(m[1]);
    return {
      status: 206,
      headers: { "Content-Range": `bytes ${from}-${blob.length - 1}/${blob.length}` },
      body: blob.subarray(from),
    };
  }
  return {
    status: 404,
    headers: { "Content-Type": "application/json" },
    body: '{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known"}]}',
  };
}

async function readHead(conn: Deno.Conn): Promise<HostileRequest | undefined> {
  const buf = new Uint8Array(16384);
  let text = "";
  while (!text.includes("\r\n\r\n")) {
    const n = await conn.read(buf);
    if (n === null) return undefined;
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
  const [line, ...fields] = text.slice(0, text.indexOf("\r\n\r\n")).split("\r\n");
  const [method, path] = line.split(" ");
  const headers = new Headers();
  for (const f of fields) {
    const colon = f.indexOf(":");
    if (colon > 0) headers.append(f.slice(0, colon).trim(), f.slice(colon + 1).trim());
  }
  return { method, path, headers };
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
}

/** Waits until the peer hangs up, `ms` passed, or `closed` fires. */
async function silence(conn: Deno.Conn, ms: number, closed: Promise<void>): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const buf = new Uint8Array(1024);
  await Promise.race([
    (async () => {
      try {
        while (await conn.read(buf) !== null) { /* nothing the client sends matters now */ }
      } catch { /* closed */ }
    })(),
    new Promise((r) => timer = setTimeout(r, ms)),
    closed,
  ]);
  clearTimeout(timer);
}

/**
 * Starts the registry. `answer` sees each request first and returns the answer to give, or
 * undefined for the well-behaved one.
 */
export function hostileRegistry(
  answer: (req: HostileRequest, image: HostileImage) => RawAnswer | undefined = () => undefined,
): HostileRegistry {
  const image = makeImage();
  const requests: HostileRequest[] = [];
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const { promise: closed, resolve: closing } = Promise.withResolvers<void>();
  const serveConn = async (conn: Deno.Conn) => {
    for (;;) {
      const req = await readHead(conn);
      if (!req) return;
      requests.push(req);
      const a = answer(req, image) ?? wellBehaved(req, image);
      const body = bytesOf(a.body);
      let head = `HTTP/1.1 ${a.status} X\r\n`;
      for (const [k, v] of Object.entries(a.headers ?? {})) head += `${k}: ${v}\r\n`;
      head += `Content-Length: ${body.length}\r\n\r\n`;
      const sent = req.method === "HEAD" ? new Uint8Array(0) : body.subarray(0, a.stallAfter);
      // One write: a head and a body written apart wait on Nagle and delayed ACKs (40 ms).
      const headBytes = enc.encode(head);
      const all = new Uint8Array(headBytes.length + sent.length);
      all.set(headBytes);
      all.set(sent, headBytes.length);
      await writeAll(conn, all);
      if (a.stallAfter !== undefined && req.method !== "HEAD") {
        await silence(conn, STALL_LIMIT_MS, closed);
        return;
      }
    }
  };
  const accepting = (async () => {
    const served: Promise<void>[] = [];
    try {
      for await (const conn of listener) {
        conn.setNoDelay(true);
        conns.add(conn);
        served.push(
          serveConn(conn).catch(() => {}).finally(() => {
            conns.delete(conn);
            try {
              conn.close();
            } catch { /* already closed */ }
          }),
        );
      }
    } catch { /* the listener was closed */ }
    await Promise.all(served);
  })();
  return {
    host: `127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    image,
    requests,
    async close() {
      closing();
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
      await accepting;
    },
  };
}

/** How a time-limited run went. */
export interface LimitedRun extends OciboxResult {
  /** Wall-clock time in ms. */
  ms: number;
  /** It was killed at the time limit. */
  timedOut: boolean;
}

/**
 * Runs `ocibox ARGS...` for at most `seconds` (then SIGKILL) with its JavaScript heap capped at
 * `heapMb` (V8 gives up, loudly, past it), so unbounded time or memory shows as a failed run.
 */
export async function ociboxWithin(
  args: readonly string[],
  options: { seconds: number; heapMb?: number; env?: Record<string, string> },
): Promise<LimitedRun> {
  const t0 = performance.now();
  const child = spawnOcibox(args, {
    env: { DENO_V8_FLAGS: `--max-old-space-size=${options.heapMb ?? 256}`, ...options.env },
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch { /* it just ended */ }
  }, options.seconds * 1000);
  try {
    const out = await child.output();
    return { ...toResult(out), ms: performance.now() - t0, timedOut };
  } finally {
    clearTimeout(timer);
  }
}
