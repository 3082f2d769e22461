/**
 * From an {@linkcode ImageSource} to one verified image: the top-level manifest, the image
 * manifest chosen for a platform when the top is an index, and the parsed config. Used by
 * inspect, unpack and append.
 * @module
 */
import { verifyBytes } from "../digest/verify.ts";
import { InvalidImageError, LimitExceededError, SizeMismatchError } from "../errors.ts";
import { type ImageConfig, parseImageConfig } from "../image/config.ts";
import type { Descriptor } from "../image/descriptor.ts";
import { parseJsonText } from "../image/json_fields.ts";
import { isImageConfigMediaType } from "../image/media_types.ts";
import {
  type ParsedImageManifest,
  type ParsedManifest,
  parseManifestBytes,
} from "../image/parsed.ts";
import { choosePlatform, hostPlatform, type Platform } from "../image/platform.ts";
import { readAllBytes } from "../io/file_stream.ts";
import type { ImageSource, IoOptions } from "./types.ts";

/** An image read from a source and checked against every digest on the way. */
export interface ResolvedImage {
  /** What the reference names: an image manifest or an index. */
  top: ParsedManifest;
  /** The image manifest (the top itself, or the one chosen from the index). */
  manifest: ParsedImageManifest;
  /** The index entry that was chosen, when the top is an index. */
  chosen?: Descriptor;
  /** The config's original bytes (digests are over these). */
  configBytes: Uint8Array;
  config: ImageConfig;
}

/**
 * How many indexes may stand in a row above an image manifest (the top one included). Real
 * images use one, sometimes two (an index of multi-platform indexes); every walker of an index
 * graph (resolve, copy) stops here, so that a chain of indexes cannot run on without end.
 */
export const MAX_INDEX_DEPTH = 4;
const CONFIG_LIMIT = 16 << 20;

/**
 * The error for an index at `depth` (0 for the top) when that is deeper than
 * {@linkcode MAX_INDEX_DEPTH} allows; undefined when it is not.
 */
export function indexDepthError(srcName: string, depth: number): LimitExceededError | undefined {
  if (depth < MAX_INDEX_DEPTH) return undefined;
  return new LimitExceededError(
    srcName,
    MAX_INDEX_DEPTH,
    `indexes nest more than ${MAX_INDEX_DEPTH} deep (ocibox follows at most ${MAX_INDEX_DEPTH} ` +
      "indexes in a row above an image manifest)",
  );
}

/** Reads the top-level manifest of `src`. */
export async function readTopManifest(src: ImageSource, options: IoOptions = {}) {
  const raw = await src.getManifest(undefined, options);
  return parseManifestBytes(raw.bytes, raw.mediaType || undefined, {
    what: `${src.name}: manifest`,
  });
}

/** Reads the manifest a descriptor names, verifying it against the descriptor. */
export async function readChildManifest(
  src: ImageSource,
  desc: Descriptor,
  options: IoOptions = {},
): Promise<ParsedManifest> {
  const raw = await src.getManifest(desc.digest, options);
  const parsed = parseManifestBytes(raw.bytes, desc.mediaType, {
    expectedDigest: desc.digest,
    what: `${src.name}: manifest ${desc.digest}`,
  });
  if (raw.bytes.length !== desc.size) {
    throw new SizeMismatchError(
      `${src.name}: manifest ${desc.digest}`,
      desc.size,
      raw.bytes.length,
    );
  }
  return parsed;
}

/** Walks from the top-level manifest to the image manifest for `platform` (default: host). */
export async function resolveManifest(
  src: ImageSource,
  options: IoOptions & { platform?: Platform } = {},
): Promise<{ top: ParsedManifest; manifest: ParsedImageManifest; chosen?: Descriptor }> {
  const top = await readTopManifest(src, options);
  let current: ParsedManifest = top;
  let chosen: Descriptor | undefined;
  for (let depth = 0; current.kind === "index"; depth++) {
    const tooDeep = indexDepthError(src.name, depth);
    if (tooDeep) throw tooDeep;
    chosen = choosePlatform(current.index.manifests, options.platform ?? hostPlatform());
    current = await readChildManifest(src, chosen, options);
  }
  return { top, manifest: current, chosen };
}

/** Reads and verifies the config blob a manifest names. */
export async function readConfig(
  src: ImageSource,
  manifest: ParsedImageManifest,
  options: IoOptions = {},
): Promise<{ bytes: Uint8Array; config: ImageConfig }> {
  const desc = manifest.manifest.config;
  if (!isImageConfigMediaType(desc.mediaType)) {
    throw new InvalidImageError(
      src.name,
      `is not a container image: its config has media type ${desc.mediaType}`,
    );
  }
  const bytes = await readAllBytes(await src.getBlob(desc, options), CONFIG_LIMIT, "config");
  verifyBytes(bytes, desc, `${src.name}: config ${desc.digest}`);
  const json = parseJsonText(new TextDecoder().decode(bytes), `${src.name}: config`);
  return { bytes, config: parseImageConfig(json, `${src.name}: config`) };
}

/** Resolves `src` to one image for `platform` with its config. */
export async function resolveImage(
  src: ImageSource,
  options: IoOptions & { platform?: Platform } = {},
): Promise<ResolvedImage> {
  const { top, manifest, chosen } = await resolveManifest(src, options);
  const { bytes, config } = await readConfig(src, manifest, options);
  return { top, manifest, chosen, configBytes: bytes, config };
}
