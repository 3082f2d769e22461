import assert from "node:assert/strict";
import { UsageError } from "../errors.ts";
import { parseRunArgs, resolveRunEnv } from "./run_flags.ts";

Deno.test("run flags: flags stop at the image; the rest is the command", () => {
  const r = parseRunArgs(["--rm", "-it", "busybox", "ls", "-l", "--rm"]);
  assert.equal(r.image, "busybox");
  assert.deepEqual(r.command, ["ls", "-l", "--rm"]);
  assert.equal(r.rm, true);
  assert.equal(r.interactive, true);
  assert.equal(r.tty, true);
  assert.equal(r.detach, false);
  const sep = parseRunArgs(["-d", "--", "-weird-image"]);
  assert.equal(sep.image, "-weird-image");
  assert.equal(sep.detach, true);
});

Deno.test("run flags: defaults are podman's", () => {
  const r = parseRunArgs(["img"]);
  assert.equal(r.network, "private");
  assert.equal(r.pull, "missing");
  assert.deepEqual(r.seccomp, { kind: "default" });
  assert.equal(r.readOnlyTmpfs, true);
  assert.equal(r.pidsLimit, undefined);
  assert.deepEqual(r.command, []);
  assert.equal(r.entrypoint, undefined);
});

Deno.test("run flags: values given every way lib/cli/args.ts and podman allow", () => {
  const r = parseRunArgs([
    "-eA=1",
    "-e",
    "HOME",
    "--env=B=",
    "-p8080:80",
    "--publish",
    "127.0.0.1:5353:53/udp",
    "-h",
    "box",
    "--net",
    "none",
    "--rm=false",
    "--privileged=true",
    "-w/srv",
    "-u",
    "app:web",
    "--name=web-1",
    "img",
  ]);
  assert.deepEqual(r.env, [
    { name: "A", value: "1" },
    { name: "HOME", fromHost: true },
    { name: "B", value: "" },
  ]);
  assert.equal(r.hostname, "box");
  assert.equal(r.network, "none");
  assert.equal(r.rm, false);
  assert.equal(r.privileged, true);
  assert.equal(r.workdir, "/srv");
  assert.equal(r.user, "app:web");
  assert.equal(r.name, "web-1");
  // --network none has no ports to publish: podman discards them with a warning.
  assert.deepEqual(r.publish, []);
  assert.match(r.warnings[0], /port mappings have been discarded/);
  // Switches: the last of -x, --x, --x=true|false wins.
  const sw = parseRunArgs(["-it", "--interactive=false", "--read-only-tmpfs=false", "img"]);
  assert.equal(sw.interactive, false);
  assert.equal(sw.tty, true);
  assert.equal(sw.readOnlyTmpfs, false);
  assert.equal(parseRunArgs(["--rm=false", "--rm", "img"]).rm, true);
  assert.equal(parseRunArgs(["-h"]).help, true);
  assert.equal(parseRunArgs(["--help", "img"]).help, true);
});

Deno.test("run flags: mounts keep their command-line order across -v, --mount, --tmpfs", () => {
  const r = parseRunArgs([
    "--tmpfs",
    "/run:size=1m",
    "-v",
    "./data:/data:ro",
    "--mount",
    "type=bind,src=/etc,dst=/host-etc,readonly",
    "-v/x:/y",
    "img",
  ], { cwd: "/home/u" });
  assert.deepEqual(r.mounts.map((m) => m.destination), ["/run", "/data", "/host-etc", "/y"]);
  assert.deepEqual(r.mounts[1], {
    type: "bind",
    source: "/home/u/data",
    destination: "/data",
    readonly: true,
    createSource: true,
    options: ["ro", "rprivate", "rbind"],
  });
  assert.equal(r.mounts[2].type === "bind" && r.mounts[2].createSource, false);
  assert.throws(() => parseRunArgs(["-v", "/a:/m", "--tmpfs", "/m", "img"]), /mounted twice/);
});

Deno.test("run flags: entrypoint, caps, security options, resources", () => {
  const r = parseRunArgs([
    "--entrypoint",
    '["/bin/sh","-c"]',
    "--cap-add",
    "net_raw,sys_admin",
    "--cap-drop=ALL",
    "--security-opt",
    "no-new-privileges",
    "--security-opt",
    "seccomp=/etc/profile.json",
    "--security-opt",
    "label=disable",
    "--memory",
    "64m",
    "--cpus",
    "1.5",
    "--pids-limit",
    "-1",
    "--ulimit",
    "nofile=1024:2048",
    "--ulimit",
    "core=0",
    "--platform",
    "linux/arm64",
    "--pull=never",
    "--read-only",
    "--init",
    "img",
  ]);
  assert.deepEqual(r.entrypoint, ["/bin/sh", "-c"]);
  assert.deepEqual(r.capAdd, ["CAP_NET_RAW", "CAP_SYS_ADMIN"]);
  assert.deepEqual(r.capDrop, ["ALL"]);
  assert.equal(r.noNewPrivileges, true);
  assert.deepEqual(r.seccomp, { kind: "file", path: "/etc/profile.json" });
  assert.equal(r.memory, 64 * 1024 * 1024);
  assert.equal(r.cpus, 1.5);
  assert.equal(r.pidsLimit, "unlimited");
  assert.deepEqual(r.ulimits, [
    { type: "RLIMIT_NOFILE", soft: 1024, hard: 2048 },
    { type: "RLIMIT_CORE", soft: 0, hard: 0 },
  ]);
  assert.equal(r.platform, "linux/arm64");
  assert.equal(r.pull, "never");
  assert.equal(r.readOnly, true);
  assert.equal(r.init, true);
  assert.deepEqual(parseRunArgs(["--entrypoint=", "img"]).entrypoint, []);
  assert.deepEqual(parseRunArgs(["--entrypoint", "/bin/ls -l", "img"]).entrypoint, ["/bin/ls -l"]);
  assert.deepEqual(
    parseRunArgs(["--security-opt", "seccomp=unconfined", "img"]).seccomp,
    { kind: "unconfined" },
  );
  assert.equal(parseRunArgs(["--network", "pasta", "img"]).network, "private");
  assert.equal(parseRunArgs(["--network=bridge", "img"]).network, "private");
});

Deno.test("run flags: bad values are one usage line naming the flag", () => {
  const cases: [string[], RegExp][] = [
    [[], /run needs an IMAGE/],
    [["--bogus", "img"], /unknown option --bogus/],
    [["-e"], /option -e needs a value/],
    [["--memory", "12x", "img"], /^--memory "12x": expected a size/],
    [["--memory", "1k", "img"], /^--memory "1k": the minimum is 6m/],
    [["--cpus", "-1", "img"], /^--cpus "-1"/],
    [["--cpus", "two", "img"], /^--cpus "two"/],
    [["--pids-limit", "lots", "img"], /^--pids-limit "lots"/],
    [["--ulimit", "nofile=10:5", "img"], /^--ulimit "nofile=10:5": the soft limit is above/],
    [["--ulimit", "files=10", "img"], /^--ulimit "files=10": expected NAME=SOFT/],
    [["--cap-add", "FLY", "img"], /^--cap-add "FLY": unknown capability/],
    [["--security-opt", "apparmor=x", "img"], /^--security-opt "apparmor=x"/],
    [["--network", "container:x", "img"], /^--network "container:x"/],
    [["-p", "80", "img"], /^--publish "80": expected \[IP:\]HOST_PORT/],
    [["-p", "8080:99999", "img"], /^--publish "8080:99999": "99999" is not a port/],
    [["-p", "1.2.3:80:80", "img"], /is not an IPv4 address/],
    [["-p", "80:80/sctp", "img"], /the protocol is tcp or udp/],
    [["-p", "80:80", "-p", "80:81", "img"], /host port 80\/tcp is given twice/],
    [["-v", "vol:/data", "img"], /^--volume "vol:\/data": named volumes are not supported/],
    [["-v", "/data", "img"], /anonymous volumes are not supported/],
    [["-v", "/a:rel", "img"], /must be absolute/],
    [["-v", "/a:/b:rx", "img"], /unknown option "rx"/],
    [["-v", "./a:/b", "img"], /host path "\.\/a" must be absolute/],
    [
      ["--mount", "type=volume,dst=/x", "img"],
      /^--mount "type=volume,dst=\/x": expected type=bind/,
    ],
    [["--mount", "type=bind,dst=/x", "img"], /source is missing/],
    [["--mount", "type=tmpfs,dst=/x,tmpfs-mode=9", "img"], /tmpfs-mode takes an octal mode/],
    [["--tmpfs", "/x:bogus", "img"], /unknown tmpfs option "bogus"/],
    [["--entrypoint", "[1]", "img"], /^--entrypoint "\[1\]": not a JSON array/],
    [["--workdir", "rel", "img"], /^--workdir "rel": must be an absolute path/],
    [["--name", "-x", "img"], /--name/],
    [["--hostname", "a b", "img"], /^--hostname "a b"/],
    [["--pull", "sometimes", "img"], /^--pull "sometimes"/],
    [["--platform", "amd64", "img"], /^--platform "amd64"/],
    [["--rm=maybe", "img"], /option --rm takes no value/],
  ];
  for (const [args, message] of cases) {
    assert.throws(() => parseRunArgs(args), (e: unknown) => {
      assert.ok(e instanceof UsageError, `${args.join(" ")}: ${e}`);
      assert.match(e.message, message, args.join(" "));
      assert.ok(!e.message.includes("\n"));
      return true;
    });
  }
});

Deno.test("run flags: env files first, then -e; NAME alone takes the host's value", () => {
  const r = parseRunArgs(["-e", "A=2", "-e", "MISSING", "--env-file", "f.env", "-e", "Y", "img"]);
  const env = resolveRunEnv(r, {
    hostEnv: (n) => ({ Y: "host-y", HOSTONLY: "h" } as Record<string, string>)[n],
    readTextFile: (p) => {
      assert.equal(p, "f.env");
      return '# comment\n\nA=1\nZ=a b "q"\r\nHOSTONLY\n';
    },
  });
  assert.deepEqual(env, ["A=1", 'Z=a b "q"', "HOSTONLY=h", "A=2", "Y=host-y"]);
  assert.throws(
    () =>
      resolveRunEnv(parseRunArgs(["--env-file", "nope", "img"]), {
        hostEnv: () => undefined,
        readTextFile: () => {
          throw new Error("No such file or directory");
        },
      }),
    /^UsageError: --env-file nope: No such file/,
  );
  assert.throws(
    () =>
      resolveRunEnv(parseRunArgs(["--env-file", "bad", "img"]), {
        hostEnv: () => undefined,
        readTextFile: () => "OK=1\n=x\n",
      }),
    /--env-file bad: line 2/,
  );
});
