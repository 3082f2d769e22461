import assert from "node:assert/strict";
import { RepositoryClient } from "./client.ts";
import { RegistrySession } from "./session.ts";
import { digestOf } from "../digest/digester.ts";

const SUBJECT = "sha256:" + "a".repeat(64);

/** A registry that has the referrers API (docker-registry 2.8 does not). */
function referrersServer(seen: string[]) {
  const index = {
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [
      {
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        digest: "sha256:" + "b".repeat(64),
        size: 10,
        artifactType: "application/vnd.example.sbom",
      },
      {
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        digest: "sha256:" + "c".repeat(64),
        size: 11,
        artifactType: "application/vnd.example.sig",
      },
    ],
  };
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const url = new URL(req.url);
    seen.push(url.pathname + url.search);
    if (url.pathname === "/v2/") return new Response("{}");
    if (url.pathname === `/v2/app/referrers/${SUBJECT}`) {
      return new Response(JSON.stringify(index), {
        headers: { "content-type": "application/vnd.oci.image.index.v1+json" },
      });
    }
    return new Response("{}", { status: 404 });
  });
}

Deno.test("referrers: the API when the registry has it, filtered by artifactType", async () => {
  const seen: string[] = [];
  const server = referrersServer(seen);
  const session = new RegistrySession({
    host: `127.0.0.1:${server.addr.port}`,
    env: () => undefined,
  });
  try {
    const client = new RepositoryClient(session, "app");
    const all = await client.referrers(SUBJECT);
    assert.deepEqual(all.map((d) => d.artifactType), [
      "application/vnd.example.sbom",
      "application/vnd.example.sig",
    ]);
    const sigs = await client.referrers(SUBJECT, "application/vnd.example.sig");
    assert.equal(sigs.length, 1);
    // No fallback to the tag schema was needed.
    assert.ok(!seen.some((p) => p.includes("/manifests/sha256-")), seen.join(" "));
  } finally {
    session.close();
    await server.shutdown();
  }
});

Deno.test("manifest GET verifies the bytes against Docker-Content-Digest", async () => {
  const body = new TextEncoder().encode('{"schemaVersion":2,"manifests":[]}');
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const url = new URL(req.url);
    if (url.pathname === "/v2/") return new Response("{}");
    return new Response(body, {
      headers: {
        "content-type": "application/vnd.oci.image.index.v1+json",
        // A lying registry (or a tampering proxy): the announced digest is not the bytes'.
        "docker-content-digest": url.pathname.endsWith("/lies") ? SUBJECT : digestOf(body),
      },
    });
  });
  const session = new RegistrySession({
    host: `127.0.0.1:${server.addr.port}`,
    env: () => undefined,
  });
  try {
    const client = new RepositoryClient(session, "app");
    const ok = await client.getManifest("good");
    assert.equal(ok.digest, digestOf(body));
    await assert.rejects(client.getManifest("lies"), /digest mismatch/);
    await assert.rejects(client.getManifest(SUBJECT), /digest mismatch/);
  } finally {
    session.close();
    await server.shutdown();
  }
});
