/**
 * `WWW-Authenticate` parsing by RFC 7235: one header may carry several challenges
 * (`Basic realm="x", Bearer realm="y",scope="a b"`), parameter values are tokens or quoted
 * strings (with commas and `\"` escapes inside), and a challenge may carry a token68 instead of
 * parameters. Several header lines arrive joined by ", " (that is how Headers.get combines
 * them), which the grammar handles as a list.
 *
 * @example
 * ```ts
 * import { parseChallenges } from "./challenge.ts";
 * const [c] = parseChallenges(
 *   'Bearer realm="https://auth.docker.io/token",service="registry.docker.io"',
 * );
 * c.scheme; // "bearer"
 * c.params.realm; // "https://auth.docker.io/token"
 * ```
 * @module
 */

/** One challenge: the scheme lowercased, parameter names lowercased, values as sent. */
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
  /** The token68 form (`Negotiate abc==`), when the challenge used it. */
  token68?: string;
}

const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*/;

class Cursor {
  pos = 0;
  constructor(readonly s: string) {}
  get done(): boolean {
    return this.pos >= this.s.length;
  }
  peek(): string {
    return this.s[this.pos] ?? "";
  }
  skipSpace(): void {
    while (this.peek() === " " || this.peek() === "\t") this.pos++;
  }
  // Empty list elements are allowed by the `#rule` (`a, , b`).
  skipSeparators(): void {
    while (this.peek() === " " || this.peek() === "\t" || this.peek() === ",") this.pos++;
  }
  token(): string {
    const start = this.pos;
    while (!this.done && TCHAR.test(this.peek())) this.pos++;
    return this.s.slice(start, this.pos);
  }
  quoted(): string {
    this.pos++; // opening quote
    let out = "";
    while (!this.done) {
      const c = this.s[this.pos++];
      if (c === '"') return out;
      if (c === "\\" && !this.done) out += this.s[this.pos++];
      else out += c;
    }
    return out; // unterminated: keep what there is rather than lose the challenge
  }
  /** True when `name BWS =` starts here (an auth-param rather than a new challenge). */
  atParam(): boolean {
    const save = this.pos;
    const name = this.token();
    this.skipSpace();
    const yes = name !== "" && this.peek() === "=";
    this.pos = save;
    return yes;
  }
}

/**
 * Parses a `WWW-Authenticate` value into its challenges, in order. Malformed parts are skipped
 * rather than fatal: a registry's odd header should not hide the challenge we can use.
 */
export function parseChallenges(header: string | null | undefined): Challenge[] {
  if (!header) return [];
  const c = new Cursor(header);
  const out: Challenge[] = [];
  while (true) {
    c.skipSeparators();
    if (c.done) break;
    const scheme = c.token();
    if (scheme === "") {
      c.pos++; // not a token character: skip it and resynchronise
      continue;
    }
    const challenge: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    out.push(challenge);
    c.skipSpace();
    const t68 = TOKEN68.exec(header.slice(c.pos));
    if (t68) {
      // token68 only when it ends the challenge; `realm=...` also matches the pattern.
      const after = new Cursor(header);
      after.pos = c.pos + t68[0].length;
      after.skipSpace();
      if (after.done || after.peek() === ",") {
        challenge.token68 = t68[0];
        c.pos = after.pos;
        continue;
      }
    }
    // auth-params until something that is not `name=`.
    while (!c.done && c.atParam()) {
      const name = c.token().toLowerCase();
      c.skipSpace();
      c.pos++; // "="
      c.skipSpace();
      const value = c.peek() === '"' ? c.quoted() : c.token();
      // RFC 7235: each parameter name only once; keep the first like most clients.
      if (!(name in challenge.params)) challenge.params[name] = value;
      c.skipSpace();
      if (c.peek() !== ",") break;
      // After the comma: another param of this challenge, or the next challenge.
      const save = c.pos;
      c.skipSeparators();
      if (!c.atParam()) {
        c.pos = save;
        break;
      }
    }
  }
  return out;
}

/** The first challenge ocibox can answer (Bearer or Basic), in the server's order. */
export function pickChallenge(challenges: readonly Challenge[]): Challenge | undefined {
  return challenges.find((c) => c.scheme === "bearer" || c.scheme === "basic");
}
