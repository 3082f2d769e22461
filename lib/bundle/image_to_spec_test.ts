import assert from "node:assert/strict";
import { InvalidImageError, UnsupportedError, UserNotFoundError } from "../errors.ts";
import { defaultSpec } from "../runtime/spec/default_spec.ts";
import { type ImageConfigInput, specFromImageConfig } from "./image_to_spec.ts";

const PASSWD = [
  "root:x:0:0:root:/root:/bin/sh",
  "alice:x:1000:1000:Alice:/home/alice:/bin/sh",
  "bob:x:1001:1001::/home/bob:/bin/sh",
  "",
].join("\n");
const GROUP = [
  "root:x:0:",
  "wheel:x:10:alice,bob,root",
  "alice:x:1000:",
  "bob:x:1001:",
  "staff:x:50:alice",
  "",
].join("\n");

function image(config: ImageConfigInput["config"], extra: Partial<ImageConfigInput> = {}) {
  return { architecture: "amd64", os: "linux", ...extra, config };
}

Deno.test("specFromImageConfig: args are Entrypoint + Cmd, cwd is WorkingDir or /", () => {
  const spec = specFromImageConfig(
    image({ Entrypoint: ["/bin/echo", "a"], Cmd: ["b"], WorkingDir: "/srv" }),
  );
  assert.deepStrictEqual(spec.process?.args, ["/bin/echo", "a", "b"]);
  assert.equal(spec.process?.cwd, "/srv");
  assert.deepStrictEqual(specFromImageConfig(image({ Cmd: ["ls"] })).process?.args, ["ls"]);
  assert.deepStrictEqual(specFromImageConfig(image({ Entrypoint: ["x"] })).process?.args, ["x"]);
  assert.equal(specFromImageConfig(image({ Cmd: ["ls"] })).process?.cwd, "/");
  // Docker writes null for cleared fields.
  const nulls = specFromImageConfig(image({ Entrypoint: null, Cmd: ["y"], Labels: null }));
  assert.deepStrictEqual(nulls.process?.args, ["y"]);
});

Deno.test("specFromImageConfig: no args keeps ['sh'] like umoci unless requireArgs", () => {
  assert.deepStrictEqual(specFromImageConfig(image({})).process?.args, ["sh"]);
  assert.deepStrictEqual(specFromImageConfig(image(undefined)).process?.args, ["sh"]);
  assert.throws(
    () => specFromImageConfig(image({ Entrypoint: [], Cmd: [] }), { requireArgs: true }),
    InvalidImageError,
  );
});

Deno.test("specFromImageConfig: env overrides defaults by name, keeps the rest, adds HOME", () => {
  const spec = specFromImageConfig(
    image({ Env: ["FOO=bar", "PATH=/x", "EMPTY=", "FOO=again"], User: "alice" }),
    { passwd: PASSWD, group: GROUP },
  );
  assert.deepStrictEqual(spec.process?.env, [
    "PATH=/x",
    "TERM=xterm",
    "FOO=again",
    "EMPTY=",
    "HOME=/home/alice",
  ]);
  const own = specFromImageConfig(image({ Env: ["HOME=/custom"] }), { passwd: PASSWD });
  assert.deepStrictEqual(own.process?.env?.filter((e) => e.startsWith("HOME=")), [
    "HOME=/custom",
  ]);
  assert.throws(() => specFromImageConfig(image({ Env: ["NOEQUALS"] })), InvalidImageError);
  assert.throws(() => specFromImageConfig(image({ Env: ["=value"] })), InvalidImageError);
});

Deno.test("specFromImageConfig: user resolution, rootless drops additionalGids", () => {
  const opts = { passwd: PASSWD, group: GROUP };
  assert.deepStrictEqual(specFromImageConfig(image({ User: "alice" }), opts).process?.user, {
    uid: 1000,
    gid: 1000,
    additionalGids: [10, 50],
  });
  assert.deepStrictEqual(specFromImageConfig(image({ User: "1000:50" }), opts).process?.user, {
    uid: 1000,
    gid: 50,
  });
  assert.deepStrictEqual(specFromImageConfig(image({})).process?.user, { uid: 0, gid: 0 });
  const rootless = specFromImageConfig(image({ User: "alice" }), {
    ...opts,
    rootless: true,
    hostUid: 1000,
    hostGid: 1000,
  });
  assert.deepStrictEqual(rootless.process?.user, { uid: 1000, gid: 1000 });
  assert.deepStrictEqual(rootless.linux?.uidMappings, [{ containerID: 0, hostID: 1000, size: 1 }]);
  assert.throws(() => specFromImageConfig(image({ User: "mallory" }), opts), UserNotFoundError);
  assert.throws(() => specFromImageConfig(image({ User: "alice" })), UserNotFoundError);
});

Deno.test("specFromImageConfig: implicit annotations, Labels take precedence", () => {
  const spec = specFromImageConfig(
    image(
      {
        Labels: { "com.example": "1", "org.opencontainers.image.author": "from-label" },
        StopSignal: "SIGRTMIN+3",
        ExposedPorts: { "8080": {}, "53/udp": {}, "80/tcp": {} },
      },
      {
        architecture: "arm64",
        variant: "v8",
        "os.version": "6.1",
        "os.features": ["a", "b"],
        author: "from-field",
        created: "2024-01-02T03:04:05.123456789+01:00",
      },
    ),
    { manifestAnnotations: { "org.opencontainers.image.os": "manifest", "m.only": "m" } },
  );
  assert.deepStrictEqual(spec.annotations, {
    "org.opencontainers.image.os": "linux",
    "m.only": "m",
    "org.opencontainers.image.architecture": "arm64",
    "org.opencontainers.image.variant": "v8",
    "org.opencontainers.image.os.version": "6.1",
    "org.opencontainers.image.os.features": "a,b",
    "org.opencontainers.image.author": "from-label",
    "org.opencontainers.image.created": "2024-01-02T03:04:05.123456789+01:00",
    "org.opencontainers.image.stopSignal": "SIGRTMIN+3",
    "org.opencontainers.image.exposedPorts": "53/udp,80/tcp,8080",
    "com.example": "1",
  });
  // Absent fields give no annotation at all.
  assert.deepStrictEqual(specFromImageConfig(image({})).annotations, {
    "org.opencontainers.image.os": "linux",
    "org.opencontainers.image.architecture": "amd64",
  });
});

Deno.test("specFromImageConfig: volumes ignored by default, tmpfs on request", () => {
  const img = image({ Volumes: { "/data": {}, "/cache": {} } });
  assert.deepStrictEqual(specFromImageConfig(img).mounts, defaultSpec().mounts);
  const mounts = specFromImageConfig(img, { volumes: "tmpfs" }).mounts ?? [];
  assert.deepStrictEqual(mounts.slice(-2), [
    {
      destination: "/cache",
      type: "tmpfs",
      source: "none",
      options: ["rw", "nosuid", "nodev", "noexec", "relatime"],
    },
    {
      destination: "/data",
      type: "tmpfs",
      source: "none",
      options: ["rw", "nosuid", "nodev", "noexec", "relatime"],
    },
  ]);
});

Deno.test("specFromImageConfig: terminal off, rootfs writable, rest is the default spec", () => {
  const spec = specFromImageConfig(image({ Cmd: ["x"] }));
  assert.equal(spec.process?.terminal, false);
  assert.deepStrictEqual(spec.root, { path: "rootfs", readonly: false });
  assert.deepStrictEqual(spec.linux, defaultSpec().linux);
  assert.equal(spec.hostname, "ocibox");
  const ro = specFromImageConfig(image({}), { readonlyRootfs: true, terminal: true });
  assert.deepStrictEqual(ro.root, { path: "rootfs", readonly: true });
  assert.equal(ro.process?.terminal, true);
});

Deno.test("specFromImageConfig: non-linux images are unsupported", () => {
  assert.throws(
    () => specFromImageConfig({ architecture: "amd64", os: "windows" }),
    UnsupportedError,
  );
});

Deno.test("specFromImageConfig: a relative WorkingDir is refused", () => {
  assert.throws(
    () =>
      specFromImageConfig({
        architecture: "amd64",
        os: "linux",
        config: { WorkingDir: "srv/app" },
      }),
    new InvalidImageError("image config", 'Config.WorkingDir "srv/app" is not an absolute path'),
  );
});

Deno.test("specFromImageConfig: 100k Env entries, each name once, in one pass", () => {
  // Quadratic merging took minutes here (and held off SIGTERM, the event loop being busy).
  const Env = Array.from({ length: 100_000 }, (_, i) => `V${i % 50_000}=${i}`);
  const env = specFromImageConfig({ architecture: "amd64", os: "linux", config: { Env } }).process!
    .env!;
  assert.equal(env.length, 50_000 + 2); // the defaults PATH and TERM, then each name once
  assert.equal(env.find((e) => e.startsWith("V7=")), "V7=50007");
});
