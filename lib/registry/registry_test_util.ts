/**
 * Helpers for the registry unit tests on top of the HTTP ones (../http/http_test_util.ts): a
 * registry written on raw TCP, for answers Deno.serve will not give.
 * @module
 */
import { listenTcp, readRequestHead, writeAll } from "../http/http_test_util.ts";

/** One request as {@linkcode rawRegistry} sees it. */
export interface RawRequest {
  method: string;
  /** Path and query. */
  path: string;
  headers: Headers;
  conn: Deno.Conn;
}

/**
 * A registry written on raw TCP, for answers Deno.serve will not give (control characters in
 * header values, a body that stops halfway): `GET /v2/` gets 200 and every other request goes
 * to `answer`, which writes what it likes and resolves to false to close the connection.
 */
export function rawRegistry(
  answer: (req: RawRequest) => Promise<boolean>,
): { host: string; port: number; close(): void } {
  const tcp = listenTcp(async (conn) => {
    for (;;) {
      const head = await readRequestHead(conn);
      if (!head) return;
      const [line, ...fields] = head.slice(0, head.indexOf("\r\n\r\n")).split("\r\n");
      const [method, path] = line.split(" ");
      const headers = new Headers();
      for (const f of fields) {
        const colon = f.indexOf(":");
        if (colon > 0) headers.append(f.slice(0, colon).trim(), f.slice(colon + 1).trim());
      }
      if (path === "/v2/") {
        await writeAll(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
        continue;
      }
      if (!await answer({ method, path, headers, conn })) return;
    }
  });
  return { host: `127.0.0.1:${tcp.port}`, port: tcp.port, close: tcp.close };
}
