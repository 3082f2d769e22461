/**
 * Progress bars on a terminal, one line per blob like `docker pull`: bytes done of total, a
 * bar and the rate. Lines are redrawn in place at most ten times a second; messages print
 * above the block of bars.
 * @module
 */
import type { BlobKind, Reporter } from "./reporter.ts";

interface Bar {
  kind: BlobKind;
  digest: string;
  size: number;
  done: number;
  state: "waiting" | "copying" | "done" | "skipped";
  started: number;
}

const encoder = new TextEncoder();
const FRAME_MS = 100;
const BAR_WIDTH = 24;

/** Human-readable bytes: `12.3MiB`. */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v}B` : `${v.toFixed(1)}${units[i]}`;
}

/** One bar's line, without colour, at most `width` characters. */
export function formatBar(bar: Bar, now: number, width = 100): string {
  const noun = bar.kind === "layer" ? "blob" : bar.kind;
  const head = `Copying ${noun} ${bar.digest.replace(/^sha256:/, "").slice(0, 12)}`;
  let tail: string;
  if (bar.state === "skipped") tail = "skipped: already exists";
  else if (bar.state === "done") tail = `done ${formatBytes(bar.size >= 0 ? bar.size : bar.done)}`;
  else {
    const total = bar.size > 0 ? bar.size : 0;
    const frac = total ? Math.min(1, bar.done / total) : 0;
    const filled = Math.round(frac * BAR_WIDTH);
    const bars = "=".repeat(Math.max(0, filled - 1)) + (filled ? ">" : "") +
      " ".repeat(BAR_WIDTH - filled);
    const secs = Math.max(0.001, (now - bar.started) / 1000);
    const rate = `${formatBytes(Math.round(bar.done / secs))}/s`;
    tail = `[${bars}] ${formatBytes(bar.done)} / ${total ? formatBytes(total) : "?"} ${rate}`;
  }
  return `${head}  ${tail}`.slice(0, width);
}

/** A reporter that draws bars on `write` (a terminal). */
export function ttyReporter(
  write: (text: string) => void = (t) => Deno.stderr.writeSync(encoder.encode(t)),
  columns: () => number = () => {
    try {
      return Deno.consoleSize().columns;
    } catch {
      return 100;
    }
  },
): Reporter {
  const bars: Bar[] = [];
  const byDigest = new Map<string, Bar>();
  let drawn = 0;
  let last = 0;

  const draw = (force: boolean) => {
    const now = performance.now();
    if (!force && now - last < FRAME_MS) return;
    last = now;
    // A pseudo-terminal may report no size at all: assume a common width then.
    const cols = columns();
    const width = (cols >= 20 ? cols : 100) - 1;
    let out = drawn ? `\x1b[${drawn}F` : "";
    for (const b of bars) out += `\x1b[2K${formatBar(b, now, width)}\n`;
    drawn = bars.length;
    write(out);
  };
  const above = (line: string) => {
    // Clear the bars, print the line, draw them again below it.
    let out = drawn ? `\x1b[${drawn}F\x1b[J` : "";
    out += `${line}\n`;
    drawn = 0;
    write(out);
    draw(true);
  };

  return {
    wantsProgress: true,
    info: above,
    warn: (m) => above(`warning: ${m}`),
    blobStart(kind, digest, size, skipped) {
      const bar: Bar = {
        kind,
        digest,
        size,
        done: 0,
        state: skipped ? "skipped" : "copying",
        started: performance.now(),
      };
      bars.push(bar);
      byDigest.set(digest, bar);
      draw(true);
    },
    blobProgress(digest, done) {
      const bar = byDigest.get(digest);
      if (!bar) return;
      bar.done = done;
      draw(false);
    },
    blobDone(digest) {
      const bar = byDigest.get(digest);
      if (!bar) return;
      bar.state = "done";
      draw(true);
    },
  };
}
