/**
 * The one error family of nd-presence. `code` is stable and machine-readable; `message` tells the
 * user what to do. Never put a secret in either.
 */
export class PresenceError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "PresenceError";
    this.code = code;
  }
}

/**
 * The message of anything thrown, for a log line or a status (never with a stack), with its
 * cause's code or message when it has one: `fetch failed` says little, `fetch failed
 * (ECONNREFUSED)` says what to check.
 */
export function errorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause as { code?: unknown; message?: unknown } | undefined;
  const detail = typeof cause?.code === "string" ? cause.code : typeof cause?.message === "string" ? cause.message : null;
  return detail && !error.message.includes(detail) ? `${error.message} (${detail})` : error.message;
}
