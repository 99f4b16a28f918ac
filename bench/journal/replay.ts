import type { JournalEntry } from "../../src/adapters/journal.ts";
import { MemoryJournal } from "../../src/adapters/journal.ts";
import { silentLogger } from "../../src/adapters/logger.ts";
import { createPresenceService } from "../../src/service.ts";
import { median, type BenchOptions, type Figure } from "../figures.ts";
import { applyPlain } from "./baseline.ts";
import { checkAllPlaying, checkPlainPlaying } from "./check.ts";
import { benchConfig, generateJournal } from "./generate.ts";

/** About this many entries per replay, whatever the number of users (fewer events per user for more users). */
const TOTAL_EVENTS = 300_000;

/**
 * replay: events per second of `createPresenceService({ journal: MemoryJournal, mode: "replay" })`
 * plus `start()`, on a journal of ~300,000 entries for each user count. Raw baseline: the same
 * entries (already parsed, as MemoryJournal hands them over) applied to a plain Map by a switch
 * (baseline.ts). Both results are checked: every user is left playing.
 */
export async function replay(options: BenchOptions): Promise<Figure[]> {
  const total = options.quick ? TOTAL_EVENTS / 10 : TOTAL_EVENTS;
  // Warm up both paths (JIT), on a journal small enough not to matter.
  await replayService(generateJournal({ users: 20, eventsPerUser: 100, seed: 7 }), 20);
  applyPlain(generateJournal({ users: 20, eventsPerUser: 100, seed: 7 }));
  const figures: Figure[] = [];
  for (const users of options.users) {
    const entries = generateJournal({ users, eventsPerUser: Math.max(10, Math.round(total / users)) });
    options.log(`  ${users} users: ${entries.length} entries`);
    const ndMs = await replayService(entries, users);
    const rawMs = median([0, 1, 2, 3, 4].map(() => replayPlain(entries, users)));
    options.log(`  ${users} users: nd-presence ${ndMs.toFixed(0)} ms, raw ${rawMs.toFixed(1)} ms`);
    figures.push({
      scenario: "replay",
      metric: `events/s, ${entries.length} events`,
      unit: "events/s",
      users,
      ndPresence: entries.length / (ndMs / 1000),
      raw: entries.length / (rawMs / 1000),
      better: "higher",
      target: { op: ">=", value: 300_000 },
    });
  }
  return figures;
}

/** Milliseconds from `createPresenceService` to `start()` resolved; the check is outside the timing. */
async function replayService(entries: JournalEntry[], users: number): Promise<number> {
  const journal = new MemoryJournal();
  journal.entries = entries;
  const started = performance.now();
  const service = createPresenceService({ config: benchConfig(users), journal, mode: "replay", logger: silentLogger });
  await service.start();
  const ms = performance.now() - started;
  checkAllPlaying(service, users);
  service.actor?.stop();
  return ms;
}

function replayPlain(entries: JournalEntry[], users: number): number {
  const started = performance.now();
  const state = applyPlain([...entries]);
  const ms = performance.now() - started;
  checkPlainPlaying(state, users);
  return ms;
}
