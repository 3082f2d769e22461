/**
 * Upload endpoints: `POST /v2/<name>/blobs/uploads/` (end-4a session start, end-4b monolithic
 * with `?digest=`, end-4c `?digest-algorithm=`, end-11 cross-repository mount), and on the
 * session's location `PATCH` (end-5, streamed or chunked with `Content-Range`; 416 out of
 * order), `PUT ?digest=` (end-6, with an optional last chunk), `GET` (end-13 status) and
 * `DELETE` (end-14 cancel).
 *
 * Requests to one session are serialised in this process, so two PATCHes racing on one
 * session cannot both append at the same offset: the second sees the first's end and gets 416.
 *
 * @example
 * ```ts
 * import { handleUploadStart } from "./uploads.ts";
 * // POST /v2/a/blobs/uploads/ -> 202, Location: /v2/a/blobs/uploads/<uuid>, Range: 0-0
 * ```
 * @module
 */

import { errorResponse } from "../../distribution/errors.ts";
import { parseUploadContentRange, uploadRange } from "../../distribution/range.ts";
import { checkRepositoryName } from "../../distribution/names.ts";
import { isDigest, isHashAlgorithm, parseDigest } from "../../digest/digest.ts";
import type { UploadState } from "../storage/registry_store_api.ts";
import { contentLength, guardedBody } from "./body.ts";
import { type ApiContext, type ApiRequest, repoPath } from "./context.ts";
import { emptyResponse, errorForException } from "./respond.ts";

/** Upload ids the store hands out are UUIDs; anything else is unknown without asking it. */
const UPLOAD_ID_RE = /^[A-Za-z0-9_-]{1,128}$/;

const sessionLocks = new Map<string, Promise<unknown>>();

/** Runs `fn` after every earlier call for `key` has settled. */
async function serialised<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const before = sessionLocks.get(key) ?? Promise.resolve();
  const mine = before.then(fn, fn);
  const settled = mine.then(() => {}, () => {});
  sessionLocks.set(key, settled);
  try {
    return await mine;
  } finally {
    if (sessionLocks.get(key) === settled) sessionLocks.delete(key);
  }
}

function sessionHeaders(ctx: ApiContext, state: UploadState): Headers {
  const h = new Headers({
    location: repoPath(state.repository, "blobs", "uploads", state.id),
    range: uploadRange(state.size),
    "docker-upload-uuid": state.id,
    "content-length": "0",
  });
  if (ctx.config.chunkMinLength > 0) {
    h.set("oci-chunk-min-length", String(ctx.config.chunkMinLength));
  }
  return h;
}

function blobCreated(name: string, digest: string): Response {
  return emptyResponse(201, {
    location: repoPath(name, "blobs", digest),
    "docker-content-digest": digest,
  });
}

/** Why `digest` cannot end an upload, or undefined when it can. */
function uploadDigestProblem(digest: string | null): string | undefined {
  if (digest === null || digest === "") return "the digest query parameter is missing";
  if (!isDigest(digest)) return `${JSON.stringify(digest)} is not a valid digest`;
  const { algorithm } = parseDigest(digest);
  if (!isHashAlgorithm(algorithm)) {
    return `digest algorithm ${algorithm} is not supported (sha256, sha512)`;
  }
  return undefined;
}

function bodyOf(req: ApiRequest): ReadableStream<Uint8Array> | undefined {
  const length = contentLength(req.request.headers);
  if (!req.request.body || length === 0) return undefined;
  return req.request.body;
}

async function discardBody(req: ApiRequest): Promise<void> {
  if (req.request.body && !req.request.bodyUsed) await req.request.body.cancel().catch(() => {});
}

/**
 * The length a chunk must have from its headers, or a Response refusing it: 416 when it does
 * not start at the session's end, 400 for a malformed range or a Content-Length disagreeing
 * with it.
 */
function chunkLength(
  ctx: ApiContext,
  req: ApiRequest,
  state: UploadState,
): { length?: number } | Response {
  const length = contentLength(req.request.headers);
  if (Number.isNaN(length)) {
    return errorResponse("SIZE_INVALID", "malformed Content-Length");
  }
  const header = req.request.headers.get("content-range");
  if (header === null) return { length };
  const range = parseUploadContentRange(header);
  if (!range) {
    return errorResponse("BLOB_UPLOAD_INVALID", "malformed Content-Range (want START-END)", {
      contentRange: header,
    });
  }
  if (range.start !== state.size) {
    const h = sessionHeaders(ctx, state);
    h.set("content-type", "application/json");
    h.delete("content-length");
    return errorResponse(
      "BLOB_UPLOAD_INVALID",
      `chunk out of order: it starts at ${range.start}, the upload has ${state.size} bytes`,
      { size: state.size },
      { status: 416, headers: h },
    );
  }
  const declared = range.end - range.start + 1;
  if (length !== undefined && length !== declared) {
    return errorResponse(
      "SIZE_INVALID",
      `Content-Length ${length} does not match Content-Range ${header}`,
    );
  }
  return { length: declared };
}

async function append(
  ctx: ApiContext,
  req: ApiRequest,
  state: UploadState,
  body: ReadableStream<Uint8Array>,
  length: number | undefined,
): Promise<UploadState> {
  const guarded = guardedBody(body, {
    idleMs: ctx.config.bodyIdleTimeoutMs,
    minBytesPerSecond: ctx.config.bodyMinRate,
    length,
    signal: req.signal,
    what: "upload chunk",
  });
  return await ctx.store.appendUpload(state.repository, state.id, state.size, guarded, req.signal);
}

/**
 * Answers `POST /v2/<name>/blobs/uploads/` (end-4a, end-4b, end-4c, end-11).
 */
export async function handleUploadStart(
  ctx: ApiContext,
  req: ApiRequest,
  route: { name: string },
): Promise<Response> {
  const { name } = route;
  const q = req.query;
  try {
    const mount = q.get("mount");
    if (mount !== null) {
      if (!isDigest(mount)) {
        await discardBody(req);
        return errorResponse("DIGEST_INVALID", "invalid digest in mount", { digest: mount });
      }
      const from = q.get("from");
      if (from !== null && await mayMountFrom(ctx, req, from, mount)) {
        await discardBody(req);
        await ctx.store.linkBlob(name, mount);
        return blobCreated(name, mount);
      }
    }
    const algorithm = q.get("digest-algorithm");
    if (algorithm !== null && !isHashAlgorithm(algorithm)) {
      await discardBody(req);
      return errorResponse(
        "DIGEST_INVALID",
        `digest algorithm ${JSON.stringify(algorithm)} is not supported (sha256, sha512)`,
      );
    }
    const digest = q.get("digest");
    if (digest !== null && mount === null) return await monolithic(ctx, req, name, digest);
    await discardBody(req);
    const state = await ctx.store.startUpload(name, { maxSessions: ctx.config.maxUploadSessions });
    return new Response(null, { status: 202, headers: sessionHeaders(ctx, state) });
  } catch (e) {
    return errorForException(e, "NAME_UNKNOWN");
  }
}

/** Whether a mount from `from` may happen: a valid name, pull access there, and the blob. */
async function mayMountFrom(
  ctx: ApiContext,
  req: ApiRequest,
  from: string,
  digest: string,
): Promise<boolean> {
  if (checkRepositoryName(from) !== undefined) return false;
  const allowed = await ctx.authorize(req.request, {
    type: "repository",
    name: from,
    actions: ["pull"],
  });
  if (allowed instanceof Response) {
    await allowed.body?.cancel().catch(() => {});
    return false;
  }
  return await ctx.store.repositoryHasBlob(from, digest);
}

async function monolithic(
  ctx: ApiContext,
  req: ApiRequest,
  name: string,
  digest: string,
): Promise<Response> {
  const problem = uploadDigestProblem(digest);
  if (problem) {
    await discardBody(req);
    return errorResponse("DIGEST_INVALID", problem, { digest });
  }
  const length = contentLength(req.request.headers);
  if (Number.isNaN(length)) {
    await discardBody(req);
    return errorResponse("SIZE_INVALID", "malformed Content-Length");
  }
  let state: UploadState;
  try {
    state = await ctx.store.startUpload(name, { maxSessions: ctx.config.maxUploadSessions });
  } catch (e) {
    await discardBody(req);
    throw e;
  }
  try {
    const body = bodyOf(req);
    if (body) await append(ctx, req, state, body, length);
    await ctx.store.completeUpload(name, state.id, digest);
  } catch (e) {
    await ctx.store.cancelUpload(name, state.id).catch(() => {});
    await discardBody(req);
    return errorForException(e, "BLOB_UPLOAD_UNKNOWN");
  }
  return blobCreated(name, digest);
}

/**
 * Answers requests to an upload session's location (end-5, end-6, end-13, end-14).
 */
export async function handleUpload(
  ctx: ApiContext,
  req: ApiRequest,
  route: { name: string; id: string },
): Promise<Response> {
  const { name, id } = route;
  if (!UPLOAD_ID_RE.test(id)) {
    await discardBody(req);
    return errorResponse("BLOB_UPLOAD_UNKNOWN", undefined, { id });
  }
  try {
    return await serialised(`${name}\0${id}`, () => session(ctx, req, name, id));
  } catch (e) {
    await discardBody(req);
    return errorForException(e, "BLOB_UPLOAD_UNKNOWN");
  }
}

async function session(
  ctx: ApiContext,
  req: ApiRequest,
  name: string,
  id: string,
): Promise<Response> {
  if (req.method === "DELETE") {
    await discardBody(req);
    if (!await ctx.store.cancelUpload(name, id)) {
      return errorResponse("BLOB_UPLOAD_UNKNOWN", undefined, { id });
    }
    return emptyResponse(204);
  }
  let digest: string | null = null;
  if (req.method === "PUT") {
    digest = req.query.get("digest");
    const problem = uploadDigestProblem(digest);
    if (problem) {
      await discardBody(req);
      return errorResponse("DIGEST_INVALID", problem, { digest });
    }
  }
  let state = await ctx.store.uploadState(name, id);
  if (!state) {
    await discardBody(req);
    return errorResponse("BLOB_UPLOAD_UNKNOWN", undefined, { id });
  }
  if (req.method === "GET") {
    return new Response(null, { status: 204, headers: sessionHeaders(ctx, state) });
  }

  const body = bodyOf(req);
  if (req.method === "PATCH" || body) {
    const chunk = chunkLength(ctx, req, state);
    if (chunk instanceof Response) {
      await discardBody(req);
      return chunk;
    }
    if (body) state = await append(ctx, req, state, body, chunk.length);
  }
  if (req.method === "PATCH") {
    return new Response(null, { status: 202, headers: sessionHeaders(ctx, state) });
  }
  await ctx.store.completeUpload(name, id, digest!);
  return blobCreated(name, digest!);
}
