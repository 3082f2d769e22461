/**
 * Basic authentication of registry requests (`serve --htpasswd F`): every request's
 * `Authorization: Basic` credentials are checked against the htpasswd file, then the access
 * rules decide. Answers:
 *
 * - credentials wrong or unreadable: 401 UNAUTHORIZED with `WWW-Authenticate: Basic realm=...`;
 * - no credentials: the request runs anonymously when the rules let anonymous requests have
 *   its scope (pulls with `--anonymous-read`), else 401 with the challenge. `GET /v2/` always
 *   needs credentials, as docker-registry's htpasswd mode does, so clients that ping first
 *   learn the challenge and send the credentials they have with pushes;
 * - a known user without the access: 403 DENIED.
 *
 * @example
 * ```ts
 * import { basicAuthorize } from "./basic_auth.ts";
 * import { AccessPolicy } from "./access_rules.ts";
 * import { HtpasswdFile } from "./htpasswd.ts";
 * const authorize = basicAuthorize({
 *   users: await HtpasswdFile.load("/etc/ocibox/htpasswd"),
 *   policy: AccessPolicy.fromJson(undefined, { anonymousRead: true }),
 *   realm: "ocibox",
 * });
 * ```
 * @module
 */
import type { AccessScope, Authorize, Principal } from "../hooks.ts";
import type { AccessPolicy } from "./access_rules.ts";
import { presentedCredentials } from "./authorization_header.ts";
import { basicChallenge, denied, unauthorized } from "./responses.ts";

/** What checks passwords (an HtpasswdFile). */
export interface PasswordCheck {
  verify(user: string, password: string): Promise<boolean>;
}

/** Options of {@linkcode basicAuthorize}. */
export interface BasicAuthOptions {
  users: PasswordCheck;
  policy: AccessPolicy;
  /** The realm of the challenge. */
  realm: string;
}

/**
 * The user a request authenticates as: a name, `undefined` for no credentials, or the reason
 * its credentials are refused.
 */
export async function basicUser(
  request: Request,
  users: PasswordCheck,
): Promise<{ user?: string; refused?: string }> {
  const presented = presentedCredentials(request.headers.get("authorization"));
  switch (presented.kind) {
    case "none":
      return {};
    case "invalid":
      return { refused: presented.reason };
    case "bearer":
      return { refused: "this registry takes Basic credentials, not Bearer tokens" };
    case "basic":
      if (await users.verify(presented.user, presented.password)) return { user: presented.user };
      return { refused: "invalid username or password" };
  }
}

/**
 * The {@linkcode Authorize} of Basic mode.
 *
 * @example
 * ```ts
 * // const hooks = { authorize: basicAuthorize({ users, policy, realm: "ocibox" }) };
 * ```
 */
export function basicAuthorize(options: BasicAuthOptions): Authorize {
  const challenge = basicChallenge(options.realm);
  return async (request: Request, scope: AccessScope): Promise<Principal | Response> => {
    const { user, refused } = await basicUser(request, options.users);
    if (refused !== undefined) return unauthorized(scope, challenge, refused);
    if (options.policy.permits(user, scope)) {
      return user === undefined ? { name: "", anonymous: true } : { name: user };
    }
    if (user === undefined) return unauthorized(scope, challenge);
    return denied(scope, user);
  };
}
