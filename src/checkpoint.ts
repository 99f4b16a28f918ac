import { settingsOf } from "./actors/presence-context.ts";
import type { UserProfile } from "./actors/shard-machine.ts";
import type { SavedTimer } from "./adapters/actor-timers.ts";

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
  snapshot: unknown;
  timers: SavedTimer[];
}

/** FNV-1a, 32 bits, as hex: a short, stable name for a long text (not a secret's hash). */
export function fingerprint(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, "0");
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
  const children = node.children && Object.fromEntries(Object.entries(node.children).map(([id, child]) => [id, { ...child, snapshot: mapActors(child.snapshot, change) }]));
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
    if (context && "settings" in context && typeof context.user === "string") return { ...actor, context: { ...context, settings: { fromProfile: context.user } } };
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
    if (context && typeof settings?.fromProfile === "string") return { ...actor, context: { ...context, settings: settingsOf(profileOf(settings.fromProfile)) } };
    const named = context?.profiles as { fromProfiles?: string[] } | undefined;
    if (context && Array.isArray(named?.fromProfiles)) return { ...actor, context: { ...context, profiles: Object.fromEntries(named.fromProfiles.map((user) => [user, profileOf(user)])) } };
    return actor;
  });
}
