import type { ClientProperties, UserStatus } from "../actors/effects.ts";
import {
  defaultClientProperties,
  defaultPresenceSettings,
  defaultTimings,
  type GatewayTimings,
  type PresenceSettings,
} from "../actors/settings.ts";
import type { UserProfile } from "../actors/supervisor-machine.ts";
import { PresenceError } from "../errors.ts";

/** Presence templates and choices, as written in the config (DESIGN.md `presence`). */
export type PresenceConfig = Partial<Omit<PresenceSettings, "applicationId">>;

export interface UserConfig {
  username: string;
  /** The user's Discord token. A secret: it never leaves the socket and REST adapters. */
  discordToken: string;
  listenbrainzToken?: string;
  status?: UserStatus;
  enabled?: boolean;
  presence?: PresenceConfig;
}

/**
 * The service configuration (DESIGN.md, "Config"), with secrets already read. Loading it from a
 * file, `env:NAME` values and the JSON Schema belong to the CLI.
 */
export interface ServiceConfig {
  discord: {
    applicationId: string;
    apiBaseUrl?: string;
    /** Skip discovery and connect here (also how tests point the service at a fake). */
    gatewayUrl?: string | null;
    /** Identify properties; PROTOCOL.md: users asked for the OS to be configurable. */
    properties?: Partial<ClientProperties>;
    userAgent?: string;
  };
  presence?: PresenceConfig;
  artwork?: {
    defaultImage?: string | null;
    coverArtArchiveUrl?: string;
  };
  gateway?: Partial<GatewayTimings>;
  /** How often the supervisor stops machines with nothing to do (ms). */
  sweepIntervalMs?: number;
  users: UserConfig[];
}

export const defaultUserAgent = "nd-presence/0.1.0 (Discord Rich Presence for Navidrome)";

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
    if (!user.discordToken) problems.push(`users[${index}].discordToken: must be set (use "env:NAME" to read it from the environment)`);
  });
  if (problems.length > 0) throw new PresenceError("config_invalid", `invalid configuration:\n  ${problems.join("\n  ")}`);
}
