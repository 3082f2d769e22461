import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { UnsupportedError } from "../errors.ts";
import { createDigester, createDigesterOn, digestOf } from "./digester.ts";
import { backend, libcryptoBackend, nodeBackend } from "./hash_backend.ts";

const EMPTY_JSON_DIGEST = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
const enc = new TextEncoder();
const SIZES = [0, 1, 55, 56, 63, 64, 65, 127, 128, 129, 65536, (1 << 20) + 7];

function random(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(b.subarray(i, i + 65536));
  return b;
}

function nodeDigest(alg: string, data: Uint8Array): string {
  return `${alg}:${createHash(alg).update(data).digest("hex")}`;
}

Deno.test("digestOf hashes {} to the spec's empty descriptor digest", () => {
  assert.equal(digestOf(enc.encode("{}")), EMPTY_JSON_DIGEST);
});

Deno.test("digestOf knows the standard test vectors", () => {
  assert.equal(
    digestOf(new Uint8Array()),
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  );
  assert.equal(
    digestOf(enc.encode("abc"), "sha512"),
    "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a" +
      "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
  );
});

Deno.test("the backend is libcrypto where it is installed, unless OCIBOX_HASH_BACKEND says", () => {
  assert.equal(backend.name, Deno.env.get("OCIBOX_HASH_BACKEND") || "libcrypto");
});

for (const name of ["libcrypto", "node"] as const) {
  const on = async () => {
    const b = name === "node" ? await nodeBackend() : libcryptoBackend();
    assert.ok(b, `${name} backend unavailable`);
    return b;
  };

  for (const alg of ["sha256", "sha512"]) {
    Deno.test(`${name} ${alg}: sizes and random splits equal node:crypto`, async () => {
      const b = await on();
      for (const n of SIZES) {
        const data = random(n);
        const d = createDigesterOn(b, alg);
        d.update(data);
        assert.equal(d.digest(), nodeDigest(alg, data), `${n} bytes`);
      }
      const data = random((2 << 20) + 3);
      for (let round = 0; round < 6; round++) {
        const d = createDigesterOn(b, alg);
        for (let off = 0; off < data.length;) {
          const n = Math.min(data.length - off, Math.floor(Math.random() * (400 << 10)));
          d.update(data.subarray(off, off + n));
          off += n;
        }
        assert.equal(d.size, data.length);
        assert.equal(d.digest(), nodeDigest(alg, data));
      }
    });
  }

  Deno.test(`${name}: digest() mid-stream, then hashing continues`, async () => {
    const d = createDigesterOn(await on(), "sha512");
    d.update(enc.encode("ab"));
    assert.equal(d.digest(), nodeDigest("sha512", enc.encode("ab")));
    assert.equal(d.digest(), nodeDigest("sha512", enc.encode("ab")));
    d.update(enc.encode("c"));
    assert.equal(d.digest(), nodeDigest("sha512", enc.encode("abc")));
    assert.equal(d.size, 3);
  });
}

Deno.test("createDigester refuses blake3 and unknown algorithms", () => {
  assert.throws(() => createDigester("blake3"), UnsupportedError);
  assert.throws(() => digestOf(new Uint8Array(), "md5"), UnsupportedError);
});

Deno.test("OCIBOX_HASH_BACKEND selects the backend; bad values fail clearly", async () => {
  const script = new URL("./hash_backend.ts", import.meta.url).href;
  const run = async (value: string) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `const m = await import(${JSON.stringify(script)}); console.log(m.backend.name)`,
      ],
      env: { OCIBOX_HASH_BACKEND: value },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    return { ok: out.success, out: dec.decode(out.stdout).trim(), err: dec.decode(out.stderr) };
  };
  assert.deepEqual((await run("node")).out, "node");
  assert.deepEqual((await run("libcrypto")).out, "libcrypto");
  assert.deepEqual((await run("")).out, "libcrypto");
  const bad = await run("blake");
  assert.equal(bad.ok, false);
  assert.match(bad.err, /OCIBOX_HASH_BACKEND=blake: expected node or libcrypto/);
});
