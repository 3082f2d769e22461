/**
 * `ocibox manifest-digest`: the digest of a manifest file, as a registry would compute it.
 * @module
 */
import { parseManifestBytes } from "../image/parsed.ts";
import { expectPositionals, parseFlags } from "./args.ts";

export const help = `Usage: ocibox manifest-digest FILE

Prints the digest of the manifest (or index) in FILE: the sha256 of its exact bytes, after
checking that it is a valid OCI or Docker schema 2 manifest.

Example:
  ocibox inspect --raw oci:./layout:v1 > m.json && ocibox manifest-digest m.json`;

export async function run(args: string[]): Promise<number> {
  const { positionals } = parseFlags(args, {});
  expectPositionals(positionals, 1, "ocibox manifest-digest FILE");
  const bytes = await Deno.readFile(positionals[0]);
  console.log(parseManifestBytes(bytes, undefined, { what: positionals[0] }).digest);
  return 0;
}
