/**
 * The HTTP transports and the registry session over TLS, against servers using a test PKI made
 * with openssl (and openssl's `s_server` for mutual TLS): trusted CAs from a cert dir or given
 * directly, unknown issuers refused as typed TLS errors and not retried, client certificates
 * presented, and verification switched off where the user asks for it.
 * @module
 */
import { ok, rejects, strictEqual } from "node:assert/strict";
import { NetworkError } from "../lib/errors.ts";
import { defaultTransport } from "../lib/http/default_transport.ts";
import { fetchTransport } from "../lib/http/fetch_transport.ts";
import { h1Transport } from "../lib/http/h1_transport.ts";
import { insecureTransport } from "../lib/http/insecure_transport.ts";
import { nodeTransport } from "../lib/http/node_transport.ts";
import { withRetry } from "../lib/http/retry.ts";
import { bodyText, getRequest, serve } from "../lib/http/http_test_util.ts";
import { RegistrySession } from "../lib/registry/session.ts";
import { peerTest } from "./support/peers.ts";
import { assertTlsTrust, startMutualTlsServer, testPki } from "./support/test_pki.ts";

/** Every test here needs openssl to make the PKI (and some to run `s_server`). */
const OPENSSL = { peers: ["openssl"] };

peerTest(
  "defaultTransport: verify=false serves plain http and unverified https",
  OPENSSL,
  async () => {
    const pki = await testPki();
    const plain = serve(() => new Response("plain"));
    const secure = serve(() => new Response("secure"), {
      cert: pki.server.certPem,
      key: pki.server.keyPem,
    });
    const t = defaultTransport({ verify: false }, () => undefined);
    try {
      for (const [srv, want] of [[plain, "plain"], [secure, "secure"]] as const) {
        const res = await t.send({ method: "GET", url: srv.url, headers: new Headers() });
        strictEqual(await new Response(res.body).text(), want);
      }
    } finally {
      t.close();
      await plain.close();
      await secure.close();
    }
  },
);

peerTest(
  "fetchTransport: trusts the CA of certDir, refuses unknown issuers as TLS errors",
  OPENSSL,
  async () => {
    const pki = await testPki();
    const plain = fetchTransport();
    // The node path for sized streams trusts the same CA.
    const trusting = fetchTransport({ certDir: pki.caOnlyDir });
    try {
      await assertTlsTrust(plain, trusting, /UnknownIssuer[^]*--cert-dir/);
    } finally {
      plain.close();
      trusting.close();
    }
  },
);

peerTest(
  "fetchTransport: presents the client certificate of certDir (mutual TLS)",
  OPENSSL,
  async () => {
    const pki = await testPki();
    const server = await startMutualTlsServer(pki);
    const withClient = fetchTransport({ certDir: pki.certDir });
    const caOnly = fetchTransport({ certDir: pki.caOnlyDir });
    try {
      const url = server.url;
      const res = await withClient.send(getRequest(url));
      strictEqual(res.status, 200);
      ok(/client certificate/i.test(await bodyText(res.body)));
      await rejects(
        caOnly.send(getRequest(url)),
        (e) => e instanceof NetworkError && e.kind === "tls" && /NAME\.cert/.test(e.message),
      );
    } finally {
      withClient.close();
      caOnly.close();
      await server.stop();
    }
  },
);

peerTest(
  "h1Transport: trusts given CAs, refuses unknown issuers as TLS errors",
  OPENSSL,
  async () => {
    const pki = await testPki();
    const plain = h1Transport();
    const trusting = h1Transport({ caCerts: [pki.ca.certPem] });
    try {
      await assertTlsTrust(plain, trusting, /UnknownIssuer/);
    } finally {
      plain.close();
      trusting.close();
    }
  },
);

peerTest("h1Transport: presents a client certificate (mutual TLS)", OPENSSL, async () => {
  const pki = await testPki();
  const server = await startMutualTlsServer(pki);
  const withClient = h1Transport({
    caCerts: [pki.ca.certPem],
    clientCert: { cert: pki.client.certPem, key: pki.client.keyPem },
  });
  const caOnly = h1Transport({ caCerts: [pki.ca.certPem] });
  try {
    const url = server.url;
    const res = await withClient.send(getRequest(url));
    strictEqual(res.status, 200);
    ok(/client certificate/i.test(await bodyText(res.body)));
    await rejects(caOnly.send(getRequest(url)), (e) => e instanceof NetworkError);
  } finally {
    withClient.close();
    caOnly.close();
    await server.stop();
  }
});

peerTest(
  "insecureTransport: talks to a server whose certificate nobody trusts",
  OPENSSL,
  async () => {
    const pki = await testPki();
    const srv = serve(async (req) => {
      const body = new Uint8Array(await req.arrayBuffer());
      return new Response(
        JSON.stringify({ method: req.method, length: body.length, last: body.at(-1) ?? null }),
        { headers: { "x-one": "1", "www-authenticate": 'Bearer realm="x"' } },
      );
    }, { cert: pki.server.certPem, key: pki.server.keyPem });
    const t = insecureTransport();
    try {
      const res = await t.send({ method: "GET", url: srv.url, headers: new Headers() });
      strictEqual(res.status, 200);
      strictEqual(res.headers.get("www-authenticate"), 'Bearer realm="x"');
      strictEqual(await new Response(res.body).text(), '{"method":"GET","length":0,"last":null}');
      // A streamed upload, 3 MiB in 64 KiB pieces, with backpressure.
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(c) {
          if (sent >= 3 << 20) return c.close();
          c.enqueue(new Uint8Array(65536).fill(sent / 65536 % 256));
          sent += 65536;
        },
      });
      const put = await t.send({ method: "PUT", url: srv.url, headers: new Headers(), body });
      strictEqual(
        await new Response(put.body).text(),
        JSON.stringify({ method: "PUT", length: 3 << 20, last: 47 }),
      );
      const head = await t.send({ method: "HEAD", url: srv.url, headers: new Headers() });
      strictEqual(head.body, null);
    } finally {
      t.close();
      await srv.close();
    }
  },
);

peerTest("nodeTransport: a server certificate nobody trusts is a TLS error", OPENSSL, async () => {
  const pki = await testPki();
  const tls = serve(() => new Response("x"), { cert: pki.server.certPem, key: pki.server.keyPem });
  const t = nodeTransport();
  try {
    await rejects(
      t.send({ method: "GET", url: tls.url, headers: new Headers() }),
      (e) => e instanceof NetworkError && e.kind === "tls",
    );
  } finally {
    t.close();
    await tls.close();
  }
});

peerTest("withRetry: a TLS verification failure is not retried", OPENSSL, async () => {
  const pki = await testPki();
  const srv = serve(() => new Response("x"), { cert: pki.server.certPem, key: pki.server.keyPem });
  const t = fetchTransport();
  let calls = 0;
  try {
    await rejects(
      withRetry(() => {
        calls++;
        return t.send({ method: "GET", url: srv.url, headers: new Headers() });
      }, { baseDelayMs: 1 }),
      (e) => e instanceof NetworkError && e.kind === "tls",
    );
    strictEqual(calls, 1);
  } finally {
    t.close();
    await srv.close();
  }
});

peerTest(
  "RegistrySession: https with a CA from certDir; verify=false accepts any certificate",
  OPENSSL,
  async () => {
    const pki = await testPki();
    const srv = serve(() => new Response("{}"), {
      cert: pki.server.certPem,
      key: pki.server.keyPem,
    });
    const trusted = new RegistrySession({ host: srv.host, tls: { certDir: pki.caOnlyDir } });
    const insecure = new RegistrySession({ host: srv.host, tls: { verify: false } });
    const untrusted = new RegistrySession({
      host: `localhost:${srv.port}`,
      retry: { attempts: 1 },
      env: () => undefined,
    });
    try {
      strictEqual((await trusted.ping()).base.protocol, "https:");
      strictEqual((await insecure.ping()).base.protocol, "https:");
      // Loopback may fall back to http, but that fails too: both reasons are reported.
      await rejects(
        untrusted.ping(),
        (e) =>
          e instanceof NetworkError && /UnknownIssuer/.test(e.message) &&
          /; http: /.test(e.message),
      );
    } finally {
      trusted.close();
      insecure.close();
      untrusted.close();
      await srv.close();
    }
  },
);
