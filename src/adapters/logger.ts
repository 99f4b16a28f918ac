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
  // Wrapping a redacting logger (the CLI's, then startApp's, then the service's) makes one layer
  // over all the secrets, not one pass per layer.
  const wrapped = redacting.get(inner);
  if (wrapped) return redactingLogger(wrapped.inner, union(wrapped.secrets, secrets));
  const current = scrubberFor(secrets);
  const logger: Logger = {
    log(level, message, data) {
      const scrub = current();
      const json = data === undefined ? undefined : JSON.stringify(data);
      const cleanJson = json === undefined ? undefined : scrub.scrub(json);
      const cleanData = cleanJson === json ? data : (JSON.parse(cleanJson!) as Record<string, unknown>);
      inner.log(level, scrub.scrub(message), cleanData);
    },
  };
  redacting.set(logger, { inner, secrets });
  return logger;
}

/**
 * The scrubber for the current list of secrets, its index rebuilt only when the list changes (the
 * service passes one fixed array). Shared by the logger and the inspector relay.
 */
export function scrubberFor(secrets: () => Iterable<string>): () => SecretScrubber {
  let source: Iterable<string> | undefined;
  let scrubber = new SecretScrubber([]);
  return () => {
    const list = secrets();
    if (list !== source) {
      source = list;
      scrubber = new SecretScrubber(list);
    }
    return scrubber;
  };
}

/** Both lists as one, the same array as long as neither source changes (the index is kept). */
function union(a: () => Iterable<string>, b: () => Iterable<string>): () => Iterable<string> {
  let last: [Iterable<string>, Iterable<string>, string[]] | undefined;
  return () => {
    const [x, y] = [a(), b()];
    // The same secret from several layers (CLI, startApp, service) is indexed once.
    if (!last || last[0] !== x || last[1] !== y) last = [x, y, [...new Set([...x, ...y])]];
    return last[2];
  };
}

/** The redacting loggers made here, with what they wrap. */
const redacting = new WeakMap<Logger, { inner: Logger; secrets: () => Iterable<string> }>();

/**
 * Replaces every occurrence of any of many secrets in one pass over the text. Secrets are indexed
 * by their first 4 characters, so a line costs the same with 10,000 users' tokens as with one
 * (replacing each secret in turn cost 2.3 ms a line at 10,000 users).
 */
export class SecretScrubber {
  static readonly MIN = 4;
  readonly #byPrefix = new Map<string, string[]>();
  /** The secrets that JSON writes differently (quotes, backslashes, control characters), as it writes them. */
  readonly #escaped: string[] = [];

  constructor(secrets: Iterable<string>) {
    for (const secret of secrets) {
      if (secret.length < SecretScrubber.MIN) continue;
      const escaped = JSON.stringify(secret).slice(1, -1);
      if (escaped !== secret) this.#escaped.push(escaped);
      const prefix = secret.slice(0, SecretScrubber.MIN);
      const list = this.#byPrefix.get(prefix);
      if (list) list.push(secret);
      else this.#byPrefix.set(prefix, [secret]);
    }
    // Longest first, so that a secret that starts another is not cut short. Sorted once here:
    // real Discord tokens share their first characters (the user id's base64), so one list can
    // hold every user's, and sorting it on each insert made 10,000 users' index quadratic.
    for (const list of this.#byPrefix.values()) list.sort((a, b) => b.length - a.length);
  }

  /** Whether JSON text still holds a secret in its escaped form, which `scrub` does not look for. */
  escapedIn(json: string): boolean {
    return this.#escaped.some((escaped) => json.includes(escaped));
  }

  scrub(text: string): string {
    if (this.#byPrefix.size === 0) return text;
    let out = "";
    let copiedUpTo = 0;
    for (let i = 0; i <= text.length - SecretScrubber.MIN; ) {
      const candidates = this.#byPrefix.get(text.slice(i, i + SecretScrubber.MIN));
      const found = candidates?.find((secret) => text.startsWith(secret, i));
      if (found === undefined) {
        i++;
        continue;
      }
      out += `${text.slice(copiedUpTo, i)}[redacted]`;
      i += found.length;
      copiedUpTo = i;
    }
    return copiedUpTo === 0 ? text : out + text.slice(copiedUpTo);
  }
}
