import assert from "node:assert/strict";
import { InvalidImageError } from "../errors.ts";
import { nonEmptyHistoryCount, parseImageConfig } from "./config.ts";

// config.md "Example".
const OCI_EXAMPLE = `{
    "created": "2015-10-31T22:22:56.015925234Z",
    "author": "Alyssa P. Hacker <alyspdev@example.com>",
    "architecture": "amd64",
    "os": "linux",
    "config": {
        "User": "alice",
        "ExposedPorts": {
            "8080/tcp": {}
        },
        "Env": [
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "FOO=oci_is_a",
            "BAR=well_written_spec"
        ],
        "Entrypoint": [
            "/bin/my-app-binary"
        ],
        "Cmd": [
            "--foreground",
            "--config",
            "/etc/my-app.d/default.cfg"
        ],
        "Volumes": {
            "/var/job-result-data": {},
            "/var/log/my-app-logs": {}
        },
        "WorkingDir": "/home/alice",
        "Labels": {
            "com.example.project.git.url": "https://example.com/project.git",
            "com.example.project.git.commit": "45a939b2999782a3f005621a8d0f29aa387e1d6b"
        }
    },
    "rootfs": {
      "diff_ids": [
        "sha256:c6f988f4874bb0add23a778f753c65efe992244e148a1d2ec2a8b664fb66bbd1",
        "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"
      ],
      "type": "layers"
    },
    "history": [
      {
        "created": "2015-10-31T22:22:54.690851953Z",
        "created_by": "/bin/sh -c #(nop) ADD file:a3bc1e842b69636f9df5256c49c5374fb4eef1e281fe3f282c65fb853ee171c5 in /"
      },
      {
        "created": "2015-10-31T22:22:55.613815829Z",
        "created_by": "/bin/sh -c #(nop) CMD [\\"sh\\"]",
        "empty_layer": true
      },
      {
        "created": "2015-10-31T22:22:56.329850019Z",
        "created_by": "/bin/sh -c apk add curl"
      }
    ]
}`;

// A typical Docker-built config (docker_version, container_config, Healthcheck, OnBuild, Shell).
const DOCKER_CONFIG = {
  architecture: "amd64",
  config: {
    Hostname: "",
    Domainname: "",
    User: "",
    AttachStdin: false,
    Tty: false,
    Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
    Cmd: ["/bin/sh"],
    Healthcheck: {
      Test: ["CMD-SHELL", "/usr/bin/check-health localhost"],
      Interval: 30000000000,
      Timeout: 10000000000,
      Retries: 3,
      StartInterval: 3000000000,
    },
    ArgsEscaped: true,
    Image: "sha256:6986ae504bbf843512d680cc959484452034965db15f75ee8bdd1b107f61500b",
    Volumes: null,
    WorkingDir: "",
    Entrypoint: null,
    OnBuild: null,
    Labels: null,
    Shell: ["/bin/bash", "-c"],
    StopSignal: "SIGRTMIN+3",
  },
  container: "3b1c4d6b2b0e",
  container_config: {
    Hostname: "3b1c4d6b2b0e",
    Cmd: ["/bin/sh", "-c", "#(nop) ", 'CMD ["/bin/sh"]'],
  },
  created: "2023-05-09T23:11:10.132147526Z",
  docker_version: "20.10.23",
  history: [{ created: "2023-05-09T23:11:10.007217553Z", created_by: "/bin/sh -c #(nop) ADD" }],
  os: "linux",
  rootfs: {
    type: "layers",
    diff_ids: ["sha256:bb01bd7e32b58b6694c8c3622c230171f1cec24001a82068a8d30d338f420d6c"],
  },
};

Deno.test("parses config.md's example", () => {
  const c = parseImageConfig(JSON.parse(OCI_EXAMPLE), "config");
  assert.equal(c.created, "2015-10-31T22:22:56.015925234Z");
  assert.equal(c.author, "Alyssa P. Hacker <alyspdev@example.com>");
  assert.equal(c.architecture, "amd64");
  assert.equal(c.os, "linux");
  assert.equal(c.config?.User, "alice");
  assert.deepEqual(c.config?.ExposedPorts, { "8080/tcp": {} });
  assert.deepEqual(c.config?.Entrypoint, ["/bin/my-app-binary"]);
  assert.deepEqual(c.config?.Cmd, ["--foreground", "--config", "/etc/my-app.d/default.cfg"]);
  assert.deepEqual(Object.keys(c.config?.Volumes ?? {}), [
    "/var/job-result-data",
    "/var/log/my-app-logs",
  ]);
  assert.equal(c.config?.WorkingDir, "/home/alice");
  assert.equal(
    c.config?.Labels?.["com.example.project.git.url"],
    "https://example.com/project.git",
  );
  assert.equal(c.rootfs.type, "layers");
  assert.equal(c.rootfs.diff_ids.length, 2);
  assert.equal(c.history?.length, 3);
  assert.equal(c.history?.[1].empty_layer, true);
  assert.equal(nonEmptyHistoryCount(c), c.rootfs.diff_ids.length);
});

Deno.test("parses Docker extras and treats null as absent", () => {
  const c = parseImageConfig(DOCKER_CONFIG, "config");
  assert.equal(c.docker_version, "20.10.23");
  assert.equal(c.container, "3b1c4d6b2b0e");
  assert.equal((c.container_config as { Hostname: string }).Hostname, "3b1c4d6b2b0e");
  assert.deepEqual(c.config?.Healthcheck, DOCKER_CONFIG.config.Healthcheck);
  assert.deepEqual(c.config?.Shell, ["/bin/bash", "-c"]);
  assert.equal(c.config?.ArgsEscaped, true);
  assert.equal(c.config?.StopSignal, "SIGRTMIN+3");
  assert.equal("Entrypoint" in (c.config ?? {}), false);
  assert.equal("Labels" in (c.config ?? {}), false);
  assert.equal("Volumes" in (c.config ?? {}), false);
});

Deno.test("architecture, os and rootfs are required", () => {
  const base = JSON.parse(OCI_EXAMPLE);
  for (const key of ["architecture", "os", "rootfs"]) {
    const c = { ...base };
    delete c[key];
    assert.throws(() => parseImageConfig(c, "config"), {
      name: "InvalidImageError",
      message: `config: ${key}: is required`,
    });
  }
  assert.throws(
    () => parseImageConfig({ ...base, rootfs: { type: "layers" } }, "config"),
    { message: "config: rootfs.diff_ids: is required" },
  );
});

Deno.test("rootfs.type must be layers", () => {
  const base = JSON.parse(OCI_EXAMPLE);
  assert.throws(
    () => parseImageConfig({ ...base, rootfs: { type: "layers+base", diff_ids: [] } }, "config"),
    { message: 'config: rootfs.type: must be "layers", got "layers+base"' },
  );
});

Deno.test("diff_ids must be digests", () => {
  const base = JSON.parse(OCI_EXAMPLE);
  assert.throws(
    () =>
      parseImageConfig(
        { ...base, rootfs: { type: "layers", diff_ids: ["sha256:" + "A".repeat(64)] } },
        "config",
      ),
    /config: rootfs.diff_ids\[0\]: invalid digest/,
  );
});

Deno.test("config fields are type-checked", () => {
  const base = JSON.parse(OCI_EXAMPLE);
  const bad = (config: Record<string, unknown>) => () =>
    parseImageConfig({ ...base, config: { ...base.config, ...config } }, "config");
  assert.throws(bad({ User: 0 }), {
    message: "config: config.User: must be a string, got a number",
  });
  assert.throws(bad({ Env: "A=b" }), /config.Env: must be an array/);
  assert.throws(bad({ Entrypoint: [1] }), /config.Entrypoint\[0\]: must be a string/);
  assert.throws(bad({ Cmd: {} }), /config.Cmd: must be an array/);
  assert.throws(bad({ WorkingDir: [] }), /config.WorkingDir/);
  assert.throws(bad({ Labels: { a: 1 } }), /config.Labels.a: must be a string/);
  assert.throws(bad({ ExposedPorts: ["80"] }), /config.ExposedPorts: must be an object/);
  assert.throws(bad({ Volumes: { "/x": true } }), /config.Volumes."\/x": must be an object/);
  assert.throws(bad({ StopSignal: 9 }), /config.StopSignal/);
  assert.throws(bad({ ArgsEscaped: "true" }), /config.ArgsEscaped: must be a boolean/);
  assert.throws(bad({ Healthcheck: { Retries: "3" } }), /config.Healthcheck.Retries/);
});

Deno.test("history entries and dates are checked", () => {
  const base = JSON.parse(OCI_EXAMPLE);
  assert.throws(() => parseImageConfig({ ...base, history: [{ empty_layer: "yes" }] }, "c"), {
    message: "c: history[0].empty_layer: must be a boolean, got a string",
  });
  assert.throws(() => parseImageConfig({ ...base, history: ["x"] }, "c"), InvalidImageError);
  assert.throws(() => parseImageConfig({ ...base, created: "yesterday" }, "c"), {
    message: 'c: created: "yesterday" is not an RFC 3339 date-time',
  });
  assert.equal(
    parseImageConfig({ ...base, created: "2015-10-31T22:22:56+01:00" }, "c").created,
    "2015-10-31T22:22:56+01:00",
  );
});

Deno.test("unknown fields are ignored", () => {
  const c = parseImageConfig({ ...JSON.parse(OCI_EXAMPLE), "com.example.extra": [1] }, "config");
  assert.equal("com.example.extra" in c, false);
});

Deno.test("config keys that Go would read as a known field are refused as ambiguous", () => {
  const changes: [string, (c: Record<string, Record<string, unknown>>) => void][] = [
    ["Architecture", (c) => (c.Architecture = "arm64" as unknown as Record<string, unknown>)],
    ["config.env", (c) => (c.config.env = ["PATH=/evil"])],
    ["config.cmd", (c) => (c.config.cmd = ["/evil"])],
    ["rootfs.Diff_ids", (c) => (c.rootfs.Diff_ids = [])],
    ["history[0].Empty_layer", (c) => {
      (c.history as unknown as Record<string, unknown>[])[0].Empty_layer = true;
    }],
    ["config.Healthcheck.test", (c) => (c.config.Healthcheck = { Test: ["NONE"], test: [] })],
  ];
  for (const [what, change] of changes) {
    const c = JSON.parse(OCI_EXAMPLE);
    change(c);
    assert.throws(
      () => parseImageConfig(c, "config"),
      (e: unknown) => e instanceof InvalidImageError && /ambiguous document/.test(e.message),
      what,
    );
  }
});
