import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import { NotFoundError } from "../errors.ts";
import { CertDirError, defaultCertDir, readCertDir } from "./cert_dir.ts";

Deno.test("readCertDir: *.crt are CAs, NAME.cert+NAME.key the client certificate", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/b.crt`, "CA-B");
    await Deno.writeTextFile(`${dir}/a.crt`, "CA-A");
    await Deno.writeTextFile(`${dir}/client.cert`, "CERT");
    await Deno.writeTextFile(`${dir}/client.key`, "KEY");
    await Deno.writeTextFile(`${dir}/README`, "ignored");
    deepStrictEqual(readCertDir(dir), {
      caCerts: ["CA-A", "CA-B"],
      clientCert: { cert: "CERT", key: "KEY" },
    });
    await Deno.remove(`${dir}/client.key`);
    throws(
      () => readCertDir(dir),
      (e) => e instanceof CertDirError && /missing key/.test(e.message),
    );
    await Deno.remove(`${dir}/client.cert`);
    await Deno.writeTextFile(`${dir}/other.key`, "KEY");
    throws(() => readCertDir(dir), CertDirError);
    throws(() => readCertDir(`${dir}/nope`), NotFoundError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("defaultCertDir: the per-host directory under $HOME/.config/containers/certs.d", async () => {
  const home = await Deno.makeTempDir();
  try {
    const env = (n: string) => n === "HOME" ? home : undefined;
    strictEqual(defaultCertDir("reg.test:5000", env), undefined);
    await Deno.mkdir(`${home}/.config/containers/certs.d/reg.test:5000`, { recursive: true });
    strictEqual(
      defaultCertDir("reg.test:5000", env),
      `${home}/.config/containers/certs.d/reg.test:5000`,
    );
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
