import { createNanoEvents, type Unsubscribe } from "nanoevents";
import { createActor, type Actor, type InspectionEvent, type Observer } from "xstate";
import type { Activity, Effect } from "../actors/effects.ts";
import type { DomainEvent, DomainEventInput } from "../actors/events.ts";
import type { Track } from "../actors/track.ts";
import { presenceMachine } from "../actors/presence-machine.ts";
import { shardMachine } from "../actors/shard-machine.ts";
import { presenceOf, supervisorMachine } from "../actors/supervisor-machine.ts";
import { ArtworkResolver, defaultImageFrom } from "../adapters/artwork/resolver.ts";
import { DiscordRest } from "../adapters/discord/rest.ts";
import { runEffect, type EffectPorts } from "../adapters/effect-runner.ts";
import { GatewaySockets } from "../adapters/discord/gateway-sockets.ts";
import { consoleLogger, redactingLogger, type Logger } from "../adapters/logger.ts";
import { assertUsable, configSecrets, defaultUserAgent, userProfiles, type ServiceConfig } from "../config/service-config.ts";
import { refusal } from "./event-validation.ts";
import { errorText } from "../errors.ts";
import { systemClock, type ServiceClock } from "../clock.ts";
import { unreadableUser, userStatuses, type ServiceStatus } from "./status.ts";
import { compactJournal, JournalHistory } from "./compaction.ts";
import { ActorTimers } from "../adapters/journal/actor-timers.ts";
import { checkpointProblem, fingerprint, impossibleState, withoutProfiles, withProfiles, type Checkpoint } from "./checkpoint.ts";
import { JournalHealth } from "./journal-health.ts";
import { NoJournal, streamOf, type Journal, type JournalEntry } from "../adapters/journal/journal.ts";
import { ReplayClock } from "../adapters/journal/replay-clock.ts";
import { stateTracer, type TraceRecord } from "./trace.ts";

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
  /** The one way in for every input (playback, gateway, artwork). Invalid events are logged and refused. */
  dispatch(event: DomainEventInput): void;
  on<E extends keyof ServiceEvents>(event: E, listener: ServiceEvents[E]): Unsubscribe;
  /** Each user's state, what they are shown and their last error. Contains no secret. */
  status(): ServiceStatus;
  /** Clears every presence (unless `clear: false`), closes the sockets and stops the actors. */
  stop(options?: { clear?: boolean }): Promise<void>;
  /**
   * Saves a checkpoint of every machine and its pending timers, so that a start restores it and
   * replays only what follows it. Null before `start`.
   */
  checkpoint(): Promise<Checkpoint | null>;
  /** A checkpoint, then drops from the journal what a full replay no longer needs (idle users' history). */
  compact(): Promise<void>;
  /** Inputs journaled since the last checkpoint: what a start would have to replay. */
  entriesSinceCheckpoint(): number;
  /** The journal's size in bytes, for `/metrics`. */
  journalBytes(): number;
  /** The supervisor actor, for hosts that want to observe it. Undefined before `start`. */
  readonly actor: Actor<typeof supervisorMachine> | undefined;
}

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
  const secrets = configSecrets(config);
  const logger = redactingLogger(options.logger ?? consoleLogger(), () => secrets);
  const userAgent = config.discord.userAgent ?? defaultUserAgent;
  const emitter = createNanoEvents<ServiceEvents>();
  const rest = new DiscordRest({ apiBaseUrl: config.discord.apiBaseUrl ?? "https://discord.com/api", userAgent, logger });
  const artwork = new ArtworkResolver({
    rest,
    applicationId: config.discord.applicationId,
    tokenFor: (user) => tokens.get(user),
    defaultImage: defaultImageFrom(config.artwork?.defaultImage),
    ...(config.artwork?.coverArtArchiveUrl ? { coverArtArchiveUrl: config.artwork.coverArtArchiveUrl } : {}),
    musicBrainzLookup: config.artwork?.musicBrainzLookup !== false,
    ...(config.artwork?.musicBrainzUrl ? { musicBrainzUrl: config.artwork.musicBrainzUrl } : {}),
    ...(config.artwork?.order ? { order: config.artwork.order } : {}),
    ...(config.artwork?.publicUrl ? { publicUrl: config.artwork.publicUrl } : {}),
    ...(options.uploadCover ? { upload: options.uploadCover } : {}),
    userAgent,
    logger,
    now: () => liveClock.now(),
    // MusicBrainz's 1 request/s is paced on the same clock the caches' TTLs read.
    sleep: (ms) => new Promise<void>((resolve) => liveClock.setTimeout(() => resolve(), ms)),
  });
  const sockets = new GatewaySockets({ userAgent, tokenFor: (user) => tokens.get(user), deliver: (event) => dispatch(event), logger, clock: liveClock });
  const ports: EffectPorts = {
    sockets,
    rest,
    artwork,
    logger,
    tokenFor: (user) => tokens.get(user),
    dispatch: (event) => dispatch(event),
    presenceSent: (user, activity) => emitter.emit("presence", user, activity),
  };

  const journal = options.journal ?? new NoJournal();
  let clock = new ReplayClock(liveClock, liveClock.now());
  let timers: ActorTimers | undefined;
  /** What each user's machine starts with; the same objects for every machine and checkpoint. */
  const profiles = userProfiles(config);
  /**
   * What a checkpoint must have been taken under to be restored here (see `Checkpoint.key`).
   * Worked out when first needed: it hashes every user's profile.
   */
  let checkpointKeyText: string | undefined;
  const checkpointKey = () =>
    (checkpointKeyText ??= fingerprint(
      JSON.stringify({ users: profiles, sweepIntervalMs: config.sweepIntervalMs, machines: [supervisorMachine, shardMachine, presenceMachine].map((m) => m.config) }),
    ));
  let checkpointSeq = 0;
  /** Journal seq of each input being applied, so that a trace can name what caused an effect. */
  const seqOf = new WeakMap<object, number>();
  let nextSeq = 1;
  const health = new JournalHealth();
  const history = new JournalHistory();

  /** During the replay effects are switched off: they are traced, never carried out. */
  function perform(user: string, cause: { type: string }, effect: Effect): void {
    const live = !clock.replaying;
    options.trace?.({ kind: "effect", at: clock.now(), live, user, cause: cause.type, causeSeq: seqOf.get(cause) ?? null, effect });
    if (live) runEffect(ports, user, effect);
  }
  const performFor = ({ event }: { event: { type: string } }, { user, effect }: { user: string; effect: Effect }) => perform(user, event, effect);
  const machine = supervisorMachine.provide({
    actions: { perform: performFor },
    actors: {
      shard: shardMachine.provide({
        actions: { perform: performFor },
        actors: {
          presence: presenceMachine.provide({
            actions: { perform: ({ context, event }, effect: Effect) => perform(context.user, event, effect) },
          }),
        },
      }),
    },
  });
  let actor: Actor<typeof supervisorMachine> | undefined;
  let accepting = false;

  /**
   * Each user's session `s` as the journal knows it (READY, RESUMED, the connection's notes): what
   * a resume after a restart asks the server to replay from.
   */
  const sessionSeqs = new Map<string, number | null>();

  /** Applies one journaled input, noting when it started a user's current machine (for compaction). */
  function apply(running: Actor<typeof supervisorMachine>, entry: JournalEntry): void {
    const event = entry.event;
    // A seq note changes no machine: it is kept for a resume after a restart, without a step.
    if (event.type === "gateway.seq") return void sessionSeqs.set(event.user, event.seq);
    if (event.type === "gateway.ready" || event.type === "gateway.resumed") sessionSeqs.set(event.user, event.seq);
    if (options.trace) seqOf.set(entry.event, entry.seq); // only the trace names causes
    // Only playback starts a machine: the rest (heartbeat ACKs above all) skips the lookups.
    const user = entry.event.type.startsWith("playback.") ? (entry.event as { user: string }).user : null;
    const before = user === null ? undefined : presenceOf(running.getSnapshot(), user);
    running.send(entry.event);
    const after = user === null ? undefined : presenceOf(running.getSnapshot(), user);
    if (user !== null && after && after !== before) history.started(user, entry.seq);
  }

  /** Outside input (hosts, sources, adapters): validated, then recorded. */
  function dispatch(input: DomainEventInput): void {
    if (!actor || !accepting) return;
    const problem = refusal(input);
    if (problem) {
      logger.log("warn", `event refused: ${problem}`, { type: typeof input?.type === "string" ? input.type : undefined });
      return;
    }
    record({ ...input, at: input.at ?? clock.now() } as DomainEvent);
  }

  /** Journals an input (stamped), then applies it: outside input after `dispatch`, and the service's own. */
  function record(event: DomainEvent): void {
    if (!actor || !accepting) return;
    const entry: JournalEntry = { v: 1, seq: nextSeq++, at: event.at, stream: streamOf(event), event };
    // Append first: an input that was applied is an input that will be replayed. If the journal
    // cannot take it (a full disk), the service keeps working and says so (see JournalHealth).
    try {
      journal.append(entry);
      if (health.wrote()) logger.log("info", "journal: writing again");
    } catch (error) {
      if (health.failed("append", error)) {
        logger.log("error", "journal append failed; going on without it until it recovers (a restart now would lose what was not written)", { error: errorText(error) });
      }
    }
    apply(actor, entry);
  }

  /**
   * Rebuilds every machine from the journal (after the checkpoint, if one was restored), effects
   * off, then goes live and says so.
   */
  async function recover(running: Actor<typeof supervisorMachine>, entries: JournalEntry[], checkpoint: Checkpoint | null): Promise<void> {
    for (const entry of entries) {
      clock.advanceTo(entry.at);
      apply(running, entry);
    }
    const lastSeq = Math.max(entries.at(-1)?.seq ?? 0, checkpoint?.seq ?? 0);
    nextSeq = lastSeq + 1;
    checkpointSeq = checkpoint?.seq ?? 0;
    if (options.mode === "replay") return;
    accepting = true;
    const lastAt = Math.max(entries.at(-1)?.at ?? -Infinity, checkpoint?.at ?? -Infinity);
    const recovered = lastSeq > 0;
    if (recovered) {
      // As far as the journal knows, the previous process stopped after its last entry: its
      // sockets died there, and the time it was down passes with no connection (a track that
      // ended meanwhile is known to have ended, and nothing pretends to have cleared it).
      clock.advanceTo(lastAt);
      record({ type: "runtime.stopped", at: lastAt });
    }
    clock.goLive();
    for (const [user, seq] of sessionSeqs) sockets.restoreSeq(user, seq);
    if (recovered) {
      logger.log("info", "journal replayed", { entries: entries.length, ...(checkpoint ? { afterCheckpoint: checkpoint.seq } : {}) });
      record({ type: "runtime.resumed", at: clock.now() });
    }
  }

  /**
   * The checkpoint to start from, with its snapshot's profiles back in (what `launch` restores),
   * or null (none, unusable, or not wanted).
   */
  function usableCheckpoint(): Checkpoint | null {
    if (!(options.useCheckpoint ?? options.mode !== "replay")) return null;
    const checkpoint = journal.loadCheckpoint();
    if (!checkpoint) return null;
    let problem = checkpointProblem(checkpoint, checkpointKey());
    let snapshot: unknown;
    if (!problem) {
      try {
        snapshot = withProfiles(checkpoint.snapshot, profiles);
        problem = impossibleState(snapshot, profiles);
      } catch (error) {
        problem = errorText(error);
      }
    }
    if (problem) logger.log("warn", `checkpoint not used (${problem}); replaying the whole journal`);
    // Built once: 10,000 users' machines are a large tree to copy twice at every start.
    return problem ? null : { ...checkpoint, snapshot };
  }

  /** A new supervisor: fresh, or restored from a checkpoint with its pending timers. */
  function launch(checkpoint: Checkpoint | null, startAt: number): Actor<typeof supervisorMachine> {
    clock = new ReplayClock(liveClock, startAt);
    const created = createActor(machine, {
      clock,
      input: { users: profiles, sweepIntervalMs: config.sweepIntervalMs ?? 60_000 },
      // A checkpoint from `usableCheckpoint`, whose snapshot has its profiles back in.
      ...(checkpoint ? { snapshot: checkpoint.snapshot as never } : {}),
      // Inspection costs on every transition: only when someone looks.
      ...(options.trace || options.inspect ? { inspect: inspector(options, () => clock) } : {}),
    });
    timers = new ActorTimers(created.system, () => clock.now());
    created.subscribe({ error: (error) => logger.log("error", "supervisor failed", { error: errorText(error) }) });
    created.start();
    if (checkpoint) {
      try {
        timers.restore(created, checkpoint.timers);
      } catch (error) {
        created.stop(); // the start falls back to the journal with a new actor
        throw error;
      }
      for (const [user, seq] of Object.entries(checkpoint.started)) history.started(user, seq);
      for (const [user, seq] of Object.entries(checkpoint.sessionSeqs)) sessionSeqs.set(user, seq);
    }
    return created;
  }

  async function saveCheckpoint(): Promise<Checkpoint | null> {
    if (!actor) return null;
    // Taken in one synchronous step (a consistent cut: contexts are immutable), saved after.
    const checkpoint = takeCheckpoint(actor);
    try {
      await journal.saveCheckpoint(checkpoint);
    } catch (error) {
      health.failed("checkpoint", error);
      throw error;
    }
    // A checkpoint holds every input up to its seq, those that a failing journal could not append
    // included: from here on a restart loses nothing again.
    if (health.wrote()) logger.log("info", "journal: writing again (a checkpoint holds everything up to now)", { seq: checkpoint.seq });
    checkpointSeq = Math.max(checkpointSeq, checkpoint.seq);
    return checkpoint;
  }

  function takeCheckpoint(running: Actor<typeof supervisorMachine>): Checkpoint {
    const current = running.getSnapshot();
    const started: Record<string, number> = {};
    for (const user of config.users) {
      const seq = history.startedAt(user.username);
      if (seq !== undefined && presenceOf(current, user.username)) started[user.username] = seq;
    }
    const snapshot = withoutProfiles(running.getPersistedSnapshot());
    const seqs = Object.fromEntries(sessionSeqs);
    return { v: 1, seq: nextSeq - 1, at: clock.now(), key: checkpointKey(), started, sessionSeqs: seqs, snapshot, timers: timers!.save(running) };
  }

  return {
    get actor() {
      return actor;
    },
    async start() {
      if (actor) return;
      let checkpoint = usableCheckpoint();
      // After a checkpoint only its tail is read (the lines before it are not even parsed).
      let entries = journal.load(checkpoint?.seq ?? 0);
      if (checkpoint) {
        try {
          actor = launch(checkpoint, checkpoint.at);
          const unreadable = unreadableUser(config, actor.getSnapshot());
          if (unreadable) {
            actor.stop();
            throw new Error(`the status of ${unreadable}`);
          }
        } catch (error) {
          logger.log("warn", "checkpoint could not be restored; replaying the whole journal", { error: errorText(error) });
          checkpoint = null;
          entries = journal.load();
        }
      }
      if (!checkpoint) {
        // The first timers of a full replay start at the first entry's time.
        actor = launch(null, entries[0]?.at ?? liveClock.now());
      }
      await recover(actor!, entries, checkpoint);
    },
    checkpoint: saveCheckpoint,
    async compact() {
      if (!actor) return;
      const running = actor;
      // The checkpoint first: the journal is cut only behind a checkpoint that is safely written,
      // so that either a start restores it and replays the rest, or replays a journal that is whole.
      let checkpoint: Checkpoint | null;
      try {
        checkpoint = await saveCheckpoint();
      } catch (error) {
        logger.log("error", "journal checkpoint could not be saved, so the journal was not compacted", { error: errorText(error) });
        return;
      }
      if (!checkpoint) return;
      const snapshot = running.getSnapshot();
      try {
        compactJournal(journal, history, (user) => presenceOf(snapshot, user) !== undefined, checkpoint.seq);
      } catch (error) {
        // The rewrite is atomic: the journal is as it was.
        if (health.failed("compaction", error)) logger.log("error", "journal compaction failed; the journal is as it was", { error: errorText(error) });
      }
    },
    entriesSinceCheckpoint: () => nextSeq - 1 - checkpointSeq,
    journalBytes: () => journal.size(),
    dispatch,
    on: (event, listener) => emitter.on(event, listener),
    status: () => ({
      running: accepting,
      users: actor ? userStatuses(config, actor.getSnapshot(), (user) => sockets.wireStatus(user)) : [],
      refusedEvents: actor ? { ...actor.getSnapshot().context.refused } : {},
      journal: health.status(),
    }),
    async stop({ clear = true } = {}) {
      if (!actor || !accepting) return;
      const running = actor;
      // Shutdown goes through the supervisor so that each machine clears and closes itself. Only a
      // clearing stop is journaled: after stop({ clear: false }) a restart resumes the sessions,
      // as after a crash.
      if (clear) record({ type: "service.shutdown", clear, at: clock.now() });
      else running.send({ type: "service.shutdown", clear, at: clock.now() });
      const deadlineMs = (config.gateway?.shutdownTimeoutMs ?? 4_000) + 1_000;
      // Real time, not the service clock: a stop must end even if simulated time stands still.
      await new Promise<void>((resolve) => {
        // The system clock: a host's config need not have been checked, and any delay works there.
        const timer = systemClock.setTimeout(() => resolve(), deadlineMs);
        const done = () => {
          systemClock.clearTimeout(timer);
          resolve();
        };
        const stopped = () => running.getSnapshot().value === "stopped" || running.getSnapshot().status !== "active";
        if (stopped()) return done();
        const subscription = running.subscribe({
          next: () => {
            if (!stopped()) return;
            subscription.unsubscribe();
            done();
          },
          error: done,
        });
      });
      accepting = false;
      await sockets.closeAll(clear ? 1000 : 4000, "shutting down");
      running.stop();
      try {
        journal.close();
      } catch (error) {
        if (health.failed("close", error)) logger.log("error", "journal could not be closed; what was written is kept", { error: errorText(error) });
      }
    },
  };
}

/** The actor system's inspection: the host's observer, plus machine states for the trace. */
function inspector(options: PresenceServiceOptions, clockOf: () => ReplayClock): (event: InspectionEvent) => void {
  const { trace, inspect } = options;
  const states = trace
    ? stateTracer((user, state) => trace({ kind: "state", at: clockOf().now(), live: !clockOf().replaying, user, state }))
    : null;
  return (event) => {
    states?.(event);
    if (typeof inspect === "function") inspect(event);
    else inspect?.next?.(event);
  };
}
