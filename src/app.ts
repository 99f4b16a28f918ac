import type { Logger } from "./adapters/logger.ts";
import type { ServiceConfig } from "./config/service-config.ts";
import { createPresenceService, type PresenceService } from "./service.ts";

/** The running service with its sources and HTTP server, as `nd-presence start` runs it. */
export interface App {
  readonly service: PresenceService;
  /** The HTTP server's port (useful with port 0), or null when the server is off. */
  readonly httpPort: number | null;
  /** Clears every presence, closes the sockets with 1000, stops sources and the HTTP server. */
  stop(): Promise<void>;
}

/**
 * Starts nd-presence as a service: the actor system, the now-playing sources and the HTTP server.
 *
 * @example
 * const app = await startApp(await loadConfigFile("nd-presence.json"));
 * process.on("SIGTERM", () => app.stop().then(() => process.exit(0)));
 */
export async function startApp(config: ServiceConfig, options: { logger?: Logger } = {}): Promise<App> {
  const service = createPresenceService({ config, ...(options.logger ? { logger: options.logger } : {}) });
  await service.start();
  return {
    service,
    httpPort: null,
    stop: () => service.stop(),
  };
}
