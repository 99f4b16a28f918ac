import type { Static } from "@sinclair/typebox";
import { defaultClientProperties, defaultPresenceSettings, defaultTimings } from "../actors/settings.ts";
import type { UserProfile } from "../actors/supervisor-machine.ts";
import { PresenceError } from "../errors.ts";
import type { configSchema, presenceSchema, subsonicSchema, userSchema } from "./schema.ts";

// The types are the schema's (schema.ts): one definition gives the type, config.schema.json and check.

/** Presence templates and choices, as written in the config (docs/architecture.md `presence`). */
export type PresenceConfig = Static<ReturnType<typeof presenceSchema>>;

export type UserConfig = Omit<Static<typeof userSchema>, "discordToken"> & {
  /**
   * The user's Discord token. A secret: it never leaves the socket and REST adapters. Typed as set,
   * as the service reads it: check asks it of every enabled user; a disabled user may leave it out.
   */
  discordToken: string;
};

/**
 * The service configuration (docs/architecture.md, "Service contract"), with secrets already read.
 * Loading it from a file, `env:NAME` values and the JSON Schema belong to the CLI.
 */
export type ServiceConfig = Omit<Static<typeof configSchema>, "$schema" | "users"> & { users: UserConfig[] };

export type SubsonicSourceConfig = Static<typeof subsonicSchema>;

export const defaultUserAgent = "nd-presence/0.1.0 (Discord Rich Presence for Navidrome)";

/** Every secret in the config, so that a redacting logger can keep them all out of the logs. */
export function configSecrets(config: ServiceConfig): string[] {
  const secrets = config.users.flatMap((user) => [user.discordToken, user.listenbrainzToken ?? ""]);
  if (config.sources?.subsonic?.password) secrets.push(config.sources.subsonic.password);
  return secrets.filter((secret) => secret !== "");
}

/** The profiles of the enabled users: what their machines start with, without secrets. */
export function userProfiles(config: ServiceConfig): UserProfile[] {
  const timings = { ...defaultTimings, ...config.gateway };
  const properties = { ...defaultClientProperties, ...config.discord.properties };
  return config.users
    .filter((user) => user.enabled !== false)
    .map((user) => ({
      user: user.username,
      presence: {
        ...defaultPresenceSettings,
        ...config.presence,
        ...user.presence,
        ...(user.status === undefined ? {} : { status: user.status }),
        applicationId: config.discord.applicationId,
        activityFields: config.discord.activityFields ?? defaultPresenceSettings.activityFields,
      },
      timings,
      properties,
      gatewayUrl: config.discord.gatewayUrl ?? null,
    }));
}

/**
 * The checks the service cannot run without. The full validation (every field, with its JSON path)
 * is the CLI's `check`; these guard the library API.
 */
export function assertUsable(config: ServiceConfig): void {
  const problems: string[] = [];
  if (!/^\d{5,25}$/.test(config.discord?.applicationId ?? "")) {
    problems.push("discord.applicationId: must be the numeric id of a Discord application");
  }
  const seen = new Set<string>();
  (config.users ?? []).forEach((user, index) => {
    if (!user.username) problems.push(`users[${index}].username: must be a non-empty string`);
    if (seen.has(user.username)) problems.push(`users[${index}].username: "${user.username}" appears twice`);
    seen.add(user.username);
    // As `check` has it: a disabled user needs no token.
    if (user.enabled !== false && !user.discordToken) {
      problems.push(`users[${index}].discordToken: must be set (use "env:NAME" to read it from the environment)`);
    }
  });
  if (problems.length > 0) throw new PresenceError("config_invalid", `invalid configuration:\n  ${problems.join("\n  ")}`);
}
