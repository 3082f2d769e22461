/**
 * The REGISTRY argument of `login` and `logout`: a host (`localhost:5000`, `docker.io`) or a
 * host with a namespace (`quay.io/team`) whose credentials apply only below it, as podman
 * accepts. A `https://` prefix and trailing slashes are dropped; Docker Hub's host names all
 * become `docker.io`.
 *
 * @example
 * ```ts
 * import { parseLoginTarget } from "./login_target.ts";
 * parseLoginTarget("https://quay.io/team/"); // { key: "quay.io/team", host: "quay.io" }
 * ```
 * @module
 */
import { InvalidReferenceError, UsageError } from "../errors.ts";
import { parseReference } from "../image/docker_reference.ts";

/** Where credentials are filed (`key`) and which registry checks them (`host`). */
export interface LoginTarget {
  key: string;
  host: string;
}

const HOST =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]+)?$/;
const DOCKER_HUB = ["docker.io", "index.docker.io", "registry-1.docker.io"];

/**
 * Parses the argument.
 *
 * @throws {UsageError} when it is not `host[:port][/namespace...]`.
 */
export function parseLoginTarget(arg: string): LoginTarget {
  const s = arg.replace(/^https?:\/\//, "").replace(/\/+$/, "");
  const slash = s.indexOf("/");
  let host = slash === -1 ? s : s.slice(0, slash);
  const path = slash === -1 ? "" : s.slice(slash + 1);
  if (!HOST.test(host)) {
    throw new UsageError(
      `invalid registry ${JSON.stringify(arg)}: expected HOST[:PORT][/NAMESPACE]`,
    );
  }
  if (DOCKER_HUB.includes(host.toLowerCase())) host = "docker.io";
  if (path === "") return { key: host, host };
  if (path === "v1" || path === "v2") return { key: host, host }; // `docker login` URLs
  try {
    const ref = parseReference(`${host}/${path}`);
    if (ref.tag !== undefined || ref.digest !== undefined) throw new Error("tag");
  } catch (e) {
    const why = e instanceof InvalidReferenceError ? e.message : "a namespace has no tag or digest";
    throw new UsageError(`invalid registry ${JSON.stringify(arg)}: ${why}`);
  }
  return { key: `${host}/${path}`, host };
}
