/**
 * Start-up stays small: `ocibox --help` (main.ts and what it imports statically) must not load
 * command, transport, tar or registry code; those come in through dynamic imports only.
 */
import assert from "node:assert/strict";
import { run } from "./support/peers.ts";

interface InfoModule {
  specifier: string;
  dependencies?: { code?: { specifier: string }; isDynamic?: boolean }[];
}

Deno.test("main.ts statically loads only the command table and errors", async () => {
  const main = new URL("../main.ts", import.meta.url).href;
  const info = JSON.parse(await run(Deno.execPath(), ["info", "--json", main])) as {
    modules: InfoModule[];
  };
  const byName = new Map(info.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const walk = (spec: string) => {
    if (seen.has(spec)) return;
    seen.add(spec);
    for (const d of byName.get(spec)?.dependencies ?? []) {
      if (!d.isDynamic && d.code) walk(d.code.specifier);
    }
  };
  walk(main);
  for (const s of seen) {
    assert.ok(
      !/\/lib\/(layer|transport|registry|http|runtime|image|digest)\//.test(s),
      `--help would load ${s}`,
    );
  }
  // main, the command table, errors, runtime globals, safe_text (the error line's escaping) and
  // inflate_spawn (which imports nothing: unpack's worker boots while unpack's code loads).
  assert.ok(
    seen.size <= 6,
    `main.ts loads ${seen.size} modules statically: ${[...seen].join(", ")}`,
  );
});

Deno.test("the runtime's verbs load no registry, transport, tar or image code", async () => {
  // The container's init is no module at all (a runner program in a tiny ELF); the verbs
  // podman and containerd call for every container must stay small too. Verbs that also have
  // podman's meaning (run IMAGE, ps, exec/kill/state by name) reach the store only through
  // dynamic imports taken for that meaning: their static closure must stay clean, and the
  // runc-only verbs' whole closure (dynamic imports included) too.
  const runcOnly = ["create", "start", "delete", "list"];
  const verbs = [...runcOnly, "state", "kill", "exec", "run", "ps", "pause"];
  const heavy = /\/lib\/(layer|transport|registry|http|image|digest|store|containers)\/|node:util/;
  for (const verb of verbs) {
    const entry = new URL(`../lib/cli/container/${verb}.ts`, import.meta.url).href;
    const info = JSON.parse(await run(Deno.execPath(), ["info", "--json", entry])) as {
      modules: InfoModule[];
    };
    const byName = new Map(info.modules.map((m) => [m.specifier, m]));
    const reached = new Set<string>();
    const walk = (spec: string, dynamic: boolean) => {
      if (reached.has(spec)) return;
      reached.add(spec);
      for (const d of byName.get(spec)?.dependencies ?? []) {
        if (d.code && (dynamic || !d.isDynamic)) walk(d.code.specifier, dynamic);
      }
    };
    walk(entry, runcOnly.includes(verb));
    for (const m of reached) assert.ok(!heavy.test(m), `${verb} would load ${m}`);
  }
});

Deno.test("ocibox --help and a command's --help work", async () => {
  const main = new URL("../main.ts", import.meta.url).pathname;
  const out = await run(Deno.execPath(), ["run", "-A", main, "--help"]);
  assert.match(out, /Commands:/);
  for (const cmd of ["inspect", "copy", "unpack", "append"]) {
    assert.match(out, new RegExp(`\\b${cmd}\\b`));
    const help = await run(Deno.execPath(), ["run", "-A", main, cmd, "--help"]);
    assert.match(help, new RegExp(`^Usage: ocibox ${cmd}`));
  }
});
