/**
 * Container ids and names for one-liners: an id is 64 random hex digits (also the runtime's
 * container id), a name is what users type (podman's rule: a letter or digit, then letters,
 * digits, `_`, `.` and `-`); without `--name` one is made up from two words.
 * @module
 */
import { UsageError } from "../errors.ts";

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** A fresh container id: 32 random bytes as hex. */
export function newContainerId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Checks a name given with `--name`.
 *
 * @throws {UsageError} when it breaks podman's rule or is longer than 253 characters.
 * @example
 * ```ts
 * import { checkContainerName } from "./names.ts";
 * checkContainerName("web-1"); // ok
 * ```
 */
export function checkContainerName(name: string): void {
  if (!NAME.test(name) || name.length > 253) {
    throw new UsageError(
      `--name ${JSON.stringify(name)}: a name starts with a letter or digit and has only ` +
        "letters, digits, _ . and - (at most 253 characters)",
    );
  }
  if (/^[0-9a-f]{64}$/.test(name)) {
    throw new UsageError(`--name ${name}: 64 hex digits would read as a container id`);
  }
}

const FIRST = [
  "amber",
  "brave",
  "calm",
  "deft",
  "eager",
  "fond",
  "gentle",
  "happy",
  "keen",
  "lucid",
  "merry",
  "nimble",
  "proud",
  "quiet",
  "rapid",
  "sharp",
  "steady",
  "swift",
  "tidy",
  "vivid",
  "warm",
  "wise",
  "bold",
  "clever",
];
const SECOND = [
  "otter",
  "falcon",
  "heron",
  "lynx",
  "marten",
  "osprey",
  "panda",
  "quail",
  "raven",
  "robin",
  "salmon",
  "sparrow",
  "tapir",
  "tern",
  "walrus",
  "wren",
  "badger",
  "bison",
  "crane",
  "dingo",
  "eagle",
  "ferret",
  "gecko",
  "ibis",
];

/**
 * A made-up name not in `taken` (two words, then a number if all else is taken).
 *
 * @example
 * ```ts
 * import { generateName } from "./names.ts";
 * generateName(new Set()); // e.g. "swift_heron"
 * ```
 */
export function generateName(taken: ReadonlySet<string>, random = Math.random): string {
  for (let i = 0; i < 50; i++) {
    const name = `${FIRST[Math.floor(random() * FIRST.length)]}_${
      SECOND[Math.floor(random() * SECOND.length)]
    }`;
    if (!taken.has(name)) return name;
  }
  for (let n = 1;; n++) {
    const name = `${FIRST[0]}_${SECOND[0]}${n}`;
    if (!taken.has(name)) return name;
  }
}
