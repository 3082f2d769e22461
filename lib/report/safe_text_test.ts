import assert from "node:assert/strict";
import { escapeUnsafe, hasUnsafeText, quote, safeText } from "./safe_text.ts";

Deno.test("safeText: plain text is left alone, with quotes and backslashes in it", () => {
  for (const s of ["manifest unknown", 'say "hi"', "C:\\path", "émoji 🐳 日本", ""]) {
    assert.equal(safeText(s), s);
    assert.equal(hasUnsafeText(s), false);
  }
});

Deno.test("safeText: controls, DEL, C1, bidi and separators are escaped and quoted", () => {
  const cases: [string, string][] = [
    ["\x1b[2Jgone", '"\\x1b[2Jgone"'],
    ["a\r\nb\tc", '"a\\r\\nb\\tc"'],
    ["nul\x00del\x7f", '"nul\\x00del\\x7f"'],
    // 8-bit CSI, as a latin1 header value decodes it.
    ["\x9b31m", '"\\x9b31m"'],
    ["txt\u202egnp.exe", '"txt\\u202egnp.exe"'],
    ["\u2066iso\u2069 \u200b", '"\\u2066iso\\u2069 \\u200b"'],
    ["line\u2028sep", '"line\\u2028sep"'],
    ["lone \ud800 surrogate", '"lone \\ud800 surrogate"'],
    ["tag \u{e0041}", '"tag \\u{e0041}"'],
    // Once quoted, quotes and backslashes inside are escaped too, so the quoting is unambiguous.
    ['"\x1b\\', '"\\"\\x1b\\\\"'],
  ];
  for (const [input, want] of cases) {
    assert.equal(safeText(input), want, JSON.stringify(input));
    assert.equal(hasUnsafeText(input), true);
  }
});

Deno.test("quote: always quoted; the result has no character a terminal acts on", () => {
  assert.equal(quote("a b"), '"a b"');
  let all = "";
  for (let cp = 0; cp < 0x3000; cp++) all += String.fromCodePoint(cp);
  const q = quote(all);
  assert.equal(hasUnsafeText(q), false);
  for (const c of q) {
    const cp = c.codePointAt(0)!;
    assert.ok(cp >= 0x20 && (cp < 0x7f || cp > 0x9f), `U+${cp.toString(16)} left in`);
  }
});

Deno.test("escapeUnsafe: one line without quotes; quotes and backslashes left alone", () => {
  assert.equal(escapeUnsafe('layer "a\\b": ok'), 'layer "a\\b": ok');
  assert.equal(escapeUnsafe("etc/x\ny\x1b[2J\u202e"), "etc/x\\ny\\x1b[2J\\u202e");
  assert.equal(hasUnsafeText(escapeUnsafe("a\u2028b\x9bc")), false);
});
