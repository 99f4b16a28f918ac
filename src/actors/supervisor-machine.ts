import { type ActorRefFrom, assertEvent, enqueueActions, setup, type SnapshotFrom } from "xstate";
import type { Effect } from "./effects.ts";
import type { DomainEvent, ReconfiguredEvent } from "./events.ts";
import { type PresenceRef, shardMachine, type UserProfile } from "./shard-machine.ts";

export type { PresenceRef, UserProfile } from "./shard-machine.ts";

export interface SupervisorInput {
  users: UserProfile[];
  /** How often machines with nothing to do are stopped (ms). */
  sweepIntervalMs: number;
}

type ShardRef = ActorRefFrom<typeof shardMachine>;

export interface SupervisorContext {
  /** The shards, each supervising up to `USERS_PER_SHARD` users. */
  shards: ShardRef[];
  /** The index in `shards` of each configured (and enabled) user's shard. */
  shardOf: Record<string, number>;
  /**
   * Users a reload removed, by the index of the shard whose machine may still be clearing and
   * closing: their answers (gateway, artwork) still reach it, their playback is refused.
   */
  leaving: Record<string, number>;
  /** Events refused because their user is not configured, by user name. */
  refused: Record<string, number>;
  /** For the shards a reload adds. */
  sweepIntervalMs: number;
}

/** A shard said it has stopped every machine it had (after `service.shutdown`). */
type ShardStopped = { type: "shard.stopped" };
/** A shard dropped the machine of a user a reload removed: they are no longer `leaving`. */
type UserLeft = { type: "user.left"; user: string };
/**
 * `service.reconfigured` as the supervisor takes it: with the profiles of the users it names, from
 * the running config (the service adds them: `apply` in src/service/journaling.ts).
 */
export type UsersReconfigured = Omit<ReconfiguredEvent, "type" | "users"> & { type: "users.reconfigured"; users: UserProfile[] };
export type SupervisorEvent = DomainEvent | ShardStopped | UserLeft | UsersReconfigured;

/**
 * Users per shard. Spawning or stopping a machine copies its parent's map of children (XState;
 * a stop also deletes a key from the copy, which is slow in V8), so each costs in proportion to
 * the shard, not to the household. At 32, stopping 10,000 users' machines at shutdown takes
 * 3.1 s against 3.9 s at 100, and 10,000 users need 313 shards, which cost nothing per event.
 */
export const USERS_PER_SHARD = 32;

/** The index of the shard that holds the user's machine, if any: a configured user's, or a removed one's. */
function shardIndexOf({ shardOf, leaving }: Pick<SupervisorContext, "shardOf" | "leaving">, user: string): number | undefined {
  if (Object.hasOwn(shardOf, user)) return shardOf[user];
  return Object.hasOwn(leaving, user) ? leaving[user] : undefined;
}

/** Users in groups of USERS_PER_SHARD, in order: the users of each shard to spawn. */
function inShards(users: readonly UserProfile[]): UserProfile[][] {
  const groups: UserProfile[][] = [];
  for (let first = 0; first < users.length; first += USERS_PER_SHARD) groups.push(users.slice(first, first + USERS_PER_SHARD));
  return groups;
}

function machineOf(context: SupervisorContext, user: string): PresenceRef | undefined {
  const index = shardIndexOf(context, user);
  return index === undefined ? undefined : context.shards[index]?.getSnapshot().context.machines[user];
}

/** The user's running presence machine, if they have one. */
export function presenceOf(snapshot: SnapshotFrom<typeof supervisorMachine>, user: string): PresenceRef | undefined {
  return machineOf(snapshot.context, user);
}

/**
 * The root of the actor system. Each configured user belongs to one shard (`shardMachine`),
 * which spawns the user's `presenceMachine` on their first playback event. The supervisor routes
 * playback events to the user's shard and answers (gateway, artwork, REST) to the user's machine,
 * refuses events for users who are not configured (counted,
 * logged once), and passes shutdown and the runtime's own events to every shard.
 *
 * @example
 * const supervisor = createActor(supervisorMachine.provide({ actions: { perform: (_, e) => log(e) } }), {
 *   input: { users: [profile], sweepIntervalMs: 60_000 },
 * }).start();
 * supervisor.send({ type: "playback.playing", user: "alice", track, at: Date.now() });
 */
export const supervisorMachine = setup({
  types: {
    context: {} as SupervisorContext,
    events: {} as SupervisorEvent,
    input: {} as SupervisorInput,
  },
  actors: { shard: shardMachine },
  actions: {
    /** Replaced by the host: carries out (or records) an effect on behalf of `user`. */
    perform: (_: unknown, _params: { user: string; effect: Effect }) => {},

    /** Playback goes through the shard, which decides whether to start (or replace) a machine. */
    routeToShard: enqueueActions(({ context, event, enqueue }) => {
      if (!("user" in event) || event.type === "user.left") return;
      const shard = context.shards[context.shardOf[event.user]!];
      if (shard) enqueue.sendTo(shard, event);
    }),

    /**
     * Answers (gateway frames, artwork, REST) go straight to the user's machine: one step instead
     * of two on the busiest path (heartbeat ACKs). Every send is synchronous, so they cannot
     * overtake a playback event sent through the shard before them.
     */
    routeToMachine: enqueueActions(({ context, event, enqueue }) => {
      if (!("user" in event) || event.type === "user.left") return;
      const machine = machineOf(context, event.user);
      if (machine) enqueue.sendTo(machine, event);
    }),

    refuseUnknownUser: enqueueActions(({ context, event, enqueue }) => {
      if (!("user" in event)) return;
      const count = context.refused[event.user] ?? 0;
      if (count === 0) {
        const effect: Effect = { type: "log", level: "warn", message: "event for a user who is not configured: refused", data: { user: event.user } };
        enqueue({ type: "perform", params: { user: event.user, effect } });
      }
      enqueue.assign({ refused: { ...context.refused, [event.user]: count + 1 } });
    }),

    broadcast: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, ["service.shutdown", "runtime.stopped", "runtime.resumed"]);
      for (const shard of context.shards) enqueue.sendTo(shard, event);
    }),

    forgetLeaving: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, "user.left");
      if (!Object.hasOwn(context.leaving, event.user)) return;
      const { [event.user]: _, ...leaving } = context.leaving;
      enqueue.assign({ leaving });
    }),

    /**
     * A reload: each shard is told its share of the changes. A removed user leaves `shardOf` at
     * once (their playback is refused from here on) but stays reachable in `leaving` while their
     * machine clears and closes. An added user goes where they were (a user removed and added
     * again, whose old machine may still be closing: that shard may then hold one more than
     * USERS_PER_SHARD, a cost and not a limit), else to the first shard with room, else to a new
     * shard.
     */
    reconfigure: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, "users.reconfigured");
      const shardOf = { ...context.shardOf };
      const leaving = { ...context.leaving };
      const changes = new Map<number, { users: UserProfile[]; removed: string[] }>();
      const changesOf = (index: number) => {
        let change = changes.get(index);
        if (!change) changes.set(index, change = { users: [], removed: [] });
        return change;
      };
      for (const user of event.removed) {
        if (!Object.hasOwn(shardOf, user)) continue;
        const index = shardOf[user]!;
        // Only a running machine has anything to clear; `user.left` ends its stay here.
        if (machineOf(context, user)) leaving[user] = index;
        delete shardOf[user];
        changesOf(index).removed.push(user);
      }
      const sizes = context.shards.map(() => 0);
      for (const index of Object.values(shardOf)) sizes[index]!++;
      const overflow: UserProfile[] = [];
      for (const profile of event.users) {
        const { user } = profile;
        const index = shardIndexOf({ shardOf, leaving }, user) ?? sizes.findIndex((size) => size < USERS_PER_SHARD);
        if (index === -1) {
          overflow.push(profile);
          continue;
        }
        if (!Object.hasOwn(shardOf, user)) sizes[index]!++;
        delete leaving[user];
        shardOf[user] = index;
        changesOf(index).users.push(profile);
      }
      for (const [index, change] of changes) {
        enqueue.sendTo(context.shards[index]!, { type: "shard.reconfigured", ...change, newToken: event.newToken, at: event.at });
      }
      const newShards = inShards(overflow);
      newShards.forEach((users, k) => users.forEach(({ user }) => (shardOf[user] = context.shards.length + k)));
      enqueue.assign({
        shardOf,
        leaving,
        shards: ({ context: c, spawn }) => [
          ...c.shards,
          ...newShards.map((users, k) => spawn("shard", { id: `shard:${c.shards.length + k}`, input: { users, sweepIntervalMs: c.sweepIntervalMs } })),
        ],
      });
    }),
  },
  guards: {
    isConfiguredUser: ({ context, event }) => "user" in event && Object.hasOwn(context.shardOf, event.user),
    allShardsStopped: ({ context }) => context.shards.every((shard) => shard.getSnapshot().value === "stopped"),
  },
}).createMachine({
  id: "supervisor",
  context: ({ input, spawn }) => {
    const shards: ShardRef[] = [];
    const shardOf: Record<string, number> = {};
    for (const users of inShards(input.users)) {
      for (const profile of users) shardOf[profile.user] = shards.length;
      shards.push(spawn("shard", { id: `shard:${shards.length}`, input: { users, sweepIntervalMs: input.sweepIntervalMs } }));
    }
    return { shards, shardOf, leaving: {}, refused: {}, sweepIntervalMs: input.sweepIntervalMs };
  },
  initial: "running",
  states: {
    running: {
      on: {
        "playback.*": [{ guard: "isConfiguredUser", actions: "routeToShard" }, { actions: "refuseUnknownUser" }],
        // Answers for a user who has no machine (late ones) are dropped.
        "gateway.*": { actions: "routeToMachine" },
        "artwork.*": { actions: "routeToMachine" },
        "discord.*": { actions: "routeToMachine" },
        "service.shutdown": { target: "stopping", actions: "broadcast" },
        "runtime.*": { actions: "broadcast" },
        "users.reconfigured": { actions: "reconfigure" },
        "user.left": { actions: "forgetLeaving" },
      },
    },
    stopping: {
      // Machines still finishing their shutdown (clearing, closing) keep getting gateway events.
      on: {
        "gateway.*": { actions: "routeToMachine" },
        "artwork.*": { actions: "routeToMachine" },
        "discord.*": { actions: "routeToMachine" },
        "shard.stopped": { guard: "allShardsStopped", target: "stopped" },
        // A journal that ends mid-shutdown (the process died in it): the next start goes on from here.
        "runtime.stopped": { actions: "broadcast" },
        "runtime.resumed": { target: "running", actions: "broadcast" },
      },
      always: { guard: "allShardsStopped", target: "stopped" },
    },
    /** Not final: a journal that ends with a clean stop is replayed, then the service goes on. */
    stopped: {
      on: { "runtime.resumed": { target: "running", actions: "broadcast" } },
    },
  },
});
