import assert from "node:assert/strict";
import {
  DNS_FORWARD_ADDRESS,
  hostsFile,
  nameservers,
  readHostResolvConf,
  resolvConf,
  writeEtcFiles,
} from "./etc_files.ts";

Deno.test("etc files: hosts names localhost and the container", () => {
  const text = hostsFile({ hostname: "abc123", name: "web" });
  assert.match(text, /^127\.0\.0\.1\tlocalhost localhost\.localdomain\n/);
  assert.match(text, /\n::1\tlocalhost /);
  assert.match(text, /\n127\.0\.0\.1\tabc123 web\n$/);
  assert.match(hostsFile({ hostname: "web", name: "web" }), /\n127\.0\.0\.1\tweb\n$/);
  assert.equal(hostsFile({ hostname: "h", hostHosts: "10.0.0.1 x\n" }), "10.0.0.1 x\n");
});

Deno.test("etc files: loopback nameservers become pasta's forwarder in a private network", () => {
  const host = "# generated\nnameserver 127.0.0.53\nnameserver ::1\nnameserver 10.0.0.2\n" +
    "search lan\noptions edns0\n";
  assert.equal(
    resolvConf(host, { network: "private" }),
    `# generated\nnameserver ${DNS_FORWARD_ADDRESS}\nnameserver 10.0.0.2\nsearch lan\noptions edns0\n`,
  );
  assert.equal(resolvConf(host, { network: "host" }), host);
  assert.equal(
    resolvConf("nameserver 10.255.255.53\n", { network: "private" }),
    "nameserver 10.255.255.53\n",
  );
  assert.deepEqual(nameservers(host), ["127.0.0.53", "::1", "10.0.0.2"]);
});

Deno.test("etc files: systemd-resolved's stub is looked through, as podman does", () => {
  const files: Record<string, string> = {
    "/etc/resolv.conf": "nameserver 127.0.0.53\noptions edns0 trust-ad\n",
    "/run/systemd/resolve/resolv.conf": "nameserver 192.168.1.1\n",
  };
  const read = (p: string) => {
    if (!(p in files)) throw new Deno.errors.NotFound(p);
    return files[p];
  };
  assert.equal(readHostResolvConf(read), "nameserver 192.168.1.1\n");
  delete files["/run/systemd/resolve/resolv.conf"];
  assert.equal(readHostResolvConf(read), files["/etc/resolv.conf"]);
  assert.equal(readHostResolvConf(() => ""), "");
});

Deno.test("etc files: written atomically, resolv.conf left out without a network", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const paths = await writeEtcFiles(dir, {
      hostname: "abc",
      network: "private",
      hostResolvConf: "nameserver 127.0.0.1\n",
    });
    assert.deepEqual(paths, {
      hosts: `${dir}/hosts`,
      hostname: `${dir}/hostname`,
      resolvConf: `${dir}/resolv.conf`,
    });
    assert.equal(await Deno.readTextFile(paths.hostname), "abc\n");
    assert.equal(await Deno.readTextFile(paths.resolvConf!), `nameserver ${DNS_FORWARD_ADDRESS}\n`);
    assert.equal((await Deno.stat(paths.hosts)).mode! & 0o777, 0o644);
    const none = await Deno.makeTempDir({ dir });
    const p = await writeEtcFiles(none, { hostname: "x", network: "none", hostResolvConf: "" });
    assert.equal(p.resolvConf, undefined);
    assert.deepEqual([...Deno.readDirSync(none)].map((e) => e.name).sort(), ["hostname", "hosts"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
