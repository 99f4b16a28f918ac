import type { UserProfile } from "../actors/shard-machine.ts";
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
 * their token differs; a disabled user counts as removed. `profiles` are the new config's, in its
 * order; `changedProfiles` those of the added and changed users, what the journal records.
 */
export function userChanges(previous: ServiceConfig, next: ServiceConfig) {
  const before = new Map(userProfiles(previous).map((profile) => [profile.user, JSON.stringify(profile)]));
  const tokenBefore = new Map(previous.users.map((user) => [user.username, user.discordToken]));
  const tokenAfter = new Map(next.users.map((user) => [user.username, user.discordToken]));
  const profiles = userProfiles(next);
  const added: string[] = [];
  const changed: string[] = [];
  const changedProfiles: UserProfile[] = [];
  for (const profile of profiles) {
    const old = before.get(profile.user);
    if (old === undefined) added.push(profile.user);
    else if (old !== JSON.stringify(profile) || tokenBefore.get(profile.user) !== tokenAfter.get(profile.user)) changed.push(profile.user);
    else continue;
    changedProfiles.push(profile);
  }
  const kept = new Set(profiles.map((profile) => profile.user));
  const removed = [...before.keys()].filter((user) => !kept.has(user));
  return { added, removed, changed, profiles, changedProfiles };
}

/** The keys of `paths` (dotted) whose values differ between the two objects. */
export function changedKeys(previous: object, next: object, paths: readonly string[]): string[] {
  const at = (root: object, path: string) => path.split(".").reduce<unknown>((value, key) => (value as Record<string, unknown> | undefined)?.[key], root);
  return paths.filter((path) => JSON.stringify(at(previous, path)) !== JSON.stringify(at(next, path)));
}

/** What the service reads once, at creation: a change to these waits for the next start. */
export const SERVICE_START_KEYS = ["discord.apiBaseUrl", "discord.userAgent", "sweepIntervalMs"] as const;
