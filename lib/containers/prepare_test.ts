import assert from "node:assert/strict";
import { NameInUseError } from "../errors.ts";
import {
  type ContainerRecord,
  listContainers,
  reserveContainer,
} from "../store/container_records.ts";
import { reserveNamed } from "./prepare.ts";

const sha = (c: string) => `sha256:${c.repeat(64)}`;

function record(id: string, name: string): ContainerRecord {
  return {
    id: id.repeat(64),
    name,
    image: "docker.io/library/busybox:latest",
    imageId: sha("1"),
    manifestDigest: sha("2"),
    chainIds: [sha("3")],
    command: ["true"],
    created: "2026-12-01T10:00:00Z",
    runtimeRoot: "/run/ocibox",
    rootfs: "overlay",
    autoRemove: false,
    detached: false,
    ports: [],
    network: "none",
  };
}

Deno.test("reserveNamed: a made-up name taken meanwhile is made up again", async () => {
  const store = await Deno.makeTempDir();
  try {
    await reserveContainer(store, record("a", "calm_otter"));
    const rec = record("b", "calm_otter");
    const names = ["calm_otter", "keen_lynx"];
    await reserveNamed(store, rec, { rename: () => Promise.resolve(names.shift()!) });
    assert.equal(rec.name, "keen_lynx");
    assert.deepEqual((await listContainers(store)).map((c) => c.name).sort(), [
      "calm_otter",
      "keen_lynx",
    ]);
  } finally {
    await Deno.remove(store, { recursive: true });
  }
});

Deno.test("reserveNamed: a chosen name taken is an error", async () => {
  const store = await Deno.makeTempDir();
  try {
    await reserveContainer(store, record("a", "web"));
    await assert.rejects(reserveNamed(store, record("b", "web"), {}), NameInUseError);
  } finally {
    await Deno.remove(store, { recursive: true });
  }
});
