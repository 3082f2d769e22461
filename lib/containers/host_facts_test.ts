import assert from "node:assert/strict";
import { capabilitiesOf, hardLimitsOf, splitDev } from "./host_facts.ts";

Deno.test("host facts: the bounding set from /proc/self/status", () => {
  // This sandbox's: every capability but CAP_SYS_RESOURCE (24).
  const caps = capabilitiesOf("Name:\tdeno\nCapBnd:\t000001fffeffffff\nCapAmb:\t0\n")!;
  assert.equal(caps.length, 40);
  assert.ok(!caps.includes("CAP_SYS_RESOURCE"));
  assert.ok(caps.includes("CAP_CHECKPOINT_RESTORE"));
  assert.deepEqual(capabilitiesOf("CapBnd:\t0000000000000401\n"), [
    "CAP_CHOWN",
    "CAP_NET_BIND_SERVICE",
  ]);
  assert.equal(capabilitiesOf("Name:\tx\n"), undefined);
});

Deno.test("host facts: hard limits from /proc/self/limits", () => {
  const text = [
    "Limit                     Soft Limit           Hard Limit           Units     ",
    "Max processes             96367                96367                processes ",
    "Max open files            20000                20000                files     ",
  ].join("\n");
  assert.deepEqual(hardLimitsOf(text), { nofile: 20000, nproc: 96367 });
  assert.deepEqual(hardLimitsOf("Max open files  1024  unlimited  files\n"), {
    nofile: undefined,
    nproc: undefined,
  });
});

Deno.test("host facts: device numbers as glibc splits them", () => {
  assert.deepEqual(splitDev(0x0103), { major: 1, minor: 3 }); // /dev/null
  assert.deepEqual(splitDev(0x0ae5), { major: 10, minor: 229 }); // /dev/fuse
  assert.deepEqual(splitDev(0x10300 * 2 ** 32 + 0x01234567), {
    major: 0x10300 & ~0xfff | 0x345,
    minor: 0x67 | (0x01234 & ~0xff) | (0x300 << 20),
  });
});
