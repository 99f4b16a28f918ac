/** Types, limits and canned payloads of the fake Discord gateway (see gateway.ts). */
import type { IncomingHttpHeaders } from "node:http";

/** Options of {@link FakeGateway.start}. Every `auto*` flag can also be changed later on the instance. */
export interface FakeGatewayOptions {
  /** `d.heartbeat_interval` of Hello. Default 1000. */
  heartbeatIntervalMs?: number;
  /** Timestamp source for recorded frames and the 120 / 60 s limit. Default Date.now. */
  now?: () => number;
  /** When set, identify/resume with any other token is closed with 4004 (4000 in the "spacebar" dialect). */
  validTokens?: string[];
  /** Send Hello on connection. Default true. */
  autoHello?: boolean;
  /** Answer identify (op 2) with READY. Default true. */
  autoReady?: boolean;
  /** Answer each heartbeat (op 1) with op 11. Default true. */
  autoAck?: boolean;
  /** `d` of op 11: null like Discord (the "discord" dialect's default) or {} like some compatible servers. */
  ackPayload?: null | Record<string, never>;
  /** Answer resume (op 6): RESUMED for a known session, op 9 d:false otherwise. Default true. */
  autoResume?: boolean;
  /** Whose gateway to play: Discord's (default) or Spacebar's (see {@link DIALECTS}). */
  dialect?: GatewayDialect;
}

/** Discord's gateway, or Spacebar's: a Discord-compatible server that differs (issue 17). */
export type GatewayDialect = "discord" | "spacebar";

/** What a dialect changes in the fake, in one place. */
export interface DialectRules {
  /** The close for a refused token (at identify; at resume too where resume is answered). */
  authFailed: CloseInfo;
  /** `s` of READY; undefined = the connection's next seq (1 on a fresh connection). */
  readySeq: number | undefined;
  /** `d` of op 11 unless the `ackPayload` option says otherwise. */
  ackPayload: null | Record<string, never>;
  /** Every resume (op 6) is answered with op 9 d:false, whatever `autoResume` and the session say. */
  refusesResume: boolean;
  /** An op 3 whose activities carry a key outside {@link CORE_ACTIVITY_KEYS} is closed 4002, empty reason. */
  strictActivities: boolean;
}

/**
 * Spacebar, as issue 17 saw it: 4000 (not 4004) for a bad token, READY with `s: 0`, ACK with
 * `d: {}`, no resume, and a presence schema that refuses unknown activity keys.
 */
export const DIALECTS: Readonly<Record<GatewayDialect, DialectRules>> = {
  discord: {
    authFailed: { code: 4004, reason: "Authentication failed." },
    readySeq: undefined,
    ackPayload: null,
    refusesResume: false,
    strictActivities: false,
  },
  spacebar: {
    authFailed: { code: 4000, reason: "" },
    readySeq: 0,
    ackPayload: {},
    refusesResume: true,
    strictActivities: true,
  },
};

/**
 * The activity keys Spacebar takes in op 3 (issue 17), by where they sit. Any other key is refused:
 * `status_display_type`, `details_url`, `state_url`, `buttons`, `metadata`, `flags` (issue 17 saw a
 * numeric one refused; the fake refuses it in any form), `assets.large_url`, `assets.small_*`...
 * The presence's own keys (`since`, `status`, `afk`, `activities`) are not checked.
 */
export const CORE_ACTIVITY_KEYS = {
  activity: ["type", "name", "details", "state", "timestamps", "assets", "application_id"],
  timestamps: ["start", "end"],
  assets: ["large_image", "large_text"],
} as const satisfies Record<string, readonly string[]>;

/**
 * The keys of an op 3 `d`'s activities outside {@link CORE_ACTIVITY_KEYS}, as paths
 * (`activities[0].assets.small_image`); empty when Spacebar would take it. Keys only: values are
 * not what issue 17 saw refused.
 */
export function keysOutsideCore(d: unknown): string[] {
  const activities = isObject(d) && Array.isArray(d.activities) ? (d.activities as unknown[]) : [];
  return activities.flatMap((activity, i) => {
    if (!isObject(activity)) return [];
    const at = `activities[${i}]`;
    return [
      ...unknownKeys(activity, CORE_ACTIVITY_KEYS.activity, at),
      ...unknownKeys(activity.timestamps, CORE_ACTIVITY_KEYS.timestamps, `${at}.timestamps`),
      ...unknownKeys(activity.assets, CORE_ACTIVITY_KEYS.assets, `${at}.assets`),
    ];
  });
}

function unknownKeys(value: unknown, allowed: readonly string[], at: string): string[] {
  if (!isObject(value)) return [];
  return Object.keys(value)
    .filter((key) => !allowed.includes(key))
    .map((key) => `${at}.${key}`);
}

/**
 * A frame the fake received from a client. Frames that are not JSON objects with a numeric `op`
 * are recorded too, with `op: -1` and `d: undefined`.
 */
export interface ReceivedFrame {
  /** Position in {@link FakeGateway.frames}. */
  index: number;
  connection: number;
  op: number;
  d: unknown;
  at: number;
  raw: string;
}

/** A frame the fake sent. `data` is the parsed frame, or undefined for `sendRaw` text that is not JSON. */
export interface SentFrame {
  at: number;
  raw: string;
  data: unknown;
}

export interface CloseInfo {
  code: number;
  reason: string;
}

/** One accepted WebSocket connection, as recorded by the fake. */
export interface FakeConnection {
  index: number;
  /** Path and query of the upgrade request, e.g. `/?v=10&encoding=json`. */
  url: string;
  /** Headers of the upgrade request (lower-case names: `user-agent`, ...). */
  headers: IncomingHttpHeaders;
  /** True once an identify or resume was accepted. */
  identified: boolean;
  /** The token of the accepted identify/resume (tests may assert on it; never logged). */
  token?: string;
  /** The session READY announced, or the one a resume named. */
  sessionId?: string;
  /** Last `s` sent on this connection (0 before any dispatch). */
  seq: number;
  /** The close code and reason the server saw ('close' event): the client's own, or its echo of ours. */
  closedWith?: CloseInfo;
  /** Set when the fake itself closed the connection with a close frame (closeWith or enforcement). */
  serverClosedWith?: CloseInfo;
  /** Why a strict dialect closed on an op 3: the keys outside the core set (see `keysOutsideCore`). */
  refusedKeys?: string[];
  /** True when the fake dropped the connection without a close frame. */
  dropped: boolean;
  sentByServer: SentFrame[];
}

export const MAX_FRAME_BYTES = 4096;
export const RATE_LIMIT = 120;
export const RATE_WINDOW_MS = 60_000;
/** Opcodes a client may send besides 1, 2 and 6 (presence, voice state, request members, ...). */
export const OTHER_CLIENT_OPS: ReadonlySet<number> = new Set([3, 4, 8, 13, 14, 31, 36, 37]);

/** The `d` of a user-account READY: the fields a client needs plus some bulk it must not choke on. */
export function readyData(n: number, resumeUrl: string): Record<string, unknown> {
  return {
    v: 10,
    user: { id: "1000000000000000001", username: "fake-user", discriminator: "0", global_name: "Fake" },
    session_id: `fake-session-${n}-${Math.random().toString(16).slice(2, 10)}`,
    resume_gateway_url: resumeUrl,
    session_type: "normal",
    guilds: [],
    relationships: [],
    private_channels: [],
    user_settings_proto: "A".repeat(6000),
    read_state: { version: 1, partial: false, entries: [] },
    _trace: ['["gateway-prd-fake",{"micros":1234}]'],
  };
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
