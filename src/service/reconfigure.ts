import type { SnapshotFrom } from "xstate";
import type { UserProfile } from "../actors/shard-machine.ts";
import type { supervisorMachine } from "../actors/supervisor-machine.ts";
import { type ServiceConfig, userProfiles } from "../config/service-config.ts";

/** What a reload changed, by user name, and what it could not change while running. */
export interface Reconfiguration {
  added: string[];
  removed: string[];
  /** Users whose profile or token changed: their sessions restart. */
  changed: string[];
  /** Config keys that changed but take effect only at the next start. */
  needsRestart: string[];
}

/**
 * Who a new config adds, removes and changes, against the running one. A user is changed when
 * their profile (what their machine runs with: templates, status, timings, the application) or
 * their token differs (`newToken` names those); a disabled user counts as removed. `profiles` are
 * the new config's, in its order.
 */
export function userChanges(previous: ServiceConfig, next: ServiceConfig) {
  const before = new Map(userProfiles(previous).map((profile) => [profile.user, JSON.stringify(profile)]));
  const tokenBefore = new Map(previous.users.map((user) => [user.username, user.discordToken]));
  const tokenAfter = new Map(next.users.map((user) => [user.username, user.discordToken]));
  const profiles = userProfiles(next);
  const added: string[] = [];
  const changed: string[] = [];
  const newToken: string[] = [];
  for (const profile of profiles) {
    const { user } = profile;
    const old = before.get(user);
    const tokenChanged = tokenBefore.get(user) !== tokenAfter.get(user);
    if (old === undefined) added.push(user);
    else if (tokenChanged || old !== JSON.stringify(profile)) changed.push(user);
    if (old !== undefined && tokenChanged) newToken.push(user);
  }
  const kept = new Set(profiles.map((profile) => profile.user));
  const removed = [...before.keys()].filter((user) => !kept.has(user));
  return { added, removed, changed, newToken, profiles };
}

/**
 * The users the config names that the recovered supervisor does not have: a replay of a reload
 * that removed them, from a config that has them again. A start takes the config it was given, so
 * they are added back (journaled, as a reload). Every other difference is already gone: replaying
 * a reload, or restoring a checkpoint, gives the machines the running config's profiles.
 */
export function usersMissing(snapshot: SnapshotFrom<typeof supervisorMachine>, profiles: readonly UserProfile[]): string[] {
  const { shardOf } = snapshot.context;
  return profiles.filter((profile) => !Object.hasOwn(shardOf, profile.user)).map((profile) => profile.user);
}

/** Users a reload removed whose machines are still clearing and closing (see `SupervisorContext.leaving`). */
export function usersLeaving(snapshot: SnapshotFrom<typeof supervisorMachine>): string[] {
  return Object.keys(snapshot.context.leaving);
}

/** The keys of `paths` (dotted) whose values differ between the two objects. */
export function changedKeys(previous: object, next: object, paths: readonly string[]): string[] {
  const at = (root: object, path: string) => path.split(".").reduce<unknown>((value, key) => (value as Record<string, unknown> | undefined)?.[key], root);
  return paths.filter((path) => JSON.stringify(at(previous, path)) !== JSON.stringify(at(next, path)));
}

/** What the service reads once, at creation: a change to these waits for the next start. */
export const SERVICE_START_KEYS = ["discord.apiBaseUrl", "discord.userAgent", "sweepIntervalMs"] as const;
