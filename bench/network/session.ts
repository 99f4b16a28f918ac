/**
 * A measurement session: a gateway process and one side process (nd-presence or raw) with N users
 * brought up the same way on both sides: every user starts playing at once (`playAll`), and each
 * connects, identifies and presents. The session is up when the gateway has an op 3 from all N.
 */
import type { BenchOptions } from "../figures.ts";
import { startGateway, type GatewayHandle } from "./gateway-process.ts";
import { startSide, type MemoryReading, type SideHandle, type SideKind } from "./side.ts";

/** Discord's interval in practice (PROTOCOL.md section 1). */
export const REAL_HEARTBEAT_MS = 41_250;

export interface Session {
  kind: SideKind;
  users: number;
  gateway: GatewayHandle;
  side: SideHandle;
  /** Side memory after its code was loaded, before any user existed. */
  before: MemoryReading;
  /** False when not every user presented within the bring-up timeout. */
  up: boolean;
  /** First dispatch (side's clock) to the gateway's op 3 from the last user (gateway's clock), ms. */
  fanoutMs: number;
  /** Users the gateway has an op 3 from, when the session came up or the timeout struck. */
  presented: number;
  close(): Promise<void>;
}

/** What each of `users` holds of one memory field, KiB: (now - before any user) / N. */
export function perUserKiB(before: MemoryReading, now: MemoryReading, users: number, field: keyof MemoryReading): number {
  return (now[field] - before[field]) / users / 1024;
}

/**
 * How long a bring-up may take: 6 ms per user, at least 30 s. A side that scales linearly brings
 * up 10,000 users well within it (the raw client needs ~4 s); one that does not is reported as
 * failing rather than left to stall the whole bench.
 */
export const bringUpTimeoutMs = (users: number) => Math.max(30_000, users * 6);

/**
 * Sides that failed to bring up N users once in this run: later scenarios skip them (reporting no
 * value) instead of spending the timeout again on a side that is known not to make it.
 */
const failed = new Set<string>();
const failureKey = (kind: SideKind, users: number) => `${kind}:${users}`;

function knownToFail(kind: SideKind, users: number): boolean {
  return failed.has(failureKey(kind, users));
}

export const sideName = (kind: SideKind) => ({ nd: "nd-presence", raw: "raw", presence: "nd-presence's machines alone", minimal: "a minimal XState machine alone" })[kind];

/** Starts a gateway and a side, brings up `users` users, and reports how that went. */
async function openSession(kind: SideKind, users: number, heartbeatIntervalMs: number, options: BenchOptions): Promise<Session> {
  const gateway = await startGateway(heartbeatIntervalMs);
  const side = startSide(kind);
  const close = async () => {
    await side.close();
    await gateway.close();
  };
  try {
    const { before, gc } = await side.start(users, gateway.url, heartbeatIntervalMs);
    if (!gc) options.log("  warning: global.gc is not exposed; memory is read without a collection");
    const { firstAt } = await side.playAll();
    const timeoutMs = bringUpTimeoutMs(users);
    const reached = await gateway.waitPresented(users, timeoutMs).then(
      ({ at, presentedUsers }) => ({ up: true, fanoutMs: at - firstAt, presented: presentedUsers }),
      async () => ({ up: false, fanoutMs: Number.NaN, presented: (await gateway.stats()).presentedUsers }),
    );
    const { presented } = reached;
    if (!reached.up) {
      failed.add(failureKey(kind, users));
      options.log(`  ${sideName(kind)} ${users}: only ${presented} of ${users} users presenting after ${timeoutMs / 1000} s; its figures at ${users} users are left empty`);
    }
    return { kind, users, gateway, side, before, ...reached, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * Runs `measure` on a fresh session of `users` users, closing it after. A side that is known to
 * fail at this size, or that does not bring every user up, gets `none(presented)` instead.
 */
export async function withSession<T>(
  kind: SideKind,
  users: number,
  heartbeatIntervalMs: number,
  options: BenchOptions,
  none: (presented: number) => T,
  measure: (session: Session) => Promise<T>,
): Promise<T> {
  if (knownToFail(kind, users)) {
    options.log(`  ${sideName(kind)} ${users}: skipped (could not bring up ${users} users earlier in this run)`);
    return none(0);
  }
  const session = await openSession(kind, users, heartbeatIntervalMs, options);
  try {
    return session.up ? await measure(session) : none(session.presented);
  } finally {
    await session.close();
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
