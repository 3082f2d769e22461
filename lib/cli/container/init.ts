/**
 * `ocibox init`: the container's first process (started by create, never by hand). Imports
 * only the init code: no flags parser, registry or tar.
 * @module
 */
export const help = `Usage: ocibox init

Internal: the container's init, run by \`ocibox create\` inside the new namespaces.`;

export async function run(_args: string[]): Promise<number> {
  const { runInit } = await import("../../runtime/init.ts");
  return await runInit();
}
