import { assertEvent } from "xstate";
import { backoffDelay } from "./backoff.ts";
import { classifyClose } from "./close-codes.ts";
import { Op } from "./discord-protocol.ts";
import { awaitArtwork, requestPausedImage } from "./playback-actions.ts";
import { trackIdentity } from "./track.ts";
import { act, closeSocket, draw, type Enqueue, forgetSocket, log, perform, sendFrame } from "./presence-effects.ts";
import {
  type GatewayState,
  initialCompat,
  isLive,
  NOTHING_SHOWN,
  type PresenceContext,
  type RetryState,
  settingsOf,
  withGatewayQuery,
} from "./presence-context.ts";

/** After this many closes in a row before READY (and each as many more), the token is checked over REST. */
const CLOSES_BEFORE_TOKEN_CHECK = 3;

/** The gateway session: sockets, identify and resume, closes and backoff (the wire is the connection's). */
export const connectionActions = {
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
    enqueue.assign({ socket: { number: socket, open: true, liveSince: null } });
    perform(enqueue, { type: "socket.open", socket, url: withGatewayQuery(base) });
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
    // docs/protocol.md: at most one identify per 5 s per token.
    enqueue.assign(({ context: c }) => ({ userLimits: { ...c.userLimits, identifyCoolingDown: true } }));
    enqueue.raise({ type: "identify.cooldownOver" }, { delay: "identifyInterval", id: "identifyCooldown" });
  }),

  endIdentifyCooldown: act(({ context, enqueue }) => enqueue.assign({ userLimits: { ...context.userLimits, identifyCoolingDown: false } })),

  sendResume: act(({ context, enqueue }) => {
    const { session } = context.gateway;
    // The connection adds the token and the session's last `s`, which only it reads.
    if (session) sendFrame(enqueue, context, { op: Op.Resume, d: { session_id: session.id } });
  }),

  startSession: act(({ context, event, enqueue }) => {
    assertEvent(event, "gateway.ready");
    // A new session shows no activity: whatever should be shown is sent again (docs/protocol.md, READY).
    enqueue.assign({
      gateway: { ...context.gateway, session: { id: event.sessionId ?? "", resumeUrl: event.resumeUrl ?? null } },
      socket: { ...context.socket, liveSince: event.at },
      shown: NOTHING_SHOWN,
      retry: { ...context.retry, closesBeforeReady: 0 },
      lastError: null,
    });
    log(enqueue, "info", "gateway session ready", { user: context.user });
  }),

  resumeSession: act(({ context, event, enqueue }) => {
    assertEvent(event, "gateway.resumed");
    enqueue.assign({ socket: { ...context.socket, liveSince: event.at }, retry: { ...context.retry, closesBeforeReady: 0 }, lastError: null });
    log(enqueue, "info", "gateway session resumed", { user: context.user });
  }),

  refuseReady: act(({ context, enqueue }) => {
    log(enqueue, "warn", "READY without a session id refused", { user: context.user });
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
    // Before READY it counts as a failed try: a server may refuse a bad token this way too.
    const closesBeforeReady = isLive(context.socket) ? 0 : failedBeforeReady(enqueue, context);
    enqueue.assign({
      gateway: { ...context.gateway, session: null },
      socket: { ...context.socket, liveSince: null },
      shown: NOTHING_SHOWN,
      retry: { ...context.retry, invalidSessionWaitMs: 1000 + Math.floor(4000 * random), closesBeforeReady },
    });
    log(enqueue, "info", "gateway session invalidated, identifying again", { user: context.user });
  }),

  /** Hello or READY/RESUMED did not come in time: close non-1000 and back off. */
  closeStalled: act<{ reason: string; forgetSession: boolean }>(({ context, enqueue }, params) => {
    log(enqueue, "warn", params.reason, { user: context.user });
    closeSocket(enqueue, context, 4000, params.reason);
    enqueue.assign({
      retry: { ...context.retry, atOnce: false, closesBeforeReady: failedBeforeReady(enqueue, context) },
      lastError: params.reason,
      gateway: afterFailedConnect(context, params.forgetSession),
    });
  }),

  recordClose: act(({ context, event, enqueue }) => {
    assertEvent(event, "gateway.closed");
    const verdict = classifyClose(event.code);
    const level = verdict.ourBug ? "error" : "warn";
    // A zombie close is the connection's own (no ACK between two beats): it keeps the session.
    const reason = event.zombie ? "zombie connection (no heartbeat ACK)" : verdict.reason;
    log(enqueue, level, `gateway closed: ${reason}`, { user: context.user, code: event.code });
    // Closed before READY or RESUMED: no going again at once. A server that answers a bad token
    // with something else than 4004 (Spacebar: 4000) would otherwise be asked again and again.
    const beforeReady = !isLive(context.socket);
    const closesBeforeReady = beforeReady ? failedBeforeReady(enqueue, context) : 0;
    closeSocket(enqueue, context, event.code, "closed by server");
    enqueue.assign({
      lastError: event.zombie ? reason : `gateway closed ${event.code}: ${reason}`,
      retry: {
        ...retryBy(context, event.at),
        atOnce: verdict.action === "resume" && !beforeReady,
        minBackoffMs: verdict.action === "tooManySessions" ? context.settings.timings.tooManySessionsBackoffMs : 0,
        closesBeforeReady,
      },
      gateway: afterFailedConnect(context, verdict.action !== "resume"),
      // What was sent and not yet confirmed counts as shown: only a 4002 says otherwise.
      ...(context.shown.pending ? { shown: { ...context.shown, pending: false } } : {}),
    });
  }),

  /**
   * The server closed with 4002 right after an op 3: it refused the presence. The first time, this
   * gateway gets only the core fields from now on; if even those are refused, this track is not
   * sent again (the next track is tried), so that nothing reconnects in a loop.
   */
  recordRefusal: act(({ context, enqueue }) => {
    const { compat, playback } = context;
    const counters = { ...context.counters, presenceRefused: context.counters.presenceRefused + 1 };
    if (compat.fields === "full" && context.settings.presence.activityFields === "auto") {
      log(enqueue, "warn", "the gateway refused the presence (close 4002): sending it only the core activity fields from now on (discord.activityFields)", {
        user: context.user,
      });
      enqueue.assign({ compat: { ...compat, fields: "core" }, shown: NOTHING_SHOWN, counters });
      return;
    }
    const reason = `the gateway refused the presence for this track (close 4002, ${
      compat.fields === "core" ? "core fields only" : "all fields"
    }): not sending it again until the next track`;
    log(enqueue, "error", reason, { user: context.user });
    enqueue.assign({
      compat: { ...compat, refusedTrack: playback ? trackIdentity(playback.track) : null },
      shown: NOTHING_SHOWN,
      counters,
      lastError: reason,
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
    const reason = event.type === "gateway.closed" ? classifyClose(event.code).reason : "Discord rejected the token (HTTP 401 from the REST API)";
    const advice = byToken ? "fix the token and restart" : "a configuration or nd-presence bug: please report it";
    log(enqueue, "error", `${reason}: not retrying; ${advice}`, { user: context.user });
    closeSocket(enqueue, context, 1000, byToken ? "token rejected" : "fatal gateway error");
    enqueue.assign({
      failure: { reason, byToken },
      lastError: reason,
      gateway: { ...context.gateway, session: null },
      shown: NOTHING_SHOWN,
    });
  }),

  /**
   * The previous process stopped: the socket this machine knew died with it, and whatever it was
   * waiting for (a discovery, a Hello, READY) will never come.
   */
  forgetOldSocket: act(({ enqueue }) => forgetSocket(enqueue)),

  /**
   * Live again after a restart: reconnect at once. A user who had failed gets one fresh try: a
   * restart is the operator's move, usually after fixing the token.
   */
  reconnectAfterRestart: act(({ context, enqueue }) => {
    enqueue.assign({
      retry: { ...context.retry, attempt: 0, atOnce: true, closesBeforeReady: 0 },
      failure: null,
      shutdown: null,
      compat: initialCompat(context.settings.presence),
      ...(context.settings.configuredGatewayUrl ? {} : { gateway: { ...context.gateway, url: null } }),
    });
    log(enqueue, "info", "restarted: reconnecting", { user: context.user, resumable: context.gateway.session !== null });
  }),

  /**
   * The user's configuration changed (a reload): end the session with 1000 (Discord drops what it
   * showed), take the new settings, and connect afresh (discovery, identify) if there is something
   * to show. What the user plays and Discord's per-user limits (the presence window, identify
   * pacing) stay: they belong to the user, not to the session. A user who had failed gets a fresh
   * try, as after a restart: the usual change is a new token.
   */
  restartWithProfile: act(({ context, event, enqueue }) => {
    assertEvent(event, "user.restart");
    const { presence } = event.profile;
    const old = context.settings.presence;
    log(enqueue, "info", "configuration changed: restarting the session", { user: context.user });
    closeSocket(enqueue, context, 1000, "configuration changed");
    const newApplication = presence.applicationId !== old.applicationId;
    const newPausedImage = newApplication || presence.pausedImage !== old.pausedImage;
    enqueue.assign({
      settings: settingsOf(event.profile),
      gateway: { url: event.profile.gatewayUrl, session: null },
      retry: { ...context.retry, attempt: 0, atOnce: true, minBackoffMs: 0, closesBeforeReady: 0 },
      shown: NOTHING_SHOWN,
      compat: initialCompat(presence),
      failure: null,
      lastError: null,
      ...(newPausedImage ? { pausedImage: null } : {}),
    });
    // Images are registered with the application: another application needs them again.
    if (newPausedImage) requestPausedImage(enqueue, presence.pausedImage);
    if (newApplication && context.playback) awaitArtwork(enqueue, context.playback.track);
  }),

  /** A reload changed a user who stays failed (the same refused token): the new settings, no session. */
  takeProfile: act(({ event, enqueue }) => {
    assertEvent(event, "user.restart");
    enqueue.assign({ settings: settingsOf(event.profile), compat: initialCompat(event.profile.presence) });
  }),

  /** Nothing to show for a while: end the session for good with 1000 (docs/protocol.md: our own closes). */
  closeIdle: act(({ context, enqueue }) => {
    log(enqueue, "info", "idle: closing the gateway session", { user: context.user });
    closeSocket(enqueue, context, 1000, "idle");
    enqueue.assign({ gateway: { ...context.gateway, session: null } });
  }),

  /** Tells the shard, which waits for every machine to stop at shutdown (a machine alone has no parent). */
  announceStopped: act(({ self, enqueue }) => {
    if (self._parent) enqueue.sendParent({ type: "presence.stopped" });
  }),

  /** Last close: 1000 after clearing ends the session; 4000 keeps it resumable for a restart. */
  closeFinal: act(({ context, enqueue }) => {
    if (context.shutdown === "keep") closeSocket(enqueue, context, 4000, "restarting");
    else {
      closeSocket(enqueue, context, 1000, "shutting down");
      // A 1000 close ends the session: the next start identifies.
      enqueue.assign({ gateway: { ...context.gateway, session: null } });
    }
  }),
};

/**
 * One more try that ended before READY or RESUMED (a close, op 9 false, a Hello or READY that did
 * not come): the new count, and every `CLOSES_BEFORE_TOKEN_CHECK`th time the token is checked
 * over REST, since some servers answer a bad token with something else than close 4004.
 */
function failedBeforeReady(enqueue: Enqueue, context: PresenceContext): number {
  const count = context.retry.closesBeforeReady + 1;
  if (count % CLOSES_BEFORE_TOKEN_CHECK === 0) {
    log(enqueue, "warn", `${count} tries in a row ended before READY: checking the token`, { user: context.user });
    perform(enqueue, { type: "discord.checkToken" });
  }
  return count;
}

/**
 * The retry state as of `at`, when a session ends (a close, op 7, op 9): once it had been live
 * `stableSessionMs`, attempts start over. Worked out from event times rather than by a one-off
 * timer per session, which a replay and a checkpoint would also have to carry.
 */
function retryBy(context: PresenceContext, at: number): RetryState {
  const { retry, socket, settings } = context;
  const stable = socket.liveSince !== null && at - socket.liveSince >= settings.timings.stableSessionMs;
  return stable && retry.attempt > 0 ? { ...retry, attempt: 0 } : retry;
}

/**
 * After a failed connect or a close: the session is forgotten when it cannot be resumed, and the
 * gateway URL when no session ever went live on it (docs/protocol.md: re-fetch only after a failed
 * connect), unless it is configured.
 */
function afterFailedConnect(context: PresenceContext, forgetSession: boolean): GatewayState {
  const rediscover = !isLive(context.socket) && !context.settings.configuredGatewayUrl;
  if (!forgetSession && !rediscover) return context.gateway;
  return {
    url: rediscover ? null : context.gateway.url,
    session: forgetSession ? null : context.gateway.session,
  };
}
