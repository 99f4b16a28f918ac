import type { LogLevel } from "../actors/effects.ts";

/** The logging port. Every adapter and the service log through one of these. */
export interface Logger {
  log(level: LogLevel, message: string, data?: Record<string, unknown>): void;
}

export interface LogEntry {
  level: LogLevel;
  message: string;
  data?: Record<string, unknown>;
}

const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** One JSON object per line on stderr: easy to read with `jq`, easy to ship to a log store. */
export function consoleLogger(minLevel: LogLevel = "info", write = (line: string) => console.error(line)): Logger {
  return {
    log(level, message, data) {
      if (order[level] < order[minLevel]) return;
      write(JSON.stringify({ time: new Date().toISOString(), level, message, ...data }));
    },
  };
}

export const silentLogger: Logger = { log() {} };

/** Keeps every entry in memory: for tests, and for the status page's "last error". */
export function memoryLogger(): Logger & { entries: LogEntry[]; text(): string } {
  const entries: LogEntry[] = [];
  return {
    entries,
    log(level, message, data) {
      entries.push(data === undefined ? { level, message } : { level, message, data });
    },
    text: () => entries.map((e) => JSON.stringify(e)).join("\n"),
  };
}

/**
 * Wraps a logger so that no secret can reach it, whatever a caller passes: every occurrence of a
 * known secret in the message or the data is replaced. Defence in depth: code should not log
 * secrets in the first place.
 */
export function redactingLogger(inner: Logger, secrets: () => Iterable<string>): Logger {
  const scrub = (text: string) => {
    let out = text;
    for (const secret of secrets()) if (secret.length >= 4) out = out.split(secret).join("[redacted]");
    return out;
  };
  return {
    log(level, message, data) {
      const cleanData = data === undefined ? undefined : (JSON.parse(scrub(JSON.stringify(data))) as Record<string, unknown>);
      inner.log(level, scrub(message), cleanData);
    },
  };
}
