import assert from "node:assert/strict";
import { withStoreLock } from "./store_lock.ts";

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function withStore(fn: (store: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  try {
    await fn(`${dir}/store`); // not there yet: the lock creates it
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("an exclusive section runs alone; the next waits for it", () =>
  withStore(async (store) => {
    const events: string[] = [];
    const first = withStoreLock(store, "exclusive", async () => {
      events.push("a in");
      await tick(150);
      events.push("a out");
    });
    await tick(30);
    const second = withStoreLock(store, "exclusive", () => {
      events.push("b in");
      return Promise.resolve();
    });
    const third = withStoreLock(store, "shared", () => {
      events.push("c in");
      return Promise.resolve();
    });
    await Promise.all([first, second, third]);
    assert.deepEqual(events.slice(0, 2), ["a in", "a out"]);
    assert.deepEqual(new Set(events.slice(2)), new Set(["b in", "c in"]));
    assert.ok((await Deno.stat(`${store}/lock`)).isFile);
  }));

Deno.test("shared sections overlap; an exclusive one waits for them all", () =>
  withStore(async (store) => {
    let inside = 0;
    let most = 0;
    const reader = () =>
      withStoreLock(store, "shared", async () => {
        inside++;
        most = Math.max(most, inside);
        await tick(100);
        inside--;
      });
    const readers = [reader(), reader(), reader()];
    await tick(30);
    let writerSaw = -1;
    const writer = withStoreLock(store, "exclusive", () => {
      writerSaw = inside;
      return Promise.resolve();
    });
    await Promise.all([...readers, writer]);
    assert.equal(most, 3);
    assert.equal(writerSaw, 0);
  }));

Deno.test("the lock is released when the section throws", () =>
  withStore(async (store) => {
    await assert.rejects(
      withStoreLock(store, "exclusive", () => Promise.reject(new Error("boom"))),
      /boom/,
    );
    assert.equal(await withStoreLock(store, "exclusive", () => 7), 7);
  }));

Deno.test("another process waits for the lock (flock between processes)", () =>
  withStore(async (store) => {
    await Deno.mkdir(store, { recursive: true });
    const url = new URL("./store_lock.ts", import.meta.url).href;
    const code = `import { withStoreLock } from ${JSON.stringify(url)};
      console.log("trying");
      const t0 = Date.now();
      await withStoreLock(${JSON.stringify(store)}, "exclusive", () => {});
      console.log(Date.now() - t0);`;
    let output = "";
    let reader: ReadableStreamDefaultReader<string> | undefined;
    let child: Deno.ChildProcess | undefined;
    await withStoreLock(store, "shared", async () => {
      child = new Deno.Command(Deno.execPath(), {
        args: ["eval", "--no-lock", code],
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      while (!output.includes("trying")) {
        const { value, done } = await reader.read();
        if (done) break;
        output += value;
      }
      await tick(300); // the child is waiting for the lock meanwhile
    });
    for (;;) {
      const { value, done } = await reader!.read();
      if (done) break;
      output += value;
    }
    assert.ok((await child!.status).success);
    const ms = Number(output.replace("trying", "").trim());
    assert.ok(ms >= 250, `the child got the lock after ${ms} ms, while it was held`);
  }));
