import assert from "node:assert/strict";
import { ConfigInvalidError, NameInUseError, NotFoundError } from "../errors.ts";
import {
  chainIdsInUse,
  type ContainerRecord,
  containersByImage,
  imagesInUse,
  isValidContainerName,
  listContainers,
  parseContainerRecord,
  readContainer,
  removeContainerDir,
  reserveContainer,
  serializeContainerRecord,
  writeContainer,
} from "./container_records.ts";

const sha = (c: string) => `sha256:${c.repeat(64)}`;

function record(over: Partial<ContainerRecord> = {}): ContainerRecord {
  return {
    id: "a".repeat(64),
    name: "web",
    image: "docker.io/library/busybox:latest",
    imageId: sha("1"),
    manifestDigest: sha("2"),
    chainIds: [sha("3"), sha("4")],
    command: ["sh", "-c", "echo hi"],
    created: "2026-12-01T10:00:00Z",
    runtimeRoot: "/run/ocibox",
    rootfs: "overlay",
    autoRemove: false,
    detached: true,
    ports: [{ hostIp: "127.0.0.1", hostPort: 8080, containerPort: 80, protocol: "tcp" }],
    network: "private",
    ...over,
  };
}

async function withStore(fn: (store: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a record round-trips through its JSON", () => {
  const rec = record();
  const bytes = serializeContainerRecord(rec);
  assert.equal(new TextDecoder().decode(bytes).at(-1), "\n");
  assert.deepEqual(parseContainerRecord(JSON.parse(new TextDecoder().decode(bytes)), "x"), rec);
  const noIp = record({ ports: [{ hostPort: 1, containerPort: 2, protocol: "udp" }] });
  assert.deepEqual(parseContainerRecord(JSON.parse(JSON.stringify(noIp)), "x"), noIp);
});

Deno.test("parseContainerRecord names the bad field", () => {
  const bad: [Partial<Record<keyof ContainerRecord, unknown>>, RegExp][] = [
    [{ id: "abc" }, /id/],
    [{ name: "-x" }, /name/],
    [{ imageId: "sha256:zz" }, /imageId/],
    [{ chainIds: ["x"] }, /chainIds/],
    [{ command: "sh" }, /command/],
    [{ rootfs: "bind" }, /rootfs/],
    [{ autoRemove: "yes" }, /autoRemove/],
    [{ network: "bridge" }, /network/],
    [{ ports: [{ hostPort: 70000, containerPort: 1, protocol: "tcp" }] }, /ports\[0\]/],
    [{ ports: [{ hostPort: 1, containerPort: 1, protocol: "sctp" }] }, /protocol/],
  ];
  for (const [over, re] of bad) {
    assert.throws(
      () => parseContainerRecord({ ...record(), ...over }, "c.json"),
      (e) =>
        e instanceof ConfigInvalidError && re.test(e.message) && e.message.startsWith("c.json"),
      JSON.stringify(over),
    );
  }
  assert.throws(() => parseContainerRecord([], "c.json"), ConfigInvalidError);
});

Deno.test("container names follow podman's rule", () => {
  assert.ok(isValidContainerName("web-1.a_b"));
  assert.ok(!isValidContainerName(""));
  assert.ok(!isValidContainerName("_x"));
  assert.ok(!isValidContainerName("a/b"));
});

Deno.test("records are written, listed, found by id, name or prefix, and removed", () =>
  withStore(async (store) => {
    assert.deepEqual(await listContainers(store), []); // no containers/ yet
    const a = record();
    const b = record({ id: "ab".repeat(32), name: "db", created: "2026-12-01T09:00:00Z" });
    await writeContainer(store, a);
    await writeContainer(store, b);
    // A directory being made (no record yet) is not a container.
    await Deno.mkdir(`${store}/containers/${"c".repeat(64)}`);
    assert.deepEqual((await listContainers(store)).map((c) => c.name), ["db", "web"]);
    assert.equal((await readContainer(store, a.id)).name, "web");
    assert.equal((await readContainer(store, "db")).id, b.id);
    assert.equal((await readContainer(store, "aaa")).name, "web");
    await assert.rejects(readContainer(store, "a"), /matches 2 containers/); // "a" and "ab…"
    await assert.rejects(readContainer(store, "nope"), NotFoundError);
    const st = await Deno.stat(`${store}/containers/${a.id}/container.json`);
    assert.equal(st.mode! & 0o777, 0o600);
    await writeContainer(store, { ...a, detached: false });
    assert.equal((await readContainer(store, "web")).detached, false);
    await removeContainerDir(store, a.id);
    await removeContainerDir(store, a.id); // gone already: fine
    assert.deepEqual((await listContainers(store)).map((c) => c.name), ["db"]);
  }));

Deno.test("writeContainer refuses a record that could not be read back", () =>
  withStore(async (store) => {
    await assert.rejects(writeContainer(store, record({ network: "x" as "none" })), /network/);
    assert.deepEqual(await listContainers(store), []);
  }));

Deno.test("reserveContainer refuses a name or id in use, and runs the check under the lock", () =>
  withStore(async (store) => {
    await reserveContainer(store, record());
    await assert.rejects(
      reserveContainer(store, record({ id: "b".repeat(64) })),
      (e) => e instanceof NameInUseError && /"web"/.test(e.message),
    );
    await assert.rejects(reserveContainer(store, record({ name: "other" })), NameInUseError);
    await assert.rejects(
      reserveContainer(store, record({ id: "c".repeat(64), name: "c" }), {
        check: () => Promise.reject(new NotFoundError("image gone")),
      }),
      /image gone/,
    );
    assert.deepEqual((await listContainers(store)).map((c) => c.name), ["web"]);
    // Two at once with one name: exactly one wins.
    const results = await Promise.allSettled([
      reserveContainer(store, record({ id: "d".repeat(64), name: "same" })),
      reserveContainer(store, record({ id: "e".repeat(64), name: "same" })),
    ]);
    assert.deepEqual(results.map((r) => r.status).sort(), ["fulfilled", "rejected"]);
  }));

Deno.test("imagesInUse, containersByImage and chainIdsInUse", () =>
  withStore(async (store) => {
    await writeContainer(store, record());
    await writeContainer(store, record({ id: "b".repeat(64), name: "b", chainIds: [sha("5")] }));
    await writeContainer(
      store,
      record({ id: "c".repeat(64), name: "c", imageId: sha("9"), chainIds: [] }),
    );
    assert.deepEqual(await imagesInUse(store), new Set([sha("1"), sha("9")]));
    assert.deepEqual((await containersByImage(store)).get(sha("1"))?.sort(), ["b", "web"]);
    assert.deepEqual(await chainIdsInUse(store), new Set([sha("3"), sha("4"), sha("5")]));
  }));
