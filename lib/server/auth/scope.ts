/**
 * Token scopes as docker's auth-scope.md defines them: `repository:samalba/my-app:pull,push`,
 * `registry:catalog:*`, space-separated lists of them, and the `access` claim of a token
 * (`[{type, name, actions}]`). The resource name may hold one `:` (a host's port), so a scope is
 * split at its first colon (type) and its last (actions). A resource class
 * (`repository(plugin)`) is dropped, as the spec says it now must be.
 *
 * @example
 * ```ts
 * import { formatScope, parseScopes } from "./scope.ts";
 * const [s] = parseScopes("repository:localhost:5000/app:pull,push");
 * s; // { type: "repository", name: "localhost:5000/app", actions: ["pull", "push"] }
 * formatScope(s); // "repository:localhost:5000/app:pull,push"
 * ```
 * @module
 */

/** One resource scope (also one entry of a token's `access` claim). */
export interface ResourceScope {
  type: string;
  name: string;
  actions: string[];
}

/** The actions that can be granted on a repository (`*` stands for all three). */
export type RepositoryAction = "pull" | "push" | "delete";

/** Every action `*` stands for on a repository. */
export const ALL_ACTIONS: readonly RepositoryAction[] = Object.freeze(["pull", "push", "delete"]);

const TYPE = /^[a-z0-9]+(\([a-z0-9]+\))?$/;
const ACTION = /^([a-z]*|\*)$/;

/**
 * One scope, or undefined when it does not follow the grammar (bad type, empty name, actions
 * other than lower-case words and `*`). Repeated actions are kept once.
 *
 * @example
 * ```ts
 * parseScope("repository(plugin):x:pull")?.type; // "repository"
 * parseScope("nonsense"); // undefined
 * ```
 */
export function parseScope(text: string): ResourceScope | undefined {
  const first = text.indexOf(":");
  const last = text.lastIndexOf(":");
  if (first <= 0 || last === first) return undefined;
  const type = text.slice(0, first);
  const name = text.slice(first + 1, last);
  const actions = text.slice(last + 1).split(",").filter(Boolean);
  if (!TYPE.test(type) || name === "" || /\s/.test(name)) return undefined;
  if (!actions.every((a) => ACTION.test(a))) return undefined;
  return { type: type.replace(/\(.*\)$/, ""), name, actions: [...new Set(actions)] };
}

/**
 * Every scope of space-separated lists (a POST's one `scope` field, or GET's repeated ones);
 * malformed entries are dropped, and entries for the same resource are merged.
 *
 * @example
 * ```ts
 * parseScopes("repository:a:pull", "repository:a:push").map(formatScope);
 * // ["repository:a:pull,push"]
 * ```
 */
export function parseScopes(...lists: string[]): ResourceScope[] {
  const merged = new Map<string, ResourceScope>();
  for (const list of lists) {
    for (const text of list.split(/\s+/)) {
      if (!text) continue;
      const scope = parseScope(text);
      if (!scope) continue;
      const key = `${scope.type}:${scope.name}`;
      const seen = merged.get(key);
      if (seen) seen.actions = [...new Set([...seen.actions, ...scope.actions])];
      else merged.set(key, scope);
    }
  }
  return [...merged.values()];
}

/**
 * `type:name:a,b` (the challenge's and the token response's form).
 *
 * @example
 * ```ts
 * formatScope({ type: "registry", name: "catalog", actions: ["*"] }); // "registry:catalog:*"
 * ```
 */
export function formatScope(scope: ResourceScope): string {
  return `${scope.type}:${scope.name}:${scope.actions.join(",")}`;
}

/**
 * Whether `access` (a token's claim) allows `action` on the resource: an entry of the same type
 * and name that lists the action or `*`.
 *
 * @example
 * ```ts
 * allows([{ type: "repository", name: "a", actions: ["*"] }], "repository", "a", "delete"); // true
 * ```
 */
export function allows(
  access: readonly ResourceScope[],
  type: string,
  name: string,
  action: string,
): boolean {
  return access.some((a) =>
    a.type === type && a.name === name && (a.actions.includes(action) || a.actions.includes("*"))
  );
}

/**
 * The `access` claim of a verified token as scopes, or undefined when it is not a list of
 * `{type, name, actions}` objects (a token with a bad claim grants nothing).
 *
 * @example
 * ```ts
 * accessClaim([{ type: "repository", name: "a", actions: ["pull"] }])?.length; // 1
 * accessClaim("x"); // undefined
 * ```
 */
export function accessClaim(value: unknown): ResourceScope[] | undefined {
  if (value === undefined) return [];
  if (!Array.isArray(value)) return undefined;
  const out: ResourceScope[] = [];
  for (const e of value) {
    if (typeof e !== "object" || e === null) return undefined;
    const { type, name, actions } = e as Record<string, unknown>;
    if (typeof type !== "string" || typeof name !== "string") return undefined;
    if (!Array.isArray(actions) || !actions.every((a) => typeof a === "string")) return undefined;
    out.push({ type, name, actions: actions as string[] });
  }
  return out;
}
