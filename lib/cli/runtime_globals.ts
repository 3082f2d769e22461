/**
 * The global flags of runc's command line (`--root`, `--log`, `--log-format`,
 * `--systemd-cgroup`, `--rootless`), which podman and containerd put before the command word,
 * and ocibox's own `--store DIR` (the local image store). main.ts fills them in; the container
 * commands read them. Tiny on purpose: main imports it.
 * @module
 */

/** Where container state lives unless --root says otherwise (runc: /run/runc). */
export const DEFAULT_STATE_ROOT = "/run/ocibox";

/** The runtime's global settings. */
export const runtimeGlobals: {
  root: string;
  log?: string;
  logFormat: "text" | "json";
  systemdCgroup: boolean;
} = { root: DEFAULT_STATE_ROOT, logFormat: "text", systemdCgroup: false };

/** Flags that take a value, and what to do with it; returns false for a flag we do not know. */
export function setRuntimeGlobal(flag: string, value: string | undefined): boolean | "needs-value" {
  switch (flag) {
    case "--root":
    case "--log":
    case "--log-format":
    case "--rootless":
    case "--criu":
      if (value === undefined) return "needs-value";
      if (flag === "--root") runtimeGlobals.root = value.replace(/\/+$/, "") || "/";
      else if (flag === "--log") runtimeGlobals.log = value;
      else if (flag === "--log-format") {
        if (value !== "text" && value !== "json") return false;
        runtimeGlobals.logFormat = value;
      }
      // --rootless and --criu are accepted for compatibility: rootless is detected.
      return true;
    case "--systemd-cgroup":
      runtimeGlobals.systemdCgroup = true;
      return true;
    case "--store":
      if (value === undefined) return "needs-value";
      // Through the environment, so lib/store (and any ocibox this one starts) sees it too:
      // lib/store/store_root.ts reads OCIBOX_STORE.
      Deno.env.set("OCIBOX_STORE", value.startsWith("/") ? value : `${Deno.cwd()}/${value}`);
      return true;
  }
  return false;
}

/** Appends one line to the --log file (runc's format: logrus text or JSON), if one is set. */
export function logLine(level: "error" | "warning" | "info", msg: string): void {
  const file = runtimeGlobals.log;
  if (!file) return;
  const time = new Date().toISOString();
  const line = runtimeGlobals.logFormat === "json"
    ? JSON.stringify({ level, msg, time })
    : `time="${time}" level=${level} msg=${JSON.stringify(msg)}`;
  try {
    Deno.writeTextFileSync(file, line + "\n", { append: true });
  } catch { /* logging must never hide the real error */ }
}
