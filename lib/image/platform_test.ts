import assert from "node:assert/strict";
import { InvalidImageError, NotFoundError, UsageError } from "../errors.ts";
import type { Descriptor } from "./descriptor.ts";
import {
  choosePlatform,
  formatPlatform,
  hostPlatform,
  normalizePlatform,
  parsePlatform,
  parsePlatformObject,
  type Platform,
  platformMatches,
} from "./platform.ts";

const MANIFEST = "application/vnd.oci.image.manifest.v1+json";

function desc(n: number, platform?: Platform): Descriptor {
  return {
    mediaType: MANIFEST,
    digest: `sha256:${String(n).repeat(64).slice(0, 64)}`,
    size: 100 + n,
    ...(platform ? { platform } : {}),
  };
}

Deno.test("parsePlatform reads os/arch[/variant] and normalises", () => {
  assert.deepEqual(parsePlatform("linux/amd64"), { os: "linux", architecture: "amd64" });
  assert.deepEqual(parsePlatform("linux/x86_64"), { os: "linux", architecture: "amd64" });
  assert.deepEqual(parsePlatform("linux/amd64/v1"), { os: "linux", architecture: "amd64" });
  assert.deepEqual(parsePlatform("linux/amd64/v3"), {
    os: "linux",
    architecture: "amd64",
    variant: "v3",
  });
  assert.deepEqual(parsePlatform("linux/aarch64"), {
    os: "linux",
    architecture: "arm64",
    variant: "v8",
  });
  assert.deepEqual(parsePlatform("linux/arm"), { os: "linux", architecture: "arm", variant: "v7" });
  assert.deepEqual(parsePlatform("linux/arm/6"), {
    os: "linux",
    architecture: "arm",
    variant: "v6",
  });
  assert.deepEqual(parsePlatform("Linux/ARMHF"), {
    os: "linux",
    architecture: "arm",
    variant: "v7",
  });
});

Deno.test("parsePlatform rejects other shapes", () => {
  for (const bad of ["linux", "linux/", "/amd64", "linux/arm/v7/x", "linux/am d64", ""]) {
    assert.throws(() => parsePlatform(bad), UsageError, bad);
  }
});

Deno.test("formatPlatform", () => {
  assert.equal(formatPlatform({ os: "linux", architecture: "arm", variant: "v7" }), "linux/arm/v7");
  assert.equal(
    formatPlatform({ os: "windows", architecture: "amd64", "os.version": "10.0.17763.1" }),
    "windows/amd64 (10.0.17763.1)",
  );
});

Deno.test("hostPlatform maps Deno.build names to GOARCH", () => {
  const p = hostPlatform();
  assert.equal(p.os, Deno.build.os);
  if (Deno.build.arch === "x86_64") assert.deepEqual(p, { os: p.os, architecture: "amd64" });
  if (Deno.build.arch === "aarch64") {
    assert.deepEqual(p, { os: p.os, architecture: "arm64", variant: "v8" });
  }
});

Deno.test("normalizePlatform keeps os.version and os.features", () => {
  assert.deepEqual(
    normalizePlatform({
      os: "windows",
      architecture: "x86-64",
      "os.version": "10.0.14393.1066",
      "os.features": ["win32k"],
    }),
    {
      os: "windows",
      architecture: "amd64",
      "os.version": "10.0.14393.1066",
      "os.features": ["win32k"],
    },
  );
  assert.deepEqual(normalizePlatform({ os: "linux", architecture: "i386" }), {
    os: "linux",
    architecture: "386",
  });
});

Deno.test("platformMatches: arm variants run on newer cores, not older ones", () => {
  const arm = (variant?: string): Platform => ({ os: "linux", architecture: "arm", variant });
  assert.equal(platformMatches(arm("v7"), arm("v7")), true);
  assert.equal(platformMatches(arm("v7"), arm("v6")), true);
  assert.equal(platformMatches(arm("v7"), arm("v5")), true);
  assert.equal(platformMatches(arm("v6"), arm("v7")), false);
  assert.equal(platformMatches(arm("v7"), arm()), true); // arm without variant means v7
  assert.equal(platformMatches(arm("v6"), arm()), false);
  assert.equal(platformMatches(arm("v8"), arm("v7")), true);
});

Deno.test("platformMatches: arm64 defaults to v8 on both sides", () => {
  const arm64 = (variant?: string): Platform => ({ os: "linux", architecture: "arm64", variant });
  assert.equal(platformMatches(arm64(), arm64("v8")), true);
  assert.equal(platformMatches(arm64("v8"), arm64()), true);
  assert.equal(platformMatches({ os: "linux", architecture: "aarch64" }, arm64("v8")), true);
  assert.equal(platformMatches(arm64("v8"), arm64("v8.2")), false);
  assert.equal(platformMatches(arm64("v8.2"), arm64("v8")), true);
  assert.equal(
    platformMatches(arm64(), { os: "linux", architecture: "arm", variant: "v7" }),
    false,
  );
});

Deno.test("platformMatches: os and architecture must agree", () => {
  const want: Platform = { os: "linux", architecture: "amd64" };
  assert.equal(platformMatches(want, { os: "linux", architecture: "x86_64" }), true);
  assert.equal(platformMatches(want, { os: "windows", architecture: "amd64" }), false);
  assert.equal(platformMatches(want, { os: "linux", architecture: "arm64" }), false);
  assert.equal(platformMatches(want, { os: "linux", architecture: "amd64", variant: "v3" }), true);
  assert.equal(
    platformMatches({ ...want, variant: "v2" }, { ...want, variant: "v3" }),
    false,
  );
});

Deno.test("platformMatches honours os.version and os.features when wanted", () => {
  const win: Platform = { os: "windows", architecture: "amd64", "os.version": "10.0.17763.1" };
  assert.equal(platformMatches(win, { ...win }), true);
  assert.equal(platformMatches(win, { os: "windows", architecture: "amd64" }), true);
  assert.equal(platformMatches(win, { ...win, "os.version": "10.0.20348.1" }), false);
  // Not wanted: ignored.
  assert.equal(
    platformMatches({ os: "windows", architecture: "amd64" }, { ...win, "os.features": ["x"] }),
    true,
  );
  const wantFeatures: Platform = {
    os: "windows",
    architecture: "amd64",
    "os.features": ["win32k"],
  };
  assert.equal(platformMatches(wantFeatures, { ...wantFeatures }), true);
  assert.equal(
    platformMatches(wantFeatures, { os: "windows", architecture: "amd64", "os.features": ["gpu"] }),
    false,
  );
});

Deno.test("choosePlatform picks the spec example's amd64 entry", () => {
  const index = [
    desc(1, { architecture: "ppc64le", os: "linux" }),
    desc(2, { architecture: "amd64", os: "linux" }),
  ];
  assert.equal(choosePlatform(index, { os: "linux", architecture: "amd64" }), index[1]);
  assert.equal(choosePlatform(index, parsePlatform("linux/ppc64le")), index[0]);
});

Deno.test("choosePlatform prefers an exact variant over a compatible one", () => {
  const index = [
    desc(5, { architecture: "arm", os: "linux", variant: "v5" }),
    desc(6, { architecture: "arm", os: "linux", variant: "v6" }),
    desc(7, { architecture: "arm", os: "linux", variant: "v7" }),
    desc(8, { architecture: "arm64", os: "linux", variant: "v8" }),
  ];
  assert.equal(choosePlatform(index, parsePlatform("linux/arm/v7")), index[2]);
  assert.equal(choosePlatform(index, parsePlatform("linux/arm/v6")), index[1]);
  assert.equal(choosePlatform(index.slice(0, 2), parsePlatform("linux/arm/v7")), index[1]);
  assert.equal(choosePlatform(index, parsePlatform("linux/arm64")), index[3]);
});

Deno.test("choosePlatform takes the first of equal matches and skips platformless entries", () => {
  const index = [
    desc(1),
    desc(2, { architecture: "amd64", os: "linux" }),
    desc(3, { architecture: "amd64", os: "linux" }),
  ];
  assert.equal(choosePlatform(index, parsePlatform("linux/amd64")), index[1]);
});

Deno.test("choosePlatform prefers a matching os.version", () => {
  const index = [
    desc(1, { architecture: "amd64", os: "windows" }),
    desc(2, { architecture: "amd64", os: "windows", "os.version": "10.0.17763.1" }),
    desc(3, { architecture: "amd64", os: "windows", "os.version": "10.0.20348.1" }),
  ];
  const want: Platform = { os: "windows", architecture: "amd64", "os.version": "10.0.20348.1" };
  assert.equal(choosePlatform(index, want), index[2]);
  assert.equal(choosePlatform(index, { os: "windows", architecture: "amd64" }), index[0]);
});

Deno.test("choosePlatform lists the available platforms on one line", () => {
  const index = [
    desc(1, { architecture: "amd64", os: "linux" }),
    desc(2, { architecture: "arm64", os: "linux", variant: "v8" }),
    desc(3, { architecture: "arm64", os: "linux", variant: "v8" }),
  ];
  assert.throws(() => choosePlatform(index, parsePlatform("linux/s390x")), (e: unknown) => {
    assert.ok(e instanceof NotFoundError);
    assert.equal(
      e.message,
      "no image for platform linux/s390x; available: linux/amd64, linux/arm64/v8",
    );
    return true;
  });
  assert.throws(() => choosePlatform([desc(1)], parsePlatform("linux/amd64")), /none/);
});

Deno.test("parsePlatformObject validates types", () => {
  assert.deepEqual(
    parsePlatformObject(
      { architecture: "amd64", os: "linux", features: ["sse4"], variant: "" },
      "p",
    ),
    { architecture: "amd64", os: "linux", features: ["sse4"] },
  );
  assert.throws(() => parsePlatformObject({ architecture: "amd64" }, "p"), InvalidImageError);
  assert.throws(
    () => parsePlatformObject({ architecture: "amd64", os: "linux", "os.features": "x" }, "p"),
    /"os.features": must be an array/,
  );
});
