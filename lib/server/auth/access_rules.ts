/**
 * Who may do what to which repository: the `access` list of the server's config file, on top of
 * the two simple settings (authenticated users, `anonymousRead`).
 *
 * ```json
 * "access": [
 *   { "repository": "team/*", "users": ["alice", "bob"], "actions": ["pull", "push"] },
 *   { "repository": "${user}/*", "users": ["*"], "actions": ["*"] },
 *   { "repository": "public/*", "anonymous": ["pull"] },
 *   { "repository": "*", "users": ["ci"], "actions": ["pull"] }
 * ]
 * ```
 *
 * - `repository` is a pattern over the whole name: `*` matches any run of characters, `/`
 *   included (`team/*` covers `team/a` and `team/a/b`; `*` alone every repository).
 *   `${user}` stands for the authenticated user's name (personal namespaces).
 * - `users` names htpasswd users (`*`: any authenticated user) who get `actions`: `pull`, `push`,
 *   `delete`, or `*` for all three.
 * - `anonymous` lists what anyone may do without credentials: only `pull` (pushes and deletes
 *   always need credentials).
 * - A request's allowed actions are the union of every matching rule (an authenticated user also
 *   gets what anonymous requests get). A repository no rule matches is closed.
 * - Without an `access` list, every authenticated user may do everything, and anonymous
 *   requests may pull when `anonymousRead` is on (which also adds anonymous pulls everywhere
 *   when there is a list).
 * - The catalog (`/v2/_catalog`) is open to authenticated users, and to anonymous requests when
 *   anonymous reads are on everywhere.
 *
 * @example
 * ```ts
 * import { AccessPolicy } from "./access_rules.ts";
 * const policy = AccessPolicy.fromJson([
 *   { repository: "team/*", users: ["alice"], actions: ["pull", "push"] },
 * ], { anonymousRead: false });
 * policy.actionsFor("alice", "team/app"); // Set { "pull", "push" }
 * policy.actionsFor(undefined, "team/app"); // Set {}
 * ```
 * @module
 */
import { ConfigInvalidError } from "../../errors.ts";
import type { AccessScope } from "../hooks.ts";
import { ALL_ACTIONS, type RepositoryAction as Action } from "./scope.ts";

/** One rule of the `access` list. */
export interface AccessRule {
  repository: string;
  users?: string[];
  actions?: (Action | "*")[];
  anonymous?: "pull"[];
}

interface CompiledRule {
  /** The pattern, with `${user}` still in it when it has one. */
  pattern: string;
  /** Compiled once when the pattern has no `${user}`. */
  fixed?: RegExp;
  users: Set<string>;
  actions: Set<Action>;
  anonymous: boolean;
}

const USER = "${user}";

function globToRegExp(pattern: string): RegExp {
  const parts = pattern.split("*").map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&"));
  return new RegExp(`^${parts.join(".*")}$`);
}

function expand(actions: readonly string[], where: string, source: string): Set<Action> {
  const out = new Set<Action>();
  for (const a of actions) {
    if (a === "*") ALL_ACTIONS.forEach((x) => out.add(x));
    else if ((ALL_ACTIONS as readonly string[]).includes(a)) out.add(a as Action);
    else throw new ConfigInvalidError(source, `${where}: unknown action ${JSON.stringify(a)}`);
  }
  return out;
}

function stringList(v: unknown, where: string, source: string): string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string" && x !== "")) {
    throw new ConfigInvalidError(source, `${where} must be a list of non-empty strings`);
  }
  return v;
}

/** The access rules in force. */
export class AccessPolicy {
  readonly #rules: CompiledRule[];
  readonly #anonymousRead: boolean;

  private constructor(rules: CompiledRule[], anonymousRead: boolean) {
    this.#rules = rules;
    this.#anonymousRead = anonymousRead;
  }

  /**
   * The policy of a config file's `access` value (undefined: no list).
   *
   * @throws {ConfigInvalidError} for a malformed rule, an unknown action, or an anonymous
   * action other than pull.
   */
  static fromJson(
    access: unknown,
    options: { anonymousRead?: boolean; source?: string } = {},
  ): AccessPolicy {
    const anonymousRead = options.anonymousRead ?? false;
    const source = options.source ?? "config";
    if (access === undefined || access === null) return new AccessPolicy([], anonymousRead);
    if (!Array.isArray(access)) throw new ConfigInvalidError(source, "auth.access must be a list");
    const rules = access.map((raw, i): CompiledRule => {
      const where = `auth.access[${i}]`;
      if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
        throw new ConfigInvalidError(source, `${where} must be an object`);
      }
      const r = raw as Record<string, unknown>;
      for (const key of Object.keys(r)) {
        if (!["repository", "users", "actions", "anonymous"].includes(key)) {
          throw new ConfigInvalidError(source, `${where}: unknown key ${JSON.stringify(key)}`);
        }
      }
      if (typeof r.repository !== "string" || r.repository === "") {
        throw new ConfigInvalidError(source, `${where}.repository must be a non-empty pattern`);
      }
      const users = stringList(r.users, `${where}.users`, source);
      const actions = stringList(r.actions, `${where}.actions`, source);
      const anonymous = stringList(r.anonymous, `${where}.anonymous`, source);
      if ((users === undefined) !== (actions === undefined)) {
        throw new ConfigInvalidError(source, `${where}: users and actions go together`);
      }
      if (users === undefined && anonymous === undefined) {
        throw new ConfigInvalidError(source, `${where}: give users and actions, or anonymous`);
      }
      const anon = expand(anonymous ?? [], `${where}.anonymous`, source);
      if ([...anon].some((a) => a !== "pull")) {
        throw new ConfigInvalidError(
          source,
          `${where}.anonymous: only pull can be anonymous; pushes and deletes need credentials`,
        );
      }
      const pattern = r.repository;
      return {
        pattern,
        fixed: pattern.includes(USER) ? undefined : globToRegExp(pattern),
        users: new Set(users ?? []),
        actions: expand(actions ?? [], `${where}.actions`, source),
        anonymous: anon.has("pull"),
      };
    });
    return new AccessPolicy(rules, anonymousRead);
  }

  /** True when some anonymous pulls are allowed. */
  get anonymousPulls(): boolean {
    return this.#anonymousRead || this.#rules.some((r) => r.anonymous);
  }

  /**
   * The actions `user` (undefined: anonymous) may take on `repository`.
   *
   * @example
   * ```ts
   * AccessPolicy.fromJson(undefined, { anonymousRead: true }).actionsFor(undefined, "x");
   * // Set { "pull" }
   * ```
   */
  actionsFor(user: string | undefined, repository: string): Set<Action> {
    const out = new Set<Action>();
    if (this.#anonymousRead) out.add("pull");
    if (this.#rules.length === 0) {
      if (user !== undefined) ALL_ACTIONS.forEach((a) => out.add(a));
      return out;
    }
    for (const rule of this.#rules) {
      const forUser = user !== undefined && (rule.users.has(user) || rule.users.has("*"));
      if (!forUser && !rule.anonymous) continue;
      if (!this.#matches(rule, repository, user)) continue;
      if (rule.anonymous) out.add("pull");
      if (forUser) rule.actions.forEach((a) => out.add(a));
    }
    return out;
  }

  /** Whether `user` (undefined: anonymous) may list the catalog. */
  catalogAllowed(user: string | undefined): boolean {
    return user !== undefined || this.#anonymousRead;
  }

  /**
   * Whether `user` (undefined: anonymous) may have `scope` (a row of hooks.ts's table): every
   * action it lists on a repository (`*`: all three), the catalog, or for the base endpoint
   * just being someone.
   *
   * @example
   * ```ts
   * const p = AccessPolicy.fromJson(undefined, { anonymousRead: true });
   * p.permits(undefined, { type: "repository", name: "a", actions: ["pull"] }); // true
   * p.permits(undefined, { type: "base", name: "", actions: [] }); // false
   * ```
   */
  permits(user: string | undefined, scope: AccessScope): boolean {
    if (scope.type === "base") return user !== undefined;
    if (scope.type === "registry") return scope.name === "catalog" && this.catalogAllowed(user);
    const have = this.actionsFor(user, scope.name);
    return scope.actions.every((a) =>
      a === "*" ? ALL_ACTIONS.every((x) => have.has(x)) : have.has(a)
    );
  }

  #matches(rule: CompiledRule, repository: string, user: string | undefined): boolean {
    if (rule.fixed) return rule.fixed.test(repository);
    // A ${user} pattern matches nothing for anonymous requests, nor for user names that would
    // widen it ("*" in a name).
    if (user === undefined || user.includes("*")) return false;
    return globToRegExp(rule.pattern.replaceAll(USER, user)).test(repository);
  }
}
