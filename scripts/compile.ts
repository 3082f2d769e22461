/**
 * `deno task compile`: one self-contained executable, dist/ocibox-bin, via `deno compile`.
 *
 * deno compile appends the program to the `denort` runtime, which Deno downloads from its own
 * host. Where that host cannot be reached, point DENORT_BIN at a denort binary of the same Deno
 * version (from the release's denort-<target>.zip). Without one, this says so and exits 1;
 * `deno task bundle` gives a single-file alternative that runs with any installed Deno.
 * @module
 */
const root = new URL("..", import.meta.url).pathname;
const denort = Deno.env.get("DENORT_BIN");
if (denort) {
  try {
    await Deno.stat(denort);
  } catch {
    console.error(`error: DENORT_BIN=${denort} does not exist`);
    Deno.exit(1);
  }
}
await Deno.mkdir(`${root}dist`, { recursive: true });
const out = await new Deno.Command(Deno.execPath(), {
  args: [
    "compile",
    "-A",
    "--no-check",
    // Workers are not found by following imports: name the layer-inflating one.
    "--include",
    `${root}lib/archive/inflate_worker.ts`,
    "-o",
    `${root}dist/ocibox-bin`,
    `${root}main.ts`,
  ],
  stdout: "inherit",
  stderr: "piped",
}).output();
if (!out.success) {
  const err = new TextDecoder().decode(out.stderr);
  console.error(err.trim());
  if (!denort) {
    console.error(
      "error: deno compile needs the denort runtime and could not download it; set " +
        "DENORT_BIN=/path/to/denort (same Deno version), or use `deno task bundle`",
    );
  }
  Deno.exit(1);
}
// A full `deno` binary given as DENORT_BIN builds a file that ignores its payload: check.
const check = await new Deno.Command(`${root}dist/ocibox-bin`, {
  args: ["--version"],
  stdout: "piped",
  stderr: "piped",
})
  .output();
const version = new TextDecoder().decode(check.stdout);
if (!check.success || !version.startsWith("ocibox version")) {
  console.error(
    `error: dist/ocibox-bin does not run as ocibox (is DENORT_BIN=${denort} a denort binary, ` +
      "not deno?)",
  );
  Deno.exit(1);
}
console.log(`wrote ${root}dist/ocibox-bin (${version.trim()})`);
