/**
 * A measurement session: a gateway process and one side process (nd-presence or raw) with N users
 * brought up the same way on both sides: every user starts playing at once (`playAll`), and each
 * connects, identifies and presents. The session is up when the gateway has an op 3 from all N.
 */
import type { BenchOptions } from "../figures.ts";
import { type AccountTraffic, describeTraffic } from "./account/traffic.ts";
import { type GatewayHandle, startGateway } from "./gateway-process.ts";
import { type MemoryReading, type SideHandle, type SideKind, startSide } from "./side.ts";

/** Discord's interval in practice (docs/protocol.md section 1). */
export const REAL_HEARTBEAT_MS = 41_250;

/** What the fake gateway of a session sends: its Hello interval and a real account's traffic. */
export interface GatewaySetup {
  heartbeatIntervalMs: number;
  account: AccountTraffic;
}

/** Discord's interval and the run's account traffic (`--dispatch-rate`, `--ready-bytes`), with `change` applied. */
export function gatewaySetup(options: BenchOptions, change: Partial<GatewaySetup> = {}): GatewaySetup {
  return { heartbeatIntervalMs: REAL_HEARTBEAT_MS, account: options.account, ...change };
}

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
 * How long a bring-up may take: 6 ms per user, and 10 ms more per MB of READY each user's client
 * has to read (parsing 1 MB of JSON takes ~8 ms), at least 30 s. A side that scales linearly
 * brings up 10,000 users well within it (the raw client needs ~4 s with a small READY); one that
 * does not is reported as failing rather than left to stall the whole bench.
 */
export const bringUpTimeoutMs = (users: number, readyBytes = 0) => Math.max(30_000, Math.round(users * (6 + (10 * readyBytes) / 1e6)));

/**
 * Sides that failed to bring up N users once in this run: later scenarios skip them (reporting no
 * value) instead of spending the timeout again on a side that is known not to make it.
 */
const failed = new Set<string>();
/** A side may bring up N users without dispatches and fail with them: the traffic is part of the key. */
const failureKey = (kind: SideKind, users: number, account: AccountTraffic) => `${kind}:${users}:${account.dispatchRate}:${account.readyBytes}`;

export const sideName = (kind: SideKind) =>
  ({ nd: "nd-presence", raw: "raw", presence: "nd-presence's machines alone", minimal: "a minimal XState machine alone" })[kind];

/** Starts a gateway and a side, brings up `users` users, and reports how that went. */
async function openSession(kind: SideKind, users: number, setup: GatewaySetup, options: BenchOptions): Promise<Session> {
  const { heartbeatIntervalMs, account } = setup;
  const gateway = await startGateway(heartbeatIntervalMs, account);
  const side = startSide(kind);
  const close = async () => {
    await side.close();
    await gateway.close();
  };
  try {
    const { before, gc } = await side.start(users, gateway.url, heartbeatIntervalMs);
    if (!gc) options.log("  warning: global.gc is not exposed; memory is read without a collection");
    const { firstAt } = await side.playAll();
    const timeoutMs = bringUpTimeoutMs(users, account.readyBytes);
    const reached = await gateway.waitPresented(users, timeoutMs).then(
      ({ at, presentedUsers }) => ({ up: true, fanoutMs: at - firstAt, presented: presentedUsers }),
      async () => ({ up: false, fanoutMs: Number.NaN, presented: (await gateway.stats()).presentedUsers }),
    );
    const { presented } = reached;
    if (!reached.up) {
      failed.add(failureKey(kind, users, account));
      options.log(
        `  ${sideName(kind)} ${users} (${describeTraffic(account)}): only ${presented} of ${users} users presenting after ${
          timeoutMs / 1000
        } s; its figures at ${users} users are left empty`,
      );
    }
    return { kind, users, gateway, side, before, ...reached, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * Runs `measure` on a fresh session of `users` users against a gateway set up as `setup` says,
 * closing it after. A side that is known to fail at this size and traffic, or that does not bring
 * every user up, gets `none(presented)` instead.
 */
export async function withSession<T>(
  kind: SideKind,
  users: number,
  setup: GatewaySetup,
  options: BenchOptions,
  none: (presented: number) => T,
  measure: (session: Session) => Promise<T>,
): Promise<T> {
  if (failed.has(failureKey(kind, users, setup.account))) {
    options.log(`  ${sideName(kind)} ${users}: skipped (could not bring up ${users} users with this traffic earlier in this run)`);
    return none(0);
  }
  const session = await openSession(kind, users, setup, options);
  try {
    return session.up ? await measure(session) : none(session.presented);
  } finally {
    await session.close();
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
