/**
 * Generates the syscall name → number tables the seccomp compiler uses, from the kernel UAPI
 * headers installed by linux-libc-dev:
 *
 * - lib/runtime/seccomp/syscalls_x86_64.ts: `SYSCALLS` from asm/unistd_64.h and `SYSCALLS_X32`
 *   from asm/unistd_x32.h (x32 numbers include `__X32_SYSCALL_BIT`, exactly what seccomp sees).
 * - lib/runtime/seccomp/syscalls_aarch64.ts: `SYSCALLS` from asm-generic/unistd.h.
 *
 * Run: `deno run --allow-read --allow-write --allow-run scripts/gen_syscall_tables.ts`
 * (optionally `--include DIR` to read headers from another include root).
 *
 * arm64 has no table of its own: its uapi asm/unistd.h defines a few `__ARCH_WANT_*` macros and
 * includes asm-generic/unistd.h, which is only installed for the build arch. We therefore run a
 * tiny C preprocessor over the generic header with the macros arm64 defines (kernel 5.14 to 6.10
 * uapi header; since 6.11 the same set is spelled as syscall.tbl ABIs "renameat", "rlimit",
 * "memfd_secret", and clone3 became unconditional):
 *
 * - `__ARCH_WANT_RENAMEAT`: arm64 keeps renameat (38), superseded elsewhere by renameat2.
 * - `__ARCH_WANT_NEW_STAT`: newfstatat (79) and fstat (80) exist on arm64.
 * - `__ARCH_WANT_SET_GET_RLIMIT`: getrlimit (163) and setrlimit (164) exist.
 * - `__ARCH_WANT_TIME32_SYSCALLS`: only matters when `__BITS_PER_LONG == 32`; arm64 is 64-bit, so
 *   every `TIME32 || __BITS_PER_LONG != 32` block is included either way and the
 *   `*_time64` block (`__SYSCALL_COMPAT || __BITS_PER_LONG == 32`) is not.
 * - `__ARCH_WANT_SYS_CLONE3`: clone3 (435) exists.
 * - `__ARCH_WANT_MEMFD_SECRET`: memfd_secret (447), added for arm64 in 5.14.
 *
 * Not defined for arm64: `__ARCH_WANT_SYNC_FILE_RANGE2` (so 84 is sync_file_range),
 * `__ARCH_WANT_STAT64`, `__ARCH_NOMMU` (the mm calls 224-239 exist) and `__SYSCALL_COMPAT`. With
 * `__BITS_PER_LONG == 64` the `__NR3264_*` numbers take their 64-bit names (fcntl, statfs,
 * fstatfs, truncate, ftruncate, lseek, sendfile, newfstatat, fstat, mmap, fadvise64).
 * `__NR_arch_specific_syscall` and `__NR_syscalls` are markers, not syscalls. Hence no `open`,
 * `mkdir`, `stat` ... on aarch64: only their *at forms.
 * @module
 */

const root = new URL("..", import.meta.url).pathname;

/** Macro values: numbers, or the raw replacement text of non-numeric macros. */
type Macros = Map<string, string>;

/** What an arch's table is built from: a header and the macros defined before it is read. */
interface Source {
  header: string;
  predefined: Record<string, string>;
}

/** arm64's `__ARCH_WANT_*` set (see the module doc) on a 64-bit, non-compat build. */
const AARCH64_DEFINES: Record<string, string> = {
  __BITS_PER_LONG: "64",
  __ARCH_WANT_RENAMEAT: "",
  __ARCH_WANT_NEW_STAT: "",
  __ARCH_WANT_SET_GET_RLIMIT: "",
  __ARCH_WANT_TIME32_SYSCALLS: "",
  __ARCH_WANT_SYS_CLONE3: "",
  __ARCH_WANT_MEMFD_SECRET: "",
};

/** Markers in the `__NR_` namespace that are not syscalls. */
const NOT_SYSCALLS = new Set(["syscalls", "arch_specific_syscall"]);

/** Joins backslash-continued lines and drops comments (the headers use only simple ones). */
function logicalLines(text: string): string[] {
  const noComments = text.replace(/\/\*[\s\S]*?\*\//g, " ").replace(/\/\/.*$/gm, "");
  return noComments.replace(/\\\n/g, " ").split("\n");
}

/** Tokens of a `#if` expression. */
function tokenize(expr: string): string[] {
  const tokens = expr.match(/defined|[A-Za-z_]\w*|0[xX][0-9a-fA-F]+|\d+|&&|\|\||==|!=|[!()+]/g);
  return tokens ?? [];
}

/** Integer value of a macro or literal per C preprocessor rules (unknown identifiers are 0). */
function valueOf(token: string, macros: Macros, depth = 0): number | undefined {
  if (/^(0[xX][0-9a-fA-F]+|\d+)$/.test(token)) return Number(token);
  const text = macros.get(token);
  if (text === undefined) return 0;
  if (depth > 16) return undefined;
  const terms = text.replace(/[()]/g, " ").split("+").map((t) => t.trim());
  let sum = 0;
  for (const term of terms) {
    if (!/^(0[xX][0-9a-fA-F]+|\d+|[A-Za-z_]\w*)$/.test(term)) return undefined;
    if (/^[A-Za-z_]/.test(term) && !macros.has(term)) return undefined;
    const v = valueOf(term, macros, depth + 1);
    if (v === undefined) return undefined;
    sum += v;
  }
  return sum;
}

/** Evaluates a `#if` expression: `defined`, `!`, `&&`, `||`, `==`, `!=`, parentheses. */
function evalIf(expr: string, macros: Macros): boolean {
  const tokens = tokenize(expr);
  let pos = 0;
  const peek = () => tokens[pos];
  const next = () => tokens[pos++];
  const primary = (): number => {
    const t = next();
    if (t === "(") {
      const v = or();
      if (next() !== ")") throw new Error(`#if ${expr}: missing )`);
      return v;
    }
    if (t === "!") return primary() ? 0 : 1;
    if (t === "defined") {
      const paren = peek() === "(";
      if (paren) next();
      const name = next();
      if (paren && next() !== ")") throw new Error(`#if ${expr}: bad defined()`);
      return macros.has(name) ? 1 : 0;
    }
    if (t === undefined) throw new Error(`#if ${expr}: unexpected end`);
    return valueOf(t, macros) ?? 0;
  };
  const equality = (): number => {
    let v = primary();
    while (peek() === "==" || peek() === "!=") {
      const op = next();
      const w = primary();
      v = (op === "==") === (v === w) ? 1 : 0;
    }
    return v;
  };
  const and = (): number => {
    let v = equality();
    while (peek() === "&&") {
      next();
      const w = equality();
      v = v && w ? 1 : 0;
    }
    return v;
  };
  const or = (): number => {
    let v = and();
    while (peek() === "||") {
      next();
      const w = and();
      v = v || w ? 1 : 0;
    }
    return v;
  };
  const result = or();
  if (pos !== tokens.length) throw new Error(`#if ${expr}: trailing tokens`);
  return result !== 0;
}

/** Runs the conditional/define subset of cpp over a header; returns `__NR_*` name → number. */
export function parseSyscallHeader(
  text: string,
  predefined: Record<string, string>,
): Map<string, number> {
  const macros: Macros = new Map(Object.entries(predefined));
  // Each frame: is this branch active, and has any branch of this #if been taken.
  const stack: { active: boolean; taken: boolean; parentActive: boolean }[] = [];
  const active = () => stack.length === 0 || stack[stack.length - 1].active;
  for (const line of logicalLines(text)) {
    const m = line.match(/^\s*#\s*(\w+)\s*(.*?)\s*$/);
    if (!m) continue;
    const [, directive, rest] = m;
    switch (directive) {
      case "if":
      case "ifdef":
      case "ifndef": {
        const parentActive = active();
        const cond = parentActive &&
          (directive === "if"
            ? evalIf(rest, macros)
            : macros.has(rest) === (directive === "ifdef"));
        stack.push({ active: cond, taken: cond, parentActive });
        break;
      }
      case "elif": {
        const top = stack[stack.length - 1];
        const cond = top.parentActive && !top.taken && evalIf(rest, macros);
        top.active = cond;
        top.taken ||= cond;
        break;
      }
      case "else": {
        const top = stack[stack.length - 1];
        top.active = top.parentActive && !top.taken;
        top.taken = true;
        break;
      }
      case "endif":
        if (!stack.pop()) throw new Error("unbalanced #endif");
        break;
      case "define": {
        if (!active()) break;
        const d = rest.match(/^(\w+)(\([^)]*\))?\s*(.*)$/);
        // Function-like macros (__SYSCALL, __SC_3264 ...) never name a number.
        if (d && !d[2]) macros.set(d[1], d[3]);
        break;
      }
      case "undef":
        if (active()) macros.delete(rest);
        break;
      default: // #include, #error ... do not affect the table.
    }
  }
  if (stack.length !== 0) throw new Error("unterminated #if");
  const table = new Map<string, number>();
  for (const name of macros.keys()) {
    if (!name.startsWith("__NR_")) continue;
    const sys = name.slice("__NR_".length);
    if (NOT_SYSCALLS.has(sys)) continue;
    const nr = valueOf(name, macros);
    if (nr === undefined) throw new Error(`${name}: value ${macros.get(name)} is not a number`);
    table.set(sys, nr);
  }
  return table;
}

/** TypeScript source of one `export const NAME = {...}` table, ordered by number. */
function tableSource(exportName: string, doc: string, table: Map<string, number>): string {
  const rows = [...table].sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0]));
  // x32 numbers read best in hex (0x40000000 + n).
  const literal = (nr: number) => nr >= 0x40000000 ? `0x${nr.toString(16)}` : `${nr}`;
  const body = rows.map(([name, nr]) => `  ${name}: ${literal(nr)},`).join("\n");
  return `/** ${doc} */\nexport const ${exportName}: Readonly<Record<string, number>> = {\n${body}\n};\n`;
}

async function readTable(include: string, src: Source): Promise<Map<string, number>> {
  const text = await Deno.readTextFile(`${include}/${src.header}`);
  const table = parseSyscallHeader(text, src.predefined);
  if (table.size < 250) throw new Error(`${src.header}: only ${table.size} syscalls found`);
  return table;
}

function header(sources: string[], kernel: string): string {
  return [
    "// Generated by `deno run --allow-read --allow-write --allow-run scripts/gen_syscall_tables.ts`",
    `// from ${sources.join(", ")} (Linux ${kernel} UAPI headers). Do not edit.`,
    "",
  ].join("\n");
}

async function main(): Promise<void> {
  const i = Deno.args.indexOf("--include");
  const include = i >= 0 ? Deno.args[i + 1] : "/usr/include";
  const version = await Deno.readTextFile(`${include}/linux/version.h`).catch(() => "");
  const major = version.match(/LINUX_VERSION_MAJOR (\d+)/)?.[1];
  const minor = version.match(/LINUX_VERSION_PATCHLEVEL (\d+)/)?.[1];
  const kernel = major ? `${major}.${minor}` : "unknown";

  const x64 = "x86_64-linux-gnu/asm/unistd_64.h";
  const x32 = "x86_64-linux-gnu/asm/unistd_x32.h";
  const generic = "asm-generic/unistd.h";
  const x64Table = await readTable(include, { header: x64, predefined: {} });
  const x32Table = await readTable(include, {
    header: x32,
    predefined: { __X32_SYSCALL_BIT: "0x40000000" },
  });
  const a64Table = await readTable(include, { header: generic, predefined: AARCH64_DEFINES });

  const outDir = `${root}lib/runtime/seccomp`;
  const x64File = `${outDir}/syscalls_x86_64.ts`;
  const a64File = `${outDir}/syscalls_aarch64.ts`;
  await Deno.writeTextFile(
    x64File,
    header([x64, x32], kernel) + "\n" +
      tableSource("SYSCALLS", "x86_64 syscall numbers (AUDIT_ARCH_X86_64).", x64Table) + "\n" +
      tableSource(
        "SYSCALLS_X32",
        "x32 ABI syscall numbers, `__X32_SYSCALL_BIT` (0x40000000) included.",
        x32Table,
      ),
  );
  await Deno.writeTextFile(
    a64File,
    header([generic], kernel) + "\n" +
      tableSource("SYSCALLS", "aarch64 syscall numbers (AUDIT_ARCH_AARCH64).", a64Table),
  );
  const fmt = await new Deno.Command(Deno.execPath(), { args: ["fmt", x64File, a64File] })
    .output();
  if (!fmt.success) throw new Error(`deno fmt failed: ${new TextDecoder().decode(fmt.stderr)}`);
  console.log(
    `x86_64: ${x64Table.size}, x32: ${x32Table.size}, aarch64: ${a64Table.size} syscalls`,
  );
}

if (import.meta.main) await main();
