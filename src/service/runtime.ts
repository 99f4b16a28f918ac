import type { Actor } from "xstate";
import type { supervisorMachine } from "../actors/supervisor-machine.ts";
import type { UserProfile } from "../actors/shard-machine.ts";
import type { GatewaySockets } from "../adapters/discord/gateway-sockets.ts";
import type { ActorTimers } from "../adapters/journal/actor-timers.ts";
import type { Journal } from "../adapters/journal/journal.ts";
import { ReplayClock } from "../adapters/journal/replay-clock.ts";
import type { Logger } from "../adapters/logger.ts";
import type { ServiceClock } from "../clock.ts";
import { type ServiceConfig, userProfiles } from "../config/service-config.ts";
import { JournalHistory } from "./compaction.ts";
import { JournalHealth } from "./journal-health.ts";
import type { TraceRecord } from "./trace.ts";

/**
 * What the parts of the service (journaling, recovery, checkpoints, compaction, shutdown) share:
 * the ports they work through, fixed when the service is created, and the state that changes as
 * it runs. One record, handed to each part, so that no state hides in a closure of its own.
 */
export interface ServiceRuntime {
  /** The running config: replaced by a reload (`reconfigure`). */
  config: ServiceConfig;
  readonly logger: Logger;
  readonly journal: Journal;
  readonly sockets: GatewaySockets;
  /** The host's clock. The actors run on `clock`, which replays the journal's times, then follows this one. */
  readonly liveClock: ServiceClock;
  /** What each user's machine starts with; the same objects for every machine and checkpoint. Replaced by a reload. */
  profiles: UserProfile[];
  /**
   * How often shards stop idle machines: the config's at creation. It is in the shards' contexts
   * (and so in the checkpoint key), so a reload does not change it; the next start does.
   */
  readonly sweepIntervalMs: number;
  /** Sees every intended effect and every machine state (`PresenceServiceOptions.trace`). */
  readonly trace: ((record: TraceRecord) => void) | undefined;
  readonly health: JournalHealth;
  /** For compaction: the seq of the input that started each user's current machine. */
  readonly history: JournalHistory;
  /**
   * Each user's session `s` as the journal knows it (READY, RESUMED, the connection's notes): what
   * a resume after a restart asks the server to replay from.
   */
  readonly sessionSeqs: Map<string, number | null>;
  /** Journal seq of each input being applied, so that a trace can name what caused an effect. */
  readonly seqOf: WeakMap<object, number>;

  // What changes as the service runs.

  /** The supervisor: undefined before `start`, a new one for each start from a checkpoint or the journal. */
  actor: Actor<typeof supervisorMachine> | undefined;
  /** Inputs are taken from the end of the replay until `stop`. */
  accepting: boolean;
  /** A stop is under way (from its `service.shutdown` until `accepting` ends): hosts' playback is refused. */
  stopping: boolean;
  /** The actors' clock: a new one with each supervisor. */
  clock: ReplayClock;
  /** The supervisor's pending timers, for checkpoints. */
  timers: ActorTimers | undefined;
  /** The journal seq the next input gets. */
  nextSeq: number;
  /** The seq of the last checkpoint restored or saved: what `entriesSinceCheckpoint` counts from. */
  checkpointSeq: number;
  /**
   * What a checkpoint must have been taken under to be restored here (see `Checkpoint.key`).
   * Worked out when first needed (`checkpointKey`): it hashes every user's profile.
   */
  checkpointKeyText: string | undefined;
}

/** A runtime before `start`: no actor, nothing journaled yet. */
export function createRuntime(
  ports: Pick<ServiceRuntime, "config" | "logger" | "journal" | "sockets" | "liveClock" | "trace">,
): ServiceRuntime {
  return {
    config: ports.config,
    logger: ports.logger,
    journal: ports.journal,
    sockets: ports.sockets,
    liveClock: ports.liveClock,
    profiles: userProfiles(ports.config),
    sweepIntervalMs: ports.config.sweepIntervalMs ?? 60_000,
    trace: ports.trace,
    health: new JournalHealth(),
    history: new JournalHistory(),
    sessionSeqs: new Map(),
    seqOf: new WeakMap(),
    actor: undefined,
    accepting: false,
    stopping: false,
    clock: new ReplayClock(ports.liveClock, ports.liveClock.now()),
    timers: undefined,
    nextSeq: 1,
    checkpointSeq: 0,
    checkpointKeyText: undefined,
  };
}
