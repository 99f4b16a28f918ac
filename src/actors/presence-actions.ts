import { assertEvent, enqueueActions, type EventObject, type ParameterizedObject } from "xstate";
import { activityKey, fitPresenceFrame } from "./activity.ts";
import { backoffDelay } from "./backoff.ts";
import { classifyClose } from "./close-codes.ts";
import { Op, type Effect, type LogLevel, type OutgoingFrame } from "./effects.ts";
import type { DomainEvent } from "./events.ts";
import {
  artworkKey,
  desiredPresence,
  estimatedPositionMs,
  withGatewayQuery,
  type PresenceContext,
} from "./presence-context.ts";
import { nextRandom } from "./random.ts";

/** Events the machine raises for itself (timers); never journaled, they follow from the clock. */
export type TimerEvent =
  | { type: "heartbeat.due"; socket: number }
  | { type: "frame.slotFreed"; socket: number }
  | { type: "presence.slotFreed" }
  | { type: "identify.cooldownOver" }
  | { type: "session.stable"; socket: number }
  | { type: "track.ended" }
  | { type: "artwork.waitOver"; key: string };

export type PresenceEvent = DomainEvent | TimerEvent;

/** PROTOCOL.md: 120 frames / 60 s per connection; keep 10 for heartbeats. */
export const FRAME_LIMIT = 120;
export const FRAME_BUDGET_OTHER = 110;
export const FRAME_WINDOW_MS = 60_000;
/** PROTOCOL.md: 5 presence updates / 20 s. */
export const PRESENCE_LIMIT = 5;
export const PRESENCE_WINDOW_MS = 20_000;

/** Names of the machine's delays (see `presenceMachine`'s setup). */
export type PresenceDelay =
  | "heartbeatInterval" | "firstHeartbeat" | "helloTimeout" | "readyTimeout" | "idleTimeout"
  | "identifyInterval" | "invalidSessionWait" | "stableSession" | "artworkWait" | "shutdownTimeout"
  | "backoff" | "untilTrackEnd";

type Params = ParameterizedObject["params"] | undefined;
/** The only action the others enqueue by name. */
type PerformAction = { type: "perform"; params: Effect };
type Collect<P extends Params> = Parameters<
  typeof enqueueActions<PresenceContext, PresenceEvent, P, PresenceEvent, never, PerformAction, never, PresenceDelay, EventObject>
>[0];
type Enqueue = Parameters<Collect<undefined>>[0]["enqueue"];

/** `enqueueActions`, typed for this machine (outside `setup` XState cannot infer the types). */
function act<P extends Params = undefined>(collect: Collect<P>) {
  return enqueueActions<PresenceContext, PresenceEvent, P, PresenceEvent, never, PerformAction, never, PresenceDelay, EventObject>(collect);
}

/** Every effect leaves the machine through the one `perform` action, which the service provides. */
function perform(enqueue: Enqueue, effect: Effect) {
  enqueue({ type: "perform", params: effect });
}

function log(enqueue: Enqueue, level: LogLevel, message: string, data?: Record<string, unknown>) {
  perform(enqueue, data === undefined ? { type: "log", level, message } : { type: "log", level, message, data });
}

/** Sends a frame on the current socket and books it in the 60 s window. */
function sendFrame(enqueue: Enqueue, context: PresenceContext, frame: OutgoingFrame) {
  perform(enqueue, { type: "socket.send", socket: context.socket, frame });
  enqueue.assign(({ context: c }) => ({
    framesInWindow: c.framesInWindow + 1,
    counters: { ...c.counters, framesSent: c.counters.framesSent + 1 },
  }));
  enqueue.raise({ type: "frame.slotFreed", socket: context.socket }, { delay: FRAME_WINDOW_MS });
}

/** Draws the next random number in [0, 1) from the context's generator. */
function draw(enqueue: Enqueue, context: PresenceContext): number {
  const [value, next] = nextRandom(context.random);
  enqueue.assign({ random: next });
  return value;
}

function closeSocket(enqueue: Enqueue, context: PresenceContext, code: number, reason: string) {
  if (context.socketOpen) perform(enqueue, { type: "socket.close", socket: context.socket, code, reason });
  enqueue.cancel("heartbeat");
  enqueue.cancel("sessionStable");
  enqueue.assign({ socketOpen: false, live: false, awaitingAck: false });
}

export const presenceActions = {
  /** Replaced by the service (carry the effect out) or by a replay (record it). */
  perform: (_: unknown, _effect: Effect) => {},

  requestPausedImage: act(({ context, enqueue }) => {
    const url = context.presence.pausedImage;
    if (url) perform(enqueue, { type: "artwork.resolve", request: { kind: "url", key: "paused", url } });
  }),

  recordPlaying: act(({ context, event, enqueue }) => {
    assertEvent(event, "playback.playing");
    const rate = event.playbackRate !== undefined && Number.isFinite(event.playbackRate) && event.playbackRate > 0 ? event.playbackRate : 1;
    const playback = {
      track: event.track,
      positionMs: Math.max(0, event.positionMs ?? 0),
      playbackRate: rate,
      paused: false,
      at: event.at,
      ...(event.player === undefined ? {} : { player: event.player }),
    };
    enqueue.assign({ playback });
    const key = artworkKey(event.track);
    if (context.artwork?.key !== key) {
      // Wait a little for the cover, so that Discord is not sent the track twice (once without art).
      enqueue.assign({ artwork: { key, image: null, pending: true } });
      perform(enqueue, { type: "artwork.resolve", request: { kind: "track", key, track: event.track } });
      enqueue.cancel("artworkWait");
      enqueue.raise({ type: "artwork.waitOver", key }, { delay: "artworkWait", id: "artworkWait" });
    }
    enqueue.cancel("trackEnd");
    // A track that ends with no further event is cleared at its end time plus a grace.
    enqueue.raise({ type: "track.ended" }, { delay: "untilTrackEnd", id: "trackEnd" });
  }),

  recordPause: act(({ context, event, enqueue }) => {
    assertEvent(event, "playback.paused");
    const playback = context.playback;
    if (!playback || playback.paused) return;
    const positionMs = event.positionMs ?? estimatedPositionMs(playback, event.at);
    enqueue.assign({ playback: { ...playback, paused: true, positionMs, at: event.at } });
    enqueue.cancel("trackEnd");
  }),

  forgetPlayback: act(({ enqueue }) => {
    enqueue.assign({ playback: null });
    enqueue.cancel("trackEnd");
  }),

  storeArtwork: act(({ context, event, enqueue }) => {
    assertEvent(event, ["artwork.resolved", "artwork.failed"]);
    const image = event.type === "artwork.resolved" ? event.image : null;
    if (event.key === "paused") {
      enqueue.assign({ pausedImage: image });
      return;
    }
    if (event.type === "artwork.failed") log(enqueue, "info", "no artwork for this track", { user: context.user, reason: event.reason });
    enqueue.assign({ artwork: { key: event.key, image, pending: false } });
    enqueue.cancel("artworkWait");
  }),

  stopWaitingForArtwork: act(({ context, enqueue }) => {
    if (context.artwork) enqueue.assign({ artwork: { ...context.artwork, pending: false } });
  }),

  /**
   * Brings what Discord shows in line with what should be shown: coalesced to the latest desired
   * presence, identical repeats dropped, within 5 updates / 20 s and the frame budget. What cannot
   * go now goes when a slot frees (`presence.slotFreed`, `frame.slotFreed`).
   */
  flushPresence: act(({ context, enqueue }) => {
    if (!context.live) return;
    const desired = desiredPresence(context);
    if (desired && context.artwork?.pending) return;
    const key = desired ? activityKey(desired) : null;
    if (key === context.shownKey) return;
    if (context.presenceInWindow >= PRESENCE_LIMIT || context.framesInWindow >= FRAME_BUDGET_OTHER) return;
    const payload = desired ?? { since: 0, status: context.presence.status, afk: true, activities: [] };
    const fitted = fitPresenceFrame(payload);
    if (!fitted) {
      // Never send a frame Discord would answer with 4002; keep showing what is shown.
      log(enqueue, "error", "presence too large to send, even shortened", { user: context.user });
      enqueue.assign({ lastError: "presence too large to send" });
      return;
    }
    if (fitted.dropped.length > 0) log(enqueue, "warn", "presence shortened to fit 4096 bytes", { user: context.user, dropped: fitted.dropped });
    sendFrame(enqueue, context, { op: Op.PresenceUpdate, d: fitted.payload });
    enqueue.assign(({ context: c }) => ({
      shown: desired ? fitted.payload : null,
      shownKey: key,
      presenceInWindow: c.presenceInWindow + 1,
      counters: { ...c.counters, presenceUpdates: c.counters.presenceUpdates + 1 },
    }));
    enqueue.raise({ type: "presence.slotFreed" }, { delay: PRESENCE_WINDOW_MS });
  }),

  freePresenceSlot: act(({ enqueue }) => {
    enqueue.assign(({ context }) => ({ presenceInWindow: Math.max(0, context.presenceInWindow - 1) }));
  }),

  freeFrameSlot: act(({ context, event, enqueue }) => {
    assertEvent(event, "frame.slotFreed");
    // The window is per connection: slots of an older socket were reset when it closed.
    if (event.socket !== context.socket) return;
    enqueue.assign({ framesInWindow: Math.max(0, context.framesInWindow - 1) });
  }),

  discoverGateway: act(({ context, enqueue }) => {
    perform(enqueue, { type: "gateway.discover", refresh: context.attempt > 0 });
  }),

  storeGatewayUrl: act(({ event, enqueue }) => {
    assertEvent(event, "gateway.discovered");
    enqueue.assign({ gatewayUrl: event.url });
  }),

  /** A session resumes on its `resume_gateway_url`; a new one starts on the gateway URL. */
  openSocket: act(({ context, enqueue }) => {
    const base = context.session?.resumeUrl ?? context.gatewayUrl;
    if (!base) return;
    const socket = context.socket + 1;
    enqueue.assign({ socket, socketOpen: true, live: false, awaitingAck: false, framesInWindow: 0 });
    perform(enqueue, { type: "socket.open", socket, url: withGatewayQuery(base) });
  }),

  /** Hello: the first beat after interval x random, then every interval (PROTOCOL.md). */
  startHeartbeating: act(({ context, event, enqueue }) => {
    assertEvent(event, "gateway.hello");
    const random = draw(enqueue, context);
    enqueue.assign({
      heartbeatIntervalMs: event.heartbeatIntervalMs,
      firstHeartbeatMs: Math.floor(event.heartbeatIntervalMs * random),
      awaitingAck: false,
    });
    enqueue.raise({ type: "heartbeat.due", socket: context.socket }, { delay: "firstHeartbeat", id: "heartbeat" });
  }),

  beat: act(({ context, enqueue }) => {
    sendFrame(enqueue, context, { op: Op.Heartbeat, d: context.seq });
    enqueue.assign({ awaitingAck: true });
    enqueue.raise({ type: "heartbeat.due", socket: context.socket }, { delay: "heartbeatInterval", id: "heartbeat" });
  }),

  /**
   * The server asked for a beat (op 1): answer at once, within the frame limit, keeping room for
   * our own scheduled beats (two per 60 s at Discord's 41.25 s), so that those never overrun it.
   */
  answerHeartbeatRequest: act(({ context, enqueue }) => {
    const scheduledBeats = Math.min(FRAME_LIMIT - FRAME_BUDGET_OTHER, Math.ceil(FRAME_WINDOW_MS / context.heartbeatIntervalMs));
    if (context.framesInWindow >= FRAME_LIMIT - scheduledBeats) {
      log(enqueue, "warn", "heartbeat request not answered: frame limit reached", { user: context.user });
      return;
    }
    sendFrame(enqueue, context, { op: Op.Heartbeat, d: context.seq });
  }),

  noteAck: act(({ enqueue }) => enqueue.assign({ awaitingAck: false })),

  trackSeq: act(({ context, event, enqueue }) => {
    assertEvent(event, ["gateway.dispatch", "gateway.ready", "gateway.resumed"]);
    if (event.seq != null && event.seq !== context.seq) enqueue.assign({ seq: event.seq });
  }),

  sendIdentify: act(({ context, enqueue }) => {
    sendFrame(enqueue, context, {
      op: Op.Identify,
      d: {
        capabilities: 0,
        properties: context.properties,
        presence: { status: "unknown", since: 0, activities: [], afk: true },
        compress: false,
        client_state: { guild_versions: {} },
      },
    });
    // PROTOCOL.md: at most one identify per 5 s per token.
    enqueue.assign({ identifyCoolingDown: true });
    enqueue.raise({ type: "identify.cooldownOver" }, { delay: "identifyInterval", id: "identifyCooldown" });
  }),

  endIdentifyCooldown: act(({ enqueue }) => enqueue.assign({ identifyCoolingDown: false })),

  sendResume: act(({ context, enqueue }) => {
    if (!context.session) return;
    sendFrame(enqueue, context, { op: Op.Resume, d: { session_id: context.session.id, seq: context.seq } });
  }),

  startSession: act(({ context, event, enqueue }) => {
    assertEvent(event, "gateway.ready");
    // A new session shows no activity: whatever should be shown is sent again (PROTOCOL.md, READY).
    enqueue.assign({
      session: { id: event.sessionId ?? "", resumeUrl: event.resumeUrl ?? null },
      live: true,
      shown: null,
      shownKey: null,
      lastError: null,
    });
    enqueue.raise({ type: "session.stable", socket: context.socket }, { delay: "stableSession", id: "sessionStable" });
    log(enqueue, "info", "gateway session ready", { user: context.user });
  }),

  resumeSession: act(({ context, enqueue }) => {
    enqueue.assign({ live: true, lastError: null });
    enqueue.raise({ type: "session.stable", socket: context.socket }, { delay: "stableSession", id: "sessionStable" });
    log(enqueue, "info", "gateway session resumed", { user: context.user });
  }),

  refuseReady: act(({ context, enqueue }) => {
    log(enqueue, "warn", "READY without a session id refused", { user: context.user });
  }),

  resetBackoff: act(({ enqueue }) => enqueue.assign({ attempt: 0 })),

  /** Zombie rule: no ACK between two beats -> close non-1000 and resume (PROTOCOL.md). */
  closeZombie: act(({ context, enqueue }) => {
    log(enqueue, "warn", "no heartbeat ACK: zombie connection, reconnecting", { user: context.user });
    closeSocket(enqueue, context, 4000, "zombie connection");
    enqueue.assign({ retryAtOnce: true, lastError: "zombie connection (no heartbeat ACK)" });
  }),

  /** Op 7, or op 9 with d: true: close non-1000 so the session stays resumable, and resume at once. */
  closeToResume: act(({ context, event, enqueue }) => {
    log(enqueue, "info", "gateway asked to reconnect", { user: context.user, op: event.type });
    closeSocket(enqueue, context, 4000, "reconnecting to resume");
    enqueue.assign({ retryAtOnce: true });
  }),

  /** Op 9 with d: false: the session is gone; identify again on this socket after 1-5 s. */
  forgetSession: act(({ context, enqueue }) => {
    const random = draw(enqueue, context);
    // The seq belongs to the dead session: heartbeats say null until the new READY (PROTOCOL.md).
    enqueue.assign({ session: null, seq: null, live: false, shown: null, shownKey: null, invalidSessionWaitMs: 1000 + Math.floor(4000 * random) });
    log(enqueue, "info", "gateway session invalidated, identifying again", { user: context.user });
  }),

  /** Hello or READY/RESUMED did not come in time: close non-1000 and back off. */
  closeStalled: act<{ reason: string; forgetSession: boolean }>(({ context, enqueue }, params) => {
    log(enqueue, "warn", params.reason, { user: context.user });
    closeSocket(enqueue, context, 4000, params.reason);
    enqueue.assign({ retryAtOnce: false, lastError: params.reason });
    if (params.forgetSession) enqueue.assign({ session: null, seq: null });
    // Re-discover after a failed connect (PROTOCOL.md: re-fetch only after a failed connect).
    if (!context.live && !context.configuredGatewayUrl) enqueue.assign({ gatewayUrl: null });
  }),

  recordClose: act(({ context, event, enqueue }) => {
    assertEvent(event, "gateway.closed");
    const verdict = classifyClose(event.code);
    const level = verdict.ourBug ? "error" : "warn";
    log(enqueue, level, `gateway closed: ${verdict.reason}`, { user: context.user, code: event.code });
    closeSocket(enqueue, context, event.code, "closed by server");
    enqueue.assign({
      lastError: `gateway closed ${event.code}: ${verdict.reason}`,
      retryAtOnce: verdict.action === "resume",
      minBackoffMs: verdict.action === "tooManySessions" ? context.timings.tooManySessionsBackoffMs : 0,
    });
    if (verdict.action !== "resume") enqueue.assign({ session: null, seq: null });
    if (!context.live && !context.configuredGatewayUrl) enqueue.assign({ gatewayUrl: null });
  }),

  recordDiscoveryFailure: act(({ context, event, enqueue }) => {
    assertEvent(event, "gateway.discoveryFailed");
    log(enqueue, "warn", "gateway discovery failed", { user: context.user, reason: event.reason });
    enqueue.assign({ retryAtOnce: false, lastError: `gateway discovery failed: ${event.reason}` });
  }),

  scheduleBackoff: act(({ context, enqueue }) => {
    const random = draw(enqueue, context);
    const policy = { baseMs: context.timings.backoffBaseMs, capMs: context.timings.backoffCapMs };
    const delay = Math.max(context.minBackoffMs, backoffDelay(context.attempt, context.retryAtOnce, policy, random));
    enqueue.assign({
      backoffMs: delay,
      attempt: context.attempt + 1,
      retryAtOnce: false,
      minBackoffMs: 0,
      counters: { ...context.counters, reconnects: context.counters.reconnects + 1 },
    });
  }),

  /**
   * 4004 or HTTP 401 (the token), or 4010-4014 (configuration or our bug): stop for this user and
   * say why and what to do; nothing retries.
   */
  fail: act(({ context, event, enqueue }) => {
    const byToken = event.type !== "gateway.closed" || event.code === 4004;
    const reason =
      event.type === "gateway.closed" ? classifyClose(event.code).reason : "Discord rejected the token (HTTP 401 from the REST API)";
    const advice = byToken ? "fix the token and restart" : "a configuration or nd-presence bug: please report it";
    log(enqueue, "error", `${reason}: not retrying; ${advice}`, { user: context.user });
    closeSocket(enqueue, context, 1000, byToken ? "token rejected" : "fatal gateway error");
    enqueue.assign({
      failure: { reason, byToken },
      lastError: reason,
      session: null,
      seq: null,
      shown: null,
      shownKey: null,
    });
  }),

  /**
   * The previous process stopped: the socket this machine knew died with it, and whatever it was
   * waiting for (a discovery, a Hello, an ACK) will never come.
   */
  forgetOldSocket: act(({ enqueue }) => {
    enqueue.cancel("heartbeat");
    enqueue.cancel("sessionStable");
    enqueue.assign({ socketOpen: false, live: false, awaitingAck: false });
  }),

  /**
   * Live again after a restart: reconnect at once. A user who had failed gets one fresh try: a
   * restart is the operator's move, usually after fixing the token.
   */
  reconnectAfterRestart: act(({ context, enqueue }) => {
    enqueue.assign({ attempt: 0, retryAtOnce: true, failure: null });
    if (!context.configuredGatewayUrl) enqueue.assign({ gatewayUrl: null });
    log(enqueue, "info", "restarted: reconnecting", { user: context.user, resumable: context.session !== null });
  }),

  /** Nothing to show for a while: end the session for good with 1000 (PROTOCOL.md: our own closes). */
  closeIdle: act(({ context, enqueue }) => {
    log(enqueue, "info", "idle: closing the gateway session", { user: context.user });
    closeSocket(enqueue, context, 1000, "idle");
    enqueue.assign({ session: null, seq: null });
  }),

  beginShutdown: act(({ event, enqueue }) => {
    assertEvent(event, "service.shutdown");
    enqueue.assign({ shutdownClears: event.clear });
    if (event.clear) {
      enqueue.assign({ playback: null });
      enqueue.cancel("trackEnd");
    }
  }),

  /** Last close: 1000 after clearing ends the session; 4000 keeps it resumable for a restart. */
  closeFinal: act(({ context, enqueue }) => {
    if (context.shutdownClears) closeSocket(enqueue, context, 1000, "shutting down");
    else closeSocket(enqueue, context, 4000, "restarting");
  }),
};
