import { type ActorRefFrom, assertEvent, enqueueActions, sendParent, setup, type SnapshotFrom } from "xstate";
import type { Effect } from "./effects.ts";
import type { DomainEvent, PlaybackEvent } from "./events.ts";
import { isIdleContext } from "./presence-context.ts";
import { presenceMachine } from "./presence-machine.ts";
import { seedFrom } from "./random.ts";
import type { PresenceInput } from "./settings.ts";

/** A configured user, as the supervisor knows them: everything but the seed, and no secret. */
export type UserProfile = Omit<PresenceInput, "seed">;

/**
 * A machine's input, written out key by key. V8 gives `{ ...profile, seed }` a hidden class that
 * is not shared (a spread's copy has no transition tree to find it in again once a field type is
 * widened), so each machine's input carried a map and descriptors of its own: ~230 B per user.
 */
export function presenceInput(profile: UserProfile, seed: number): PresenceInput {
  const { user, presence, timings, properties, gatewayUrl } = profile;
  return { user, presence, timings, properties, gatewayUrl, seed };
}

export interface ShardInput {
  users: UserProfile[];
  /** How often machines with nothing to do are stopped (ms). */
  sweepIntervalMs: number;
}

export type PresenceRef = ActorRefFrom<typeof presenceMachine>;

export interface ShardContext {
  profiles: Record<string, UserProfile>;
  /**
   * The latest playback of a user removed and added again while their old machine still clears
   * and closes (it takes no playback): handed to a fresh machine once the old one has stopped.
   */
  held: Record<string, PlaybackEvent>;
  /** The running presence machine of each user who has one. */
  machines: Record<string, PresenceRef>;
  sweepIntervalMs: number;
}

/** A child crashed (a bug): XState sends its parent `xstate.error.actor.<id>`. */
type ChildFailure = { type: `xstate.error.actor.${string}`; error: unknown };
type ChildDone = { type: `xstate.done.actor.${string}` };
/**
 * A machine reached `stopped`: at shutdown it stays, holding its playback for the next start; while
 * running (its user was removed by a reload) it is dropped.
 */
type MachineStopped = { type: "presence.stopped" };
/** From the supervisor, on a reload (`service.reconfigured`): this shard's share of the changes. */
export type ShardReconfigured = { type: "shard.reconfigured"; users: UserProfile[]; removed: string[]; newToken: string[]; at: number };
export type ShardEvent = DomainEvent | ChildFailure | ChildDone | MachineStopped | ShardReconfigured;

const machineId = (user: string) => `presence:${user}`;
const userOf = (event: { type: string }) => event.type.replace(/^xstate\.(error|done)\.actor\.presence:/, "");

/** What `forgetMachines` needs of an action's `enqueue`. */
interface Forgetting {
  stopChild(ref: PresenceRef): void;
  assign(assignment: { machines: (args: { context: ShardContext }) => Record<string, PresenceRef> }): void;
}

/**
 * Stops these users' machines and forgets them. In place, as on spawn: at shutdown every machine
 * is dropped, one by one, and the map is only ever read through the latest context.
 */
function forgetMachines(context: ShardContext, enqueue: Forgetting, users: string[]): void {
  const gone = users.filter((user) => Object.hasOwn(context.machines, user));
  if (gone.length === 0) return;
  for (const user of gone) enqueue.stopChild(context.machines[user]!);
  enqueue.assign({
    machines: ({ context: c }) => {
      for (const user of gone) delete c.machines[user];
      return c.machines;
    },
  });
}

/** A machine may be stopped when it holds nothing (see `isIdleContext`). */
const isIdle = (snapshot: SnapshotFrom<typeof presenceMachine>) =>
  snapshot.status !== "active" || (snapshot.value === "disconnected" && isIdleContext(snapshot.context));

/**
 * Supervises the presence machines of a share of the configured users (the supervisor routes
 * each user's playback events to their shard, and answers straight to the user's machine). It
 * spawns a user's `presenceMachine` on their first playback event, passes playback on to it,
 * stops machines that have nothing left to do, and keeps a crashed machine from touching any
 * other user.
 *
 * Why shards: XState copies an actor's map of children on every spawn and every stop, so one
 * parent of N machines makes starting N users O(N²): 30 s for 10,000 users (see USERS_PER_SHARD).
 */
export const shardMachine = setup({
  types: {
    context: {} as ShardContext,
    events: {} as ShardEvent,
    input: {} as ShardInput,
  },
  actors: { presence: presenceMachine },
  actions: {
    /** Replaced by the host: carries out (or records) an effect on behalf of `user`. */
    perform: (_: unknown, _params: { user: string; effect: Effect }) => {},

    spawnPresence: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, ["playback.playing", "playback.paused", "playback.stopped"]);
      const profile = context.profiles[event.user]!;
      enqueue.assign({
        // The map is updated in place: copying it for every spawn made starting N users O(N²)
        // (70 s for 10,000 at start-up). It is only ever read through the latest context.
        machines: ({ context: c, spawn }) => {
          c.machines[event.user] = spawn("presence", {
            id: machineId(event.user),
            input: presenceInput(profile, seedFrom(event.user, event.at)),
          });
          return c.machines;
        },
      });
    }),

    routeToUser: enqueueActions(({ context, event, enqueue }) => {
      if (!("user" in event)) return;
      const machine = context.machines[event.user];
      if (machine) enqueue.sendTo(machine, event);
    }),

    stopIdleMachines: enqueueActions(({ context, enqueue }) => {
      forgetMachines(context, enqueue, Object.keys(context.machines).filter((user) => isIdle(context.machines[user]!.getSnapshot())));
    }),

    /** A machine crashed (a bug): say so, and end the session it leaves behind. `dropEndedMachine` follows. */
    reportCrashedMachine: enqueueActions(({ event, enqueue }) => {
      const user = userOf(event);
      const error = (event as ChildFailure).error;
      const effect: Effect = {
        type: "log",
        level: "error",
        message: "presence machine crashed; it will restart on the next event",
        data: { user, error: String(error) },
      };
      enqueue({ type: "perform", params: { user, effect } });
      // End the orphaned session (1000), so that nothing it showed lingers.
      const close: Effect = { type: "socket.closeAny", code: 1000, reason: "restarting after an error" };
      enqueue({ type: "perform", params: { user, effect: close } });
    }),

    /**
     * A machine ended, crashed (`xstate.error.actor.*`) or done (`xstate.done.actor.*`; a presence
     * machine has no final state today, so only if one is added): forget it. The user's next
     * playback event starts a fresh one.
     */
    dropEndedMachine: enqueueActions(({ context, event, enqueue }) => forgetMachines(context, enqueue, [userOf(event)])),

    broadcast: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, ["service.shutdown", "runtime.stopped", "runtime.resumed"]);
      for (const ref of Object.values(context.machines)) enqueue.sendTo(ref, event);
    }),

    /**
     * A reload: a removed user's machine clears and stops (then `dropStoppedMachines`), a changed
     * user's restarts its session with the new profile; a user with no machine gets one with the
     * new profile on their next playback.
     */
    reconfigureUsers: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, "shard.reconfigured");
      const profiles = { ...context.profiles };
      for (const user of event.removed) {
        delete profiles[user];
        const ref = context.machines[user];
        if (ref) enqueue.sendTo(ref, { type: "service.shutdown", clear: true, at: event.at });
      }
      for (const profile of event.users) {
        profiles[profile.user] = profile;
        const ref = context.machines[profile.user];
        if (ref) enqueue.sendTo(ref, { type: "user.restart", profile, newToken: event.newToken.includes(profile.user) });
      }
      enqueue.assign({ profiles });
    }),

    /** Playback for a user whose old machine is still leaving: kept for the fresh one. */
    holdPlayback: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, ["playback.playing", "playback.paused", "playback.stopped"]);
      enqueue.assign({ held: { ...context.held, [event.user]: event } });
    }),

    /**
     * Machines that stopped while the shard runs (their users were removed) are dropped, and the
     * supervisor told. A user added back meanwhile gets a fresh machine with the playback held
     * for them, through the usual path.
     */
    dropStoppedMachines: enqueueActions(({ context, enqueue }) => {
      const stopped = Object.keys(context.machines).filter((user) => context.machines[user]!.getSnapshot().value === "stopped");
      if (stopped.length === 0) return;
      forgetMachines(context, enqueue, stopped);
      const held = { ...context.held };
      for (const user of stopped) {
        if (!Object.hasOwn(context.profiles, user)) enqueue.sendParent({ type: "user.left", user });
        else if (held[user]) enqueue.raise(held[user]!);
        delete held[user];
      }
      enqueue.assign({ held });
    }),

    stopIdleMachine: enqueueActions(({ context, event, enqueue }) => {
      if (!("user" in event)) return;
      const ref = context.machines[event.user];
      if (ref) enqueue.stopChild(ref);
    }),
  },
  guards: {
    hasMachine: ({ context, event }) => "user" in event && Object.hasOwn(context.machines, event.user),
    /** A machine clearing and closing for a reload that removed its user (who is back). */
    hasLeavingMachine: ({ context, event }) => {
      const value = "user" in event && Object.hasOwn(context.machines, event.user) ? context.machines[event.user]!.getSnapshot().value : null;
      return value === "stopping" || value === "stopped";
    },
    hasIdleMachine: ({ context, event }) =>
      "user" in event && Object.hasOwn(context.machines, event.user) && isIdle(context.machines[event.user]!.getSnapshot()),
    allMachinesStopped: ({ context }) =>
      Object.values(context.machines).every((ref) => {
        const snapshot = ref.getSnapshot();
        return snapshot.status !== "active" || snapshot.value === "stopped";
      }),
  },
  delays: {
    sweepInterval: ({ context }) => context.sweepIntervalMs,
  },
}).createMachine({
  id: "shard",
  context: ({ input }) => ({
    profiles: Object.fromEntries(input.users.map((profile) => [profile.user, profile])),
    held: {},
    machines: {},
    sweepIntervalMs: input.sweepIntervalMs,
  }),
  initial: "running",
  on: {
    "xstate.error.actor.*": { actions: ["reportCrashedMachine", "dropEndedMachine"] },
    "xstate.done.actor.*": { actions: "dropEndedMachine" },
  },
  states: {
    running: {
      on: {
        "playback.*": [
          { guard: "hasLeavingMachine", actions: "holdPlayback" },
          // An idle machine is as good as a fresh one; replacing it here (not only at the sweep,
          // whose timing a replay does not share) keeps a replay identical to the live run.
          { guard: "hasIdleMachine", actions: ["stopIdleMachine", "spawnPresence", "routeToUser"] },
          { guard: "hasMachine", actions: "routeToUser" },
          // The supervisor routes only configured users here.
          { actions: ["spawnPresence", "routeToUser"] },
        ],
        "service.shutdown": { target: "stopping", actions: "broadcast" },
        "runtime.*": { actions: "broadcast" },
        "shard.reconfigured": { actions: "reconfigureUsers" },
        "presence.stopped": { actions: "dropStoppedMachines" },
      },
      after: { sweepInterval: { target: "running", reenter: true, actions: "stopIdleMachines" } },
    },
    stopping: {
      // Machines still finishing their shutdown (clearing, closing) get their gateway events
      // straight from the supervisor; the shard waits for them to stop.
      on: {
        "presence.stopped": { guard: "allMachinesStopped", target: "stopped" },
        // A journal that ends mid-shutdown (the process died in it): the next start goes on from here.
        "runtime.stopped": { actions: "broadcast" },
        "runtime.resumed": { target: "running", actions: "broadcast" },
      },
      always: { guard: "allMachinesStopped", target: "stopped" },
    },
    /**
     * Not final: a journal that ends with a clean stop is replayed, then the service goes on, and
     * the machines kept (with what they were playing) go on with it.
     */
    stopped: {
      entry: sendParent({ type: "shard.stopped" }),
      on: { "runtime.resumed": { target: "running", actions: "broadcast" } },
    },
  },
});
