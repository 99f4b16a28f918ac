/**
 * coldstart: from `spawn` to the process accepting events.
 *
 * - nd-presence: the CLI as the README runs it, built (`node dist/cli/main.js start`; see
 *   bench/built.ts) with a minimal config (one user, HTTP on port 0, no sources, the journal in a temp dir), until
 *   its "nd-presence started" log line arrives on stderr.
 * - raw: `node` importing `ws` and printing "ready" (plain ESM).
 *
 * One warm-up run of each is not counted (it fills the OS page cache, as any second start would
 * find it), then the median of 5. The time of a node that does nothing is logged too.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { builtCli } from "../built.ts";
import { type BenchOptions, type Figure, median } from "../figures.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const RUNS = 5;

/** Spawns `args`, resolves with the ms until a line containing `marker` shows on stdout or stderr. */
function timeUntil(args: string[], marker: string, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let seen = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`coldstart: no "${marker}" within 30 s; output:\n${seen.slice(-2000)}`));
    }, 30_000);
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      if (!seen.includes(marker)) return;
      const ms = performance.now() - t0;
      clearTimeout(timer);
      child.kill("SIGKILL");
      child.once("exit", () => resolve(ms));
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("error", reject);
  });
}

async function medianOfRuns(run: () => Promise<number>): Promise<number> {
  await run(); // warm-up, not counted
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) times.push(await run());
  return median(times);
}

export async function coldstart(options: BenchOptions): Promise<Figure[]> {
  const cli = builtCli();
  const dir = mkdtempSync(join(tmpdir(), "nd-bench-cold-"));
  try {
    const config = join(dir, "nd-presence.json");
    const journal = join(dir, "journal.jsonl");
    writeFileSync(
      config,
      JSON.stringify({
        discord: { applicationId: "1234567890123456789" },
        http: { port: 0 },
        journal: { path: journal },
        users: [{ username: "u0", discordToken: "env:ND_BENCH_TOKEN" }],
      }),
    );
    const env = { ...process.env, ND_BENCH_TOKEN: "bench-u0" };
    const nd = await medianOfRuns(() => {
      rmSync(journal, { force: true }); // each start replays an empty journal, as a first start does
      return timeUntil([cli, "start", "--config", config], "nd-presence started", env);
    });
    const raw = await medianOfRuns(() => timeUntil(["--input-type=module", "-e", "await import('ws'); console.log('ready')"], "ready"));
    const bare = await medianOfRuns(() => timeUntil(["-e", "console.log('ready')"], "ready"));
    options.log(`  nd-presence ${nd.toFixed(0)} ms, raw ${raw.toFixed(0)} ms (node alone: ${bare.toFixed(0)} ms)`);
    return [{
      scenario: "coldstart",
      metric: "spawn to accepting events, median of 5",
      unit: "ms",
      ndPresence: nd,
      raw,
      better: "lower",
      target: { op: "<", value: 500 },
    }];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
