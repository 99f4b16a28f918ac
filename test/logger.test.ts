import { Buffer } from "node:buffer";
import { describe, expect, it } from "vitest";
import { consoleLogger, type Logger, memoryLogger, operatorLogger, redactingLogger, SecretScrubber } from "../src/adapters/logger.ts";
import { logLevelFrom } from "../src/cli/log-options.ts";
import { runCli } from "../src/cli/run.ts";
import { errorText } from "../src/errors.ts";
import { spellingsIn, spellingsOf } from "./secret-spellings.ts";

describe("redacting logger", () => {
  it("replaces every secret, adjacent, repeated, sharing a prefix, or one inside another", () => {
    const scrubber = new SecretScrubber(["token-alice-1234", "token-alice-1234-long", "token-bob-9999", "abc"]);
    expect(scrubber.scrub("a token-alice-1234 b token-bob-9999token-bob-9999 c")).toBe("a [redacted] b [redacted][redacted] c");
    expect(scrubber.scrub("x token-alice-1234-long y")).toBe("x [redacted] y");
    expect(scrubber.scrub("token-alice-123 is not a token; abc is too short to redact")).toBe("token-alice-123 is not a token; abc is too short to redact");
  });

  it("scrubs the message and the data, and passes clean data through untouched", () => {
    const inner = memoryLogger();
    const secrets = ["mfa.SECRET-token-for-alice"];
    const logger = redactingLogger(inner, () => secrets);
    const clean = { user: "alice", code: 4000 };
    logger.log("warn", "closed for mfa.SECRET-token-for-alice", { nested: { t: "Bearer mfa.SECRET-token-for-alice" } });
    logger.log("info", "closed", clean);
    expect(inner.text()).not.toContain(secrets[0]);
    expect(inner.entries[0]).toEqual({ level: "warn", message: "closed for [redacted]", data: { nested: { t: "Bearer [redacted]" } } });
    expect(inner.entries[1]!.data).toBe(clean);
  });

  it("finds a secret among 10,000 and leaves a clean line as it is", () => {
    const many = new SecretScrubber(Array.from({ length: 10_000 }, (_, i) => `token-${i}-abcdefghijklmnop`));
    const line = "gateway closed: connection dropped for user u1234 on socket 7 ".repeat(3);
    expect(many.scrub(line)).toBe(line);
    expect(many.scrub(`${line}token-9999-abcdefghijklmnop`)).toBe(`${line}[redacted]`);
  });
});

describe("redacting logger layers", () => {
  it("a redacting logger wrapped again scrubs both layers' secrets in one layer", () => {
    const inner = memoryLogger();
    const outer = redactingLogger(redactingLogger(inner, () => ["cli-SECRET-from-env"]), () => ["service-SECRET-token"]);
    outer.log("info", "cli-SECRET-from-env and service-SECRET-token");
    expect(inner.entries).toEqual([{ level: "info", message: "[redacted] and [redacted]" }]);
  });
});

describe("SecretScrubber on JSON text", () => {
  it("replaces a secret in keys and values as JSON writes it, and tells whether any form of one is left", () => {
    const plain = "mfa.plain-token-123";
    const quoted = 'tok"en\\with-escapes';
    const scrubber = new SecretScrubber([plain, quoted]);
    const json = JSON.stringify({ [plain]: plain, other: quoted, count: 7 });
    expect(scrubber.foundIn(json)).toBe(true);
    const text = scrubber.scrubJson(json);
    expect(JSON.parse(text)).toEqual({ "[redacted]": "[redacted]", other: "[redacted]", count: 7 });
    expect(scrubber.foundIn(text)).toBe(false);
  });
});

/** A redacting logger over `secrets`, and what reaches the log: the entries, and the lines stderr gets. */
function redactedLog(secrets: string[]) {
  const memory = memoryLogger();
  const lines: string[] = [];
  const stderr = consoleLogger("debug", (line) => lines.push(line));
  const both: Logger = { log: (...args) => (memory.log(...args), stderr.log(...args)) };
  return { logger: redactingLogger(both, () => secrets), entries: memory.entries, lines };
}

const passwords = {
  "a password with a quote and a backslash": 'pa"ss\\word-123',
  "a password with spaces, &, % and non-ASCII": "pass word & 100% s\u00fbr \u2713",
};

describe("a secret in any spelling is redacted from the message and the data", () => {
  for (const [kind, password] of Object.entries(passwords)) {
    describe(kind, () => {
      for (const [name, spelling] of spellingsOf(password)) {
        it(`its ${name} spelling`, () => {
          const { logger, entries, lines } = redactedLog(["mfa.some-discord-token", password]);
          logger.log("warn", `ping failed for ${spelling}; retrying`, {
            detail: spelling,
            request: { url: `http://127.0.0.1:4533/rest/ping?u=alice&p=enc:${spelling}&v=1.16.1`, tries: [spelling] },
            [spelling]: true,
          });
          expect(spellingsIn([entries, lines], password)).toEqual([]);
          expect(entries[0]).toEqual({
            level: "warn",
            message: "ping failed for [redacted]; retrying",
            data: {
              detail: "[redacted]",
              request: { url: "http://127.0.0.1:4533/rest/ping?u=alice&p=enc:[redacted]&v=1.16.1", tries: ["[redacted]"] },
              "[redacted]": true,
            },
          });
        });
      }
    });
  }

  it("each form inside JSON text held in a data string (a response body) is redacted too", () => {
    const password = passwords["a password with a quote and a backslash"];
    const { logger, entries } = redactedLog([password]);
    const forms = [...spellingsOf(password)].filter(([name]) => !name.endsWith("JSON-escaped")).map(([, form]) => form);
    for (const form of forms) logger.log("warn", "bad response", { body: JSON.stringify({ echo: form }) });
    expect(spellingsIn(entries, password)).toEqual([]);
    expect(entries.map((e) => e.data)).toEqual(entries.map(() => ({ body: '{"echo":"[redacted]"}' })));
  });
});

describe("a secret holding a lone surrogate", () => {
  it("is redacted as is and URL-encoded, as a request carries it (U+FFFD)", () => {
    const secret = "key-\ud800-broken";
    const { logger, entries } = redactedLog([secret]);
    logger.log("warn", `${secret} ${encodeURIComponent("key-\ufffd-broken")}`, { form: new URLSearchParams({ p: secret }).toString() });
    expect(entries[0]).toEqual({ level: "warn", message: "[redacted] [redacted]", data: { form: "p=[redacted]" } });
  });
});

describe("redacting data as JSON text keeps it valid JSON", () => {
  it("a secret's look-alike that starts inside an escape (\\n followed by other-…) is no secret, and the call does not throw", () => {
    const { logger, entries } = redactedLog(["nother-secret-99"]);
    const data = { note: "a\nother-secret-99" };
    expect(() => logger.log("info", "x", data)).not.toThrow();
    expect(entries[0]!.data).toEqual(data);
  });

  it("a numeric password is redacted where it is text; a number that happens to hold its digits is left as it is", () => {
    const { logger, entries } = redactedLog(["20241123"]);
    expect(() => logger.log("info", "x", { pin: "20241123", day: 20241123, at: 1732390400000 })).not.toThrow();
    // Redacting inside a number would break the JSON; a secret is text, not a number.
    expect(entries[0]!.data).toEqual({ pin: "[redacted]", day: 20241123, at: 1732390400000 });
  });
});

describe("errorText", () => {
  it("gives a thrown error's message with its cause's code or message, never a stack", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), { code: "ECONNREFUSED" });
    expect(errorText(new TypeError("fetch failed", { cause: refused }))).toBe("fetch failed (ECONNREFUSED)");
    expect(errorText(new Error("outer", { cause: new Error("inner") }))).toBe("outer (inner)");
    expect(errorText(new Error("HTTP 500"))).toBe("HTTP 500");
    expect(errorText("plain")).toBe("plain");
  });
});

/** 19:33:50.123 local time on 2024-11-23, whatever the time zone the tests run in. */
const at = new Date(2024, 10, 23, 19, 33, 50, 123).getTime();

/** An operator logger writing into `lines`, at a fixed time. */
function operatorLines(options: { level?: "debug" | "info"; tty: boolean }) {
  const lines: string[] = [];
  return { logger: operatorLogger({ ...options, write: (line) => lines.push(line), now: () => at }), lines };
}

describe("operator logger", () => {
  it("hides debug at info and shows it at debug, in both formats", () => {
    for (const tty of [false, true]) {
      const atInfo = operatorLines({ tty });
      const atDebug = operatorLines({ level: "debug", tty });
      for (const { logger } of [atInfo, atDebug]) {
        logger.log("debug", "gateway socket open");
        logger.log("info", "nd-presence started");
      }
      expect(atInfo.lines.map((line) => line.includes("nd-presence started"))).toEqual([true]);
      expect(atDebug.lines).toHaveLength(2);
    }
  });

  it("not a terminal: one JSON object per line, time, level and message first, then the data", () => {
    const { logger, lines } = operatorLines({ tty: false });
    logger.log("warn", "gateway closed", { user: "alice", socket: 3, code: 4000, detail: { resumable: true } });
    expect(lines).toHaveLength(1);
    expect(Object.keys(JSON.parse(lines[0]!))).toEqual(["time", "level", "message", "user", "socket", "code", "detail"]);
    expect(JSON.parse(lines[0]!)).toEqual({
      time: new Date(at).toISOString(),
      level: "warn",
      message: "gateway closed",
      user: "alice",
      socket: 3,
      code: 4000,
      detail: { resumable: true },
    });
  });

  it("consoleLogger still writes those JSON lines", () => {
    const lines: string[] = [];
    consoleLogger("info", (line) => lines.push(line)).log("info", "nd-presence started", { users: 2 });
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: "info", message: "nd-presence started", users: 2 });
  });

  it("a terminal: local time, the level padded, the message, then key=value", () => {
    const { logger, lines } = operatorLines({ level: "debug", tty: true });
    logger.log("info", "alice connected", { socket: 3, code: 1000 });
    logger.log("error", "nd-presence could not start: port in use");
    logger.log("debug", "token checked", { status: 401, ok: false, none: null, skipped: undefined });
    expect(lines).toEqual([
      "19:33:50.123 INFO  alice connected  socket=3 code=1000",
      "19:33:50.123 ERROR nd-presence could not start: port in use",
      "19:33:50.123 DEBUG token checked  status=401 ok=false none=null",
    ]);
  });

  it("a terminal: quotes a value with a space, a quote or a line break (not a URL), and writes nested data as compact JSON", () => {
    const { logger, lines } = operatorLines({ tty: true });
    logger.log("warn", "closed", {
      user: "alice",
      reason: "session timed out",
      quoted: 'say "hi"',
      lines: "a\nb",
      empty: "",
      url: "http://127.0.0.1:4533/rest/ping?u=alice&v=1.16.1",
      detail: { code: 4000, players: ["feishin", "web"] },
    });
    expect(lines).toEqual([
      '19:33:50.123 WARN  closed  user=alice reason="session timed out" quoted="say \\"hi\\"" lines="a\\nb" empty="" url=http://127.0.0.1:4533/rest/ping?u=alice&v=1.16.1 detail={"code":4000,"players":["feishin","web"]}',
    ]);
  });

  it("both formats write only what JSON.stringify sees, which is what the redactor searched: an Error's message is never written", () => {
    for (const tty of [false, true]) {
      const { logger, lines } = operatorLines({ tty });
      redactingLogger(logger, () => ["mfa.error-held-token"]).log("error", "failed", { error: new Error("bad token mfa.error-held-token") });
      expect(lines[0]).not.toContain("mfa.error-held-token");
      expect(lines[0]).toContain(tty ? "error={}" : '"error":{}');
    }
  });

  it("a terminal line has every secret redacted, in the message and in the data", () => {
    const secret = 'pa"ss word-123';
    const { logger, lines } = operatorLines({ tty: true });
    redactingLogger(logger, () => ["mfa.some-discord-token", secret]).log("warn", `ping failed for ${secret} with mfa.some-discord-token`, {
      password: secret,
      url: `http://127.0.0.1:4533/rest/ping?p=enc:${Buffer.from(secret).toString("hex")}`,
      nested: { token: "Bearer mfa.some-discord-token", form: new URLSearchParams({ p: secret }).toString() },
    });
    expect(spellingsIn(lines, secret)).toEqual([]);
    expect(lines).toEqual([
      "19:33:50.123 WARN  ping failed for [redacted] with [redacted]  password=[redacted] url=http://127.0.0.1:4533/rest/ping?p=enc:[redacted] " +
      'nested={"token":"Bearer [redacted]","form":"p=[redacted]"}',
    ]);
  });
});

describe("the log level", () => {
  it("is --log-level, else the config's log.level, else info", () => {
    expect(logLevelFrom(undefined, {})).toBe("info");
    expect(logLevelFrom(undefined, { log: { level: "warn" } })).toBe("warn");
    expect(logLevelFrom("debug", { log: { level: "warn" } })).toBe("debug");
  });

  it("a bad --log-level is a usage error naming the levels, before the config is read", async () => {
    const err: string[] = [];
    const code = await runCli(["start", "--log-level", "verbose", "--config", "/nonexistent/nd-presence.json"], {
      out: () => {},
      err: (line) => err.push(line),
      env: {},
    });
    expect(code).toBe(2);
    expect(err[0]).toBe("nd-presence: start: --log-level must be one of debug, info, warn, error\n");
    expect(err[1]).toContain("--log-level LEVEL");
    expect(() => logLevelFrom("INFO", {})).toThrow('--log-level must be one of debug, info, warn, error; did you mean "info"?');
  });
});
