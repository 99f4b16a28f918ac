/**
 * What the fake gateway sends a socket besides the protocol's own frames: a real Discord user
 * account's traffic. The bench's `--dispatch-rate` and `--ready-bytes` set it.
 */
export interface AccountTraffic {
  /** Dispatches a second to each READY socket (friends' presences, typing, messages); 0: none. */
  dispatchRate: number;
  /** About how large READY is, bytes (it is built from whole guilds and friends). */
  readyBytes: number;
}

/** A modest real account: ~100 KB READY, a dispatch a second. */
export const DEFAULT_ACCOUNT: AccountTraffic = { dispatchRate: 1, readyBytes: 100_000 };

/** How a log line or a figure names it: `1 dispatch/s, 100 KB READY`. */
export function describeTraffic({ dispatchRate, readyBytes }: AccountTraffic): string {
  const size = readyBytes >= 1e6 ? `${readyBytes / 1e6} MB` : `${Math.round(readyBytes / 1e3)} KB`;
  return `${dispatchRate === 0 ? "no" : dispatchRate} dispatch${dispatchRate === 1 ? "" : "es"}/s, ${size} READY`;
}
