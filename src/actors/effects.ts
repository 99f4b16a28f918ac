import type { Op } from "./discord-protocol.ts";
import type { Track } from "./track.ts";

/** The presence object of op 3 (and of identify). */
export interface PresencePayload {
  since: number;
  status: UserStatus;
  afk: boolean;
  activities: Activity[];
}

export type UserStatus = "online" | "idle" | "dnd" | "invisible";

/** A Discord activity as sent in op 3 (only the fields this project sets). */
export interface Activity {
  type: 2;
  name: string;
  application_id?: string;
  status_display_type?: 0 | 1 | 2;
  details?: string;
  details_url?: string;
  state?: string;
  state_url?: string;
  timestamps?: { start?: number; end?: number };
  assets?: {
    large_image?: string;
    large_text?: string;
    large_url?: string;
    small_image?: string;
    small_text?: string;
  };
}

/**
 * A frame the machine wants sent (heartbeats are the connection's own). Identify (op 2) and resume
 * (op 6) are sent without `token`: the socket adapter, which alone knows the user's token, adds it. So no token is ever in a machine's
 * context, an effect, the journal or the inspector stream.
 *
 * Our own types, not discord-api-types': that package types the bot API, whose identify needs
 * `intents` and whose op 3 takes only an activity's name, type, url and state. A user account's
 * client sends what is typed here (docs/protocol.md), which those types would refuse.
 */
export type OutgoingFrame =
  | {
    op: typeof Op.Identify;
    d: {
      capabilities: number;
      properties: ClientProperties;
      /** docs/protocol.md: identify with status "unknown" and no activity; op 3 follows READY. */
      presence: Omit<PresencePayload, "status"> & { status: "unknown" };
      compress: false;
      client_state: { guild_versions: Record<string, never> };
    };
  }
  | { op: typeof Op.PresenceUpdate; d: PresencePayload }
  /** The connection adds the token and the session's last `s`, which only it reads. */
  | { op: typeof Op.Resume; d: { session_id: string } };

export interface ClientProperties {
  os: string;
  browser: string;
  device: string;
  system_locale: string;
}

/** What art to look for; `key` names the request so that the answer can be matched to it. */
export type ArtworkRequest =
  | { kind: "track"; key: string; track: Track }
  | { kind: "url"; key: string; url: string };

/**
 * Everything a presence machine asks of the world. The machine only describes the intent; the
 * service carries it out through the ports (socket, REST, artwork, logger), and a replay records it
 * without doing it.
 */
export type Effect =
  | { type: "gateway.discover"; refresh: boolean }
  | { type: "socket.open"; socket: number; url: string }
  | { type: "socket.send"; socket: number; frame: OutgoingFrame }
  /** Close with `code`; a socket that is still connecting is terminated instead. */
  | { type: "socket.close"; socket: number; code: number; reason: string }
  /** Whatever socket the user has, close it: a crashed machine can no longer say which. */
  | { type: "socket.closeAny"; code: number; reason: string }
  | { type: "artwork.resolve"; request: ArtworkRequest }
  /** Asks the REST API whether the user's token is valid; an invalid one comes back as `discord.unauthorized`. */
  | { type: "discord.checkToken" }
  | { type: "log"; level: LogLevel; message: string; data?: Record<string, unknown> };

export type LogLevel = "debug" | "info" | "warn" | "error";
