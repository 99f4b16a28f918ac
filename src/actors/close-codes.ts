/**
 * What to do after the gateway socket closed, by close code (docs/protocol.md, "Close codes").
 * - `resume`: keep the session, back off, resume.
 * - `identify`: drop the session, back off, identify again.
 * - `fatal`: stop for this user; retrying cannot help (bad token, bad configuration or our bug).
 * - `tooManySessions`: 4015, wait a long time, tell the operator.
 */
export type CloseAction = "resume" | "identify" | "fatal" | "tooManySessions";

export interface CloseVerdict {
  action: CloseAction;
  /** Said in logs and in the user's status. */
  reason: string;
  /** Close codes that mean we sent something Discord refused: a bug of ours to report. */
  ourBug: boolean;
}

const named: Record<number, { action: CloseAction; reason: string; ourBug?: boolean }> = {
  1000: { action: "identify", reason: "closed normally by the server" },
  1001: { action: "identify", reason: "server going away" },
  1006: { action: "resume", reason: "connection dropped" },
  4000: { action: "resume", reason: "unknown error" },
  4001: { action: "resume", reason: "unknown opcode", ourBug: true },
  4002: { action: "resume", reason: "decode error", ourBug: true },
  4003: { action: "identify", reason: "not authenticated" },
  4004: { action: "fatal", reason: "Discord rejected the token (close 4004)" },
  4005: { action: "identify", reason: "already authenticated" },
  4006: { action: "identify", reason: "session no longer valid" },
  4007: { action: "identify", reason: "invalid seq" },
  4008: { action: "resume", reason: "rate limited", ourBug: true },
  4009: { action: "identify", reason: "session timed out" },
  4010: { action: "fatal", reason: "invalid shard (close 4010)" },
  4011: { action: "fatal", reason: "sharding required (close 4011)" },
  4012: { action: "fatal", reason: "invalid API version (close 4012)" },
  4013: { action: "fatal", reason: "invalid intents (close 4013)" },
  4014: { action: "fatal", reason: "disallowed intents (close 4014)" },
  4015: { action: "tooManySessions", reason: "too many sessions for this account (close 4015)" },
};

/**
 * Classifies a close code. Unknown 4xxx codes and anything else (1005, 1011, 1012...) are treated
 * as transient: resume with backoff (docs/protocol.md: "other 4xxx: resume with backoff").
 *
 * @example
 * classifyClose(4004).action // "fatal"
 * classifyClose(1006).action // "resume"
 */
export function classifyClose(code: number): CloseVerdict {
  const known = named[code];
  if (known) return { action: known.action, reason: known.reason, ourBug: known.ourBug ?? false };
  return { action: "resume", reason: `closed with code ${code}`, ourBug: false };
}
