import type { JournalEntry } from "../../src/adapters/journal/journal.ts";
import { MemoryJournal } from "../../src/adapters/journal/journal.ts";
import { silentLogger } from "../../src/adapters/logger.ts";
import { createPresenceService } from "../../src/service/service.ts";
import { type BenchOptions, type Figure, median } from "../figures.ts";
import { floorLabel } from "../floors.ts";
import { applyPlain } from "./baseline.ts";
import { checkAllPlaying, checkPlainPlaying } from "./check.ts";
import { benchConfig, generateJournal } from "./generate.ts";
import { replayMachinesAlone } from "./machines-alone.ts";
import { serviceWire } from "./wire-records.ts";

/** About this many entries per replay, whatever the number of users (fewer events per user for more users). */
const TOTAL_EVENTS = 300_000;

/**
 * replay: events per second of `createPresenceService({ journal: MemoryJournal, mode: "replay" })`
 * plus `start()`, on a journal of ~300,000 entries for each user count. Raw baseline: the same
 * entries (already parsed, as MemoryJournal hands them over) applied to a plain Map by a switch
 * (baseline.ts). Both results are checked: every user is left playing.
 *
 * Two more figures are floors: the same entries fed straight to the users' presence machines, with
 * no service around them (machines-alone.ts), which is what XState's steps for them cost and so
 * how much of the gap to the target the service's own code could ever close; and the same for a
 * minimal XState machine (../minimal-machine.ts), which is what stepping one actor per user on
 * every event costs, however the machine is written. The minimal machine beats, so it replays the
 * journal with heartbeat ACKs (wire-records.ts) even where the service journals notes of `s`
 * instead: its events/s are of that journal's entries.
 */
export async function replay(options: BenchOptions): Promise<Figure[]> {
  const total = options.quick ? TOTAL_EVENTS / 10 : TOTAL_EVENTS;
  // Warm up every path (JIT), each on a small journal of its own.
  const small = () => generateJournal({ users: 20, eventsPerUser: 100, seed: 7 });
  await replayService(small(), 20);
  applyPlain(small());
  replayMachinesAlone(small(), 20);
  replayMachinesAlone(generateJournal({ users: 20, eventsPerUser: 100, seed: 7, wire: "acks" }), 20, "minimal");
  const figures: Figure[] = [];
  for (const users of options.users) {
    const eventsPerUser = Math.max(10, Math.round(total / users));
    const entries = generateJournal({ users, eventsPerUser });
    const withAcks = serviceWire === "acks" ? entries : generateJournal({ users, eventsPerUser, wire: "acks" });
    options.log(`  ${users} users: ${entries.length} entries`);
    const ndMs = await replayService(entries, users);
    const rawMs = median([0, 1, 2, 3, 4].map(() => replayPlain(entries, users)));
    const machinesMs = replayMachinesAlone(entries, users);
    const minimalMs = replayMachinesAlone(withAcks, users, "minimal");
    options.log(
      `  ${users} users: nd-presence ${ndMs.toFixed(0)} ms, its machines alone ${machinesMs.toFixed(0)} ms, a minimal machine ${minimalMs.toFixed(0)} ms, raw ${
        rawMs.toFixed(1)
      } ms`,
    );
    const perSecond = (ms: number) => entries.length / (ms / 1000);
    // No target: issue 16 dropped the events/s one; what a user waits for is replay-day's start-up time.
    const base = { scenario: "replay", unit: "events/s", users, raw: perSecond(rawMs), better: "higher" as const };
    figures.push(
      { ...base, metric: `events/s, ${entries.length} events`, ndPresence: perSecond(ndMs) },
      { ...base, metric: `events/s, ${floorLabel.presence}`, ndPresence: perSecond(machinesMs) },
      { ...base, metric: `events/s, ${floorLabel.minimal}`, ndPresence: withAcks.length / (minimalMs / 1000) },
    );
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
