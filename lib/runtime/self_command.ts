/**
 * How to start the container init (`ocibox init`) in a new process: the executable alone when
 * compiled; else Deno with the program's module. Run from source, init gets its own small entry
 * module (init_main.ts): Deno loads every module a main module can import, even lazily, so
 * starting init through main.ts would read the whole command tree first.
 * @module
 */

/** argv (path and arguments) that starts the container init. */
export function initCommand(): { path: string; args: string[] } {
  const exe = Deno.execPath();
  const base = exe.slice(exe.lastIndexOf("/") + 1);
  if (base !== "deno") return { path: exe, args: [exe, "init"] };
  // main.ts records its URL here; a bundle is its own init.
  const main = Deno.env.get("OCIBOX_MAIN") ?? new URL("../../main.ts", import.meta.url).href;
  const fromSource = main.endsWith("/main.ts");
  const entry = fromSource ? new URL("./init_main.ts", import.meta.url).href : main;
  return {
    path: exe,
    args: [
      exe,
      "run",
      "--allow-all",
      "--no-prompt",
      "--quiet",
      "--no-config",
      entry,
      ...(fromSource ? [] : ["init"]),
    ],
  };
}
