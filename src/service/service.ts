import { createNanoEvents, type Unsubscribe } from "nanoevents";
import type { Actor, InspectionEvent, Observer } from "xstate";
import type { Activity } from "../actors/effects.ts";
import type { DomainEventInput } from "../actors/events.ts";
import type { Track } from "../actors/track.ts";
import type { supervisorMachine } from "../actors/supervisor-machine.ts";
import { ArtworkResolver, defaultImageFrom } from "../adapters/artwork/resolver.ts";
import { DiscordRest } from "../adapters/discord/rest.ts";
import type { EffectPorts } from "../adapters/effect-runner.ts";
import { GatewaySockets } from "../adapters/discord/gateway-sockets.ts";
import { type Journal, NoJournal } from "../adapters/journal/journal.ts";
import { consoleLogger, type Logger, redactingLogger } from "../adapters/logger.ts";
import { assertUsable, configSecrets, defaultUserAgent, type ServiceConfig } from "../config/service-config.ts";
import { type ServiceClock, systemClock } from "../clock.ts";
import { PresenceError } from "../errors.ts";
import type { Checkpoint } from "./checkpoint.ts";
import { saveCheckpoint } from "./checkpoints.ts";
import { compact } from "./compaction.ts";
import type { AdapterEventInput, PlaybackEventInput } from "./event-validation.ts";
import { admit, record } from "./journaling.ts";
import { machinesPerforming, performer } from "./machines.ts";
import { startFromJournal } from "./recovery.ts";
import { changedKeys, type Reconfiguration, SERVICE_START_KEYS, userChanges } from "./reconfigure.ts";
import { createRuntime } from "./runtime.ts";
import { shutDown } from "./shutdown.ts";
import { type ServiceStatus, userStatuses } from "./status.ts";
import type { TraceRecord } from "./trace.ts";

export interface PresenceServiceOptions {
  config: ServiceConfig;
  /** Defaults to the system clock. */
  clock?: ServiceClock;
  /** Defaults to JSON lines on stderr. Secrets are scrubbed from whatever reaches it. */
  logger?: Logger;
  /**
   * The "upload" artwork source: puts a track's cover on a temporary public host and returns its
   * URL (see `createCoverUploader`). Without it, "upload" in `artwork.order` finds nothing.
   */
  uploadCover?: (track: Track) => Promise<string | null>;
  /**
   * Where every input is journaled before it is applied, and replayed from at `start()` (crash
   * recovery). Default: none, so nothing is kept (a `MemoryJournal` would keep every input,
   * heartbeat ACKs included, for as long as the process runs).
   */
  journal?: Journal;
  /** Sees every intended effect and every machine state, live and during the replay. */
  trace?: (record: TraceRecord) => void;
  /**
   * `replay`: `start()` rebuilds the machines from the journal and stops there: effects stay off
   * and nothing is dispatched (`nd-presence replay`). Default `live`.
   */
  mode?: "live" | "replay";
  /**
   * Start from the journal's checkpoint, when it has a usable one, and replay only what follows it.
   * Default: yes when live; not in `replay` mode, which is there to show the history.
   */
  useCheckpoint?: boolean;
  /** Observes the actor system (e.g. the Stately inspector's `inspect`). */
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
}

export interface ServiceEvents {
  /** What a user's Discord status now shows; `null` when it was cleared. */
  presence(user: string, activity: Activity | null): void;
}

export interface PresenceService {
  start(): Promise<void>;
  /**
   * A host's way in: what a user is playing (`playback.playing`, `.paused`, `.stopped`). Anything
   * else, an invalid event or one of the service's own inputs (gateway, artwork), is logged and
   * refused, never thrown.
   */
  dispatch(event: PlaybackEventInput): void;
  on<E extends keyof ServiceEvents>(event: E, listener: ServiceEvents[E]): Unsubscribe;
  /** Each user's state, what they are shown and their last error. Contains no secret. */
  status(): ServiceStatus;
  /** Clears every presence (unless `clear: false`), closes the sockets and stops the actors. */
  stop(options?: { clear?: boolean }): Promise<void>;
  /**
   * Saves a checkpoint of every machine and its pending timers, so that a start restores it and
   * replays only what follows it. Null before `start`, or while a user a reload removed is still being cleared.
   */
  checkpoint(): Promise<Checkpoint | null>;
  /** A checkpoint, then drops from the journal what a full replay no longer needs (idle users' history). */
  compact(): Promise<void>;
  /** Inputs journaled since the last checkpoint: what a start would have to replay. */
  entriesSinceCheckpoint(): number;
  /** The journal's size in bytes, for `/metrics`. */
  journalBytes(): number;
  /**
   * Applies a new config while running (a reload): added users start, removed users are cleared
   * and stopped, a changed user's session restarts with the new settings (or token), and everyone
   * else keeps their session and presence untouched. Journaled, so a replay makes the same change.
   * Says what changed, and which changed settings wait for the next start. Throws (nothing
   * changed) when the service is not running or the config is unusable.
   */
  reconfigure(config: ServiceConfig): Reconfiguration;
  /** The supervisor actor, for hosts that want to observe it. Undefined before `start`. */
  readonly actor: Actor<typeof supervisorMachine> | undefined;
}

/** Each service's adapter path (see `dispatchAsAdapter`), kept off the host's API. */
const adapterPaths = new WeakMap<PresenceService, (event: DomainEventInput) => void>();

/**
 * Creates the nd-presence service: the supervisor actor, one presence machine per user, and the
 * adapters that carry out their effects (gateway sockets, Discord REST, artwork).
 *
 * @example
 * const service = createPresenceService({ config });
 * await service.start();
 * service.on("presence", (user, activity) => console.log(user, activity?.details));
 * service.dispatch({ type: "playback.playing", user: "alice", track: { title: "Song", artist: "Band" } });
 * await service.stop();
 */
export function createPresenceService(options: PresenceServiceOptions): PresenceService {
  const { config } = options;
  assertUsable(config);
  const liveClock = options.clock ?? systemClock;
  const tokens = new Map(config.users.map((user) => [user.username, user.discordToken]));
  const tokenFor = (user: string) => tokens.get(user);
  let secrets = configSecrets(config);
  const logger = redactingLogger(options.logger ?? consoleLogger(config.log?.level), () => secrets);
  const userAgent = config.discord.userAgent ?? defaultUserAgent;
  const emitter = createNanoEvents<ServiceEvents>();

  // The adapters. What they answer (session events, seq notes, discoveries, artwork, token
  // checks) comes back through the adapter path and is journaled like any input. None answers
  // before `start()`, so `runtime` (below) is there by then.
  const fromAdapter = (event: DomainEventInput) => admit(runtime, event, "adapter");
  const rest = new DiscordRest({ apiBaseUrl: config.discord.apiBaseUrl ?? "https://discord.com/api", userAgent, logger });
  const artworkPorts = { rest, tokenFor, userAgent, logger, liveClock };
  const artwork = artworkResolver(config, options, artworkPorts);
  const sockets = new GatewaySockets({ userAgent, tokenFor, deliver: fromAdapter, logger, clock: liveClock });
  const ports: EffectPorts = {
    sockets,
    rest,
    artwork,
    logger,
    tokenFor,
    dispatch: fromAdapter,
    presenceSent: (user, activity) => emitter.emit("presence", user, activity),
  };

  // What journaling, recovery, checkpoints, compaction and shutdown share (src/service/runtime.ts).
  const runtime = createRuntime({ config, logger, journal: options.journal ?? new NoJournal(), sockets, liveClock, trace: options.trace });
  const machine = machinesPerforming(performer(runtime, ports));

  const service: PresenceService = {
    get actor() {
      return runtime.actor;
    },
    async start() {
      if (runtime.actor) return;
      await startFromJournal(runtime, machine, options);
    },
    dispatch: (event) => admit(runtime, event, "host"),
    on: (event, listener) => emitter.on(event, listener),
    status: () => ({
      running: runtime.accepting,
      users: runtime.actor ? userStatuses(runtime.config, runtime.actor.getSnapshot(), (user) => sockets.wireStatus(user)) : [],
      refusedEvents: runtime.actor ? { ...runtime.actor.getSnapshot().context.refused } : {},
      journal: runtime.health.status(),
    }),
    stop: ({ clear = true } = {}) => shutDown(runtime, clear),
    checkpoint: () => saveCheckpoint(runtime),
    compact: () => compact(runtime),
    entriesSinceCheckpoint: () => runtime.nextSeq - 1 - runtime.checkpointSeq,
    journalBytes: () => runtime.journal.size(),
    reconfigure(next) {
      assertUsable(next);
      if (!runtime.actor || !runtime.accepting) throw new PresenceError("service.notRunning", "the service is not running, so there is nothing to reload");
      const previous = runtime.config;
      const users = userChanges(previous, next);
      // The new tokens before the machines hear of them: a restarted session identifies with its
      // new one. The old secrets stay redacted too: a late log line may still carry one.
      for (const user of previous.users) tokens.delete(user.username);
      for (const user of next.users) tokens.set(user.username, user.discordToken);
      secrets = [...new Set([...secrets, ...configSecrets(next)])];
      runtime.config = next;
      runtime.profiles = users.profiles;
      runtime.checkpointKeyText = undefined;
      if (changedKeys(previous, next, ["discord.applicationId", "artwork"]).length > 0) ports.artwork = artworkResolver(next, options, artworkPorts);
      const { added, removed, changed, newToken } = users;
      if (added.length + changed.length + removed.length > 0) {
        record(runtime, { type: "service.reconfigured", users: [...added, ...changed], removed, newToken, at: runtime.clock.now() });
      }
      return { added, removed, changed, needsRestart: changedKeys(previous, next, SERVICE_START_KEYS) };
    },
  };
  adapterPaths.set(service, fromAdapter);
  return service;
}

/**
 * For adapters and tests, not for hosts (src/index.ts does not export it): records `event` the way
 * the service's own adapters record their answers (a session event, a seq note, a discovery, an
 * artwork outcome, a token check): validated, stamped, journaled, applied. The service wires its
 * adapters to this path itself; a test uses it only for an answer no fake can produce.
 */
export function dispatchAsAdapter(service: PresenceService, event: AdapterEventInput): void {
  adapterPaths.get(service)?.(event);
}

/** Album art for the machines' presences, from the sources `config.artwork` names, in its order. */
function artworkResolver(
  config: ServiceConfig,
  options: PresenceServiceOptions,
  ports: { rest: DiscordRest; tokenFor: (user: string) => string | undefined; userAgent: string; logger: Logger; liveClock: ServiceClock },
): ArtworkResolver {
  const { liveClock } = ports;
  return new ArtworkResolver({
    rest: ports.rest,
    applicationId: config.discord.applicationId,
    tokenFor: ports.tokenFor,
    defaultImage: defaultImageFrom(config.artwork?.defaultImage),
    ...(config.artwork?.coverArtArchiveUrl ? { coverArtArchiveUrl: config.artwork.coverArtArchiveUrl } : {}),
    musicBrainzLookup: config.artwork?.musicBrainzLookup !== false,
    ...(config.artwork?.musicBrainzUrl ? { musicBrainzUrl: config.artwork.musicBrainzUrl } : {}),
    ...(config.artwork?.order ? { order: config.artwork.order } : {}),
    ...(config.artwork?.publicUrl ? { publicUrl: config.artwork.publicUrl } : {}),
    ...(options.uploadCover ? { upload: options.uploadCover } : {}),
    userAgent: ports.userAgent,
    logger: ports.logger,
    now: () => liveClock.now(),
    // MusicBrainz's 1 request/s is paced on the same clock the caches' TTLs read.
    sleep: (ms) => new Promise<void>((resolve) => liveClock.setTimeout(() => resolve(), ms)),
  });
}
