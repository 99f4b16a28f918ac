import { consoleLogger, type Logger, redactingLogger } from "../adapters/logger.ts";
import { type App, startApp } from "../app.ts";
import { loadConfigFile } from "../config/load.ts";
import type { ServiceConfig } from "../config/service-config.ts";
import type { ParsedArgs } from "./args.ts";
import { enabledSources } from "./check.ts";
import { type CliIo, configPathFrom, exitCode, printProblems } from "./io.ts";
import { errorText } from "../errors.ts";

/** How long a signal waits for `app.stop()` before the process exits anyway. */
export const stopTimeoutMs = 5_000;

/**
 * `nd-presence start`: loads the config, starts the app and runs until SIGINT or SIGTERM. Resolves
 * with the exit code: 2 for a bad config, 1 for a runtime failure, 0 after a clean stop (or a
 * stop that outlasted `stopTimeoutMs`: the process is leaving either way).
 */
export async function startCommand(args: ParsedArgs, io: CliIo): Promise<number> {
  const path = configPathFrom(args.flags.config, io.env);
  const loaded = await loadConfigFile(path, io.env);
  if (!loaded.ok) {
    io.err("nd-presence start: the config is not valid; fix these and start again");
    printProblems(io.err, path, loaded.problems);
    return exitCode.usage;
  }
  const { config, secrets } = loaded;
  // Every line goes through the redactor, including the service's own: values read from the
  // environment are secrets even when the service does not know them as such.
  const logger = redactingLogger(consoleLogger("info", io.err), () => secrets);
  let app: App;
  try {
    app = await startApp(config, { logger });
  } catch (error) {
    logger.log("error", `nd-presence could not start: ${errorText(error)}`);
    return exitCode.failure;
  }
  logger.log("info", "nd-presence started", { config: path, users: config.users.length, sources: enabledSources(config) });
  if (app.httpPort !== null) logger.log("info", `HTTP server listening on ${httpUrl(config, app.httpPort)}`);
  return untilStopped(app, logger);
}

/** Runs until a signal or an unexpected error, then stops the app within `stopTimeoutMs`. */
function untilStopped(app: App, logger: Logger): Promise<number> {
  return new Promise((resolve) => {
    // A signal listener alone does not keep Node's event loop alive, and the app may have nothing
    // open until the first playback arrives.
    const keepAlive = setInterval(() => {}, 1 << 30);
    let stopping = false;
    let crashed = false;
    const stop = (reason: string, code: number) => {
      if (stopping) return logger.log("info", `${reason} while stopping; still waiting for the stop`);
      stopping = true;
      logger.log("info", `stopping (${reason})`);
      const finish = (exit: number) => {
        clearInterval(keepAlive);
        clearTimeout(timer);
        for (const [event, listener] of listeners) process.off(event, listener);
        resolve(crashed ? exitCode.failure : exit);
      };
      const timer = setTimeout(() => {
        logger.log("warn", `stop took longer than ${stopTimeoutMs / 1000} s; exiting anyway`);
        finish(code);
      }, stopTimeoutMs);
      Promise.resolve().then(() => app.stop()).then(
        () => {
          logger.log("info", "nd-presence stopped");
          finish(code);
        },
        (error: unknown) => {
          logger.log("error", `stop failed: ${errorText(error)}`);
          finish(exitCode.failure);
        },
      );
    };
    // The service isolates failures per user and per source; what still escapes is a bug, and the
    // process must not keep running in an unknown state.
    const crash = (error: unknown) => {
      logger.log("error", `unexpected error: ${errorText(error)}`);
      crashed = true;
      stop("runtime failure", exitCode.failure);
    };
    const listeners: [string, (arg: unknown) => void][] = [
      ["SIGINT", () => stop("SIGINT", exitCode.ok)],
      ["SIGTERM", () => stop("SIGTERM", exitCode.ok)],
      ["uncaughtException", crash],
      ["unhandledRejection", crash],
    ];
    for (const [event, listener] of listeners) process.on(event, listener);
  });
}

function httpUrl(config: ServiceConfig, port: number): string {
  const host = config.http?.host ?? "127.0.0.1";
  return `http://${host.includes(":") ? `[${host}]` : host}:${port}/`;
}
