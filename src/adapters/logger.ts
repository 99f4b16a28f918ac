import { Buffer } from "node:buffer";
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

const order = { debug: 10, info: 20, warn: 30, error: 40 } satisfies Record<LogLevel, number>;

/** Every level, from the most to the least verbose: what `log.level` and `--log-level` accept. */
export const logLevels = Object.keys(order) as LogLevel[];

/** One JSON object per line on stderr: easy to read with `jq`, easy to ship to a log store. */
export function consoleLogger(minLevel: LogLevel = "info", write = (line: string) => console.error(line)): Logger {
  return operatorLogger({ level: minLevel, write });
}

export interface OperatorLoggerOptions {
  /** The least severe level written, or a function for one that may change (a reload). Default "info". */
  level?: LogLevel | (() => LogLevel);
  /** Writes one line (no newline at its end). Default `console.error`. */
  write?: (line: string) => void;
  /**
   * Whether `write` reaches a terminal (the caller asks `process.stderr.isTTY`): short readable
   * lines if so, one JSON object per line if not (a pipe, journald, docker logs). Default false.
   */
  tty?: boolean;
  /** The clock, for tests. Default `Date.now`. */
  now?: () => number;
}

/**
 * The service's log as its operator reads it. Not a terminal: one JSON object per line, `time`
 * (ISO, UTC), `level`, `message`, then the data's keys, for `jq` and log stores. A terminal:
 *
 *     19:33:50.123 INFO  gateway closed  user=alice socket=3 code=1000 reason="session timed out"
 *
 * local time, the level, the message, then each data key as key=value: a string as it is unless
 * it is empty or holds a space, a quote or a control character (then JSON-quoted), anything
 * else as compact JSON. Both render the data by JSON.stringify alone, which is what
 * `redactingLogger` searches: an Error's message or stack (not enumerable) is never written, as
 * the redactor never saw it. That is why this is ours and not pino's: its `err` serializer and
 * pino-pretty write such strings.
 */
export function operatorLogger(options: OperatorLoggerOptions = {}): Logger {
  const { level: minLevel = "info", write = (line: string) => console.error(line), tty = false, now = Date.now } = options;
  const format = tty ? terminalLine : jsonLine;
  // A function when the level may change while running (a reload's `log.level`).
  const least = typeof minLevel === "function" ? minLevel : () => minLevel;
  return {
    log(level, message, data) {
      if (order[level] < order[least()]) return;
      write(format(new Date(now()), level, message, data));
    },
  };
}

function jsonLine(time: Date, level: LogLevel, message: string, data: Record<string, unknown> | undefined): string {
  return JSON.stringify({ time: time.toISOString(), level, message, ...data });
}

function terminalLine(time: Date, level: LogLevel, message: string, data: Record<string, unknown> | undefined): string {
  const pairs = Object.entries(data ?? {}).flatMap(([key, value]) => {
    const text = typeof value === "string" ? (plain.test(value) ? value : JSON.stringify(value)) : JSON.stringify(value);
    // JSON leaves out undefined, functions and symbols: so does this.
    return text === undefined ? [] : [`${key}=${text}`];
  });
  const head = `${clock(time)} ${level.toUpperCase().padEnd(5)} ${message}`;
  return pairs.length === 0 ? head : `${head}  ${pairs.join(" ")}`;
}

/** A string written without quotes: not empty, and no space, quote or control character (a line break). */
const plain = /^[^\s"'\p{Cc}]+$/u;

/** HH:MM:SS.mmm, local time. */
function clock(time: Date): string {
  const two = (n: number) => String(n).padStart(2, "0");
  return `${two(time.getHours())}:${two(time.getMinutes())}:${two(time.getSeconds())}.${String(time.getMilliseconds()).padStart(3, "0")}`;
}

export const silentLogger: Logger = { log() {} };

/**
 * Keeps every entry in memory, unbounded: for tests, and for a host (through the library API) that
 * reads back what was logged. The service does not use it: the status page's "last error" is each
 * user's machine's own `lastError`.
 */
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
 * known secret in the message or the data is replaced, as is, JSON-escaped or encoded (URL, hex,
 * base64: see `encodedForms`). Defence in depth: code should not log secrets in the first place.
 *
 * Our own, not a logging library's redaction: those (pino's `redact`, for one) remove values by
 * their key path, and a token can arrive under any key or inside any string (an error message, a
 * URL): here every string value is searched for every secret, in every encoding.
 */
export function redactingLogger(inner: Logger, secrets: () => Iterable<string>): Logger {
  // Wrapping a redacting logger (the CLI's, then startApp's, then the service's) makes one layer
  // over all the secrets, not one pass per layer.
  const wrapped = redacting.get(inner);
  if (wrapped) return redactingLogger(wrapped.inner, union(wrapped.secrets, secrets));
  const current = scrubberFor(secrets);
  const logger: Logger = {
    log(level, message, data) {
      const scrubber = current();
      inner.log(level, scrubber.scrub(message), data === undefined ? undefined : scrubbedData(data, scrubber));
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

/** The data with every secret in its keys and values replaced at any depth; the same object when it held none. */
function scrubbedData(data: Record<string, unknown>, scrubber: SecretScrubber): Record<string, unknown> {
  const json = JSON.stringify(data);
  const clean = scrubber.scrubJson(json);
  return clean === json ? data : (JSON.parse(clean) as Record<string, unknown>);
}

const REDACTED = "[redacted]";

/** How JSON writes `text` inside a string: `pa"ss\word` as `pa\"ss\\word`. */
const jsonEscaped = (text: string) => JSON.stringify(text).slice(1, -1);

/**
 * The encoded forms a secret takes on its way out: URL-encoded, by encodeURIComponent and as a form
 * (URLSearchParams, as in a Subsonic request: a space is `+`); the hex of its UTF-8 bytes (a
 * Subsonic `p=enc:<hex>`), in either case; and base64, standard and URL-safe, padded or not. All
 * are printable ASCII without quotes or backslashes, so JSON writes them as they are.
 */
function encodedForms(secret: string): string[] {
  const bytes = Buffer.from(secret, "utf8");
  // Decoding the bytes gives the secret with any lone surrogate as U+FFFD, as a request would
  // carry it; encodeURIComponent throws on a lone surrogate.
  const encodable = bytes.toString("utf8");
  const hex = bytes.toString("hex");
  const base64 = bytes.toString("base64");
  const base64url = base64.replace(/\+/g, "-").replace(/\//g, "_");
  return [
    encodeURIComponent(encodable),
    new URLSearchParams({ s: encodable }).toString().slice("s=".length),
    hex,
    hex.toUpperCase(),
    base64,
    base64.replace(/=+$/, ""),
    base64url,
    base64url.replace(/=+$/, ""),
  ];
}

/**
 * Replaces every occurrence of any of many secrets, in any of their forms, in one pass over the
 * text. Forms are indexed by their first 4 characters, so a line costs the same with 10,000 users'
 * tokens as with one (replacing each secret in turn cost 2.3 ms a line at 10,000 users).
 */
export class SecretScrubber {
  static readonly MIN = 4;
  /** Each form of each secret as text holds it: as is, JSON-escaped (text that holds JSON), or encoded. */
  readonly #written: PrefixIndex;
  /** The same as JSON writes each inside a string: what to look for in JSON text. */
  readonly #inJson: PrefixIndex;

  constructor(secrets: Iterable<string>) {
    const written: string[] = [];
    const inJson: string[] = [];
    for (const secret of secrets) {
      if (secret.length < SecretScrubber.MIN) continue;
      const encoded = encodedForms(secret);
      const escaped = jsonEscaped(secret);
      // A Set, as most forms are alike (a token is its own URL encoding and JSON spelling).
      written.push(...new Set([secret, escaped, ...encoded]));
      inJson.push(...new Set([escaped, jsonEscaped(escaped), ...encoded]));
    }
    this.#written = new PrefixIndex(written);
    this.#inJson = new PrefixIndex(inJson);
  }

  /** Plain text (a log message) with every secret, in any form, replaced. */
  scrub(text: string): string {
    return this.#redact(text, this.#written, false);
  }

  /**
   * JSON text with every secret replaced in its strings (keys and values), and still valid JSON: a
   * form is looked for only where a string's character or escape begins, so the `n-…` after a
   * `\n` is not taken for a secret. A number that happens to hold a secret's digits is left as it
   * is: a secret is text, and redacting inside a number would break the JSON.
   */
  scrubJson(json: string): string {
    return this.#redact(json, this.#inJson, true);
  }

  /** Whether the text holds a secret in any form, anywhere (the inspector drops such an event). */
  foundIn(text: string): boolean {
    return this.scrub(text) !== text;
  }

  /** The text with each form of `index` replaced; in JSON text (`json`), only within its strings. */
  #redact(text: string, index: PrefixIndex, json: boolean): string {
    if (index.empty) return text;
    let out = "";
    let copiedUpTo = 0;
    let inString = !json; // plain text is searched throughout
    for (let i = 0; i <= text.length - SecretScrubber.MIN;) {
      const found = inString ? index.longestAt(text, i) : undefined;
      if (found !== undefined) {
        out += text.slice(copiedUpTo, i) + REDACTED;
        i = copiedUpTo = i + found.length;
      } else if (!json) {
        i++;
      } else {
        // Nothing matched here: step to where the next character or escape begins. A quote
        // reached this way opens or closes a string (a JSON-escaped form holds none unescaped).
        if (text[i] === '"') inString = !inString;
        i += text[i] !== "\\" ? 1 : text[i + 1] === "u" ? 6 : 2;
      }
    }
    return copiedUpTo === 0 ? text : out + text.slice(copiedUpTo);
  }
}

/** Strings indexed by their first `SecretScrubber.MIN` characters. */
class PrefixIndex {
  readonly #byPrefix = new Map<string, string[]>();

  constructor(strings: Iterable<string>) {
    for (const string of strings) {
      const prefix = string.slice(0, SecretScrubber.MIN);
      const list = this.#byPrefix.get(prefix);
      if (list) list.push(string);
      else this.#byPrefix.set(prefix, [string]);
    }
    // Longest first, so that a secret that starts another is not cut short. Sorted once here:
    // real Discord tokens share their first characters (the user id's base64), so one list can
    // hold every user's, and sorting it on each insert made 10,000 users' index quadratic.
    for (const list of this.#byPrefix.values()) list.sort((a, b) => b.length - a.length);
  }

  get empty(): boolean {
    return this.#byPrefix.size === 0;
  }

  /** The longest of the strings that starts at `i` in `text`, if any. */
  longestAt(text: string, i: number): string | undefined {
    return this.#byPrefix.get(text.slice(i, i + SecretScrubber.MIN))?.find((string) => text.startsWith(string, i));
  }
}
