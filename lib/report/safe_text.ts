/**
 * Text someone else chose (a registry's error messages, header values and listing entries; file
 * names in an image) made safe for a terminal before it goes into an error message: control characters (C0, DEL, C1), format
 * characters (bidi overrides and isolates, zero-width ones), line and paragraph separators and
 * lone surrogates are escaped, so one error stays one line and cannot move the cursor, clear
 * the screen or reorder what is shown. Plain text is left as it is, so ordinary registry
 * messages read as before; text that needed escaping is quoted, as skopeo quotes it.
 *
 * @example
 * ```ts
 * import { quote, safeText } from "./safe_text.ts";
 * safeText("manifest unknown"); // manifest unknown
 * safeText("\x1b[2Jgone"); // "\x1b[2Jgone" (quoted, with a visible backslash escape)
 * quote("a b"); // "a b"
 * ```
 * @module
 */

// Cc: C0, DEL and C1 (0x9b alone is CSI on some terminals); Cf: U+202A-U+202E, U+2066-U+2069,
// U+200B-U+200F ...; Zl/Zp: U+2028/U+2029, which some terminals and log viewers break lines on.
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;
const ESCAPED = /[\\"\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;
const UNSAFE_ONLY = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;

const SHORT: Record<string, string> = {
  "\\": "\\\\",
  '"': '\\"',
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
};

function escapeOne(c: string): string {
  const short = SHORT[c];
  if (short) return short;
  const cp = c.codePointAt(0)!;
  if (cp <= 0xff) return `\\x${cp.toString(16).padStart(2, "0")}`;
  if (cp <= 0xffff) return `\\u${cp.toString(16).padStart(4, "0")}`;
  return `\\u{${cp.toString(16)}}`;
}

/** True when `text` holds a character {@linkcode safeText} would escape. */
export function hasUnsafeText(text: string): boolean {
  return UNSAFE.test(text);
}

/**
 * `text` in double quotes with `\`, `"` and every unsafe character escaped (`\x1b`, `\u202e`):
 * like JSON.stringify, which leaves DEL, C1 controls and bidi overrides as they are.
 */
export function quote(text: string): string {
  return `"${text.replace(ESCAPED, escapeOne)}"`;
}

/**
 * `text` with every unsafe character escaped but not quoted: for a whole message whose own
 * parts were quoted where they were made, printed as one line.
 */
export function escapeUnsafe(text: string): string {
  return UNSAFE.test(text) ? text.replace(UNSAFE_ONLY, escapeOne) : text;
}

/** `text` unchanged when it is safe to print, else {@linkcode quote}d. */
export function safeText(text: string): string {
  return UNSAFE.test(text) ? quote(text) : text;
}
