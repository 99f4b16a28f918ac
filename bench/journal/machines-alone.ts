/**
 * The floor under the replay: the same entries sent straight to each user's machine under a replay
 * clock, and nothing else: no supervisor or shard routing, no validation, no journal bookkeeping,
 * no service. With nd-presence's presence machine, what XState's steps for it cost by themselves:
 * no change to the service can make its replay faster. With the minimal machine, what any machine
 * stepped on every event costs (../floors.ts).
 */
import { type Actor, type AnyStateMachine, createActor } from "xstate";
import { seedFrom } from "../../src/actors/random.ts";
import { presenceInput } from "../../src/actors/shard-machine.ts";
import type { JournalEntry } from "../../src/adapters/journal/journal.ts";
import { ReplayClock } from "../../src/adapters/journal/replay-clock.ts";
import { userProfiles } from "../../src/config/service-config.ts";
import { systemClock } from "../../src/clock.ts";
import { type FloorMachine, floorMachines, presentsOnFirstSession } from "../floors.ts";
import { benchConfig } from "./generate.ts";

/** Milliseconds to feed every entry to its user's machine; throws unless every user ends up playing. */
export function replayMachinesAlone(entries: JournalEntry[], users: number, kind: FloorMachine = "presence"): number {
  // Effects are dropped, as a replay's are (the service only traces them).
  const logic = floorMachines[kind].provide({ actions: { perform: () => {} } });
  const profiles = new Map(userProfiles(benchConfig(users)).map((profile) => [profile.user, profile]));
  const clock = new ReplayClock(systemClock, entries[0]?.at ?? 0);
  const machines = new Map<string, Actor<AnyStateMachine>>();
  const started = performance.now();
  for (const entry of entries) {
    clock.advanceTo(entry.at);
    // A note of `s` changes no machine: the service keeps it without a step, and so does this floor.
    if ((entry.event.type as string) === "gateway.seq") continue;
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
  const wrong = [...machines].filter(([, machine]) => !presentsOnFirstSession(kind, machine.getSnapshot()));
  if (machines.size !== users || wrong.length > 0) {
    throw new Error(`${kind} machines alone: ${wrong.length} of ${machines.size} users not playing (expected ${users}); first: ${wrong[0]?.[0]}`);
  }
  for (const machine of machines.values()) machine.stop();
  return ms;
}
