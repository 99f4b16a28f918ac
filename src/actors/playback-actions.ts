import { assertEvent } from "xstate";
import { fitPresenceFrame } from "./activity.ts";
import { MAX_FRAME_BYTES, Op, PRESENCE_LIMIT, PRESENCE_WINDOW_MS } from "./discord-protocol.ts";
import type { Effect } from "./effects.ts";
import { type Track, trackIdentity } from "./track.ts";
import { act, type Enqueue, log, perform, PRESENCE_KEPT_MS, sendFrame } from "./presence-effects.ts";
import { artworkKey, desiredPresence, estimatedPositionMs, isLive, samePresence, shownPresence, wantsPresence } from "./presence-context.ts";

/**
 * Asks for the track's cover and waits a little for it, so that Discord is not sent the track
 * twice (once without art).
 */
export function awaitArtwork(enqueue: Enqueue, track: Track): void {
  const key = artworkKey(track);
  enqueue.assign({ artwork: { key, image: null, pending: true } });
  perform(enqueue, { type: "artwork.resolve", request: { kind: "track", key, track } });
  enqueue.cancel("artworkWait");
  enqueue.raise({ type: "artwork.waitOver", key }, { delay: "artworkWait", id: "artworkWait" });
}

/** Registers the image shown small while paused, if one is configured. */
export function requestPausedImage(enqueue: Enqueue, url: string | null): void {
  if (url) perform(enqueue, { type: "artwork.resolve", request: { kind: "url", key: "paused", url } });
}

/** What the user plays, and bringing what Discord shows in line with it. */
export const playbackActions = {
  /** Replaced by the service (carry the effect out) or by a replay (record it). */
  perform: (_: unknown, _effect: Effect) => {},

  requestPausedImage: act(({ context, enqueue }) => requestPausedImage(enqueue, context.settings.presence.pausedImage)),

  recordPlaying: act(({ context, event, enqueue }) => {
    assertEvent(event, "playback.playing");
    const rate = event.playbackRate !== undefined && Number.isFinite(event.playbackRate) && event.playbackRate > 0 ? event.playbackRate : 1;
    const playback = {
      track: event.track,
      positionMs: Math.max(0, event.positionMs ?? 0),
      playbackRate: rate,
      paused: false,
      at: event.at,
    };
    enqueue.assign({ playback });
    if (context.artwork?.key !== artworkKey(event.track)) awaitArtwork(enqueue, event.track);
    enqueue.cancel("trackEnd");
    // A track that ends with no further event is cleared at its end time plus a grace.
    enqueue.raise({ type: "track.ended" }, { delay: "untilTrackEnd", id: "trackEnd" });
    // A presence the server refused is tried again for the next track, not for the same one.
    const { compat } = context;
    if (compat.refusedTrack !== null && compat.refusedTrack !== trackIdentity(event.track)) enqueue.assign({ compat: { ...compat, refusedTrack: null } });
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
   * presence, identical repeats dropped, within 5 updates / 20 s. What cannot go now goes when a
   * slot frees (`presence.slotFreed`). The connection keeps to the frame budget.
   */
  flushPresence: act(({ context, enqueue }) => {
    if (!isLive(context.socket)) return;
    // Waiting for the cover: nothing to send yet, so nothing to build.
    if (context.artwork?.pending && wantsPresence(context)) return;
    // The limits first: building and comparing presences costs more.
    if (context.userLimits.presenceInWindow >= PRESENCE_LIMIT) return;
    const desired = desiredPresence(context);
    if (samePresence(desired, shownPresence(context.shown))) return;
    const payload = desired ?? { since: 0, status: context.settings.presence.status, afk: true, activities: [] };
    const fitted = fitPresenceFrame(payload);
    if (!fitted) {
      // Never send a frame Discord would answer with 4002; keep showing what is shown.
      log(enqueue, "error", "presence too large to send, even shortened", { user: context.user });
      enqueue.assign({ lastError: "presence too large to send" });
      return;
    }
    if (fitted.dropped.length > 0) log(enqueue, "warn", `presence shortened to fit ${MAX_FRAME_BYTES} bytes`, { user: context.user, dropped: fitted.dropped });
    sendFrame(enqueue, context, { op: Op.PresenceUpdate, d: fitted.payload }, {
      shown: { payload: desired ? fitted.payload : null, shortenedFrom: desired && fitted.payload !== desired ? desired : null, pending: true },
      userLimits: { ...context.userLimits, presenceInWindow: context.userLimits.presenceInWindow + 1 },
      counters: { presenceUpdates: context.counters.presenceUpdates + 1 },
    });
    // Fewer than PRESENCE_LIMIT slots are pending here, so ids cycling through that many never
    // collide, and a timer index (ActorTimers) keeps a bounded set of ids per machine.
    const slot = context.counters.presenceUpdates % PRESENCE_LIMIT;
    enqueue.raise({ type: "presence.slotFreed" }, { delay: PRESENCE_WINDOW_MS, id: `presenceSlot.${slot}` });
    // Kept unless the server closes with 4002 before this: then it refused it (`recordRefusal`).
    enqueue.cancel("presenceKept");
    enqueue.raise({ type: "presence.kept", socket: context.socket.number }, { delay: PRESENCE_KEPT_MS, id: "presenceKept" });
  }),

  /** The socket stayed open `PRESENCE_KEPT_MS` after the op 3: the server kept it. */
  confirmPresence: act(({ context, enqueue }) => {
    enqueue.assign({ shown: { ...context.shown, pending: false } });
  }),

  freePresenceSlot: act(({ enqueue }) => {
    enqueue.assign(({ context: c }) => ({ userLimits: { ...c.userLimits, presenceInWindow: Math.max(0, c.userLimits.presenceInWindow - 1) } }));
  }),

  beginShutdown: act(({ context, event, enqueue }) => {
    assertEvent(event, "service.shutdown");
    // A playing track and its end timer stay: a start after this one shows the track again if it
    // is still playing by then (as after a crash), and forgets it if it ended meanwhile. A paused
    // one has no end to wait for, and no source will say it stopped: a clearing stop forgets it.
    const forgetPaused = event.clear && context.playback?.paused === true;
    enqueue.assign({ shutdown: event.clear ? "clear" : "keep", ...(forgetPaused ? { playback: null } : {}) });
  }),
};
