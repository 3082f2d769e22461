import assert from "node:assert/strict";
import { UnsupportedError } from "../../errors.ts";
import {
  MS_I_VERSION,
  MS_POSIXACL,
  parseMountOptions,
  rootPropagationFlags,
} from "./mount_options.ts";
import { MS } from "./ops.ts";

const flags = (...options: string[]) => parseMountOptions(options, "m").flags;

Deno.test("parseMountOptions: every flag option sets, its negation clears", () => {
  const pairs: [string, string, number][] = [
    ["ro", "rw", MS.RDONLY],
    ["nosuid", "suid", MS.NOSUID],
    ["nodev", "dev", MS.NODEV],
    ["noexec", "exec", MS.NOEXEC],
    ["sync", "async", MS.SYNCHRONOUS],
    ["mand", "nomand", MS.MANDLOCK],
    ["noatime", "atime", MS.NOATIME],
    ["nodiratime", "diratime", MS.NODIRATIME],
    ["relatime", "norelatime", MS.RELATIME],
    ["strictatime", "nostrictatime", MS.STRICTATIME],
    ["nosymfollow", "symfollow", MS.NOSYMFOLLOW],
    ["lazytime", "nolazytime", MS.LAZYTIME],
    ["silent", "loud", MS.SILENT],
    ["acl", "noacl", MS_POSIXACL],
    ["iversion", "noiversion", MS_I_VERSION],
  ];
  for (const [set, clear, flag] of pairs) {
    assert.equal(flags(set), flag, set);
    assert.equal(flags(set, clear), 0, clear);
    assert.equal(flags(clear, set), flag, `${clear},${set}`);
  }
  assert.equal(flags("dirsync"), MS.DIRSYNC);
  assert.equal(flags("remount"), MS.REMOUNT);
  assert.equal(flags("bind"), MS.BIND);
  assert.equal(flags("rbind"), MS.BIND | MS.REC);
  assert.equal(flags("defaults"), 0);
});

Deno.test("parseMountOptions: propagation, data and copy-up", () => {
  assert.deepEqual(
    parseMountOptions(
      ["private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable", "runbindable"],
      "m",
    ).propagation,
    [
      MS.PRIVATE,
      MS.REC | MS.PRIVATE,
      MS.SHARED,
      MS.REC | MS.SHARED,
      MS.SLAVE,
      MS.REC | MS.SLAVE,
      MS.UNBINDABLE,
      MS.REC | MS.UNBINDABLE,
    ],
  );
  assert.deepEqual(parseMountOptions(["mode=755", "nosuid", "size=65536k", "tmpcopyup"], "m"), {
    flags: MS.NOSUID,
    propagation: [],
    data: "mode=755,size=65536k",
    copyUp: true,
  });
  assert.deepEqual(parseMountOptions(undefined, "m"), {
    flags: 0,
    propagation: [],
    data: null,
    copyUp: false,
  });
  assert.throws(
    () => parseMountOptions(["ridmap"], "config.json mounts[1]"),
    new UnsupportedError(
      "config.json mounts[1]: idmapped mounts (option ridmap) are not supported",
    ),
  );
});

Deno.test("rootPropagationFlags: runc's mapping, recursive for the r names only", () => {
  assert.equal(rootPropagationFlags("private"), MS.PRIVATE);
  assert.equal(rootPropagationFlags("rslave"), MS.REC | MS.SLAVE);
  assert.equal(rootPropagationFlags("shared"), MS.SHARED);
  assert.equal(rootPropagationFlags("rshared"), MS.REC | MS.SHARED);
  assert.equal(rootPropagationFlags("unbindable"), MS.UNBINDABLE);
  assert.equal(rootPropagationFlags("ro"), undefined);
});
