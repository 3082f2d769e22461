import assert from "node:assert/strict";
import { CAPABILITIES, capabilityMask, capabilityMasks } from "./capabilities.ts";

Deno.test("CAPABILITIES: numbered as in capability.h", () => {
  assert.equal(CAPABILITIES.length, 41);
  assert.equal(CAPABILITIES[0], "CAP_CHOWN");
  assert.equal(CAPABILITIES[10], "CAP_NET_BIND_SERVICE");
  assert.equal(CAPABILITIES[21], "CAP_SYS_ADMIN");
  assert.equal(CAPABILITIES[29], "CAP_AUDIT_WRITE");
  assert.equal(CAPABILITIES[37], "CAP_AUDIT_READ");
  assert.equal(CAPABILITIES[40], "CAP_CHECKPOINT_RESTORE");
});

Deno.test("capabilityMasks: all 41 bits, duplicates counted once", () => {
  const all = capabilityMasks({ bounding: [...CAPABILITIES, "CAP_KILL"] }, []);
  assert.equal(all.bounding, 2 ** 41 - 1);
  assert.equal(capabilityMask([10, 10]), 1024);
  const warnings: string[] = [];
  assert.deepEqual(capabilityMasks(undefined, warnings), {
    bounding: 0,
    effective: 0,
    permitted: 0,
    inheritable: 0,
    ambient: 0,
  });
  assert.deepEqual(warnings, []);
});
