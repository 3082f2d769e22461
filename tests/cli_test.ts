/**
 * The command-line contract, run as a user runs it (`deno run -A main.ts ...` in a child
 * process): exit code 2 for usage errors, 1 for failures, 0 for `--help`/`--version`; every
 * error is exactly one line on stderr starting with `error: ` and nothing on stdout; `--debug`
 * adds a stack trace in front of that line.
 *
 * Commands that print progress (copy, unpack, append) run with `-q` where the test counts
 * stderr lines, so the only line left is the error; one case checks that without `-q` the
 * error is still a single `error: ` line, and the last one.
 * @module
 */
import assert from "node:assert/strict";
import { buildTar, sha256Digest, writeImage } from "./support/images.ts";
import { ocibox, type OciboxResult } from "./support/ocibox_cli.ts";

/** Asserts the one-line error contract: `code`, nothing on stdout, one `error: ` line. */
function assertError(r: OciboxResult, code: 1 | 2, message: RegExp, what: string): void {
  const shown = `${what}: exit ${r.code}, stdout ${JSON.stringify(r.stdout)}, stderr ${
    JSON.stringify(r.stderr)
  }`;
  assert.equal(r.code, code, shown);
  assert.equal(r.signal, null, shown);
  assert.equal(r.stdout, "", shown);
  assert.ok(r.stderr.endsWith("\n"), shown);
  const lines = r.stderr.slice(0, -1).split("\n");
  assert.equal(lines.length, 1, shown);
  assert.ok(lines[0].startsWith("error: "), shown);
  assert.match(lines[0], message, shown);
}

/** A layout with two tagged images, `v1` and `v2`, and the layer tar they share. */
async function twoTagLayout(dir: string): Promise<string> {
  const layout = `${dir}/layout`;
  const tar = buildTar([{ name: "hello.txt", type: "file", data: "hello\n" }]);
  await writeImage(layout, "v1", { layers: [{ tar, compression: "gzip" }] });
  await writeImage(layout, "v2", { layers: [{ tar, compression: "none" }] });
  return layout;
}

Deno.test("cli: usage errors exit 2 with one error line", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ocibox-cli-" });
  try {
    const layout = await twoTagLayout(dir);
    const img = `oci:${layout}:v1`;
    const cases: [string, string[], RegExp][] = [
      ["unknown command", ["frobnicate"], /unknown command "frobnicate"/],
      ["unknown global flag", ["--bogus", "inspect", img], /--bogus/],
      ["unknown inspect flag", ["inspect", "--bogus", img], /--bogus/],
      ["unknown copy flag", ["copy", "--nope", img, `oci:${dir}/o:x`], /--nope/],
      ["unknown unpack flag", ["unpack", "--nope", img, `${dir}/b`], /--nope/],
      ["unknown append flag", ["append", "--nope", `oci:${dir}/o:x`], /--nope/],
      ["flag without its value", ["inspect", img, "--platform"], /--platform/],
      ["boolean flag given a value", ["inspect", "--raw=yes", img], /--raw/],
      ["inspect without an image", ["inspect"], /expected 1 argument, got 0/],
      ["inspect with two images", ["inspect", img, img], /expected 1 argument, got 2/],
      ["copy without a destination", ["copy", img], /expected 2 arguments, got 1/],
      ["unpack without a bundle", ["unpack", img], /expected 2 arguments, got 1/],
      ["append without a destination", ["append", "--layer", dir], /expected 1 argument/],
      ["--platform without arch", ["inspect", "--platform", "linux", img], /invalid platform/],
      ["--platform too long", ["inspect", "--platform", "linux/arm/v7/x", img], /platform/],
      ["--platform with spaces", ["inspect", "--platform", "linux/ arm", img], /platform/],
      [
        "bad --dest-compress-format",
        ["copy", "--dest-compress-format", "lz4", img, `oci:${dir}/o:x`],
        /--dest-compress-format/,
      ],
      [
        "bad append --compression",
        ["append", "--compression", "bzip2", "--layer", dir, `oci:${dir}/o:x`],
        /--compression/,
      ],
      ["--all with --platform", ["copy", "--all", "--platform", "linux/amd64", img, img], /--all/],
      ["oci: without a path", ["inspect", "oci:"], /needs a path/],
      ["oci: with only a tag", ["inspect", "oci::v1"], /needs a path/],
      ["oci-archive: without a path", ["inspect", "oci-archive:"], /needs a path/],
      ["docker-archive: without a path", ["inspect", "docker-archive:"], /needs a path/],
      ["dir: without a path", ["inspect", "dir:"], /needs a path/],
      ["copy to dir: without a path", ["copy", "-q", img, "dir:"], /needs a path/],
      ["unknown transport", ["inspect", "ftp:/x"], /unknown transport "ftp"/],
      ["unknown destination transport", ["copy", "-q", img, "tarball:/x"], /unknown transport/],
      ["no transport at all", ["inspect", layout], /no transport/],
      ["docker-archive bad @N", ["inspect", "docker-archive:/x.tar:@one"], /number after @/],
    ];
    const results = await Promise.all(cases.map(([, args]) => ocibox(args)));
    for (const [i, [what, , message]] of cases.entries()) {
      assertError(results[i], 2, message, what);
    }
    // A usage error writes nothing anywhere.
    for (const name of ["o", "b"]) {
      await assert.rejects(Deno.stat(`${dir}/${name}`), Deno.errors.NotFound, name);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: no command at all is a usage error on stderr, not help on stdout", async () => {
  // An exit code of 2 is a usage error, and every error is one `error: ` line on stderr with
  // nothing on stdout (with --debug a stack trace comes first).
  assertError(await ocibox([]), 2, /command/, "ocibox with no arguments");
  const debug = await ocibox(["--debug"]);
  assert.equal(debug.code, 2, debug.stderr);
  assert.equal(debug.stdout, "");
  assert.match(debug.stderr.trimEnd().split("\n").at(-1)!, /^error: .*command/);
});

Deno.test("cli: flags and locations are checked before any work starts", async () => {
  // copy, unpack and append parse --platform and the destination location only once the work
  // has started: lib/cli/copy.ts prints "Getting image source signatures" and opens the source
  // before it parses --platform (inside copyImage's options) or the destination
  // (openDestination); unpack.ts opens the source before --platform; append.ts opens the base
  // before --platform and builds every layer before it parses the destination. So a usage
  // error next to a missing image is reported as the missing image (exit 1), and a correct
  // source makes a progress line appear before the usage error.
  const dir = await Deno.makeTempDir({ prefix: "ocibox-cli-" });
  try {
    const missing = `oci:${dir}/missing:v1`;
    const layout = await twoTagLayout(dir);
    const cases: [string, string[], RegExp][] = [
      ["copy --platform", ["copy", "--platform", "x", missing, `oci:${dir}/o:x`], /platform/],
      ["copy to dir:", ["copy", missing, "dir:"], /needs a path/],
      ["copy to an unknown transport", ["copy", missing, "tarball:/x"], /unknown transport/],
      ["copy to dir:, source fine", ["copy", `oci:${layout}:v1`, "dir:"], /needs a path/],
      ["unpack --platform", ["unpack", "--platform", "x", missing, `${dir}/b`], /platform/],
      [
        "append --platform",
        ["append", "--base", missing, "--platform", "x", "--layer", dir, `oci:${dir}/o:x`],
        /platform/,
      ],
      ["append to dir:", ["append", "--base", missing, "--layer", dir, "dir:"], /needs a path/],
    ];
    const results = await Promise.all(cases.map(([, args]) => ocibox(args)));
    // Every case is checked and all failures are reported together.
    const failures: string[] = [];
    for (const [i, [what, , message]] of cases.entries()) {
      try {
        assertError(results[i], 2, message, what);
      } catch (e) {
        failures.push((e as Error).message.split("\n")[0]);
      }
    }
    assert.deepEqual(failures, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: failures exit 1 with one error line", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ocibox-cli-" });
  try {
    const layout = await twoTagLayout(dir);
    const corrupt = `${dir}/corrupt`, shape = `${dir}/shape`, noLayoutFile = `${dir}/plain`;
    await Deno.mkdir(corrupt);
    await Deno.writeTextFile(`${corrupt}/oci-layout`, '{"imageLayoutVersion":"1.0.0"}');
    await Deno.writeTextFile(`${corrupt}/index.json`, '{"schemaVersion":2,"manifests":[');
    await Deno.mkdir(shape);
    await Deno.writeTextFile(`${shape}/oci-layout`, '{"imageLayoutVersion":"1.0.0"}');
    await Deno.writeTextFile(`${shape}/index.json`, '{"schemaVersion":2,"manifests":"v1"}');
    await Deno.mkdir(noLayoutFile);
    await Deno.writeTextFile(`${noLayoutFile}/index.json`, '{"schemaVersion":2,"manifests":[]}');
    await Deno.writeTextFile(`${dir}/not-a.tar`, "this is not a tar archive at all\n");
    const missing = `${dir}/missing`;
    const cases: [string, string[], RegExp][] = [
      ["missing layout", ["inspect", `oci:${missing}:v1`], /missing/],
      ["directory that is no layout", ["inspect", `oci:${noLayoutFile}:v1`], /oci-layout/],
      ["missing oci-archive", ["inspect", `oci-archive:${missing}.tar`], /does not exist/],
      ["missing docker-archive", ["inspect", `docker-archive:${missing}.tar`], /does not exist/],
      ["missing dir:", ["inspect", `dir:${missing}`], /does not exist/],
      ["an oci-archive that is no tar", ["inspect", `oci-archive:${dir}/not-a.tar`], /./],
      ["copy from a missing layout", ["copy", "-q", `oci:${missing}:v1`, `oci:${dir}/o:x`], /./],
      ["unpack from a missing layout", ["unpack", "-q", `oci:${missing}:v1`, `${dir}/b`], /./],
      ["index.json not JSON", ["inspect", `oci:${corrupt}:v1`], /index\.json.*JSON/],
      ["index.json of the wrong shape", ["inspect", `oci:${shape}:v1`], /index\.json.*manifests/],
      ["copy from a corrupt layout", ["copy", "-q", `oci:${corrupt}:v1`, `oci:${dir}/o:x`], /JSON/],
      ["copy into a corrupt layout", ["copy", "-q", `oci:${layout}:v1`, `oci:${corrupt}:x`], /./],
      ["an unreachable registry", ["inspect", "docker://127.0.0.1:1/x:y"], /cannot connect/],
    ];
    const results = await Promise.all(cases.map(([, args]) => ocibox(args)));
    for (const [i, [what, , message]] of cases.entries()) {
      assertError(results[i], 1, message, what);
    }
    await assert.rejects(Deno.stat(`${dir}/b`), Deno.errors.NotFound, "no bundle appears");

    // An unknown tag: the message names the tag and lists the ones that exist.
    const r = await ocibox(["inspect", `oci:${layout}:v3`]);
    assertError(r, 1, /"v3"/, "unknown tag");
    assert.match(r.stderr, /\bv1\b/);
    assert.match(r.stderr, /\bv2\b/);
    // No tag in a layout holding two images: it asks for one and lists them too.
    const r2 = await ocibox(["inspect", `oci:${layout}`]);
    assertError(r2, 1, /\bv1\b.*\bv2\b/, "no tag in a two-image layout");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: a tampered blob fails the copy with digest mismatch, expected and actual", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ocibox-cli-" });
  try {
    const tar = buildTar([{ name: "data.txt", type: "file", data: "x".repeat(5000) }]);
    const good = buildTar([{ name: "ok.txt", type: "file", data: "fine\n" }]);
    let tampered = new Uint8Array(0);
    const img = await writeImage(`${dir}/src`, "v1", {
      layers: [{ tar: good, compression: "gzip" }, {
        tar,
        compression: "none",
        tamper: (blob) => {
          tampered = blob.slice();
          tampered[600] ^= 0xff;
          return tampered;
        },
      }],
    });
    const expected = img.layerDigests[1];
    const actual = sha256Digest(tampered);
    for (const dest of [`oci:${dir}/out:v1`, `dir:${dir}/d`, `oci-archive:${dir}/a.tar`]) {
      const r = await ocibox(["copy", "-q", img.ref, dest]);
      assertError(r, 1, /digest mismatch/, `copy to ${dest}`);
      assert.ok(r.stderr.includes(expected), `names the expected digest: ${r.stderr}`);
      assert.ok(r.stderr.includes(actual), `names the actual digest: ${r.stderr}`);
    }
    // Nothing was published: the new layout is gone again, no dir: image, no archive file.
    await assert.rejects(Deno.stat(`${dir}/out`), Deno.errors.NotFound);
    await assert.rejects(Deno.stat(`${dir}/d`), Deno.errors.NotFound);
    await assert.rejects(Deno.stat(`${dir}/a.tar`), Deno.errors.NotFound);
    for await (const e of Deno.readDir(dir)) {
      assert.ok(!e.name.startsWith(".tmp-"), `leftover ${e.name}`);
    }

    // Without -q the progress lines come first; the error is still one line, the last one.
    const loud = await ocibox(["copy", img.ref, `oci:${dir}/out:v1`]);
    assert.equal(loud.code, 1);
    assert.equal(loud.stdout, "");
    const lines = loud.stderr.trimEnd().split("\n");
    assert.equal(lines.filter((l) => l.startsWith("error: ")).length, 1, loud.stderr);
    assert.match(lines[lines.length - 1], /^error: .*digest mismatch/);

    // unpack and inspect --config of a tampered blob fail the same way.
    const u = await ocibox(["unpack", "-q", img.ref, `${dir}/bundle`]);
    assertError(u, 1, /digest mismatch|diff_id/, "unpack of a tampered layer");
    await assert.rejects(Deno.stat(`${dir}/bundle`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: unpack into a non-empty directory is a failure (exit 1), not a usage error", async () => {
  // lib/bundle/unpack_bundle.ts throws UsageError (exit 2) here, but the command line was
  // fine: the file system holds something in the way, which is a failure (exit 1).
  const dir = await Deno.makeTempDir({ prefix: "ocibox-cli-" });
  try {
    const layout = await twoTagLayout(dir);
    await Deno.mkdir(`${dir}/bundle`);
    await Deno.writeTextFile(`${dir}/bundle/keep.txt`, "mine\n");
    const r = await ocibox(["unpack", "-q", `oci:${layout}:v1`, `${dir}/bundle`]);
    assertError(r, 1, /bundle/, "unpack into a non-empty directory");
    const names = [];
    for await (const e of Deno.readDir(`${dir}/bundle`)) names.push(e.name);
    assert.deepEqual(names, ["keep.txt"], "the directory is untouched");
    assert.equal(await Deno.readTextFile(`${dir}/bundle/keep.txt`), "mine\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: --debug adds a stack trace before the one error line", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ocibox-cli-" });
  try {
    const layout = await twoTagLayout(dir);
    const plain = await ocibox(["inspect", `oci:${layout}:nope`]);
    assertError(plain, 1, /"nope"/, "without --debug");
    assert.doesNotMatch(plain.stderr, /^\s+at /m);
    for (
      const [args, code] of [
        [["--debug", "inspect", `oci:${layout}:nope`], 1],
        [["--debug", "frobnicate"], 2],
        [["--debug", "inspect", "--platform", "x", `oci:${layout}:v1`], 2],
      ] as const
    ) {
      const r = await ocibox(args);
      assert.equal(r.code, code, r.stderr);
      assert.equal(r.stdout, "");
      const lines = r.stderr.trimEnd().split("\n");
      assert.ok(lines.length > 2, `a stack trace: ${r.stderr}`);
      assert.ok(lines.some((l) => /^\s+at .+:\d+:\d+\)?$/.test(l)), r.stderr);
      assert.equal(lines.filter((l) => l.startsWith("error: ")).length, 1, r.stderr);
      assert.match(lines[lines.length - 1], /^error: /);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: --version and --help exit 0 on stdout", async () => {
  const cases: [string[], RegExp][] = [
    [["--version"], /^ocibox version \d+\.\d+\.\d+\n$/],
    [["--help"], /^ocibox: .*\n[\s\S]*Usage: ocibox[\s\S]*Commands:/],
    [["-h"], /Commands:/],
    [["help"], /Commands:/],
    [["--debug", "--version"], /^ocibox version /],
    [["inspect", "--help"], /^Usage: ocibox inspect/],
    [["copy", "-h"], /^Usage: ocibox copy/],
    [["unpack", "--help"], /^Usage: ocibox unpack/],
    [["append", "--help"], /^Usage: ocibox append/],
    // --help wins over anything else on the line, even what would be a usage error.
    [["copy", "--help", "--bogus"], /^Usage: ocibox copy/],
    [["inspect", "oci:", "--help"], /^Usage: ocibox inspect/],
  ];
  const results = await Promise.all(cases.map(([args]) => ocibox(args)));
  for (const [i, [args, out]] of cases.entries()) {
    const r = results[i];
    assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
    assert.equal(r.stderr, "", args.join(" "));
    assert.match(r.stdout, out, args.join(" "));
  }
});
