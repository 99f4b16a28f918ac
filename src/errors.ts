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

/** The message of anything thrown, for a log line or a status (never with a stack). */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
