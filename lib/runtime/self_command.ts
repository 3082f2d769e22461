/**
 * How to run this same program again (the container init is `ocibox init` in a new process):
 * the executable alone when compiled, else Deno with the main module.
 * @module
 */

let mainModule: string | undefined;

/** Called by main.ts with its own URL, so bundles and tests all know what to run. */
export function setMainModule(url: string): void {
  mainModule = url;
}

/** The argv prefix that starts ocibox (before the command word). */
export function selfCommand(): { path: string; args: string[] } {
  const exe = Deno.execPath();
  const base = exe.slice(exe.lastIndexOf("/") + 1);
  if (base !== "deno") return { path: exe, args: [exe] };
  const main = Deno.env.get("OCIBOX_MAIN") ?? mainModule ??
    new URL("../../main.ts", import.meta.url).href;
  return {
    path: exe,
    args: [exe, "run", "--allow-all", "--no-prompt", "--quiet", "--no-config", main],
  };
}
