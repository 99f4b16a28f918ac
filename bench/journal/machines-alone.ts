/**
 * The floor under the replay: the same entries sent straight to each user's presence machine under
 * a replay clock, and nothing else: no supervisor or shard routing, no validation, no journal
 * bookkeeping, no service. What XState's steps for these machines cost by themselves; no change
 * to the service can make its replay faster than this.
 */
import { createActor, type Actor } from "xstate";
import { presenceMachine } from "../../src/actors/presence-machine.ts";
import { seedFrom } from "../../src/actors/random.ts";
import { presenceInput } from "../../src/actors/shard-machine.ts";
import type { JournalEntry } from "../../src/adapters/journal.ts";
import { ReplayClock } from "../../src/adapters/replay-clock.ts";
import { userProfiles } from "../../src/config/service-config.ts";
import { systemClock } from "../../src/service-clock.ts";
import { benchConfig } from "./generate.ts";

/** Effects are dropped, as a replay's are (the service only traces them). */
const logic = presenceMachine.provide({ actions: { perform: () => {} } });

/** Milliseconds to feed every entry to its user's machine; throws unless every user ends up playing. */
export function replayMachinesAlone(entries: JournalEntry[], users: number): number {
  const profiles = new Map(userProfiles(benchConfig(users)).map((profile) => [profile.user, profile]));
  const clock = new ReplayClock(systemClock, entries[0]?.at ?? 0);
  const machines = new Map<string, Actor<typeof logic>>();
  const started = performance.now();
  for (const entry of entries) {
    clock.advanceTo(entry.at);
    const event = entry.event as typeof entry.event & { user: string };
    let machine = machines.get(event.user);
    if (!machine) {
      // Seeded as the shard seeds a user's machine, so that its heartbeats fall where the journal's ACKs expect them.
      machine = createActor(logic, { clock, input: presenceInput(profiles.get(event.user)!, seedFrom(event.user, event.at)) }).start();
      machines.set(event.user, machine);
    }
    machine.send(event);
  }
  const ms = performance.now() - started;
  // As `checkAllPlaying`: presenting on the session it opened first, never reconnected.
  const wrong = [...machines].filter(([, machine]) => {
    const snapshot = machine.getSnapshot();
    return !snapshot.matches({ presenting: "playing" }) || snapshot.context.counters.reconnects !== 0;
  });
  if (machines.size !== users || wrong.length > 0) {
    throw new Error(`machines alone: ${wrong.length} of ${machines.size} users not playing (expected ${users}); first: ${wrong[0]?.[0]}`);
  }
  for (const machine of machines.values()) machine.stop();
  return ms;
}
