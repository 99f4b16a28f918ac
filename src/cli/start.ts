import { type Logger, operatorLogger, redactingLogger } from "../adapters/logger.ts";
import { hostAndPort } from "../adapters/http/server.ts";
import { type App, DEFAULT_JOURNAL_PATH, startApp } from "../app.ts";
import { loadConfigFile } from "../config/load.ts";
import type { ServiceConfig } from "../config/service-config.ts";
import type { ParsedArgs } from "./args.ts";
import { enabledSources } from "./check.ts";
import { type CliIo, configPathFrom, exitCode, printProblems } from "./io.ts";
import { errorText, PresenceError } from "../errors.ts";
import { withEnvironmentDefaults } from "./environment.ts";
import { logLevelFrom } from "./log-options.ts";
import { checkJournalWritable, lockJournal } from "./preflight.ts";
import { reloadFromFile } from "./reload.ts";

/** How long a signal waits for `app.stop()` before the process exits anyway. */
export const stopTimeoutMs = 5_000;

/**
 * `nd-presence start`: loads the config, starts the app and runs until SIGINT or SIGTERM; SIGHUP
 * reloads the config. Resolves with the exit code (`exitCode`): 2 for a bad or unreadable config,
 * 3 when the HTTP address cannot be listened on, 4 when the journal cannot be written, 1 for
 * another failure, 0 after a clean stop (or a stop that outlasted `stopTimeoutMs`: the process is
 * leaving either way). Each failure to start is one line on stderr.
 */
export async function startCommand(args: ParsedArgs, io: CliIo): Promise<number> {
  // From the first moment: a replay can take seconds, and a SIGHUP (systemctl reload) would end a
  // process that has no handler. What comes meanwhile is acted on once the service runs.
  const early = heldSignals();
  try {
    const started = await start(args, io);
    return typeof started === "number" ? started : await untilStopped(started, early);
  } finally {
    early.release();
  }
}

/** What `untilStopped` needs of a started service. */
interface Running {
  app: App;
  logger: Logger;
  reload(): Promise<unknown>;
}

/** Loads the config, checks the machine and starts the app; or the exit code of why not, said in one line. */
async function start(args: ParsedArgs, io: CliIo): Promise<Running | number> {
  const path = configPathFrom(args.flags.config, io.env);
  const loaded = await loadConfigFile(path, io.env);
  if (!loaded.ok) {
    const [first] = loaded.problems;
    // The file itself (missing, unreadable): one line says it all.
    if (loaded.problems.length === 1 && first!.path === path) {
      io.err(`nd-presence start: cannot read the config ${path}: ${first!.message}`);
      return exitCode.usage;
    }
    io.err("nd-presence start: the config is not valid; fix these and start again");
    printProblems(io.err, path, loaded.problems);
    return exitCode.usage;
  }
  const config = withEnvironmentDefaults(loaded.config, io.env);
  let secrets: readonly string[] = loaded.secrets;
  let level = logLevelFrom(args.flags["log-level"], config);
  // Every line goes through the redactor, including the service's own: values read from the
  // environment are secrets even when the service does not know them as such.
  const logger = redactingLogger(operatorLogger({ level: () => level, write: io.err, tty: process.stderr.isTTY === true }), () => secrets);
  // A reload's secrets join the old ones before anything logs them (a late line may still carry
  // an old one); its log.level applies once it is in, unless --log-level said otherwise.
  const hooks = {
    learnSecrets: (more: readonly string[]) => (secrets = [...new Set([...secrets, ...more])]),
    applied: (next: ServiceConfig) => (level = logLevelFrom(args.flags["log-level"], next)),
  };
  try {
    const journalPath = config.journal?.path ?? DEFAULT_JOURNAL_PATH;
    checkJournalWritable(journalPath);
    lockJournal(journalPath);
  } catch (error) {
    io.err(`nd-presence start: ${errorText(error)}`);
    return exitCode.dataUnwritable;
  }
  let app: App;
  const reload = () => reloadFromFile(app, { path, env: io.env }, logger, hooks);
  try {
    app = await startApp(config, { logger, reload });
  } catch (error) {
    const code = error instanceof PresenceError ? error.code : null;
    io.err(`nd-presence start: ${code === null ? "could not start: " : ""}${errorText(error)}`);
    return code === "http.listen" ? exitCode.cannotListen : exitCode.failure;
  }
  logger.log("info", "nd-presence started", { config: path, users: config.users.length, sources: enabledSources(config) });
  if (app.httpPort !== null) logger.log("info", `HTTP server listening on ${httpUrl(config, app.httpPort)}`);
  return { app, logger, reload };
}

type Signal = "SIGINT" | "SIGTERM" | "SIGHUP";
const SIGNALS: readonly Signal[] = ["SIGINT", "SIGTERM", "SIGHUP"];

/** Holds the signals that come while the service starts; `release` stops holding and says which came. */
function heldSignals(): { release(): Signal[] } {
  const came: Signal[] = [];
  const listeners = SIGNALS.map((signal) => [signal, () => came.push(signal)] as const);
  for (const [signal, listener] of listeners) process.on(signal, listener);
  return {
    release() {
      for (const [signal, listener] of listeners) process.off(signal, listener);
      return came.splice(0);
    },
  };
}

/**
 * Runs until a signal or an unexpected error, then stops the app within `stopTimeoutMs`. `early`:
 * the signals held while it started, acted on now.
 */
function untilStopped({ app, logger, reload }: Running, early: { release(): Signal[] }): Promise<number> {
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
    const onSignal: Record<Signal, () => void> = {
      SIGINT: () => stop("SIGINT", exitCode.ok),
      SIGTERM: () => stop("SIGTERM", exitCode.ok),
      // systemd's ExecReload, `docker kill -s HUP`: re-read the config (one at a time, see App.reload).
      SIGHUP: () => {
        if (stopping) return logger.log("info", "SIGHUP while stopping: not reloading");
        logger.log("info", "SIGHUP: reloading the config");
        void reload();
      },
    };
    const listeners: [string, (arg: unknown) => void][] = [
      ...SIGNALS.map((signal) => [signal, onSignal[signal]] as [string, () => void]),
      ["uncaughtException", crash],
      ["unhandledRejection", crash],
    ];
    for (const [event, listener] of listeners) process.on(event, listener);
    // Only now, with these listeners on: a signal with no listener at all, even for an instant
    // between two, would take its default action and end the process.
    for (const signal of new Set(early.release())) onSignal[signal]();
  });
}

function httpUrl(config: ServiceConfig, port: number): string {
  const host = config.http?.host ?? "127.0.0.1";
  return `http://${hostAndPort(host, port)}/`;
}
