import { SimulatedClock } from "xstate";
import type { Activity } from "../src/actors/effects.ts";
import type { Track } from "../src/actors/track.ts";
import { createHttpServer, type HttpServer } from "../src/adapters/http/server.ts";
import { memoryLogger } from "../src/adapters/logger.ts";
import type { ServiceConfig, UserConfig } from "../src/config/service-config.ts";
import { type Journal, MemoryJournal } from "../src/adapters/journal/journal.ts";
import { ReplayClock } from "../src/adapters/journal/replay-clock.ts";
import type { AdapterEventInput, PlaybackEventInput } from "../src/service/event-validation.ts";
import { createPresenceService, dispatchAsAdapter } from "../src/service/service.ts";
import { type ServiceClock, systemClock } from "../src/clock.ts";
import type { TraceRecord } from "../src/service/trace.ts";
import { FakeDiscordRest, FakeImageHost } from "./fakes/discord-rest.ts";
import { FakeGateway } from "./fakes/gateway.ts";
import type { GatewayDialect, ReceivedFrame } from "./fakes/gateway-protocol.ts";
import { ioSettled } from "./fakes/io-barrier.ts";

export const APP_ID = "1234567890123456789";
export const TOKENS = { alice: "mfa.alice-SECRET-token-0123456789", bob: "mfa.bob-SECRET-token-9876543210" };
export const RELEASE_MBID = "11111111-2222-3333-4444-555555555555";
/** 2024-11-23T19:33:20Z: a fixed start so that timestamps in frames are exact. */
export const T0 = 1_732_390_400_000;

export const song: Track = {
  id: "tr-1",
  title: "Pyramid Song",
  artist: "Radiohead",
  album: "Amnesiac",
  durationMs: 289_000,
  mbids: { recording: "aaaaaaaa-0000-0000-0000-000000000001", release: RELEASE_MBID, artists: ["a74b1b7f-71a5-4011-9441-d0b5e4122711"] },
};

export const otherSong: Track = { id: "tr-2", title: "Knives Out", artist: "Radiohead", album: "Amnesiac", durationMs: 255_000 };

export interface HarnessOptions {
  users?: UserConfig[];
  config?: Partial<Omit<ServiceConfig, "users" | "discord">>;
  discord?: Partial<ServiceConfig["discord"]>;
  /** Point the service at the gateway directly instead of discovering it. Default false. */
  configureGatewayUrl?: boolean;
  heartbeatIntervalMs?: number;
  /**
   * Whose server the fakes play: Discord's (default), or Spacebar's, a Discord-compatible server
   * with a strict op 3 schema, 4000 for a bad token, no `/api/v10` and external assets missing.
   */
  server?: GatewayDialect;
  /** Default: a fresh in-memory journal (kept across `restart()`). */
  journal?: Journal;
  /** Default: XState's SimulatedClock at T0. */
  clock?: TestClock;
  trace?: (record: TraceRecord) => void;
}

/** A clock tests can move: XState's SimulatedClock, or `preciseClock()`. */
export type TestClock = ServiceClock & { increment(ms: number): void; set(ms: number): void };

/**
 * A clock that fires each timer at exactly its due time, as a real clock does (SimulatedClock runs
 * every timer due within an increment at the increment's end time). For determinism tests.
 */
export function preciseClock(start = T0): TestClock {
  const clock = new ReplayClock(systemClock, start);
  return {
    now: () => clock.now(),
    setTimeout: (fn, ms) => clock.setTimeout(fn, ms),
    clearTimeout: (id) => clock.clearTimeout(id),
    increment: (ms) => clock.advanceTo(clock.now() + ms),
    set: (ms) => clock.advanceTo(ms),
  };
}

/**
 * The real service, wired to loopback fakes that speak Discord's protocols, under a simulated
 * clock: tests move time with `advance` and watch what the fake gateway receives.
 */
export async function startHarness(options: HarnessOptions = {}) {
  const clock: TestClock = options.clock ?? new SimulatedClock();
  if (!options.clock) clock.set(T0);
  const journal = options.journal ?? new MemoryJournal();
  const gateway = await FakeGateway.start({
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? 41_250,
    now: () => clock.now(),
    validTokens: Object.values(TOKENS),
    dialect: options.server ?? "discord",
  });
  const spacebar = options.server === "spacebar";
  const rest = await FakeDiscordRest.start({ gatewayUrl: gateway.url, validTokens: Object.values(TOKENS), ...(spacebar ? { versions: ["v9", ""] } : {}) });
  rest.externalAssetsMissing = spacebar;
  const images = await FakeImageHost.start({ known: [RELEASE_MBID] });
  const logger = memoryLogger();
  const users = options.users ?? [{ username: "alice", discordToken: TOKENS.alice }];
  let config: ServiceConfig = {
    discord: {
      applicationId: APP_ID,
      apiBaseUrl: rest.url,
      gatewayUrl: options.configureGatewayUrl ? gateway.url : null,
      ...options.discord,
    },
    // No MusicBrainz here: tests of the lookup bring their own fake (test/album-art.test.ts).
    artwork: { coverArtArchiveUrl: images.url, defaultImage: `${images.url}/img/default.jpg`, musicBrainzLookup: false },
    ...options.config,
    users,
  };
  const shown: Array<{ user: string; activity: Activity | null; at: number }> = [];
  const launch = async (trace = options.trace) => {
    const started = createPresenceService({ config, clock, logger, journal, ...(trace ? { trace } : {}) });
    started.on("presence", (user, activity) => shown.push({ user, activity, at: clock.now() }));
    await started.start();
    return started;
  };
  let service = await launch();
  const servers: HttpServer[] = [];

  const harness = {
    clock,
    gateway,
    rest,
    images,
    logger,
    get service() {
      return service;
    },
    /** The config the service was last started with. */
    get config() {
      return config;
    },
    journal,
    shown,
    /**
     * Stops the service the way a crash would leave the journal (no clear, no shutdown journaled;
     * sockets close non-1000), then starts a new one on the same journal, clock and fakes, with
     * `next` as its config if given (as a start after an edited config file).
     */
    async restart(trace?: (record: TraceRecord) => void, next?: ServiceConfig) {
      await service.stop({ clear: false });
      if (next) config = next;
      service = await launch(trace);
      // Zero-delay timers (an immediate reconnect) run at once on a real clock; here, on a tick.
      await harness.advance(0);
    },
    /** As a host dispatches: playback only. */
    dispatch(event: PlaybackEventInput) {
      service.dispatch(event);
    },
    /**
     * An adapter's answer (a gateway, artwork or token-check event), injected past the fakes: only
     * for one no fake can produce. Otherwise let the fake gateway or REST server send it.
     */
    dispatchAsAdapter(event: AdapterEventInput) {
      dispatchAsAdapter(service, event);
    },
    play(track: Track = song, extra: { user?: string; positionMs?: number; playbackRate?: number } = {}) {
      service.dispatch({
        type: "playback.playing",
        user: extra.user ?? "alice",
        track,
        positionMs: extra.positionMs ?? 0,
        ...(extra.playbackRate ? { playbackRate: extra.playbackRate } : {}),
      });
    },
    /**
     * Waits until the I/O under way between the service and the fakes is done, without moving the
     * clock: a barrier on both sides' counts, not a sleep (see test/fakes/io-barrier.ts). What the
     * fake sent has then been handled, and whatever the service sent back has arrived.
     */
    settle(): Promise<void> {
      return ioSettled(gateway);
    },
    /**
     * Moves simulated time, with the I/O settled on both sides of the move: what was under way is
     * handled at the time it happened, and what the timers sent has arrived when this resolves.
     */
    async advance(ms: number) {
      await harness.settle();
      clock.increment(ms);
      await harness.settle();
    },
    /** Moves simulated time in `stepMs` steps until `done()` holds; fails after `maxMs`. */
    async advanceUntil(done: () => boolean, stepMs: number, maxMs: number, what: string): Promise<void> {
      for (let waited = 0; !done(); waited += stepMs) {
        if (waited >= maxMs) throw new Error(`no ${what} within ${maxMs} simulated ms`);
        await harness.advance(stepMs);
      }
    },
    /** Frames of one opcode the fake received, in order. */
    framesWithOp(op: number): ReceivedFrame[] {
      return gateway.frames.filter((frame) => frame.op === op);
    },
    /** The activity of an op 3 frame (null for a clear). */
    activityOf(frame: ReceivedFrame): Activity | null {
      return ((frame.d as { activities: Activity[] }).activities[0] ?? null);
    },
    async waitForPresence(predicate: (activity: Activity | null) => boolean = () => true, after = 0) {
      return gateway.waitForFrame((f) => f.op === 3 && predicate(harness.activityOf(f)), { after });
    },
    /** Everything a user or an operator could read: logs, status, and what was sent to Discord REST. */
    everythingVisible(): string {
      return [logger.text(), JSON.stringify(service.status()), JSON.stringify(rest.requests.map((r) => ({ path: r.path, body: r.body })))].join("\n");
    },
    /**
     * The service's HTTP server (status page, `/status`, `/healthz`, `/metrics`) on a free port,
     * closed with the harness; resolves with its base URL.
     */
    async statusServer(): Promise<string> {
      const http = createHttpServer({ port: 0, status: () => service.status(), sources: () => [], logger });
      servers.push(http);
      return `http://127.0.0.1:${await http.listen()}`;
    },
    async close() {
      await Promise.all(servers.splice(0).map((server) => server.close()));
      await service.stop({ clear: false });
      await Promise.all([gateway.close(), rest.close(), images.close()]);
    },
  };
  return harness;
}

export type Harness = Awaited<ReturnType<typeof startHarness>>;
