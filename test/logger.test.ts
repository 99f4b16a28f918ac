import { describe, expect, it } from "vitest";
import { memoryLogger, redactingLogger, SecretScrubber } from "../src/adapters/logger.ts";
import { errorText } from "../src/errors.ts";

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
  it("replaces a secret as JSON writes it, and tells when one survives only in escaped form", () => {
    const plain = "mfa.plain-token-123";
    const quoted = 'tok"en\\with-escapes';
    const scrubber = new SecretScrubber([plain, quoted]);
    const text = scrubber.scrub(JSON.stringify({ [plain]: plain, other: quoted }));
    expect(JSON.parse(text)).toEqual({ "[redacted]": "[redacted]", other: quoted });
    expect(scrubber.escapedIn(text)).toBe(true); // the inspector drops such an event
    expect(scrubber.escapedIn(JSON.stringify({ other: "nothing secret" }))).toBe(false);
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
