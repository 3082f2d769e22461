import assert from "node:assert/strict";
import {
  parseBytes,
  parseMountFlag,
  parsePublish,
  parseTmpfs,
  parseUlimit,
  parseVolume,
} from "./run_values.ts";

Deno.test("run values: sizes with binary suffixes, any case", () => {
  assert.equal(parseBytes("--memory", "512"), 512);
  assert.equal(parseBytes("--memory", "64m"), 64 * 1024 ** 2);
  assert.equal(parseBytes("--memory", "64MB"), 64 * 1024 ** 2);
  assert.equal(parseBytes("--memory", "1.5g"), 1.5 * 1024 ** 3);
  assert.equal(parseBytes("--memory", "2k"), 2048);
  assert.throws(() => parseBytes("--memory", "1x"), /expected a size/);
  assert.throws(() => parseBytes("--memory", ""), /expected a size/);
});

Deno.test("run values: volume options as podman writes them", () => {
  // Checked against podman 4.3's config.json for the same flags.
  assert.deepEqual(parseVolume("/v:/f:rw,nosuid,Z").options, ["rw", "nosuid", "rprivate", "rbind"]);
  assert.deepEqual(parseVolume("/v:/g:shared").options, ["rw", "shared", "rbind"]);
  assert.deepEqual(parseVolume("/v:/h:bind,ro").options, ["ro", "rprivate", "bind"]);
  assert.equal(parseVolume("/v/:/h//x/.").destination, "/h/x");
  assert.equal(parseVolume("../up:/x", "/a/b").source, "/a/up");
  assert.throws(() => parseVolume("/v:/x:ro,rw"), /ro and rw given twice/);
  assert.throws(() => parseVolume("/v:/x/../y"), /must not contain ".."/);
});

Deno.test("run values: --mount and --tmpfs options as podman writes them", () => {
  assert.deepEqual(parseMountFlag("type=tmpfs,destination=/scratch,tmpfs-size=1m").options, [
    "size=1m",
    "rw",
    "rprivate",
    "nosuid",
    "nodev",
  ]);
  assert.deepEqual(parseMountFlag("type=tmpfs,dst=/c,ro=true,tmpfs-mode=0700").options, [
    "mode=0700",
    "ro",
    "rprivate",
    "nosuid",
    "nodev",
  ]);
  assert.deepEqual(
    parseMountFlag("type=bind,source=/v,destination=/b,readonly").options,
    ["ro", "rprivate", "rbind"],
  );
  assert.deepEqual(
    parseMountFlag("type=bind,src=/v,target=/e,bind-nonrecursive").options,
    ["rw", "rprivate", "bind"],
  );
  assert.deepEqual(parseTmpfs("/t1").options, ["rw", "rprivate", "nosuid", "nodev"]);
  assert.deepEqual(parseTmpfs("/t2:size=2m,mode=700").options, [
    "size=2m",
    "mode=700",
    "rw",
    "rprivate",
    "nosuid",
    "nodev",
  ]);
  assert.deepEqual(parseTmpfs("/a:ro,noexec").options, [
    "ro",
    "noexec",
    "rprivate",
    "nosuid",
    "nodev",
  ]);
  assert.equal(parseTmpfs("/a:ro").readonly, true);
});

Deno.test("run values: ulimits and published ports", () => {
  assert.deepEqual(parseUlimit("nproc=-1"), { type: "RLIMIT_NPROC", soft: -1, hard: -1 });
  assert.deepEqual(parseUlimit("core=0:unlimited"), { type: "RLIMIT_CORE", soft: 0, hard: -1 });
  assert.throws(() => parseUlimit("core=-1:5"), /soft limit is above/);
  assert.deepEqual(parsePublish("8080:80"), { hostPort: 8080, containerPort: 80, protocol: "tcp" });
  assert.deepEqual(parsePublish("[::1]:8080:80/udp"), {
    hostIp: "::1",
    hostPort: 8080,
    containerPort: 80,
    protocol: "udp",
  });
  assert.deepEqual(parsePublish(":8080:80"), {
    hostPort: 8080,
    containerPort: 80,
    protocol: "tcp",
  });
});
