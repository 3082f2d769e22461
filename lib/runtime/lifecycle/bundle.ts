/**
 * A bundle on disk: its directory made absolute, its config.json read and checked enough to
 * start (valid JSON, a runtime config, a rootfs directory, a process).
 * @module
 */
import { InvalidImageError } from "../../errors.ts";
import type { Spec } from "../spec/spec_types.ts";

/** Reads and minimally checks a bundle's config.json. */
export function readBundleSpec(bundle: string): Spec {
  let text: string;
  try {
    text = Deno.readTextFileSync(`${bundle}/config.json`);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new InvalidImageError(bundle, "has no config.json (is it a bundle?)");
    }
    throw e;
  }
  let spec: Spec;
  try {
    spec = JSON.parse(text);
  } catch (e) {
    throw new InvalidImageError(
      `${bundle}/config.json`,
      `is not valid JSON: ${(e as Error).message}`,
    );
  }
  if (typeof spec !== "object" || spec === null || typeof spec.ociVersion !== "string") {
    throw new InvalidImageError(`${bundle}/config.json`, "is not a runtime config (no ociVersion)");
  }
  const rootfs = spec.root?.path;
  if (!rootfs) throw new InvalidImageError(`${bundle}/config.json`, "root.path is missing");
  try {
    if (!Deno.statSync(rootfsOf(bundle, spec)).isDirectory) throw new Error();
  } catch {
    throw new InvalidImageError(
      `${bundle}/config.json`,
      `root.path ${rootfsOf(bundle, spec)} is not a directory`,
    );
  }
  if (!spec.process) throw new InvalidImageError(`${bundle}/config.json`, "has no process");
  return spec;
}

/** The bundle directory as an absolute path without a trailing "/" or "/.". */
export function absoluteBundle(bundle: string): string {
  return (bundle.startsWith("/") ? bundle : `${Deno.cwd()}/${bundle}`).replace(/\/\.?$/, "");
}

/** The rootfs as the host sees it. */
export function rootfsOf(bundle: string, spec: Spec): string {
  const p = spec.root!.path;
  return p.startsWith("/") ? p : `${bundle}/${p}`;
}
