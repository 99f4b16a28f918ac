import { createCoverUploader } from "./adapters/artwork/cover-upload.ts";
import { JsonlJournal } from "./adapters/journal/jsonl-journal.ts";
import { errorText } from "./errors.ts";
import { createHttpServer, type HttpServer } from "./adapters/http/server.ts";
import { startInspector } from "./adapters/http/inspector.ts";
import { ListenBrainzReceiver, tokenLookup } from "./adapters/sources/listenbrainz-receiver.ts";
import { consoleLogger, type Logger, redactingLogger } from "./adapters/logger.ts";
import type { SourceStatus } from "./adapters/http/metrics.ts";
import { SubsonicClient } from "./adapters/sources/subsonic-client.ts";
import { SubsonicPoller } from "./adapters/sources/subsonic-poller.ts";
import { configSecrets, defaultUserAgent, type ServiceConfig } from "./config/service-config.ts";
import { createPresenceService, type PresenceService } from "./service/service.ts";
import { systemClock } from "./clock.ts";

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
  /** Stops taking input, then clears every presence and closes the sockets with 1000. */
  stop(): Promise<void>;
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
export async function startApp(config: ServiceConfig, options: { logger?: Logger } = {}): Promise<App> {
  const secrets = configSecrets(config);
  const logger = redactingLogger(options.logger ?? consoleLogger(), () => secrets);
  const userAgent = config.discord.userAgent ?? defaultUserAgent;
  const enabledUsers = config.users.filter((user) => user.enabled !== false);
  // Looked up on every poll and listen: built once.
  const usernames = new Set(enabledUsers.map((user) => user.username));
  const ignoredBy = new Map(enabledUsers.map((user) => [user.username, user.ignorePlayers ?? []]));
  const ignorePlayers = (name: string) => ignoredBy.get(name) ?? [];

  const subsonicConfig = config.sources?.subsonic ?? null;
  const subsonic = subsonicConfig && new SubsonicClient({ ...subsonicConfig, userAgent, logger });
  const uploads = subsonic && config.artwork?.order?.includes("upload");
  // Before the service, so that the inspector sees the supervisor from its first snapshot.
  const inspector = config.inspector?.enabled ? await startInspector({ port: config.inspector.port ?? 4535, logger, secrets: () => secrets }) : null;
  if (inspector?.url) logger.log("info", `Stately inspector: open ${inspector.url} (relay ${inspector.url.replace(/^http/, "ws")})`);
  const journal = new JsonlJournal({
    path: config.journal?.path ?? "data/journal.jsonl",
    ...(config.journal?.fsync ? { fsync: config.journal.fsync } : {}),
    ...(config.journal?.fsyncIntervalMs ? { fsyncIntervalMs: config.journal.fsyncIntervalMs } : {}),
    logger,
  });
  let service: PresenceService;
  try {
    service = createPresenceService({
      config,
      logger,
      journal,
      ...(inspector ? { inspect: inspector.inspect } : {}),
      ...(uploads ? { uploadCover: createCoverUploader({ client: subsonic, uploadUrl: config.artwork?.uploadUrl, userAgent, logger }) } : {}),
    });
    await service.start();
  } catch (error) {
    // A host embedding startApp goes on living: leave no port or file open behind a failed start.
    await inspector?.stop();
    await journal.close();
    throw error;
  }
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
    return once("compaction", () => service.compact());
  };
  await compact();
  const compaction = setInterval(() => {
    if (systemClock.now() - compactedAt >= COMPACT_EVERY_MS) void compact();
    else if (service.entriesSinceCheckpoint() >= CHECKPOINT_AFTER_ENTRIES) void once("checkpoint", () => service.checkpoint());
  }, CHECKPOINT_CHECK_MS);
  (compaction as { unref?: () => void }).unref?.();

  const poller = subsonic &&
    new SubsonicPoller({
      client: subsonic,
      pollIntervalMs: subsonicConfig.pollIntervalMs ?? 2_000,
      users: () => usernames,
      ignorePlayers,
      dispatch: (event) => service.dispatch(event),
      clock: systemClock,
      logger,
    });

  const listenbrainz = config.sources?.listenbrainz;
  const receiver = listenbrainz?.enabled
    ? new ListenBrainzReceiver({
      userForToken: tokenLookup(enabledUsers),
      ignorePlayers,
      dispatch: (event) => service.dispatch(event),
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
  let http: HttpServer | null = null;
  let httpPort: number | null = null;
  if (config.http?.enabled !== false) {
    http = createHttpServer({
      host: config.http?.host ?? "127.0.0.1",
      port: config.http?.port ?? 4534,
      status: () => service.status(),
      sources,
      receiver,
      journalBytes: () => service.journalBytes(),
      entriesSinceCheckpoint: () => service.entriesSinceCheckpoint(),
      logger,
    });
    try {
      httpPort = await http.listen();
    } catch (error) {
      clearInterval(compaction);
      await busy;
      await service.stop();
      await inspector?.stop();
      throw error;
    }
  }
  poller?.start();

  return {
    service,
    httpPort,
    sources,
    async stop() {
      // No new input first; then let the machines clear and close.
      await http?.close();
      await poller?.stop();
      await receiver?.flush();
      clearInterval(compaction);
      await busy; // a checkpoint being written finishes before the journal closes
      await service.stop();
      // Last, so that a viewer sees the machines clear and stop.
      await inspector?.stop();
    },
  };
}
