import assert from "node:assert/strict";
import { crypt, cryptSupports } from "./libcrypt.ts";

Deno.test("libcrypt: bcrypt and SHA-crypt are there (libxcrypt)", async () => {
  assert.equal(await cryptSupports("bcrypt"), true);
  assert.equal(await cryptSupports("sha256-crypt"), true);
  assert.equal(await cryptSupports("sha512-crypt"), true);
});

Deno.test("libcrypt: a published bcrypt vector, several at once off the main thread", async () => {
  const hash = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
  const outs = await Promise.all([1, 2, 3].map(() => crypt("U*U", hash)));
  assert.deepEqual(outs, [hash, hash, hash]);
  assert.notEqual(await crypt("U*V", hash), hash);
});

Deno.test("libcrypt: failures are null (unknown method, NUL in the phrase)", async () => {
  assert.equal(await crypt("x", "$apr1$abc$def"), null);
  assert.equal(await crypt("a\0b", "$2a$05$CCCCCCCCCCCCCCCCCCCCC."), null);
});
