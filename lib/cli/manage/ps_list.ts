/**
 * `ocibox ps [-a] [-q] [--format json]`: the store's containers, as podman lists them.
 * @module
 */
import { containerStatus } from "../../containers/container_state.ts";
import { psJson, psTable } from "../../containers/ps_view.ts";
import { listContainers } from "../../store/container_records.ts";
import { storeRoot } from "../../store/store_root.ts";
import { UsageError } from "../../errors.ts";
import { parseFlags } from "../args.ts";

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    all: { type: "boolean", short: "a" },
    quiet: { type: "boolean", short: "q" },
    format: { type: "string", short: "f" },
  });
  if (positionals.length) throw new UsageError("usage: ocibox ps [-a] [-q] [--format json]");
  if (values.format !== undefined && values.format !== "json" && values.format !== "table") {
    throw new UsageError(`--format takes json or table, not ${values.format}`);
  }
  const store = storeRoot();
  const rows = [];
  for (const record of await listContainers(store)) {
    const status = await containerStatus(store, record);
    if (values.all || status.state === "running" || status.state === "paused") {
      rows.push({ record, status });
    }
  }
  if (values.quiet) { for (const r of rows) console.log(r.record.id.slice(0, 12)); }
  else if (values.format === "json") console.log(JSON.stringify(psJson(rows), null, 2));
  else for (const line of psTable(rows, new Date())) console.log(line);
  return 0;
}
