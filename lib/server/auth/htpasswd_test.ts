import assert from "node:assert/strict";
import { HtpasswdError, HtpasswdFile, parseHtpasswd, verifyPassword } from "./htpasswd.ts";

// Made by Apache's htpasswd 2.4 (-B -C 4, -2, -5, -s); bob's $2y$ rewritten as $2a$ (the same
// computation for ASCII passwords); fred's is Solar Designer's published vector ("U*U").
const FILE = `# users
alice:$2y$04$6hyjSJeKOmcQZrf1qhO7g.rNVb6CYqBc2RYV5sGtX3ZE0sPH7e7Sa
bob:$2a$04$7p7fJzxuGNZwUlC/kbKBru4ieKYfryZpAL879j8lpGzW4Pqyr3D.O
carol:$5$r8CJClcr4hNY.4QU$aptVkQXN7v73AENjofG5y08kv2t/unY1fDTp6rCooP8

dave:$6$jAfEbDh8v5x2VADm$bZITSIFrRb/JIw0.c5X.Jq4tZpEXy7UqBsnlMoP9udJxIhzFQB2jkdFE3vdsR5bW/m850wPWR.a0fsJRPBRdM.
erin:{SHA}OQOtIhG4uYCQorudHyryFVDCIjQ=\r
fred:$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW
`;

const PASSWORDS: Record<string, string> = {
  alice: "wonder land",
  bob: "bobpw",
  carol: "carolpw",
  dave: "davepw",
  erin: "erinpw",
  fred: "U*U",
};

Deno.test("htpasswd: parses every accepted method, skipping comments and blank lines", () => {
  const users = parseHtpasswd(FILE);
  assert.deepEqual([...users.keys()], ["alice", "bob", "carol", "dave", "erin", "fred"]);
  assert.deepEqual([...users.values()].map((u) => u.scheme), [
    "bcrypt",
    "bcrypt",
    "sha256-crypt",
    "sha512-crypt",
    "sha1",
    "bcrypt",
  ]);
  assert.equal(users.get("carol")!.line, 4);
  assert.equal(users.get("erin")!.hash, "{SHA}OQOtIhG4uYCQorudHyryFVDCIjQ=");
});

Deno.test("htpasswd: refuses apr1, DES, plaintext and malformed lines, naming the line", () => {
  const cases: [string, RegExp][] = [
    ["eve:$apr1$oreomZ27$X6dApnI9DYD5qQB5VKbJ81", /line 1 \(user eve\): Apache MD5/],
    ["gina:OHkmbA/hzv6PQ", /DES crypt/],
    ["frank:plain", /plaintext/],
    ["x:$2y$04$short", /malformed bcrypt/],
    ["x:$y$j9T$abc$def", /unsupported hash method y/],
    ["\n\nnocolon", /line 3: expected user:hash/],
    [":$2y$04$6hyjSJeKOmcQZrf1qhO7g.rNVb6CYqBc2RYV5sGtX3ZE0sPH7e7Sa", /expected user:hash/],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => parseHtpasswd(text, "f"), (e) => {
      assert.ok(e instanceof HtpasswdError);
      assert.equal(e.code, "HTPASSWD_INVALID");
      assert.match(e.message, message);
      return true;
    }, text);
  }
});

Deno.test("htpasswd: verifies fixed vectors through libcrypt, and refuses wrong passwords", async () => {
  const users = parseHtpasswd(FILE);
  for (const [user, password] of Object.entries(PASSWORDS)) {
    assert.equal(await verifyPassword(users.get(user)!, password), true, user);
    assert.equal(await verifyPassword(users.get(user)!, password + "x"), false, user);
    assert.equal(await verifyPassword(users.get(user)!, ""), false, user);
  }
  assert.equal(await verifyPassword(users.get("alice")!, "wonder\0land"), false);
});

Deno.test("htpasswd: a file caches successes, times unknown users like known ones", async () => {
  let calls = 0;
  let t = 1000;
  const file = HtpasswdFile.fromText(FILE, {
    crypt: (phrase, setting) => {
      calls++;
      return Promise.resolve(phrase === "wonder land" ? setting : "$2y$04$nope");
    },
    now: () => t,
    cacheMs: 60_000,
  });
  assert.equal(await file.verify("alice", "wonder land"), true);
  assert.equal(await file.verify("alice", "wonder land"), true);
  assert.equal(calls, 1);
  assert.equal(await file.verify("alice", "other"), false);
  assert.equal(await file.verify("alice", "other"), false);
  assert.equal(calls, 3, "failures are not cached");
  assert.equal(await file.verify("nobody", "wonder land"), false);
  assert.equal(calls, 4, "an unknown user costs a crypt too");
  t += 61_000;
  assert.equal(await file.verify("alice", "wonder land"), true);
  assert.equal(calls, 5, "expired");
});

Deno.test("htpasswd: a changed file is reloaded; a broken change keeps the old users", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/htpasswd`;
    await Deno.writeTextFile(path, "erin:{SHA}OQOtIhG4uYCQorudHyryFVDCIjQ=\n");
    let t = 0;
    const file = await HtpasswdFile.load(path, { now: () => t, recheckMs: 10 });
    assert.deepEqual(file.users, ["erin"]);
    assert.equal(await file.verify("erin", "erinpw"), true);
    await Deno.writeTextFile(path, FILE);
    await Deno.utime(path, 1, 1_000_000);
    t = 100;
    assert.equal(await file.verify("carol", "carolpw"), true);
    assert.equal(file.users.length, 6);
    await Deno.writeTextFile(path, "eve:$apr1$oreomZ27$X6dApnI9DYD5qQB5VKbJ81\n");
    await Deno.utime(path, 1, 2_000_000);
    t = 200;
    const err = console.error;
    const said: string[] = [];
    console.error = (m: string) => said.push(m);
    try {
      assert.equal(await file.verify("carol", "carolpw"), true);
    } finally {
      console.error = err;
    }
    assert.match(said.join("\n"), /not reloaded: .*Apache MD5/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("htpasswd: fingerprints follow the user's hash", async () => {
  const file = HtpasswdFile.fromText(FILE);
  const a = await file.fingerprint("alice");
  assert.match(a!, /^[A-Za-z0-9_-]{16}$/);
  assert.equal(await file.fingerprint("alice"), a);
  assert.notEqual(await file.fingerprint("bob"), a);
  assert.equal(await file.fingerprint("nobody"), undefined);
  const changed = HtpasswdFile.fromText(FILE.replace("alice:$2y$04$6", "alice:$2y$04$7"));
  assert.notEqual(await changed.fingerprint("alice"), a);
});
