/**
 * execvp's search: a program name without a slash is looked up in the PATH of the process's
 * environment (the container's, not the runtime's).
 * @module
 */
import { OciboxError } from "../errors.ts";

const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Whether a path (as this process sees it) is an executable regular file. */
export function isExecutableFile(path: string): boolean {
  try {
    const st = Deno.statSync(path);
    return st.isFile && ((st.mode ?? 0) & 0o111) !== 0;
  } catch {
    return false;
  }
}

/**
 * Finds `name` through the PATH in `env`; `isExecutable` says whether a candidate qualifies
 * (e.g. resolved inside a container's root).
 *
 * @example
 * ```ts
 * import { lookPath } from "./look_path.ts";
 * lookPath("sh", ["PATH=/bin"]); // "/bin/sh"
 * ```
 */
export function lookPath(
  name: string,
  env: readonly string[],
  isExecutable: (path: string) => boolean = isExecutableFile,
): string {
  if (name.includes("/")) return name;
  const path = env.find((e) => e.startsWith("PATH="))?.slice(5) ?? DEFAULT_PATH;
  for (const dir of path.split(":")) {
    if (dir.startsWith("/") && isExecutable(`${dir}/${name}`)) return `${dir}/${name}`;
  }
  throw new OciboxError("EXEC", `executable file ${JSON.stringify(name)} not found in $PATH`);
}
