/**
 * Worker side of off-thread layer decompression (see offthread_inflate.ts): hashes the raw
 * blob, decompresses it and hashes the output (diff_id), sending the output in large batches so
 * that few messages cross between the threads.
 * @module
 */
/// <reference lib="deno.worker" />
import zlib from "node:zlib";
import type { Digester } from "../digest/digester.ts";
import type { InflateReply, InflateRequest } from "./offthread_inflate.ts";

const BATCH = 1 << 20;
const MAX_BATCHES_IN_FLIGHT = 4;
// Batches the main thread sent back once done with them, reused to keep allocation flat.
const spare: Uint8Array[] = [];

interface Job {
  gz?: zlib.Gunzip | zlib.ZstdDecompress;
  blob: Digester;
  diff: Digester;
  rawSize: number;
  batch: Uint8Array;
  fill: number;
  inFlight: number;
  discard: boolean;
  ended: boolean;
  error?: string;
  /** Acknowledgements of raw chunks zlib has not finished with yet. */
  pending: (() => void)[];
}

let job: Job | undefined;

function post(msg: InflateReply, transfer: Transferable[] = []): void {
  self.postMessage(msg, transfer);
}

function flush(j: Job): void {
  if (j.fill === 0 || j.discard) return;
  const out = j.batch.subarray(0, j.fill);
  post({ t: "out", buf: out }, [out.buffer as ArrayBuffer]);
  j.batch = spare.pop() ?? new Uint8Array(BATCH);
  j.fill = 0;
  j.inFlight++;
  if (j.inFlight >= MAX_BATCHES_IN_FLIGHT) j.gz?.pause();
}

function out(chunk: Uint8Array): void {
  const j = job!;
  if (j.discard) return;
  j.diff.update(chunk);
  let off = 0;
  while (off < chunk.length) {
    const take = Math.min(chunk.length - off, BATCH - j.fill);
    // Copied: zlib reuses the memory behind its output chunks.
    j.batch.set(chunk.subarray(off, off + take), j.fill);
    j.fill += take;
    off += take;
    if (j.fill === BATCH) flush(j);
  }
  // zlib has filled this output buffer to its end and moves on to a new one: free it now
  // rather than when the garbage collector notices, which keeps peak memory flat.
  if (chunk.byteOffset + chunk.byteLength === chunk.buffer.byteLength) release(chunk);
}

/** Frees an ArrayBuffer's memory at once (transfer to length 0 detaches and releases it). */
function release(chunk: Uint8Array): void {
  const buffer = chunk.buffer as ArrayBuffer & { transfer?: (n: number) => ArrayBuffer };
  if (typeof buffer.transfer === "function" && !buffer.detached) buffer.transfer(0);
}

function finish(): void {
  const j = job!;
  flush(j);
  const blobDigest = j.blob.digest();
  if (j.error !== undefined) {
    post({ t: "error", message: j.error, blobDigest, blobSize: j.rawSize });
  } else {
    // Output the main thread stopped taking was not all hashed: no diff_id then.
    const diffId = j.discard ? undefined : j.diff.digest();
    post({ t: "done", blobDigest, blobSize: j.rawSize, diffId });
  }
  job = undefined;
}

// The digester is imported only once the handler is set: its backend module may await
// node:crypto's import, and messages that arrive before a handler exists are lost.
let createDigester: typeof import("../digest/digester.ts").createDigester | undefined;
const early: InflateRequest[] = [];
self.onmessage = (e: MessageEvent<InflateRequest>) => {
  if (createDigester) handle(e.data);
  else early.push(e.data);
};
import("../digest/digester.ts").then((digester) => {
  createDigester = digester.createDigester;
  for (const m of early.splice(0)) handle(m);
});

function handle(m: InflateRequest): void {
  switch (m.t) {
    case "ping":
      return post({ t: "ready" });
    case "start": {
      const j: Job = {
        blob: createDigester!(m.blobAlg),
        diff: createDigester!(m.diffAlg),
        rawSize: 0,
        batch: spare.pop() ?? new Uint8Array(BATCH),
        fill: 0,
        inFlight: 0,
        discard: false,
        ended: false,
        pending: [],
      };
      const gz = m.compression === "gzip"
        ? zlib.createGunzip({ chunkSize: 256 << 10 })
        : zlib.createZstdDecompress({ chunkSize: 256 << 10 });
      gz.on("data", out);
      gz.on("end", () => {
        if (job !== j) return;
        j.gz = undefined;
        if (j.ended) finish();
      });
      gz.on("error", (err: Error) => {
        if (job !== j) return;
        j.error ??= err.message;
        j.discard = true;
        j.gz = undefined;
        gz.destroy();
        // Writes zlib will never finish must still be acknowledged, or the sender waits forever.
        for (const ack of j.pending.splice(0)) ack();
        if (j.ended) finish();
      });
      j.gz = gz;
      job = j;
      return;
    }
    case "raw": {
      const j = job!;
      j.rawSize += m.buf.length;
      j.blob.update(m.buf);
      // Acknowledged once zlib took it, so the main thread never sends far ahead.
      if (j.gz) {
        let acked = false;
        const ack = () => {
          if (acked) return;
          acked = true;
          const at = j.pending.indexOf(ack);
          if (at >= 0) j.pending.splice(at, 1);
          post({ t: "rawAck" });
        };
        j.pending.push(ack);
        j.gz.write(m.buf, () => {
          if (!acked) release(m.buf); // zlib is done with it
          ack();
        });
      } else post({ t: "rawAck" });
      return;
    }
    case "end": {
      const j = job!;
      j.ended = true;
      if (j.gz) j.gz.end(); // finish() runs on its "end" event
      else finish();
      return;
    }
    case "outAck": {
      if (m.buf && m.buf.buffer.byteLength === BATCH) spare.push(new Uint8Array(m.buf.buffer));
      const j = job;
      if (!j) return;
      j.inFlight--;
      if (j.inFlight < MAX_BATCHES_IN_FLIGHT) j.gz?.resume();
      return;
    }
    case "discard": {
      // The main thread stopped reading output; keep hashing raw bytes for the verdict.
      const j = job;
      if (!j) return; // already finished
      j.discard = true;
      j.gz?.resume();
      return;
    }
  }
}
