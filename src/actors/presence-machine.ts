import { and, not, setup } from "xstate";
import { classifyClose } from "./close-codes.ts";
import { connectionActions } from "./connection-actions.ts";
import { playbackActions } from "./playback-actions.ts";
import type { PresenceEvent } from "./presence-effects.ts";
import { initialContext, isLive, msUntilTrackEnd, type PresenceContext, wantsPresence } from "./presence-context.ts";
import type { PresenceInput } from "./settings.ts";

/**
 * One user's Discord presence: the gateway session (connect, identify or resume, reconnect) and
 * what the session shows (the track, paused, or nothing). The wire itself (heartbeats, ACKs, the
 * zombie check, sequence numbers, dispatches) belongs to the connection: the machine hears only
 * what changes the session (Hello, READY, RESUMED, op 7, op 9, a close).
 *
 * Pure: every effect is an intent passed to the `perform` action, which the host provides; every
 * timer is a named XState delay. Run it under a `SimulatedClock` to test or replay it.
 *
 * States: `disconnected` -> `connecting` (discovering, opening) -> `identifying` or `resuming` ->
 * `ready` (nothing to show) / `presenting` (playing, paused) / `clearing`; `backoff` between
 * connections; `failed` when Discord refused the token; `stopping` -> `stopped` on shutdown.
 *
 * @example
 * const actor = createActor(presenceMachine.provide({ actions: { perform: (_, effect) => run(effect) } }), {
 *   input: { user: "alice", presence, timings, properties, gatewayUrl: null, seed: 1 },
 * }).start();
 * actor.send({ type: "playback.playing", user: "alice", track, positionMs: 0, at: Date.now() });
 */
export const presenceMachine = setup({
  types: {
    context: {} as PresenceContext,
    events: {} as PresenceEvent,
    input: {} as PresenceInput,
  },
  actions: { ...playbackActions, ...connectionActions },
  guards: {
    /** Events of a socket we already closed, or of an older one, are stale. */
    fromOpenSocket: ({ context, event }) => "socket" in event && event.socket === context.socket.number && context.socket.open,
    isFatalClose: ({ event }) => event.type === "gateway.closed" && classifyClose(event.code).action === "fatal",
    /** A 4002 (decode error) while an op 3 is unconfirmed: the server refused the presence. */
    refusedPresence: ({ context, event }) => event.type === "gateway.closed" && event.code === 4002 && context.shown.pending && context.shown.payload !== null,
    unconfirmedOnThisSocket: ({ context, event }) => event.type === "presence.kept" && event.socket === context.socket.number && context.shown.pending,
    mayResume: ({ event }) => event.type === "gateway.invalidSession" && event.resumable,
    readyHasSession: ({ event }) => event.type === "gateway.ready" && typeof event.sessionId === "string" && event.sessionId !== "",
    hasSession: ({ context }) => context.gateway.session !== null,
    knowsGatewayUrl: ({ context }) => context.gateway.url !== null,
    identifyAllowed: ({ context }) => !context.userLimits.identifyCoolingDown,
    wantsPresence: ({ context }) => wantsPresence(context),
    showsSomething: ({ context }) => context.shown.payload !== null,
    /** Connect when there is something to show, or something still shown on a resumable session. */
    wantsConnection: ({ context }) => wantsPresence(context) || (context.gateway.session !== null && context.shown.payload !== null),
    isPaused: ({ context }) => context.playback?.paused === true,
    isCurrentArtwork: ({ context, event }) =>
      (event.type === "artwork.resolved" || event.type === "artwork.failed" || event.type === "artwork.waitOver") &&
      (event.key === "paused" || event.key === context.artwork?.key),
    failedOnTheSameToken: ({ context, event }) => event.type === "user.restart" && context.failure?.byToken === true && !event.newToken,
    keepsSessionOnShutdown: ({ context }) => context.shutdown === "keep",
    nothingLeftToClear: ({ context }) => !isLive(context.socket) || context.shown.payload === null,
  },
  delays: {
    helloTimeout: ({ context }) => context.settings.timings.helloTimeoutMs,
    readyTimeout: ({ context }) => context.settings.timings.readyTimeoutMs,
    idleTimeout: ({ context }) => context.settings.timings.idleTimeoutMs,
    identifyInterval: ({ context }) => context.settings.timings.identifyIntervalMs,
    invalidSessionWait: ({ context }) => context.retry.invalidSessionWaitMs,
    artworkWait: ({ context }) => context.settings.timings.artworkWaitMs,
    shutdownTimeout: ({ context }) => context.settings.timings.shutdownTimeoutMs,
    backoff: ({ context }) => context.retry.backoffMs,
    /** Scheduled when a track starts playing (see `recordPlaying`), so never null there. */
    untilTrackEnd: ({ context }) => (context.playback && msUntilTrackEnd(context.playback, context.settings.timings)) ?? 0,
  },
}).createMachine({
  id: "presence",
  context: ({ input }) => initialContext(input),
  entry: "requestPausedImage",
  initial: "disconnected",
  on: {
    "playback.playing": { actions: ["recordPlaying", "flushPresence"] },
    "playback.paused": { actions: ["recordPause", "flushPresence"] },
    "playback.stopped": { actions: ["forgetPlayback", "flushPresence"] },
    "track.ended": { actions: ["forgetPlayback", "flushPresence"] },
    "artwork.resolved": { guard: "isCurrentArtwork", actions: ["storeArtwork", "flushPresence"] },
    "artwork.failed": { guard: "isCurrentArtwork", actions: ["storeArtwork", "flushPresence"] },
    "artwork.waitOver": { guard: "isCurrentArtwork", actions: ["stopWaitingForArtwork", "flushPresence"] },
    "presence.slotFreed": { actions: ["freePresenceSlot", "flushPresence"] },
    "presence.kept": { guard: "unconfirmedOnThisSocket", actions: "confirmPresence" },
    "identify.cooldownOver": { actions: "endIdentifyCooldown" },
    "gateway.reconnect": { guard: "fromOpenSocket", target: ".backoff", actions: "closeToResume" },
    "gateway.invalidSession": [
      { guard: and(["fromOpenSocket", "mayResume"]), target: ".backoff", actions: "closeToResume" },
      { guard: "fromOpenSocket", target: ".identifying.waiting", actions: "forgetSession" },
    ],
    "gateway.closed": [
      { guard: and(["fromOpenSocket", "isFatalClose"]), target: ".failed", actions: "fail" },
      { guard: and(["fromOpenSocket", "refusedPresence"]), target: ".backoff", actions: ["recordClose", "recordRefusal"] },
      { guard: "fromOpenSocket", target: ".backoff", actions: "recordClose" },
    ],
    "discord.unauthorized": { target: ".failed", actions: "fail" },
    // A reload changed this user: a new session with the new settings, and a failed user a fresh
    // try, unless Discord refused their token and the reload kept it (never retry after 4004).
    "user.restart": [
      { guard: "failedOnTheSameToken", actions: "takeProfile" },
      { target: ".disconnected", actions: "restartWithProfile" },
    ],
    "service.shutdown": { target: ".stopping", actions: ["beginShutdown", "flushPresence"] },
    "runtime.stopped": { target: ".suspended", actions: "forgetOldSocket" },
    "runtime.resumed": { target: ".backoff", actions: "reconnectAfterRestart" },
  },
  states: {
    disconnected: {
      always: { guard: "wantsConnection", target: "connecting" },
      on: { "runtime.stopped": {}, "runtime.resumed": { actions: "reconnectAfterRestart" } },
    },
    /**
     * The process was down (replayed from the journal): no socket, no attempt to connect. Timers
     * still run, so a track that ended meanwhile is known to have ended.
     */
    suspended: {},
    connecting: {
      initial: "choosing",
      states: {
        choosing: {
          always: [{ guard: "knowsGatewayUrl", target: "opening" }, { target: "discovering" }],
        },
        discovering: {
          entry: "discoverGateway",
          on: {
            "gateway.discovered": { target: "opening", actions: "storeGatewayUrl" },
            "gateway.discoveryFailed": { target: "#presence.backoff", actions: "recordDiscoveryFailure" },
          },
        },
        opening: {
          entry: "openSocket",
          on: {
            "gateway.hello": [
              { guard: and(["fromOpenSocket", "hasSession"]), target: "#presence.resuming" },
              { guard: "fromOpenSocket", target: "#presence.identifying" },
            ],
          },
          after: {
            helloTimeout: {
              target: "#presence.backoff",
              actions: { type: "closeStalled", params: { reason: "no Hello from the gateway in time", forgetSession: false } },
            },
          },
        },
      },
    },
    identifying: {
      initial: "pacing",
      on: {
        "gateway.ready": [
          { guard: and(["fromOpenSocket", "readyHasSession"]), target: "ready", actions: "startSession" },
          { guard: "fromOpenSocket", actions: "refuseReady" },
        ],
      },
      states: {
        /** Op 9 d:false: wait a random 1-5 s before identifying again (docs/protocol.md). */
        waiting: { after: { invalidSessionWait: "pacing" } },
        pacing: { always: { guard: "identifyAllowed", target: "awaitingReady" } },
        awaitingReady: {
          entry: "sendIdentify",
          after: {
            readyTimeout: {
              target: "#presence.backoff",
              actions: { type: "closeStalled", params: { reason: "no READY from the gateway in time", forgetSession: true } },
            },
          },
        },
      },
    },
    resuming: {
      entry: "sendResume",
      on: {
        "gateway.resumed": { guard: "fromOpenSocket", target: "ready", actions: "resumeSession" },
      },
      after: {
        readyTimeout: {
          target: "backoff",
          actions: { type: "closeStalled", params: { reason: "no RESUMED from the gateway in time", forgetSession: true } },
        },
      },
    },
    ready: {
      entry: "flushPresence",
      always: [
        { guard: "wantsPresence", target: "presenting" },
        { guard: "showsSomething", target: "clearing" },
      ],
      after: { idleTimeout: { target: "disconnected", actions: "closeIdle" } },
    },
    presenting: {
      initial: "playing",
      always: { guard: not("wantsPresence"), target: "clearing" },
      states: {
        playing: { always: { guard: "isPaused", target: "paused" } },
        paused: { always: { guard: not("isPaused"), target: "playing" } },
      },
    },
    clearing: {
      entry: "flushPresence",
      always: [
        { guard: "wantsPresence", target: "presenting" },
        { guard: not("showsSomething"), target: "ready" },
      ],
    },
    backoff: {
      entry: "scheduleBackoff",
      after: {
        backoff: [{ guard: "wantsConnection", target: "connecting" }, { target: "disconnected" }],
      },
    },
    failed: {
      // 4004 / HTTP 401: never retry with the same token (docs/protocol.md), so playback asks for no
      // artwork registration (a REST call with that token) and opens no connection.
      on: {
        "playback.*": {},
        "service.shutdown": { target: "stopped" },
        "runtime.stopped": {},
        "runtime.resumed": { target: "disconnected", actions: "reconnectAfterRestart" },
      },
    },
    stopping: {
      on: {
        "playback.*": {},
        // Stopping for good (a shutdown, or the user was removed): nothing to restart.
        "user.restart": {},
        // The socket ends while the clear waits for a slot: nothing is left to clear or to close,
        // and a shutdown never reconnects.
        "gateway.closed": { guard: "fromOpenSocket", target: "stopped", actions: "closeFinal" },
        "gateway.reconnect": { guard: "fromOpenSocket", target: "stopped", actions: "closeFinal" },
        "gateway.invalidSession": { guard: "fromOpenSocket", target: "stopped", actions: "closeFinal" },
        "discord.unauthorized": { target: "stopped", actions: "closeFinal" },
      },
      always: [
        { guard: "keepsSessionOnShutdown", target: "stopped", actions: "closeFinal" },
        { guard: "nothingLeftToClear", target: "stopped", actions: "closeFinal" },
      ],
      after: { shutdownTimeout: { target: "stopped", actions: "closeFinal" } },
    },
    /**
     * Not final: after a clearing stop the machine keeps its playback, so that the next start
     * (which replays the journal up to here) shows the track again if it is still playing.
     */
    stopped: {
      entry: "announceStopped",
      on: {
        "playback.*": {},
        "user.restart": {},
        "runtime.stopped": {},
        "runtime.resumed": { target: "disconnected", actions: "reconnectAfterRestart" },
      },
    },
  },
});
