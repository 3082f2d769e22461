/**
 * The OCI runtime specs ocibox makes, against the tools of record: `defaultSpec` equals `runc
 * spec` (and `runc spec --rootless`) but for the intended changes, `specFromImageConfig` agrees
 * with `umoci unpack` on args, env, cwd, user, annotations and mounts, and runc runs a converted
 * spec with the user, groups, env, cwd and hostname it gives.
 * @module
 */
import assert from "node:assert/strict";
import { UserNotFoundError } from "../lib/errors.ts";
import { type ImageConfigInput, specFromImageConfig } from "../lib/bundle/image_to_spec.ts";
import { DEFAULT_HOSTNAME, defaultSpec } from "../lib/runtime/spec/default_spec.ts";
import { OCI_RUNTIME_SPEC_VERSION, type Spec } from "../lib/runtime/spec/spec_types.ts";
import { peerTest, which } from "./support/peers.ts";

// ---- defaultSpec and `runc spec` -----------------------------------------------------------

const runcPath = which("runc");

async function runcSpec(rootless: boolean): Promise<Spec> {
  const dir = await Deno.makeTempDir({ prefix: "ocibox-runc-spec-" });
  try {
    const args = rootless ? ["spec", "--rootless"] : ["spec"];
    const out = await new Deno.Command(runcPath!, { args, cwd: dir, stderr: "piped" }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    return JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

// runc adds a cgroup namespace only on a cgroup v2 unified host; the root of such a hierarchy
// has cgroup.controllers at /sys/fs/cgroup itself.
async function hostIsCgroup2(): Promise<boolean> {
  try {
    await Deno.stat("/sys/fs/cgroup/cgroup.controllers");
    return true;
  } catch {
    return false;
  }
}

// The fields ocibox changes on purpose; everything else must equal `runc spec` exactly.
function withIntentionalChanges(runc: Spec): Spec {
  return { ...runc, ociVersion: OCI_RUNTIME_SPEC_VERSION, hostname: DEFAULT_HOSTNAME };
}

peerTest(
  "defaultSpec equals `runc spec` except ociVersion and hostname",
  { peers: ["runc"] },
  async () => {
    const ours = defaultSpec({ cgroupNamespace: await hostIsCgroup2() });
    const expected = withIntentionalChanges(await runcSpec(false));
    assert.deepStrictEqual(ours, expected);
    // Same key order too, so a serialised config.json diffs cleanly against runc's.
    assert.equal(JSON.stringify(ours), JSON.stringify(expected));
  },
);

peerTest("defaultSpec({rootless}) equals `runc spec --rootless` except ociVersion and hostname", {
  peers: ["runc"],
}, async () => {
  const ours = defaultSpec({ rootless: true, cgroupNamespace: await hostIsCgroup2() });
  const expected = withIntentionalChanges(await runcSpec(true));
  assert.deepStrictEqual(ours, expected);
  // Same key order too, so a serialised config.json diffs cleanly against runc's.
  assert.equal(JSON.stringify(ours), JSON.stringify(expected));
});

// ---- specFromImageConfig, umoci 0.4.7 and runc ----------------------------------------------

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

const umociPath = which("umoci");

async function umoci(cwd: string, ...args: string[]): Promise<{ ok: boolean; stderr: string }> {
  const out = await new Deno.Command(umociPath ?? "umoci", {
    args,
    cwd,
    stdout: "null",
    stderr: "piped",
  })
    .output();
  return { ok: out.success, stderr: new TextDecoder().decode(out.stderr) };
}

async function mustUmoci(cwd: string, ...args: string[]): Promise<void> {
  const { ok, stderr } = await umoci(cwd, ...args);
  assert.ok(ok, `umoci ${args.join(" ")}: ${stderr}`);
}

async function readConfigBlob(layout: string, tag: string): Promise<ImageConfigInput> {
  const blob = (digest: string) => `${layout}/blobs/${digest.replace(":", "/")}`;
  const index = JSON.parse(await Deno.readTextFile(`${layout}/index.json`));
  const desc = index.manifests.find((m: { annotations?: Record<string, string> }) =>
    m.annotations?.["org.opencontainers.image.ref.name"] === tag
  );
  const manifest = JSON.parse(await Deno.readTextFile(blob(desc.digest)));
  return JSON.parse(await Deno.readTextFile(blob(manifest.config.digest)));
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

interface Scenario {
  tag: string;
  flags: string[];
  /** Adjusts umoci's output for a deliberate difference before comparing. */
  deliberate?: (umociSpec: Spec) => void;
}

const SCENARIOS: Scenario[] = [
  {
    tag: "full",
    flags: [
      "--config.entrypoint=/bin/echo",
      "--config.entrypoint=hi",
      "--config.cmd=a",
      "--config.cmd=b c",
      "--config.env=FOO=bar",
      "--config.env=PATH=/x",
      "--config.workingdir=/srv",
      "--config.user=alice",
      "--config.label=com.example.x=1",
      "--config.label=org.opencontainers.image.author=label-author",
      "--config.exposedports=80/tcp",
      "--config.exposedports=53/udp",
      "--config.exposedports=8080",
      "--config.stopsignal=SIGTERM",
      "--config.volume=/data",
      "--config.volume=/cache",
      "--author=someone",
    ],
    deliberate: (u) => {
      // conversion.md: Config.Labels MUST take precedence; umoci overwrites the label with the
      // `author` field.
      u.annotations!["org.opencontainers.image.author"] = "label-author";
    },
  },
  {
    tag: "numeric",
    flags: ["--config.user=1000", "--config.cmd=id"],
    deliberate: (u) => {
      // conversion.md: SHOULD NOT set additionalGids for a numeric user; umoci (runc's user
      // package) collects uid 1000's memberships anyway.
      delete u.process!.user.additionalGids;
    },
  },
  { tag: "user-group", flags: ["--config.user=alice:staff"] },
  { tag: "uid-gid", flags: ["--config.user=4242:4343"] },
  { tag: "user-gid", flags: ["--config.user=bob:1234"] },
  { tag: "uid-group", flags: ["--config.user=1001:staff"] },
  { tag: "root-groups", flags: ["--config.cmd=sh"] },
  {
    tag: "own-home",
    flags: ["--config.user=alice", "--config.env=HOME=/custom"],
    deliberate: (u) => {
      // conversion.md: SHOULD NOT add env entries whose names are in Config.Env; umoci replaces
      // the image's HOME with the passwd home directory.
      u.process!.env = u.process!.env!.map((e) => e.startsWith("HOME=") ? "HOME=/custom" : e);
    },
  },
];

// Fields compared: process.args, env, cwd, user and annotations, plus the mounts (with volumes
// as umoci's tmpfs mounts). Known differences that need no per-scenario fix-up are normalised
// here, each with its reason.
function assertSameAsUmoci(ours: Spec, umociSpec: Spec, config: ImageConfigInput, tag: string) {
  const msg = (what: string) => `${tag}: ${what}`;
  assert.deepStrictEqual(ours.process?.args, umociSpec.process?.args, msg("args"));
  assert.deepStrictEqual(ours.process?.env, umociSpec.process?.env, msg("env"));
  assert.equal(ours.process?.cwd, umociSpec.process?.cwd, msg("cwd"));
  const norm = (s: Spec) => {
    const { uid, gid, additionalGids } = s.process!.user;
    // umoci writes no additionalGids when there are none (Go omitempty); so do we.
    return { uid, gid, additionalGids: additionalGids ?? [] };
  };
  assert.deepStrictEqual(norm(ours), norm(umociSpec), msg("user"));

  const expected: Record<string, string> = {};
  for (const [key, value] of Object.entries(umociSpec.annotations ?? {})) {
    // umoci writes "" for author, stopSignal and exposedPorts when the image has none; we write
    // only annotations whose fields are set.
    if (value === "") continue;
    expected[key] = value;
  }
  const created = "org.opencontainers.image.created";
  // umoci re-formats `created` through Go's time package; we copy it verbatim as conversion.md
  // says. Both must denote the same instant.
  assert.equal(ours.annotations?.[created], config.created, msg("created is verbatim"));
  assert.equal(
    Date.parse(ours.annotations![created]),
    Date.parse(expected[created]),
    msg("created instant"),
  );
  expected[created] = ours.annotations![created];
  assert.deepStrictEqual(ours.annotations, expected, msg("annotations"));

  // umoci adds volume mounts in Go map order (random); ours are sorted by destination.
  const sortVolumes = (mounts: Spec["mounts"]) => {
    const list = [...(mounts ?? [])];
    return [
      ...list.slice(0, 7),
      ...list.slice(7).sort((a, b) => a.destination < b.destination ? -1 : 1),
    ];
  };
  assert.deepStrictEqual(ours.mounts, sortVolumes(umociSpec.mounts), msg("mounts"));
}

peerTest("specFromImageConfig matches `umoci unpack` (args, env, cwd, user, annotations, mounts)", {
  peers: ["umoci"],
  root: true,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "ocibox-umoci-" });
  try {
    await Deno.mkdir(`${dir}/etc`);
    await Deno.writeTextFile(`${dir}/etc/passwd`, PASSWD);
    await Deno.writeTextFile(`${dir}/etc/group`, GROUP);
    await mustUmoci(dir, "init", "--layout", "L");
    await mustUmoci(dir, "new", "--image", "L:base");
    await mustUmoci(dir, "insert", "--image", "L:base", "etc/passwd", "/etc/passwd");
    await mustUmoci(dir, "insert", "--image", "L:base", "etc/group", "/etc/group");

    const scenarios: Scenario[] = [{ tag: "base", flags: [] }, ...SCENARIOS];
    for (const scenario of scenarios) {
      if (scenario.tag !== "base") {
        await mustUmoci(
          dir,
          "config",
          "--image",
          "L:base",
          "--tag",
          scenario.tag,
          ...scenario.flags,
        );
      }
      const bundle = `${dir}/B-${scenario.tag}`;
      await mustUmoci(dir, "unpack", "--image", `L:${scenario.tag}`, bundle);
      const umociSpec: Spec = JSON.parse(await Deno.readTextFile(`${bundle}/config.json`));
      const config = await readConfigBlob(`${dir}/L`, scenario.tag);
      const ours = specFromImageConfig(config, {
        passwd: await readOptional(`${bundle}/rootfs/etc/passwd`),
        group: await readOptional(`${bundle}/rootfs/etc/group`),
        volumes: "tmpfs",
      });
      scenario.deliberate?.(umociSpec);
      assertSameAsUmoci(ours, umociSpec, config, scenario.tag);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

peerTest("specFromImageConfig and `umoci unpack` agree on images without /etc/passwd", {
  peers: ["umoci"],
  root: true,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "ocibox-umoci-" });
  try {
    await mustUmoci(dir, "init", "--layout", "L");
    await mustUmoci(dir, "new", "--image", "L:base");
    await mustUmoci(dir, "config", "--image", "L:base", "--tag", "num", "--config.user=7:8");
    await mustUmoci(dir, "config", "--image", "L:base", "--tag", "name", "--config.user=nobody");

    await mustUmoci(dir, "unpack", "--image", "L:num", `${dir}/B-num`);
    const umociSpec: Spec = JSON.parse(await Deno.readTextFile(`${dir}/B-num/config.json`));
    const num = await readConfigBlob(`${dir}/L`, "num");
    const ours = specFromImageConfig(num, { volumes: "tmpfs" });
    assertSameAsUmoci(ours, umociSpec, num, "num");

    // Both refuse a user name that cannot be resolved.
    const { ok } = await umoci(dir, "unpack", "--image", "L:name", `${dir}/B-name`);
    assert.equal(ok, false);
    const name = await readConfigBlob(`${dir}/L`, "name");
    assert.throws(() => specFromImageConfig(name), UserNotFoundError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const busyboxPath = which("busybox");

peerTest("runc 1.1.5 runs a converted spec (ociVersion, user, groups, env, cwd, hostname)", {
  peers: ["runc", "busybox"],
  root: true,
}, async () => {
  const bundle = await Deno.makeTempDir({ prefix: "ocibox-runc-run-" });
  const id = `ocibox-test-${crypto.randomUUID()}`;
  try {
    for (const d of ["bin", "etc", "srv"]) {
      await Deno.mkdir(`${bundle}/rootfs/${d}`, { recursive: true });
    }
    await Deno.copyFile(busyboxPath!, `${bundle}/rootfs/bin/busybox`);
    for (const applet of ["sh", "id", "env", "pwd", "hostname", "sort"]) {
      await Deno.symlink("busybox", `${bundle}/rootfs/bin/${applet}`);
    }
    await Deno.writeTextFile(`${bundle}/rootfs/etc/passwd`, PASSWD);
    await Deno.writeTextFile(`${bundle}/rootfs/etc/group`, GROUP);
    const spec = specFromImageConfig(
      image({
        User: "alice",
        Entrypoint: ["/bin/sh", "-c"],
        Cmd: ["id -u; id -g; id -G; pwd; hostname; env | sort"],
        WorkingDir: "/srv",
        Env: ["PATH=/bin", "FOO=bar"],
      }),
      { passwd: PASSWD, group: GROUP },
    );
    await Deno.writeTextFile(`${bundle}/config.json`, JSON.stringify(spec));
    const out = await new Deno.Command(runcPath!, {
      args: ["run", id],
      cwd: bundle,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.deepStrictEqual(stdout.trim().split("\n"), [
      "1000",
      "1000",
      "1000 10 50",
      "/srv",
      "ocibox",
      "FOO=bar",
      "HOME=/home/alice",
      "PATH=/bin",
      "PWD=/srv",
      "SHLVL=1",
      "TERM=xterm",
    ]);
  } finally {
    await new Deno.Command(runcPath!, { args: ["delete", "--force", id], stderr: "null" })
      .output();
    await Deno.remove(bundle, { recursive: true });
  }
});
