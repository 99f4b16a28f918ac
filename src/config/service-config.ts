import type { ClientProperties, LogLevel, UserStatus } from "../actors/effects.ts";
import { defaultClientProperties, defaultPresenceSettings, defaultTimings, type GatewayTimings, type PresenceSettings } from "../actors/settings.ts";
import type { UserProfile } from "../actors/supervisor-machine.ts";
import type { ArtworkSource } from "../adapters/artwork/resolver.ts";
import { PresenceError } from "../errors.ts";

/** Presence templates and choices, as written in the config (docs/architecture.md `presence`). */
export type PresenceConfig = Partial<Omit<PresenceSettings, "applicationId" | "activityFields">>;

export interface UserConfig {
  username: string;
  /** The user's Discord token. A secret: it never leaves the socket and REST adapters. */
  discordToken: string;
  listenbrainzToken?: string;
  status?: UserStatus;
  enabled?: boolean;
  presence?: PresenceConfig;
  /** Players whose plays are ignored for this user (a player that shows its own presence). */
  ignorePlayers?: string[];
}

/**
 * The service configuration (docs/architecture.md, "Service contract"), with secrets already read. Loading it from a
 * file, `env:NAME` values and the JSON Schema belong to the CLI.
 */
export interface ServiceConfig {
  discord: {
    applicationId: string;
    apiBaseUrl?: string;
    /** Skip discovery and connect here (also how tests point the service at a fake). */
    gatewayUrl?: string | null;
    /** Which activity fields an op 3 carries (see `PresenceSettings.activityFields`). Default "auto". */
    activityFields?: PresenceSettings["activityFields"];
    /** Identify properties; docs/protocol.md: users asked for the OS to be configurable. */
    properties?: Partial<ClientProperties>;
    userAgent?: string;
  };
  presence?: PresenceConfig;
  artwork?: {
    /** Default `["coverartarchive", "public"]`; "upload" (a temporary public host) is opt-in. */
    order?: ArtworkSource[];
    /**
     * Shown when no source has art for a track. Default: the Navidrome logo (`navidromeLogoUrl`);
     * `"none"` (or null) for no image.
     */
    defaultImage?: string | null;
    /** Default `https://coverartarchive.org`. */
    coverArtArchiveUrl?: string;
    /** Find a track's release on MusicBrainz by album and artist when it has no release MBID. Default true. */
    musicBrainzLookup?: boolean;
    /** Default `https://musicbrainz.org`. */
    musicBrainzUrl?: string;
    /** Temporary public host for "upload" (uguu.se's API). Default `https://uguu.se/upload`. */
    uploadUrl?: string;
    /** Public artwork URL template for "public", e.g. `https://music.example.org/img/{coverArtId}`. */
    publicUrl?: string | null;
  };
  sources?: {
    subsonic?: SubsonicSourceConfig | null;
    listenbrainz?: { enabled?: boolean; forwardUrl?: string | null; maxBodyBytes?: number };
  };
  http?: { enabled?: boolean; host?: string; port?: number };
  /** The event journal: where, and when it is fsynced (see `FsyncPolicy`). */
  journal?: { path?: string; fsync?: "always" | "interval" | "never"; fsyncIntervalMs?: number };
  inspector?: { enabled?: boolean; port?: number };
  /** The least severe level logged (default "info"); `start --log-level` overrides it. */
  log?: { level?: LogLevel };
  gateway?: Partial<GatewayTimings>;
  /** How often the supervisor stops machines with nothing to do (ms). */
  sweepIntervalMs?: number;
  users: UserConfig[];
}

export interface SubsonicSourceConfig {
  /** The server's base URL, e.g. `http://127.0.0.1:4533`. */
  url: string;
  username: string;
  /** A secret: never logged, never sent anywhere but the Subsonic server. */
  password: string;
  /** Default 2000. */
  pollIntervalMs?: number;
}

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
