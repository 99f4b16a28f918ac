import type { Actor } from "xstate";
import type { DomainEvent, DomainEventInput, ReconfiguredEvent } from "../actors/events.ts";
import { presenceOf, type supervisorMachine, type UsersReconfigured } from "../actors/supervisor-machine.ts";
import { type JournalEntry, streamOf } from "../adapters/journal/journal.ts";
import { errorText } from "../errors.ts";
import { type InputSource, refusal } from "./event-validation.ts";
import type { ServiceRuntime } from "./runtime.ts";

/**
 * Outside input: a host's playback (`from: "host"`) or an adapter's answer (`from: "adapter"`),
 * validated, stamped, then recorded. A bad input is logged and refused, never thrown at its sender.
 */
export function admit(runtime: ServiceRuntime, input: DomainEventInput, from: InputSource): void {
  if (!runtime.actor || !runtime.accepting) return;
  // A stop is under way: the machines are clearing and take no playback; say so rather than
  // journal what nothing will apply. (The adapters' answers still come: the clears need them.)
  const problem = from === "host" && runtime.stopping ? "the service is stopping" : refusal(input, from);
  if (problem) {
    runtime.logger.log("warn", `event refused: ${problem}`, { type: typeof input?.type === "string" ? input.type : undefined });
    return;
  }
  record(runtime, { ...input, at: input.at ?? runtime.clock.now() } as DomainEvent);
}

/** Journals an input (stamped), then applies it: outside input after `admit`, and the service's own. */
export function record(runtime: ServiceRuntime, event: DomainEvent): void {
  if (!runtime.actor || !runtime.accepting) return;
  // The entry's time is the service clock's, which a replay moves to before applying it: an
  // event's own `at` (a host's, a source's) can be late or early, and timers start from the clock.
  const entry: JournalEntry = { v: 1, seq: runtime.nextSeq++, at: runtime.clock.now(), stream: streamOf(event), event };
  // Append first: an input that was applied is an input that will be replayed. If the journal
  // cannot take it (a full disk), the service keeps working and says so (see JournalHealth).
  try {
    runtime.journal.append(entry);
    if (runtime.health.wrote()) runtime.logger.log("info", "journal: writing again");
  } catch (error) {
    if (runtime.health.failed("append", error)) {
      runtime.logger.log("error", "journal append failed; going on without it until it recovers (a restart now would lose what was not written)", {
        error: errorText(error),
      });
    }
  }
  apply(runtime, runtime.actor, entry);
}

/**
 * A reload as the supervisor takes it: the journal names the users, the running config gives
 * their profiles (a user it no longer has was removed again since: a later reload, or the config
 * this start was given, says so).
 */
function reloadWithProfiles(runtime: ServiceRuntime, event: ReconfiguredEvent): UsersReconfigured {
  const byUser = new Map(runtime.profiles.map((profile) => [profile.user, profile]));
  const users = event.users.flatMap((user) => byUser.get(user) ?? []);
  return { type: "users.reconfigured", users, removed: event.removed, newToken: event.newToken, at: event.at };
}

/** Applies one journaled input, noting when it started a user's current machine (for compaction). */
export function apply(runtime: ServiceRuntime, running: Actor<typeof supervisorMachine>, entry: JournalEntry): void {
  const event = entry.event;
  // A seq note changes no machine: it is kept for a resume after a restart, without a step.
  if (event.type === "gateway.seq") return void runtime.sessionSeqs.set(event.user, event.seq);
  if (event.type === "gateway.ready" || event.type === "gateway.resumed") runtime.sessionSeqs.set(event.user, event.seq);
  if (runtime.trace) runtime.seqOf.set(entry.event, entry.seq); // only the trace names causes
  if (event.type === "service.reconfigured") return void running.send(reloadWithProfiles(runtime, event));
  // Only playback starts a machine: the rest (heartbeat ACKs above all) skips the lookups.
  const user = entry.event.type.startsWith("playback.") ? (entry.event as { user: string }).user : null;
  const before = user === null ? undefined : presenceOf(running.getSnapshot(), user);
  running.send(entry.event);
  const after = user === null ? undefined : presenceOf(running.getSnapshot(), user);
  if (user !== null && after && after !== before) runtime.history.started(user, entry.seq);
}
