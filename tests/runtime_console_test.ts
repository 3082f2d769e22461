/**
 * Terminals: the pty master reaches a --console-socket (runc's protocol) for create and for
 * exec --tty, and the container sees the same terminal under ocibox as under runc: its tty
 * name, the console size, /dev/console, a controlling terminal.
 */
import assert from "node:assert/strict";
import { getWinsize, POLL, pollFd, readAvailable } from "../ffi/pty.ts";
import { acceptFd, listenUnix, recvFd } from "../ffi/socket.ts";
import { close } from "../ffi/fs.ts";
import { busyboxBundle, withTempDir } from "./support/bundles.ts";
import { MAIN_TS } from "./support/ocibox_cli.ts";
import { peerTest } from "./support/peers.ts";

const LOOK = [
  "tty",
  "stat -c '%n %F %t:%T' /dev/console",
  "ls -l /proc/self/fd/0 | sed 's/.*-> //'",
  "cat /proc/self/stat | cut -d' ' -f7 | grep -qv '^0$' && echo has a controlling terminal",
].join("; ");

/** Starts `cmd args` (which connects to `socket`) and returns the pty master it sends. */
async function masterFrom(
  socket: string,
  cmd: string,
  args: string[],
  cwd: string,
): Promise<number> {
  const listener = listenUnix(socket);
  try {
    const child = new Deno.Command(cmd, {
      args,
      cwd,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    })
      .spawn();
    // accept blocks this thread, so only after the tool is running.
    const conn = acceptFd(listener);
    const { fd } = recvFd(conn);
    close(conn);
    assert.ok((await child.status).success, `${cmd} ${args.join(" ")} failed`);
    return fd;
  } finally {
    close(listener);
    await Deno.remove(socket).catch(() => {});
  }
}

/** Everything the container writes to the pty until it closes. */
async function drain(master: number): Promise<string> {
  const buf = new Uint8Array(65536);
  let text = "";
  for (;;) {
    await pollFd(master, POLL.IN, 5000);
    const n = readAvailable(master, buf);
    if (n === null) continue;
    if (n === 0) break;
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
  close(master);
  return text;
}

async function lifecycle(tool: "ocibox" | "runc", state: string, bundle: string, dir: string) {
  const base = tool === "ocibox"
    ? { cmd: Deno.execPath(), pre: ["run", "-A", "--no-lock", MAIN_TS, "--root", state] }
    : { cmd: "runc", pre: ["--root", state] };
  const run = async (...args: string[]) => {
    const out = await new Deno.Command(base.cmd, { args: [...base.pre, ...args], cwd: bundle })
      .output();
    assert.ok(out.success, `${tool} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  };
  const master = await masterFrom(`${dir}/${tool}.sock`, base.cmd, [
    ...base.pre,
    "create",
    "--console-socket",
    `${dir}/${tool}.sock`,
    "c1",
  ], bundle);
  const size = getWinsize(master);
  const created = drain(master);
  await run("start", "c1");
  // A second terminal through exec --tty while the first program waits.
  const execMaster = await masterFrom(`${dir}/${tool}-exec.sock`, base.cmd, [
    ...base.pre,
    "exec",
    "--tty",
    "--detach",
    "--console-socket",
    `${dir}/${tool}-exec.sock`,
    "c1",
    "sh",
    "-c",
    "tty; touch /tmp/go",
  ], bundle);
  const exec = await drain(execMaster);
  const main = await created;
  await run("delete", "--force", "c1");
  return { main, exec, size };
}

peerTest("create --console-socket and exec --tty give the terminal runc gives", {
  peers: ["runc", "busybox"],
  root: true,
}, async () => {
  await withTempDir("ocibox-console-", async (dir) => {
    const bundle = await busyboxBundle(
      `${dir}/b`,
      `${LOOK}; while [ ! -e /tmp/go ]; do sleep 0.05; done; echo done`,
      (spec) => {
        spec.process!.terminal = true;
        spec.process!.consoleSize = { height: 33, width: 111 };
        spec.root!.readonly = false;
      },
    );
    const ocibox = await lifecycle("ocibox", `${dir}/ocibox-state`, bundle, dir);
    await Deno.remove(`${bundle}/rootfs/tmp/go`);
    const runc = await lifecycle("runc", `${dir}/runc-state`, bundle, dir);
    assert.equal(ocibox.main, runc.main);
    assert.equal(ocibox.exec, runc.exec);
    assert.deepEqual(ocibox.size, runc.size);
    assert.deepEqual(ocibox.size, { rows: 33, cols: 111 });
    assert.match(
      ocibox.main,
      /^\/dev\/pts\/0\r\n\/dev\/console character special file 88:0\r\n/,
    );
    assert.match(ocibox.main, /has a controlling terminal\r\ndone\r\n$/);
    assert.equal(ocibox.exec, "/dev/pts/1\r\n");
  });
});

peerTest("run and exec --tty relay the container's terminal to ocibox's own", {
  peers: ["busybox", "script"],
  root: true,
}, async () => {
  await withTempDir("ocibox-relay-", async (dir) => {
    const bundle = await busyboxBundle(
      `${dir}/b`,
      "tty; touch /tmp/up; while [ ! -e /tmp/go ]; do sleep 0.05; done; exit 4",
      (spec) => {
        spec.process!.terminal = true;
        spec.root!.readonly = false;
      },
    );
    const ocibox = `${Deno.execPath()} run -A --no-lock ${MAIN_TS} --root ${dir}/state`;
    // script(1) gives ocibox a terminal of its own, as a user's shell would.
    // script(1) with stdin at EOF types a NUL the pty echoes as ^@ (under runc too): drop it.
    const text = (out: Deno.CommandOutput) =>
      new TextDecoder().decode(out.stdout).replaceAll("^@", "");
    const script = (cmd: string) =>
      new Deno.Command("script", {
        args: ["-qec", cmd, "/dev/null"],
        cwd: bundle,
        stdin: "null",
        stdout: "piped",
      }).output();
    const running = script(`${ocibox} run relay1`);
    for (let i = 0; i < 500 && !(await exists(`${bundle}/rootfs/tmp/up`)); i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const exec = await script(`${ocibox} exec --tty relay1 sh -c 'tty; touch /tmp/go'`);
    assert.equal(text(exec), "/dev/pts/1\r\n");
    const run = await running;
    assert.equal(run.code, 4);
    assert.equal(text(run), "/dev/pts/0\r\n");
  });
});

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}
