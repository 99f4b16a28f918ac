import type { AnyStateMachine, StateValue } from "xstate";
import { initialContext, settingsOf } from "../actors/presence-context.ts";
import { presenceMachine } from "../actors/presence-machine.ts";
import { presenceInput, shardMachine, type UserProfile } from "../actors/shard-machine.ts";
import { supervisorMachine } from "../actors/supervisor-machine.ts";
import { fnv1a } from "../actors/fnv1a.ts";
import { errorText } from "../errors.ts";
import type { SavedTimer } from "../adapters/journal/actor-timers.ts";

/**
 * The whole actor system at one journal seq: XState's persisted snapshot of the supervisor (its
 * shards and every user's machine inside), the timers they had pending, and what compaction needs.
 * A start restores it and replays only the entries after it, so that recovery takes time in
 * proportion to the tail, not to the history (a day of heartbeats for 10,000 users is millions
 * of entries). It holds no secret: machines never hold tokens.
 */
export interface Checkpoint {
  v: 1;
  /** The journal seq of the last input it includes. */
  seq: number;
  /** The service clock when it was taken. */
  at: number;
  /**
   * The configuration (users and their settings, no secrets) and machine definitions it was
   * taken under. A start under any other falls back to replaying the journal.
   */
  key: string;
  /** For compaction: the seq of the input that started each running machine. */
  started: Record<string, number>;
  /** Each user's session `s` as the journal knew it (see `SeqNote`): what a resume asks to replay from. */
  sessionSeqs: Record<string, number | null>;
  snapshot: unknown;
  timers: SavedTimer[];
}

/** FNV-1a, 32 bits, as hex: a short, stable name for a long text (not a secret's hash). */
export function fingerprint(text: string): string {
  return fnv1a(text).toString(16).padStart(8, "0");
}

/** Why a checkpoint cannot be used for this start, or null if it can. */
export function checkpointProblem(checkpoint: Checkpoint, key: string): string | null {
  if (checkpoint.v !== 1) return `unknown checkpoint version ${String(checkpoint.v)}`;
  if (checkpoint.key !== key) return "the configuration or the machines changed since it was taken";
  return null;
}

/** XState's persisted snapshot of an actor, as far as this file reads it. */
interface Persisted {
  context?: Record<string, unknown>;
  children?: Record<string, { snapshot: Persisted } & Record<string, unknown>>;
  [key: string]: unknown;
}

/** A copy of the actor tree with `change` applied to every actor's persisted snapshot (never in place). */
function mapActors(node: Persisted, change: (actor: Persisted) => Persisted): Persisted {
  const children = node.children &&
    Object.fromEntries(Object.entries(node.children).map(([id, child]) => [id, { ...child, snapshot: mapActors(child.snapshot, change) }]));
  return change(children ? { ...node, children } : node);
}

/**
 * A machine's settings and a shard's profiles come from the configuration, and a checkpoint is
 * used only under the same one: so it names their users instead of repeating them (1.4 of 3.9 KiB
 * a user). A shard's context has `profiles`; a presence machine's has `user` and `settings`.
 */
export function withoutProfiles(snapshot: unknown): unknown {
  return mapActors(snapshot as Persisted, (actor) => {
    const context = actor.context;
    if (context && "settings" in context && typeof context.user === "string") {
      return { ...actor, context: { ...context, settings: { fromProfile: context.user } } };
    }
    if (context && "profiles" in context) return { ...actor, context: { ...context, profiles: { fromProfiles: Object.keys(context.profiles as object) } } };
    return actor;
  });
}

/** The inverse of `withoutProfiles`, from the configuration's profiles. */
export function withProfiles(snapshot: unknown, profiles: UserProfile[]): unknown {
  const byUser = new Map(profiles.map((profile) => [profile.user, profile]));
  const profileOf = (user: string) => {
    const profile = byUser.get(user);
    if (!profile) throw new Error(`the checkpoint names a user who is not configured: ${user}`);
    return profile;
  };
  return mapActors(snapshot as Persisted, (actor) => {
    const context = actor.context;
    const settings = context?.settings as { fromProfile?: string } | undefined;
    if (context && typeof settings?.fromProfile === "string") {
      return { ...actor, context: { ...context, settings: settingsOf(profileOf(settings.fromProfile)) } };
    }
    const named = context?.profiles as { fromProfiles?: string[] } | undefined;
    if (context && Array.isArray(named?.fromProfiles)) {
      return { ...actor, context: { ...context, profiles: Object.fromEntries(named.fromProfiles.map((user) => [user, profileOf(user)])) } };
    }
    return actor;
  });
}

/** The machines a checkpoint's actors can be, by the name they were spawned under (`src`). */
const machinesBySrc: Record<string, AnyStateMachine> = { shard: shardMachine, presence: presenceMachine };

/**
 * Why a checkpoint's snapshot (with its profiles back in) cannot be restored into these machines,
 * or null. A checkpoint that parses can still hold a state the machines do not have, or a context
 * without fields they read (a hand edit, a disk fault, a bug in an older version); restored as it
 * is, it fails later, in every request that reads a status. The journal alone can rebuild the same
 * machines, so such a checkpoint is not used.
 */
export function impossibleState(snapshot: unknown, profiles: UserProfile[]): string | null {
  const byUser = new Map(profiles.map((profile) => [profile.user, profile]));
  const check = (node: Persisted, machine: AnyStateMachine, path: string): string | null => {
    try {
      machine.resolveState({ value: node.value as StateValue, context: node.context });
    } catch (error) {
      return `${path}: ${errorText(error)}`;
    }
    if (machine === presenceMachine) {
      const profile = byUser.get(String(node.context?.user));
      if (!profile) return `${path}: no configured user ${JSON.stringify(node.context?.user)}`;
      const missing = missingField(node.context, initialContext(presenceInput(profile, 0)), "context");
      if (missing) return `${path}: ${missing}`;
    }
    for (const [id, child] of Object.entries(node.children ?? {})) {
      const childMachine = typeof child.src === "string" ? machinesBySrc[child.src] : undefined;
      const problem = childMachine && check(child.snapshot, childMachine, `${path}/${id}`);
      if (problem) return problem;
    }
    return null;
  };
  return check(snapshot as Persisted, supervisorMachine, "supervisor");
}

/**
 * The first field of `fresh` (a machine's initial context) that `restored` lacks or holds as the
 * wrong kind of value, or null. Fields that start as null may hold anything later.
 */
function missingField(restored: unknown, fresh: unknown, path: string): string | null {
  if (fresh === null || fresh === undefined) return null;
  if (typeof fresh !== "object") return typeof restored === typeof fresh ? null : `${path} is not a ${typeof fresh}`;
  if (typeof restored !== "object" || restored === null) return `${path} is missing`;
  for (const [key, value] of Object.entries(fresh)) {
    const problem = missingField((restored as Record<string, unknown>)[key], value, `${path}.${key}`);
    if (problem) return problem;
  }
  return null;
}
