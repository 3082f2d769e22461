/**
 * What a request's `Authorization` header presents: Basic credentials (RFC 7617, UTF-8), a
 * Bearer token (RFC 6750), nothing, or something unreadable. `Basic` with an empty user and
 * password (`Og==`, which containers/image sends when it has no credentials for a Basic
 * challenge) counts as nothing, so anonymous pulls work from such clients.
 *
 * @example
 * ```ts
 * import { presentedCredentials } from "./authorization_header.ts";
 * presentedCredentials("Basic YWxpY2U6c2VjcmV0");
 * // { kind: "basic", user: "alice", password: "secret" }
 * presentedCredentials(null); // { kind: "none" }
 * ```
 * @module
 */

/** The credentials of one request. */
export type Presented =
  | { readonly kind: "none" }
  | { readonly kind: "basic"; readonly user: string; readonly password: string }
  | { readonly kind: "bearer"; readonly token: string }
  | { readonly kind: "invalid"; readonly reason: string };

const NONE: Presented = Object.freeze({ kind: "none" });
const B64 = /^[A-Za-z0-9+/]*={0,2}$/;
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * Reads an `Authorization` header value.
 *
 * @example
 * ```ts
 * presentedCredentials("Bearer abc.def.ghi"); // { kind: "bearer", token: "abc.def.ghi" }
 * presentedCredentials("Basic !!!").kind; // "invalid"
 * ```
 */
export function presentedCredentials(header: string | null | undefined): Presented {
  if (!header) return NONE;
  const m = /^([A-Za-z]+)[ ]+(.*)$/.exec(header.trim());
  if (!m) return { kind: "invalid", reason: "malformed Authorization header" };
  const scheme = m[1].toLowerCase();
  const rest = m[2].trim();
  if (scheme === "basic") {
    if (!B64.test(rest) || rest.length % 4 !== 0) {
      return { kind: "invalid", reason: "Basic credentials are not base64" };
    }
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.fromBase64(rest));
    } catch {
      return { kind: "invalid", reason: "Basic credentials are not UTF-8 base64" };
    }
    const colon = text.indexOf(":");
    if (colon < 0) return { kind: "invalid", reason: "Basic credentials hold no colon" };
    const user = text.slice(0, colon);
    const password = text.slice(colon + 1);
    if (user === "" && password === "") return NONE;
    return { kind: "basic", user, password };
  }
  if (scheme === "bearer") {
    if (!TOKEN68.test(rest)) return { kind: "invalid", reason: "malformed Bearer token" };
    return { kind: "bearer", token: rest };
  }
  return { kind: "invalid", reason: `unsupported authorization scheme ${m[1]}` };
}
