import { assertEvent, assign, raise } from "xstate";
import { backoffDelay } from "./backoff.ts";
import { classifyClose } from "./close-codes.ts";
import { Op, type Effect } from "./effects.ts";
import { act, closeSocket, draw, forgetSocket, framesLeftInWindow, log, perform, sendFrame, type PresenceDelay, type PresenceEvent } from "./presence-act.ts";
import { isLive, NOTHING_SHOWN, withGatewayQuery, type GatewayState, type PresenceContext, type RetryState } from "./presence-context.ts";

/** A scheduled beat's frame, on the current socket, for the `perform` action (see `noteBeatSent`). */
export const beatFrame = ({ context }: { context: PresenceContext }): Effect => ({
  type: "socket.send",
  socket: context.socket.number,
  frame: { op: Op.Heartbeat, d: context.gateway.seq },
});

/** The gateway session: sockets, heartbeats, identify and resume, closes and backoff. */
export const connectionActions = {
  endFrameWindow: act(({ context, event, enqueue }) => {
    assertEvent(event, "frame.windowEnds");
    // The window is per connection: an older socket's was reset when the new one opened.
    if (event.socket !== context.socket.number) return;
    enqueue.assign({ socket: { ...context.socket, framesInWindow: 0 } });
  }),

  discoverGateway: act(({ context, enqueue }) => {
    perform(enqueue, { type: "gateway.discover", refresh: context.retry.attempt > 0 });
  }),

  storeGatewayUrl: act(({ context, event, enqueue }) => {
    assertEvent(event, "gateway.discovered");
    enqueue.assign({ gateway: { ...context.gateway, url: event.url } });
  }),

  /** A session resumes on its `resume_gateway_url`; a new one starts on the gateway URL. */
  openSocket: act(({ context, enqueue }) => {
    const base = context.gateway.session?.resumeUrl ?? context.gateway.url;
    if (!base) return;
    const socket = context.socket.number + 1;
    enqueue.cancel("frameWindow");
    enqueue.assign({ socket: { ...context.socket, number: socket, open: true, liveSince: null, awaitingAck: false, framesInWindow: 0 } });
    perform(enqueue, { type: "socket.open", socket, url: withGatewayQuery(base) });
  }),

  /** Hello: the first beat after interval x random, then every interval (PROTOCOL.md). */
  startHeartbeating: act(({ context, event, enqueue }) => {
    assertEvent(event, "gateway.hello");
    const random = draw(enqueue, context);
    enqueue.assign({
      socket: {
        ...context.socket,
        heartbeatIntervalMs: event.heartbeatIntervalMs,
        firstHeartbeatMs: Math.floor(event.heartbeatIntervalMs * random),
        awaitingAck: false,
      },
    });
    enqueue.raise({ type: "heartbeat.due", socket: context.socket.number }, { delay: "firstHeartbeat", id: "heartbeat" });
  }),

  /**
   * A scheduled beat: `beatFrame` (sent through `perform`), then these two. Plain actions, not
   * `act`: this runs on every beat, and `enqueueActions` builds its closures on each call. The
   * beat is not booked in the frame window: room is kept for it (see `FRAME_LIMIT`).
   */
  noteBeatSent: assign<PresenceContext, PresenceEvent, undefined, PresenceEvent, never>(({ context }) => ({
    socket: { ...context.socket, awaitingAck: true },
    counters: { ...context.counters, framesSent: context.counters.framesSent + 1 },
  })),
  scheduleBeat: raise<PresenceContext, PresenceEvent, PresenceEvent, undefined, PresenceDelay, "heartbeatInterval">(
    ({ context }) => ({ type: "heartbeat.due", socket: context.socket.number }),
    { delay: "heartbeatInterval", id: "heartbeat" },
  ),

  /**
   * The server asked for a beat (op 1): answer at once, within the frame limit, keeping room for
   * our own scheduled beats (two per 60 s at Discord's 41.25 s), so that those never overrun it.
   */
  answerHeartbeatRequest: act(({ context, enqueue }) => {
    if (framesLeftInWindow(context) <= 0) {
      log(enqueue, "warn", "heartbeat request not answered: frame limit reached", { user: context.user });
      return;
    }
    sendFrame(enqueue, context, { op: Op.Heartbeat, d: context.gateway.seq });
  }),

  /**
   * An ACK also tells that the session has held: once it is up `stableSessionMs`, failures start
   * the backoff over. Checked here and on a close, from event times, rather than by a one-off
   * timer and event per session (which a replay and a checkpoint would also have to carry). A
   * plain `assign`, not `act`: this runs on every ACK, and `enqueueActions` builds eight closures
   * per call (1.7 KiB of a beat's 31).
   */
  noteAck: assign<PresenceContext, PresenceEvent, undefined, PresenceEvent, never>(({ context, event }) => {
    assertEvent(event, "gateway.heartbeatAck");
    return { socket: { ...context.socket, awaitingAck: false }, retry: retryBy(context, event.at) };
  }),

  trackSeq: act(({ context, event, enqueue }) => {
    assertEvent(event, ["gateway.dispatch", "gateway.ready", "gateway.resumed"]);
    if (event.seq != null && event.seq !== context.gateway.seq) enqueue.assign({ gateway: { ...context.gateway, seq: event.seq } });
  }),

  sendIdentify: act(({ context, enqueue }) => {
    sendFrame(enqueue, context, {
      op: Op.Identify,
      d: {
        capabilities: 0,
        properties: context.settings.properties,
        presence: { status: "unknown", since: 0, activities: [], afk: true },
        compress: false,
        client_state: { guild_versions: {} },
      },
    });
    // PROTOCOL.md: at most one identify per 5 s per token.
    enqueue.assign(({ context: c }) => ({ userLimits: { ...c.userLimits, identifyCoolingDown: true } }));
    enqueue.raise({ type: "identify.cooldownOver" }, { delay: "identifyInterval", id: "identifyCooldown" });
  }),

  endIdentifyCooldown: act(({ context, enqueue }) => enqueue.assign({ userLimits: { ...context.userLimits, identifyCoolingDown: false } })),

  sendResume: act(({ context, enqueue }) => {
    const { session, seq } = context.gateway;
    if (!session) return;
    sendFrame(enqueue, context, { op: Op.Resume, d: { session_id: session.id, seq } });
  }),

  startSession: act(({ context, event, enqueue }) => {
    assertEvent(event, "gateway.ready");
    // A new session shows no activity: whatever should be shown is sent again (PROTOCOL.md, READY).
    enqueue.assign({
      gateway: { ...context.gateway, session: { id: event.sessionId ?? "", resumeUrl: event.resumeUrl ?? null } },
      socket: { ...context.socket, liveSince: event.at },
      shown: NOTHING_SHOWN,
      lastError: null,
    });
    log(enqueue, "info", "gateway session ready", { user: context.user });
  }),

  resumeSession: act(({ context, event, enqueue }) => {
    assertEvent(event, "gateway.resumed");
    enqueue.assign({ socket: { ...context.socket, liveSince: event.at }, lastError: null });
    log(enqueue, "info", "gateway session resumed", { user: context.user });
  }),

  refuseReady: act(({ context, enqueue }) => {
    log(enqueue, "warn", "READY without a session id refused", { user: context.user });
  }),

  /** Zombie rule: no ACK between two beats -> close non-1000 and resume (PROTOCOL.md). */
  closeZombie: act(({ context, enqueue }) => {
    log(enqueue, "warn", "no heartbeat ACK: zombie connection, reconnecting", { user: context.user });
    closeSocket(enqueue, context, 4000, "zombie connection");
    enqueue.assign({ retry: { ...context.retry, atOnce: true }, lastError: "zombie connection (no heartbeat ACK)" });
  }),

  /** Op 7, or op 9 with d: true: close non-1000 so the session stays resumable, and resume at once. */
  closeToResume: act(({ context, event, enqueue }) => {
    assertEvent(event, ["gateway.reconnect", "gateway.invalidSession"]);
    log(enqueue, "info", "gateway asked to reconnect", { user: context.user, op: event.type });
    closeSocket(enqueue, context, 4000, "reconnecting to resume");
    enqueue.assign({ retry: { ...retryBy(context, event.at), atOnce: true } });
  }),

  /** Op 9 with d: false: the session is gone; identify again on this socket after 1-5 s. */
  forgetSession: act(({ context, enqueue }) => {
    const random = draw(enqueue, context);
    // The seq belongs to the dead session: heartbeats say null until the new READY (PROTOCOL.md).
    enqueue.assign({
      gateway: { ...context.gateway, session: null, seq: null },
      socket: { ...context.socket, liveSince: null },
      shown: NOTHING_SHOWN,
      retry: { ...context.retry, invalidSessionWaitMs: 1000 + Math.floor(4000 * random) },
    });
    log(enqueue, "info", "gateway session invalidated, identifying again", { user: context.user });
  }),

  /** Hello or READY/RESUMED did not come in time: close non-1000 and back off. */
  closeStalled: act<{ reason: string; forgetSession: boolean }>(({ context, enqueue }, params) => {
    log(enqueue, "warn", params.reason, { user: context.user });
    closeSocket(enqueue, context, 4000, params.reason);
    enqueue.assign({
      retry: { ...context.retry, atOnce: false },
      lastError: params.reason,
      gateway: afterFailedConnect(context, params.forgetSession),
    });
  }),

  recordClose: act(({ context, event, enqueue }) => {
    assertEvent(event, "gateway.closed");
    const verdict = classifyClose(event.code);
    const level = verdict.ourBug ? "error" : "warn";
    log(enqueue, level, `gateway closed: ${verdict.reason}`, { user: context.user, code: event.code });
    closeSocket(enqueue, context, event.code, "closed by server");
    enqueue.assign({
      lastError: `gateway closed ${event.code}: ${verdict.reason}`,
      retry: {
        ...retryBy(context, event.at),
        atOnce: verdict.action === "resume",
        minBackoffMs: verdict.action === "tooManySessions" ? context.settings.timings.tooManySessionsBackoffMs : 0,
      },
      gateway: afterFailedConnect(context, verdict.action !== "resume"),
    });
  }),

  recordDiscoveryFailure: act(({ context, event, enqueue }) => {
    assertEvent(event, "gateway.discoveryFailed");
    log(enqueue, "warn", "gateway discovery failed", { user: context.user, reason: event.reason });
    enqueue.assign({ retry: { ...context.retry, atOnce: false }, lastError: `gateway discovery failed: ${event.reason}` });
  }),

  scheduleBackoff: act(({ context, enqueue }) => {
    const random = draw(enqueue, context);
    const { retry, settings } = context;
    const policy = { baseMs: settings.timings.backoffBaseMs, capMs: settings.timings.backoffCapMs };
    const delay = Math.max(retry.minBackoffMs, backoffDelay(retry.attempt, retry.atOnce, policy, random));
    enqueue.assign({
      retry: { ...retry, backoffMs: delay, attempt: retry.attempt + 1, atOnce: false, minBackoffMs: 0 },
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
      gateway: { ...context.gateway, session: null, seq: null },
      shown: NOTHING_SHOWN,
    });
  }),

  /**
   * The previous process stopped: the socket this machine knew died with it, and whatever it was
   * waiting for (a discovery, a Hello, an ACK) will never come.
   */
  forgetOldSocket: act(({ enqueue }) => forgetSocket(enqueue)),

  /**
   * Live again after a restart: reconnect at once. A user who had failed gets one fresh try: a
   * restart is the operator's move, usually after fixing the token.
   */
  reconnectAfterRestart: act(({ context, enqueue }) => {
    enqueue.assign({
      retry: { ...context.retry, attempt: 0, atOnce: true },
      failure: null,
      ...(context.settings.configuredGatewayUrl ? {} : { gateway: { ...context.gateway, url: null } }),
    });
    log(enqueue, "info", "restarted: reconnecting", { user: context.user, resumable: context.gateway.session !== null });
  }),

  /** Nothing to show for a while: end the session for good with 1000 (PROTOCOL.md: our own closes). */
  closeIdle: act(({ context, enqueue }) => {
    log(enqueue, "info", "idle: closing the gateway session", { user: context.user });
    closeSocket(enqueue, context, 1000, "idle");
    enqueue.assign({ gateway: { ...context.gateway, session: null, seq: null } });
  }),

  /** Last close: 1000 after clearing ends the session; 4000 keeps it resumable for a restart. */
  closeFinal: act(({ context, enqueue }) => {
    if (context.shutdownClears) closeSocket(enqueue, context, 1000, "shutting down");
    else closeSocket(enqueue, context, 4000, "restarting");
  }),
};

/**
 * The retry state as of `at`: once the session on this socket has been live `stableSessionMs`,
 * attempts start over (the same object otherwise, so an ACK copies nothing).
 */
function retryBy(context: PresenceContext, at: number): RetryState {
  const { retry, socket, settings } = context;
  const stable = socket.liveSince !== null && at - socket.liveSince >= settings.timings.stableSessionMs;
  return stable && retry.attempt > 0 ? { ...retry, attempt: 0 } : retry;
}

/**
 * After a failed connect or a close: the session is forgotten when it cannot be resumed, and the
 * gateway URL when no session ever went live on it (PROTOCOL.md: re-fetch only after a failed
 * connect), unless it is configured.
 */
function afterFailedConnect(context: PresenceContext, forgetSession: boolean): GatewayState {
  const rediscover = !isLive(context.socket) && !context.settings.configuredGatewayUrl;
  if (!forgetSession && !rediscover) return context.gateway;
  return {
    url: rediscover ? null : context.gateway.url,
    session: forgetSession ? null : context.gateway.session,
    seq: forgetSession ? null : context.gateway.seq,
  };
}
