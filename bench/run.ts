/**
 * `npm run bench`: runs every scenario, prints a table and writes bench/results/latest.json.
 * Options: --users 1000,10000 (default), --quick (short windows), --only <scenario,...>,
 * --dispatch-rate N (dispatches a second to each READY socket, default 1; 0: none),
 * --ready-bytes N (READY's size, default 100000).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { arch, cpus, platform, release, totalmem } from "node:os";
import { type BenchOptions, type Figure, figureCells, type Scenario, TABLE_HEADER } from "./figures.ts";
import { DEFAULT_ACCOUNT } from "./network/account/traffic.ts";
import { scenarios } from "./scenarios.ts";

function parse(argv: string[]): BenchOptions & { only: string[] | null } {
  const value = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const number = (flag: string, fallback: number) => {
    const n = Number(value(flag) ?? fallback);
    if (!Number.isFinite(n) || n < 0) throw new Error(`${flag} must be a number >= 0, not ${value(flag)}`);
    return n;
  };
  const only = value("--only")?.split(",") ?? null;
  const unknown = only?.filter((name) => !(name in scenarios)) ?? [];
  if (unknown.length > 0) throw new Error(`--only: no scenario ${unknown.join(", ")}; there are ${Object.keys(scenarios).join(", ")}`);
  return {
    users: (value("--users") ?? "1000,10000").split(",").map(Number),
    quick: argv.includes("--quick"),
    only,
    account: { dispatchRate: number("--dispatch-rate", DEFAULT_ACCOUNT.dispatchRate), readyBytes: number("--ready-bytes", DEFAULT_ACCOUNT.readyBytes) },
    log: (line) => console.error(line),
  };
}

export function table(figures: Figure[]): string {
  // A missed target in capitals, to stand out on a terminal.
  const rows = [TABLE_HEADER, ...figures.map((f) => figureCells(f).map((cell, c) => (c === TABLE_HEADER.indexOf("met") && cell === "no" ? "NO" : cell)))];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const line = (r: string[]) => `| ${r.map((cell, c) => cell.padEnd(widths[c]!)).join(" | ")} |`;
  return [line(rows[0]!), line(widths.map((w) => "-".repeat(w))), ...rows.slice(1).map(line)].join("\n");
}

type Dated = Figure & { at: string };
const sameFigure = (a: Figure, b: Figure) => a.scenario === b.scenario && a.metric === b.metric && a.users === b.users;

/**
 * A partial run (`--only`, other `--users`) replaces the figures it measured and keeps the others
 * from the previous file, each with the time it was measured, so that the file stays complete.
 */
function merge(path: URL, fresh: Dated[]): Dated[] {
  if (!existsSync(path)) return fresh;
  const previous = JSON.parse(readFileSync(path, "utf8")) as { at: string; figures: Array<Figure & { at?: string }> };
  const kept = previous.figures.filter((old) => !fresh.some((f) => sameFigure(f, old))).map((old) => ({ ...old, at: old.at ?? previous.at }));
  const order = Object.keys(scenarios);
  const rank = (f: Figure) => order.indexOf(f.scenario) * 1e7 + (f.users ?? 0);
  return [...kept, ...fresh].sort((a, b) => rank(a) - rank(b));
}

async function main() {
  const options = parse(process.argv.slice(2));
  const at = new Date().toISOString();
  const figures: Dated[] = [];
  for (const [name, scenario] of Object.entries(scenarios) as Array<[string, Scenario]>) {
    if (options.only && !options.only.includes(name)) continue;
    options.log(`# ${name}`);
    figures.push(...(await scenario(options)).map((f) => ({ ...f, at })));
  }
  const machine = {
    cpus: cpus().length,
    cpu: cpus()[0]?.model ?? "?",
    memGiB: Math.round(totalmem() / 2 ** 30),
    os: `${platform()} ${release()} ${arch()}`,
    node: process.version,
  };
  console.log(table(figures));
  console.log(`\nmachine: ${machine.cpus} x ${machine.cpu}, ${machine.memGiB} GiB, ${machine.os}, Node ${machine.node}`);
  mkdirSync(new URL("./results/", import.meta.url), { recursive: true });
  // A --quick run is a smoke test: its figures do not replace measured ones.
  const path = new URL(options.quick ? "./results/quick.json" : "./results/latest.json", import.meta.url);
  // The options of this run; each network figure also carries the account traffic it was measured with.
  const run = { users: options.users, quick: options.quick, only: options.only, account: options.account };
  writeFileSync(path, JSON.stringify({ at, machine, options: run, figures: options.quick ? figures : merge(path, figures) }, null, 2));
}

await main();
