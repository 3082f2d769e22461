/**
 * Platforms (`os/arch[/variant]`) of image-index.md: parsing, normalisation in the style of
 * containerd (aliases such as `x86_64`/`aarch64`, default variants), matching an image's
 * platform against a wanted one, and choosing the best manifest of an index.
 *
 * @example
 * ```ts
 * import { choosePlatform, parsePlatform } from "./platform.ts";
 * const want = parsePlatform("linux/arm64");
 * const manifests = [
 *   { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: "sha256:" + "1".repeat(64),
 *     size: 1, platform: { os: "linux", architecture: "amd64" } },
 *   { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: "sha256:" + "2".repeat(64),
 *     size: 1, platform: { os: "linux", architecture: "arm64", variant: "v8" } },
 * ];
 * choosePlatform(manifests, want).digest; // "sha256:222…"
 * ```
 * @module
 */

import { NotFoundError, UsageError } from "../errors.ts";
import type { Descriptor } from "./descriptor.ts";
import {
  expectObject,
  GoFieldNames,
  optString,
  optStringArray,
  refuseCaseVariants,
  reqString,
  toPath,
  type Where,
} from "./json_fields.ts";

/** The platform an image (or manifest in an index) is built for. */
export interface Platform {
  /** CPU architecture, a `GOARCH` value such as `amd64`, `arm64`, `ppc64le`. */
  architecture: string;
  /** Operating system, a `GOOS` value such as `linux`, `windows`. */
  os: string;
  /** OS version the image targets, e.g. `10.0.14393.1066` on windows. */
  "os.version"?: string;
  /** OS features the image requires, e.g. `win32k`. */
  "os.features"?: string[];
  /** CPU variant, e.g. `v7` for arm, `v8` for arm64. */
  variant?: string;
  /** CPU features (Docker manifest lists; reserved in OCI). Kept for round trips only. */
  features?: string[];
}

// The fields of image-spec's v1.Platform plus Docker's `features`.
const PLATFORM_FIELDS = new GoFieldNames([
  "architecture",
  "os",
  "os.version",
  "os.features",
  "variant",
  "features",
]);

/**
 * Reads a `platform` object of a descriptor or an image index entry.
 *
 * @throws {InvalidImageError} when `architecture`/`os` are missing, fields have wrong types or a
 *   key differs from a field name only in case (see {@linkcode refuseCaseVariants}).
 * @example
 * ```ts
 * parsePlatformObject({ architecture: "ppc64le", os: "linux" }, "index: manifests[0].platform");
 * ```
 */
export function parsePlatformObject(value: unknown, where: Where): Platform {
  const path = toPath(where);
  const obj = expectObject(value, path);
  refuseCaseVariants(obj, PLATFORM_FIELDS, path);
  const platform: Platform = {
    architecture: reqString(obj, "architecture", path),
    os: reqString(obj, "os", path),
  };
  const osVersion = optString(obj, "os.version", path);
  if (osVersion !== undefined) platform["os.version"] = osVersion;
  const osFeatures = optStringArray(obj, "os.features", path);
  if (osFeatures !== undefined) platform["os.features"] = [...osFeatures];
  const variant = optString(obj, "variant", path);
  if (variant !== undefined && variant !== "") platform.variant = variant;
  const features = optStringArray(obj, "features", path);
  if (features !== undefined) platform.features = [...features];
  return platform;
}

const COMPONENT = /^[A-Za-z0-9_.-]+$/;

/**
 * Parses a platform given as `os/arch[/variant]` (e.g. from `--platform`) and normalises it.
 *
 * @throws {UsageError} when the string has the wrong shape.
 * @example
 * ```ts
 * parsePlatform("linux/aarch64"); // { os: "linux", architecture: "arm64", variant: "v8" }
 * parsePlatform("linux/arm/v6"); // { os: "linux", architecture: "arm", variant: "v6" }
 * ```
 */
export function parsePlatform(s: string): Platform {
  const parts = s.split("/");
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !COMPONENT.test(p))) {
    throw new UsageError(
      `invalid platform ${JSON.stringify(s)}: expected os/arch[/variant], e.g. linux/arm64/v8`,
    );
  }
  const [os, architecture, variant] = parts;
  return normalizePlatform(
    variant === undefined ? { os, architecture } : { os, architecture, variant },
  );
}

/**
 * Formats a platform as `os/arch[/variant]`, with `os.version` appended in parentheses when
 * present.
 *
 * @example
 * ```ts
 * formatPlatform({ os: "linux", architecture: "arm", variant: "v7" }); // "linux/arm/v7"
 * ```
 */
export function formatPlatform(p: Platform): string {
  const base = [p.os, p.architecture, ...(p.variant ? [p.variant] : [])].join("/");
  return p["os.version"] ? `${base} (${p["os.version"]})` : base;
}

/**
 * Normalises names like containerd does: lowercase, architecture aliases (`x86_64`, `aarch64`,
 * `armhf` …), and default variants made explicit (`arm` → `v7`, `arm64` → `v8`) or dropped
 * where the default is implied (`amd64/v1` → `amd64`). Returns a new object.
 *
 * @example
 * ```ts
 * normalizePlatform({ os: "Linux", architecture: "x86_64" }); // { os: "linux", …: "amd64" }
 * normalizePlatform({ os: "linux", architecture: "arm" }); // { …, variant: "v7" }
 * ```
 */
export function normalizePlatform(p: Platform): Platform {
  let os = p.os.toLowerCase();
  if (os === "macos") os = "darwin";
  let architecture = p.architecture.toLowerCase();
  let variant = (p.variant ?? "").toLowerCase();
  switch (architecture) {
    case "i386":
    case "i686":
      architecture = "386";
      variant = "";
      break;
    case "x86_64":
    case "x86-64":
    case "amd64":
      architecture = "amd64";
      if (variant === "v1") variant = "";
      break;
    case "aarch64":
    case "arm64":
      architecture = "arm64";
      if (variant === "" || variant === "8" || variant === "v8.0") variant = "v8";
      break;
    case "armhf":
      architecture = "arm";
      variant = "v7";
      break;
    case "armel":
      architecture = "arm";
      variant = "v6";
      break;
    case "arm":
      if (variant === "" || variant === "7") variant = "v7";
      else if (/^[5-8]$/.test(variant)) variant = `v${variant}`;
      break;
  }
  const out: Platform = { ...p, architecture, os };
  if (variant === "") delete out.variant;
  else out.variant = variant;
  return out;
}

/**
 * The platform this program runs on, normalised (x86_64 → amd64, aarch64 → arm64/v8).
 *
 * @example
 * ```ts
 * hostPlatform(); // e.g. { os: "linux", architecture: "amd64" }
 * ```
 */
export function hostPlatform(): Platform {
  return normalizePlatform({ os: Deno.build.os, architecture: Deno.build.arch });
}

// "v8.2" -> [8, 2]; undefined for variants that are not versions.
function variantVersion(variant: string): [number, number] | undefined {
  const m = /^v(\d+)(?:\.(\d+))?$/.exec(variant);
  return m ? [Number(m[1]), Number(m[2] ?? 0)] : undefined;
}

const VERSIONED_VARIANT_ARCHES = new Set(["arm", "arm64", "amd64"]);

// How well `have` fits `want`: undefined when it cannot run there, higher is better.
function matchScore(want: Platform, have: Platform): number | undefined {
  const w = normalizePlatform(want);
  const h = normalizePlatform(have);
  if (w.os !== h.os || w.architecture !== h.architecture) return undefined;

  let score: number;
  const wv = w.variant ?? "";
  const hv = h.variant ?? "";
  if (wv === hv) {
    score = 1000;
  } else if (wv === "") {
    // No variant wanted (e.g. amd64): any variant may do, the baseline is preferred above.
    score = 500;
  } else if (hv === "") {
    // The image does not name a variant: assume the architecture's baseline.
    score = 400;
  } else {
    const wn = variantVersion(wv);
    const hn = variantVersion(hv);
    if (!VERSIONED_VARIANT_ARCHES.has(w.architecture) || !wn || !hn) return undefined;
    // An older CPU variant runs on a newer CPU (arm v6 code on a v7 core), not the reverse.
    if (hn[0] > wn[0] || (hn[0] === wn[0] && hn[1] > wn[1])) return undefined;
    score = 900 - ((wn[0] - hn[0]) * 10 + (wn[1] - hn[1]));
  }

  const wantVersion = w["os.version"];
  if (wantVersion !== undefined) {
    const haveVersion = h["os.version"];
    if (haveVersion === wantVersion) score += 2;
    else if (haveVersion !== undefined) return undefined;
  }
  const wantFeatures = w["os.features"];
  if (wantFeatures !== undefined) {
    const haveFeatures = h["os.features"] ?? [];
    if (!haveFeatures.every((f) => wantFeatures.includes(f))) return undefined;
    if (haveFeatures.length === wantFeatures.length) score += 1;
  }
  return score;
}

/**
 * True when an image built for `have` can run where `want` is asked for: same OS and
 * architecture (after normalisation) and a compatible variant (equal, older CPU variant of
 * arm/arm64/amd64, or unspecified on either side). When `want` names an `os.version`, `have`
 * must name none or the same; when `want` names `os.features`, `have` may only require those.
 *
 * @example
 * ```ts
 * platformMatches({ os: "linux", architecture: "arm", variant: "v7" },
 *   { os: "linux", architecture: "arm", variant: "v6" }); // true
 * platformMatches({ os: "linux", architecture: "arm", variant: "v6" },
 *   { os: "linux", architecture: "arm", variant: "v7" }); // false
 * ```
 */
export function platformMatches(want: Platform, have: Platform): boolean {
  return matchScore(want, have) !== undefined;
}

/**
 * Picks the descriptor of an index whose platform suits `want` best: an exact variant beats a
 * compatible one, a matching `os.version`/`os.features` beats none; among equals the first
 * wins (image-index.md). Descriptors without a platform are skipped.
 *
 * @throws {NotFoundError} listing the available platforms when none matches.
 * @example
 * ```ts
 * const manifests = [{
 *   mediaType: "application/vnd.oci.image.manifest.v1+json",
 *   digest: "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270",
 *   size: 7682,
 *   platform: { architecture: "amd64", os: "linux" },
 * }];
 * choosePlatform(manifests, parsePlatform("linux/amd64")); // manifests[0]
 * try {
 *   choosePlatform(manifests, parsePlatform("linux/s390x"));
 * } catch (e) {
 *   // "no image for platform linux/s390x; available: linux/amd64"
 *   console.log((e as Error).message);
 * }
 * ```
 */
export function choosePlatform(descriptors: readonly Descriptor[], want: Platform): Descriptor {
  let best: Descriptor | undefined;
  let bestScore = -1;
  for (const d of descriptors) {
    if (!d.platform) continue;
    const score = matchScore(want, d.platform);
    if (score !== undefined && score > bestScore) {
      best = d;
      bestScore = score;
    }
  }
  if (best) return best;
  const available = descriptors.filter((d) => d.platform).map((d) => formatPlatform(d.platform!));
  throw new NotFoundError(
    `no image for platform ${formatPlatform(normalizePlatform(want))}; available: ${
      available.length > 0 ? [...new Set(available)].join(", ") : "none (no platforms listed)"
    }`,
  );
}
