import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { JournalEntry } from "../../src/adapters/journal/journal.ts";
import { JsonlJournal } from "../../src/adapters/journal/jsonl-journal.ts";
import { silentLogger } from "../../src/adapters/logger.ts";
import { createPresenceService } from "../../src/service/service.ts";
import { type BenchOptions, type Figure, median } from "../figures.ts";
import { applyPlain } from "./baseline.ts";
import { checkAllPlaying, checkPlainPlaying } from "./check.ts";
import { benchConfig, generateJournal } from "./generate.ts";

const EVENTS_PER_USER = 20;

/**
 * recovery: time to rebuild N users' state at start-up, from `createPresenceService` (with a
 * `JsonlJournal` on a file of ~20 entries per user) to `start()` resolved, in `mode: "replay"` so
 * that nothing connects. Reading and parsing the file are included. Raw baseline: read the file,
 * parse its lines, apply them to a plain Map. The file is freshly written, so both read it from
 * the page cache: this measures CPU, not the disk.
 *
 * Then the same start from a checkpoint, as `nd-presence start` makes them: the first 90% of the
 * journal is replayed and checkpointed (`checkpoint()`: taken, then written to its file),
 * the last 10% is appended as a tail, and a new service restores the checkpoint and replays the
 * tail. Its raw baseline is still the whole file into a Map: what a start costs either way.
 * Target: at most 1 s at 10,000 users (issue 16).
 */
export async function recovery(options: BenchOptions): Promise<Figure[]> {
  const folder = mkdtempSync(join(tmpdir(), "nd-bench-recovery-"));
  try {
    const warm = join(folder, "warm.jsonl");
    writeJournal(warm, generateJournal({ users: 20, eventsPerUser: EVENTS_PER_USER, seed: 7 }));
    await recoverService(warm, 20);
    recoverPlain(warm, 20);
    const figures: Figure[] = [];
    for (const users of options.users) {
      const path = join(folder, `journal-${users}.jsonl`);
      const count = writeJournal(path, generateJournal({ users, eventsPerUser: options.quick ? 10 : EVENTS_PER_USER }));
      const ndMs = await recoverService(path, users);
      const rawMs = median([0, 1, 2].map(() => recoverPlain(path, users)));
      options.log(`  ${users} users, ${count} entries: nd-presence ${ndMs.toFixed(0)} ms, raw ${rawMs.toFixed(1)} ms`);
      figures.push({
        scenario: "recovery",
        metric: `start-up, ${count} events`,
        unit: "ms",
        users,
        ndPresence: ndMs,
        raw: rawMs,
        better: "lower",
      });
      const fromCheckpoint = await recoverFromCheckpoint(join(folder, `checkpointed-${users}.jsonl`), users, options.quick ? 10 : EVENTS_PER_USER);
      options.log(
        `  ${users} users from a checkpoint + ${fromCheckpoint.tail} entries: ${fromCheckpoint.startMs.toFixed(0)} ms (checkpoint ${
          (fromCheckpoint.bytes / 2 ** 20).toFixed(1)
        } MiB, taken and written in ${fromCheckpoint.saveMs.toFixed(0)} ms)`,
      );
      figures.push(
        {
          scenario: "recovery",
          metric: `start-up from a checkpoint + ${fromCheckpoint.tail} events`,
          unit: "ms",
          users,
          ndPresence: fromCheckpoint.startMs,
          raw: rawMs,
          better: "lower",
          // Issue 16: a start after a crash within a second at 10,000 users.
          ...(users >= 10_000 ? { target: { op: "<=" as const, value: 1_000 } } : {}),
        },
        { scenario: "recovery", metric: "checkpoint, taken and written", unit: "ms", users, ndPresence: fromCheckpoint.saveMs, raw: null, better: "lower" },
        {
          scenario: "recovery",
          metric: "checkpoint size",
          unit: "KiB per user",
          users,
          ndPresence: fromCheckpoint.bytes / 1024 / users,
          raw: null,
          better: "lower",
        },
      );
    }
    return figures;
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

function writeJournal(path: string, entries: JournalEntry[]): number {
  writeFileSync(path, entries.map((entry) => `${JSON.stringify(entry)}\n`).join(""), { mode: 0o600 });
  return entries.length;
}

async function recoverService(path: string, users: number): Promise<number> {
  const started = performance.now();
  const service = createPresenceService({
    config: benchConfig(users),
    journal: new JsonlJournal({ path, logger: silentLogger }),
    mode: "replay",
    logger: silentLogger,
  });
  await service.start();
  const ms = performance.now() - started;
  checkAllPlaying(service, users);
  service.actor?.stop();
  return ms;
}

async function recoverFromCheckpoint(path: string, users: number, eventsPerUser: number) {
  const entries = generateJournal({ users, eventsPerUser });
  const cut = Math.floor(entries.length * 0.9);
  writeJournal(path, entries.slice(0, cut));
  const journal = () => new JsonlJournal({ path, logger: silentLogger });
  const first = createPresenceService({ config: benchConfig(users), journal: journal(), mode: "replay", logger: silentLogger });
  await first.start();
  const saving = performance.now();
  await first.checkpoint();
  const saveMs = performance.now() - saving;
  first.actor?.stop();
  appendFileSync(path, entries.slice(cut).map((entry) => `${JSON.stringify(entry)}\n`).join(""));
  const started = performance.now();
  const second = createPresenceService({ config: benchConfig(users), journal: journal(), mode: "replay", useCheckpoint: true, logger: silentLogger });
  await second.start();
  const startMs = performance.now() - started;
  checkAllPlaying(second, users);
  second.actor?.stop();
  const bytes = statSync(new JsonlJournal({ path, logger: silentLogger }).checkpointPath).size;
  return { startMs, saveMs, bytes, tail: entries.length - cut };
}

function recoverPlain(path: string, users: number): number {
  const started = performance.now();
  const entries = readFileSync(path, "utf8").split("\n").filter((line) => line !== "").map((line) => JSON.parse(line) as JournalEntry);
  const state = applyPlain(entries);
  const ms = performance.now() - started;
  checkPlainPlaying(state, users);
  return ms;
}
