import { createNanoEvents, type Unsubscribe } from "nanoevents";
import { createActor, type Actor, type InspectionEvent, type Observer } from "xstate";
import type { Activity, Effect } from "./actors/effects.ts";
import type { DomainEvent, DomainEventInput } from "./actors/events.ts";
import type { Track } from "./actors/track.ts";
import { presenceMachine } from "./actors/presence-machine.ts";
import { supervisorMachine } from "./actors/supervisor-machine.ts";
import { ArtworkResolver } from "./adapters/artwork.ts";
import { DiscordRest } from "./adapters/discord-rest.ts";
import { runEffect, type EffectPorts } from "./adapters/effect-runner.ts";
import { GatewaySockets } from "./adapters/gateway-socket.ts";
import { consoleLogger, redactingLogger, type Logger } from "./adapters/logger.ts";
import { assertUsable, configSecrets, defaultUserAgent, userProfiles, type ServiceConfig } from "./config/service-config.ts";
import { refusal } from "./event-validation.ts";
import { userStatuses, type ServiceStatus } from "./status.ts";

/** Time for the service: XState's clock (`SimulatedClock` in tests) plus the current time. */
export interface ServiceClock {
  now(): number;
  setTimeout(fn: (...args: unknown[]) => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

export const systemClock: ServiceClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id as ReturnType<typeof setTimeout>),
};

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
  const clock = options.clock ?? systemClock;
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
    defaultImage: config.artwork?.defaultImage ?? null,
    ...(config.artwork?.coverArtArchiveUrl ? { coverArtArchiveUrl: config.artwork.coverArtArchiveUrl } : {}),
    ...(config.artwork?.order ? { order: config.artwork.order } : {}),
    ...(config.artwork?.publicUrl ? { publicUrl: config.artwork.publicUrl } : {}),
    ...(options.uploadCover ? { upload: options.uploadCover } : {}),
    userAgent,
    logger,
    now: () => clock.now(),
  });
  const sockets = new GatewaySockets({ userAgent, tokenFor: (user) => tokens.get(user), deliver: (event) => dispatch(event), logger });
  const ports: EffectPorts = {
    sockets,
    rest,
    artwork,
    logger,
    dispatch: (event) => dispatch(event),
    presenceSent: (user, activity) => emitter.emit("presence", user, activity),
  };

  const machine = supervisorMachine.provide({
    actions: { perform: (_, { user, effect }: { user: string; effect: Effect }) => runEffect(ports, user, effect) },
    actors: {
      presence: presenceMachine.provide({
        actions: { perform: ({ context }, effect: Effect) => runEffect(ports, context.user, effect) },
      }),
    },
  });
  let actor: Actor<typeof supervisorMachine> | undefined;
  let accepting = false;

  function dispatch(input: DomainEventInput): void {
    if (!actor || !accepting) return;
    const problem = refusal(input);
    if (problem) {
      logger.log("warn", `event refused: ${problem}`, { type: typeof input?.type === "string" ? input.type : undefined });
      return;
    }
    const event = { ...input, at: input.at ?? clock.now() } as DomainEvent;
    actor.send(event);
  }

  return {
    get actor() {
      return actor;
    },
    async start() {
      if (actor) return;
      actor = createActor(machine, {
        clock,
        input: { users: userProfiles(config), sweepIntervalMs: config.sweepIntervalMs ?? 60_000 },
        ...(options.inspect ? { inspect: options.inspect } : {}),
      });
      actor.subscribe({ error: (error) => logger.log("error", "supervisor failed", { error: String(error) }) });
      actor.start();
      accepting = true;
    },
    dispatch,
    on: (event, listener) => emitter.on(event, listener),
    status: () => ({
      running: accepting,
      users: actor ? userStatuses(config, actor.getSnapshot()) : [],
      refusedEvents: actor ? { ...actor.getSnapshot().context.refused } : {},
    }),
    async stop({ clear = true } = {}) {
      if (!actor || !accepting) return;
      const running = actor;
      // Shutdown goes through the supervisor so that each machine clears and closes itself.
      running.send({ type: "service.shutdown", clear, at: clock.now() });
      const deadlineMs = (config.gateway?.shutdownTimeoutMs ?? 4_000) + 1_000;
      // Real time, not the service clock: a stop must end even if simulated time stands still.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadlineMs);
        const done = () => {
          clearTimeout(timer);
          resolve();
        };
        if (running.getSnapshot().status === "done") done();
        else running.subscribe({ complete: done, error: done });
      });
      accepting = false;
      await sockets.closeAll(clear ? 1000 : 4000, "shutting down");
      running.stop();
    },
  };
}
