import type { Track } from "./track.ts";

/**
 * Every input of the actor system. Each one is journaled before it is applied (docs/architecture.md), so they
 * are plain JSON and never carry a token or a password. `at` is wall-clock ms, stamped by the
 * service when the event enters `dispatch` if the source did not set it.
 */
export type PlaybackEvent =
  | {
    type: "playback.playing";
    user: string;
    track: Track;
    positionMs?: number;
    playbackRate?: number;
    at: number;
  }
  | { type: "playback.paused"; user: string; positionMs?: number; at: number }
  | { type: "playback.stopped"; user: string; at: number };

/**
 * Session-level gateway input, translated from frames by the connection. `socket` is the number the
 * machine gave the connection when it asked for it to be opened; events from an older socket are
 * ignored. Heartbeats, ACKs and every dispatch but READY and RESUMED stay in the connection.
 */
export type GatewayEvent =
  & { user: string; socket: number; at: number }
  & (
    | { type: "gateway.hello"; heartbeatIntervalMs: number }
    | { type: "gateway.ready"; seq: number | null; sessionId?: string; resumeUrl?: string }
    | { type: "gateway.resumed"; seq: number | null }
    | { type: "gateway.reconnect" }
    | { type: "gateway.invalidSession"; resumable: boolean }
    /** `zombie`: this side closed it, as no ACK came between two heartbeats. */
    | { type: "gateway.closed"; code: number; reason?: string; zombie?: boolean }
  );

/**
 * The session's latest `s`, noted by the connection at most once a minute per socket. Journaled so
 * that a restart can resume the session; the service applies it without a machine step.
 */
export type SeqNote = { type: "gateway.seq"; user: string; socket: number; seq: number; at: number };

/** Results of the gateway URL lookup (`GET {apiBase}/v10/gateway`). */
export type DiscoveryEvent =
  | { type: "gateway.discovered"; user: string; url: string; at: number }
  | { type: "gateway.discoveryFailed"; user: string; reason: string; at: number };

/** Results of artwork resolution: `image` is a Discord image key (`mp:external/...`). */
export type ArtworkEvent =
  | { type: "artwork.resolved"; user: string; key: string; image: string; at: number }
  | { type: "artwork.failed"; user: string; key: string; reason: string; at: number };

/**
 * Discord's REST API refused the user's token (HTTP 401): as fatal as a 4004. It answers a token
 * check (`discord.checkToken`) or an artwork registration, but it is about the token, not the art.
 */
export type TokenRefusedEvent = { type: "discord.unauthorized"; user: string; at: number };

/** Asks a user's machine to clear its presence (unless `clear` is false) and close for good. */
export type ShutdownEvent = { type: "service.shutdown"; clear: boolean; at: number };

/**
 * The two inputs of a restart (docs/architecture.md, "Event sourcing"). `runtime.stopped` is journaled at
 * the time of the last entry the previous process wrote: as far as the journal knows, its
 * sockets died there, so the time it was down passes with no connection. `runtime.resumed` is
 * dispatched once live: reconnect (resume if the session may still be alive, else identify).
 */
export type ResumedEvent = { type: "runtime.stopped" | "runtime.resumed"; at: number };

/**
 * A configuration reload (SIGHUP, `POST /reload`), by user name: `users` were added or changed,
 * `removed` are no longer configured (or disabled), `newToken` are those of `users` whose token
 * changed. Names only: a profile can hold values read from the environment, which are secrets,
 * so the journal does not keep profiles; applying the event gives the machines the running
 * config's (as a checkpoint restore does). A changed user's session restarts with the new
 * profile, a removed user's presence is cleared and their machine stopped, and everyone else is
 * untouched. Journaled, so that a replay changes the same machines at the same point.
 */
export type ReconfiguredEvent = { type: "service.reconfigured"; users: string[]; removed: string[]; newToken: string[]; at: number };

export type UserEvent = PlaybackEvent | GatewayEvent | SeqNote | DiscoveryEvent | ArtworkEvent | TokenRefusedEvent;
export type ServiceEvent = ShutdownEvent | ResumedEvent | ReconfiguredEvent;
export type DomainEvent = UserEvent | ServiceEvent;

/** What a host (or one of the sources) dispatches: playback, before the service stamps `at`. */
export type PlaybackEventInput = Extract<DomainEventInput, { type: PlaybackEvent["type"] }>;

/**
 * What the service's own adapters answer with: session events and seq notes (the gateway
 * sockets), gateway discoveries, artwork outcomes and token checks (the effect runner).
 */
export type AdapterEventInput = Extract<DomainEventInput, { type: Exclude<UserEvent["type"], PlaybackEvent["type"]> }>;

/** Any domain event before the service has stamped it with `at`. */
export type DomainEventInput = DomainEvent extends infer E ? E extends { at: number } ? Omit<E, "at"> & { at?: number }
  : never
  : never;
