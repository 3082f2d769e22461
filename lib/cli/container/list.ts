/**
 * `ocibox list`: the containers under --root, as a table or JSON (runc's fields).
 * @module
 */
import { UsageError } from "../../errors.ts";
import { listContainers } from "../../runtime/lifecycle/query.ts";
import { parseFlags } from "../args.ts";
import { runtimeGlobals } from "../runtime_globals.ts";

export const help = `Usage: ocibox list [--format table|json] [--quiet]

Lists the containers: ID, PID, STATUS, BUNDLE, CREATED, OWNER.`;

export async function run(args: string[]): Promise<number> {
  const { values } = parseFlags(args, {
    format: { type: "string", short: "f" },
    quiet: { type: "boolean", short: "q" },
  });
  const format = values.format ?? "table";
  if (format !== "table" && format !== "json") {
    throw new UsageError(`--format must be table or json, not ${format}`);
  }
  const rows = await listContainers(runtimeGlobals.root);
  if (values.quiet) {
    for (const r of rows) console.log(r.id);
  } else if (format === "json") {
    console.log(JSON.stringify(rows));
  } else {
    const table = [["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]];
    for (const r of rows) {
      table.push([r.id, String(r.pid), r.status, r.bundle, r.created, r.owner]);
    }
    const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
    for (const row of table) {
      console.log(row.map((c, i) => i < row.length - 1 ? c.padEnd(widths[i]) : c).join("   "));
    }
  }
  return 0;
}
