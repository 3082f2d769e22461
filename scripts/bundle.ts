/**
 * `deno task bundle`: one JavaScript file, dist/ocibox.js, plus dist/ocibox, a launcher that runs
 * it with the permissions ocibox needs, and dist/inflate_worker.ts, the optional worker that
 * inflates layers on a second core. Usable wherever Deno is installed.
 * @module
 */
const root = new URL("..", import.meta.url).pathname;
await Deno.mkdir(`${root}dist`, { recursive: true });
const out = await new Deno.Command(Deno.execPath(), {
  args: ["bundle", "--platform", "deno", "-o", `${root}dist/ocibox.js`, `${root}main.ts`],
  stdout: "inherit",
  stderr: "inherit",
}).output();
if (!out.success) Deno.exit(out.code);
// The layer-inflating worker is a module of its own; next to the bundle it is found by the
// same relative URL as in the sources. Without it ocibox inflates on its main thread.
const worker = await new Deno.Command(Deno.execPath(), {
  args: [
    "bundle",
    "--platform",
    "deno",
    "-o",
    `${root}dist/inflate_worker.ts`,
    `${root}lib/archive/inflate_worker.ts`,
  ],
  stdout: "inherit",
  stderr: "inherit",
}).output();
if (!worker.success) Deno.exit(worker.code);
const launcher = `#!/bin/sh
# ocibox launcher: runs the bundled program with Deno (all permissions: ocibox needs FFI,
# file system, network and subprocesses). Request signals abort only when the client goes
# away (deno.json's "no-legacy-abort": --no-config leaves it out, so it is named here).
here="$(dirname "$(readlink -f "$0")")"
# Deno refuses to start in a deleted working directory (buildah runs its runtime in one):
# relative paths cannot mean anything there, so start from /.
/bin/pwd >/dev/null 2>&1 || cd /
exec deno run -A --no-config --unstable-no-legacy-abort --quiet "$here/ocibox.js" "$@"
`;
await Deno.writeTextFile(`${root}dist/ocibox`, launcher, { mode: 0o755 });
console.log(`wrote ${root}dist/ocibox.js and the launcher ${root}dist/ocibox`);
