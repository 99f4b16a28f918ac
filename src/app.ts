import { createCoverUploader } from "./adapters/artwork/cover-upload.ts";
import { JsonlJournal } from "./adapters/journal/jsonl-journal.ts";
import { errorText, PresenceError } from "./errors.ts";
import { createHttpServer, hostAndPort } from "./adapters/http/server.ts";
import { startInspector } from "./adapters/http/inspector.ts";
import { ListenBrainzReceiver, tokenLookup } from "./adapters/sources/listenbrainz-receiver.ts";
import { consoleLogger, type Logger, redactingLogger } from "./adapters/logger.ts";
import type { SourceStatus } from "./adapters/http/metrics.ts";
import { SubsonicClient } from "./adapters/sources/subsonic-client.ts";
import { SubsonicPoller } from "./adapters/sources/subsonic-poller.ts";
import { configSecrets, defaultUserAgent, type ServiceConfig } from "./config/service-config.ts";
import { changedKeys, type Reconfiguration } from "./service/reconfigure.ts";
import { createPresenceService, type PresenceService } from "./service/service.ts";
import { systemClock } from "./clock.ts";

/** Where the journal is kept when `journal.path` is not set, relative to the working directory. */
export const DEFAULT_JOURNAL_PATH = "data/journal.jsonl";

/** A checkpoint (and compaction) at least this often... */
const COMPACT_EVERY_MS = 10 * 60_000;
/**
 * ...and sooner once this many inputs were journaled since the last checkpoint: a start replays
 * only what follows the checkpoint, so this bounds a restart to about a second of replay.
 */
const CHECKPOINT_AFTER_ENTRIES = 20_000;
const CHECKPOINT_CHECK_MS = 15_000;

/** The running service with its sources and HTTP server, as `nd-presence start` runs it. */
export interface App {
  readonly service: PresenceService;
  /** The HTTP server's port (useful with port 0), or null when the server is off. */
  readonly httpPort: number | null;
  /** What each now-playing source reports (for `/status`, `/metrics` and the status page). */
  sources(): SourceStatus[];
  /**
   * Applies a new config while running (see `PresenceService.reconfigure`): users added, removed
   * or changed, and the Subsonic poll restarted if its settings changed. `needsRestart` names the
   * changed settings that wait for the next start (the HTTP address, the journal, the inspector,
   * the ListenBrainz receiver's own settings, ...). One reload at a time.
   */
  reload(config: ServiceConfig): Promise<Reconfiguration>;
  /** Stops taking input, then clears every presence and closes the sockets with 1000. */
  stop(): Promise<void>;
}

export interface AppOptions {
  logger?: Logger;
  /** Serves `POST /reload` (loopback only) with this: `nd-presence start` re-reads its config file. */
  reload?: () => Promise<{ status: number; body: unknown }>;
}

/** What the app reads once, at start: a change to these waits for the next start. */
const APP_START_KEYS = ["http", "journal", "inspector", "sources.listenbrainz.enabled", "sources.listenbrainz.forwardUrl", "sources.listenbrainz.maxBodyBytes"];

/** Who the sources take playback for, from a config: rebuilt by a reload. */
function sourceUsers(config: ServiceConfig) {
  const enabledUsers = config.users.filter((user) => user.enabled !== false);
  const ignoredBy = new Map(enabledUsers.map((user) => [user.username, user.ignorePlayers ?? []]));
  return {
    // Looked up on every poll and listen: built once per config.
    usernames: new Set(enabledUsers.map((user) => user.username)),
    ignorePlayers: (name: string) => ignoredBy.get(name) ?? [],
    userForToken: tokenLookup(enabledUsers),
  };
}

/**
 * Starts nd-presence as a service: the actor system, the now-playing sources (Subsonic poller,
 * ListenBrainz receiver) and the HTTP server, with the config's defaults applied.
 *
 * @example
 * const loaded = await loadConfigFile("nd-presence.json");
 * if (loaded.ok) {
 *   const app = await startApp(loaded.config);
 *   process.on("SIGTERM", () => app.stop().then(() => process.exit(0)));
 * }
 */
export async function startApp(config: ServiceConfig, options: AppOptions = {}): Promise<App> {
  let secrets = configSecrets(config);
  const logger = redactingLogger(options.logger ?? consoleLogger(config.log?.level), () => secrets);
  const userAgent = config.discord.userAgent ?? defaultUserAgent;
  let current = config;
  let users = sourceUsers(config);

  const subsonicFor = (next: ServiceConfig) => next.sources?.subsonic ? new SubsonicClient({ ...next.sources.subsonic, userAgent, logger }) : null;
  const subsonic = subsonicFor(config);
  const uploads = subsonic && config.artwork?.order?.includes("upload");
  // Set once started: until then the HTTP server answers 503, and nothing can dispatch.
  let service: PresenceService | undefined = undefined;
  const pollerFor = (next: ServiceConfig, client: SubsonicClient | null) =>
    client &&
    new SubsonicPoller({
      client,
      pollIntervalMs: next.sources?.subsonic?.pollIntervalMs ?? 2_000,
      users: () => users.usernames,
      ignorePlayers: (name) => users.ignorePlayers(name),
      dispatch: (event) => service!.dispatch(event),
      clock: systemClock,
      logger,
    });
  let poller = pollerFor(config, subsonic);

  const listenbrainz = config.sources?.listenbrainz;
  const receiver = listenbrainz?.enabled
    ? new ListenBrainzReceiver({
      userForToken: (token) => users.userForToken(token),
      ignorePlayers: (name) => users.ignorePlayers(name),
      dispatch: (event) => service!.dispatch(event),
      forwardUrl: listenbrainz.forwardUrl ?? null,
      ...(listenbrainz.maxBodyBytes ? { maxBodyBytes: listenbrainz.maxBodyBytes } : {}),
      userAgent,
      logger,
    })
    : null;

  const sources = (): SourceStatus[] => [
    ...(poller ? [poller.status()] : []),
    ...(receiver ? [receiver.status()] : []),
  ];
  // The port first: one in use fails the start before the journal is read (or written), a
  // checkpoint taken or a socket opened: another nd-presence on the same journal is left alone.
  const host = config.http?.host ?? "127.0.0.1";
  const port = config.http?.port ?? 4534;
  const http = config.http?.enabled === false ? null : createHttpServer({
    host,
    port,
    status: () => service!.status(),
    sources,
    receiver,
    journalBytes: () => service!.journalBytes(),
    entriesSinceCheckpoint: () => service!.entriesSinceCheckpoint(),
    unavailable: () => (service ? null : "nd-presence is starting"),
    ...(options.reload ? { reload: options.reload } : {}),
    logger,
  });
  const httpPort = http &&
    await http.listen().catch((error: unknown) => {
      throw listenError(host, port, error);
    });

  // Before the service, so that the inspector sees the supervisor from its first snapshot.
  const inspector = config.inspector?.enabled ? await startInspector({ port: config.inspector.port ?? 4535, logger, secrets: () => secrets }) : null;
  if (inspector?.url) logger.log("info", `Stately inspector: open ${inspector.url} (relay ${inspector.url.replace(/^http/, "ws")})`);
  const journal = new JsonlJournal({
    path: config.journal?.path ?? DEFAULT_JOURNAL_PATH,
    ...(config.journal?.fsync ? { fsync: config.journal.fsync } : {}),
    ...(config.journal?.fsyncIntervalMs ? { fsyncIntervalMs: config.journal.fsyncIntervalMs } : {}),
    logger,
  });
  let started: PresenceService;
  try {
    started = createPresenceService({
      config,
      logger,
      journal,
      ...(inspector ? { inspect: inspector.inspect } : {}),
      ...(uploads ? { uploadCover: createCoverUploader({ client: subsonic, uploadUrl: config.artwork?.uploadUrl, userAgent, logger }) } : {}),
    });
    await started.start();
  } catch (error) {
    // A host embedding startApp goes on living: leave no port or file open behind a failed start.
    await http?.close();
    await inspector?.stop();
    await journal.close();
    throw error;
  }
  service = started;
  // Keep restarts quick: a checkpoint once CHECKPOINT_AFTER_ENTRIES inputs have come in since
  // the last. Keep the journal bounded: a compaction (checkpoint, then idle users' history dropped)
  // every COMPACT_EVERY_MS, and once after the replay. One at a time.
  let busy: Promise<unknown> | null = null;
  const once = (what: string, job: () => Promise<unknown>) => {
    busy ??= job()
      .catch((error: unknown) => logger.log("error", `journal ${what} failed`, { error: errorText(error) }))
      .finally(() => (busy = null));
    return busy;
  };
  let compactedAt = systemClock.now();
  const compact = () => {
    compactedAt = systemClock.now();
    return once("compaction", () => started.compact());
  };
  await compact();
  const compaction = setInterval(() => {
    if (systemClock.now() - compactedAt >= COMPACT_EVERY_MS) void compact();
    else if (started.entriesSinceCheckpoint() >= CHECKPOINT_AFTER_ENTRIES) void once("checkpoint", () => started.checkpoint());
  }, CHECKPOINT_CHECK_MS);
  (compaction as { unref?: () => void }).unref?.();
  poller?.start();

  let reloading: Promise<unknown> = Promise.resolve();
  let stopping = false;
  const reload = async (next: ServiceConfig): Promise<Reconfiguration> => {
    const outcome = started.reconfigure(next);
    const previous = current;
    current = next;
    users = sourceUsers(next);
    secrets = [...new Set([...secrets, ...configSecrets(next)])];
    const needsRestart = [...outcome.needsRestart, ...changedKeys(previous, next, APP_START_KEYS)];
    if (changedKeys(previous, next, ["sources.subsonic"]).length > 0) {
      // The poll's client holds the server, the account and the password: a new one. The cover
      // upload (made at start) keeps the client it was given until the next start.
      await poller?.stop();
      poller = pollerFor(next, subsonicFor(next));
      // A stop that came meanwhile has stopped the old poll; the new one must not start.
      if (!stopping) poller?.start();
      if (uploads || next.artwork?.order?.includes("upload")) needsRestart.push("artwork.order (upload uses the Subsonic client of the start)");
    }
    return { ...outcome, needsRestart };
  };

  return {
    service: started,
    httpPort,
    sources,
    reload(next) {
      const done = reloading.then(() => reload(next));
      reloading = done.catch(() => {});
      return done;
    },
    async stop() {
      // Not after a reload under way: it may wait on a slow Subsonic server, and a stop has seconds.
      stopping = true;
      // No new input first; then let the machines clear and close.
      await http?.close();
      await poller?.stop();
      await receiver?.flush();
      clearInterval(compaction);
      await busy; // a checkpoint being written finishes before the journal closes
      await started.stop();
      // Last, so that a viewer sees the machines clear and stop.
      await inspector?.stop();
    },
  };
}

/** Why the HTTP server could not listen, in a line that says what to do (`nd-presence start` exits 3). */
function listenError(host: string, port: number, error: unknown): PresenceError {
  const code = (error as { code?: unknown }).code;
  const where = hostAndPort(host, port);
  const why = code === "EADDRINUSE"
    ? "the port is in use (another nd-presence?); stop it or set http.port"
    : code === "EADDRNOTAVAIL"
    ? "no network interface has this address; set http.host"
    : code === "EACCES"
    ? "permission denied (ports below 1024 need privileges); set http.port"
    : errorText(error);
  return new PresenceError("http.listen", `cannot listen on ${where}: ${why}`, { cause: error });
}
