/**
 * steady-dispatches: N users presenting, nothing changing, every socket receiving a real account's
 * dispatches (`--dispatch-rate`, default 1 a second per socket: friends' presences, typing,
 * messages) between Discord's 41,250 ms heartbeats. The steady scenario's window (steady.ts:
 * bring-up, collection, 65 s settle, 30 s window), with the account traffic on.
 *
 * - CPU per 1,000 users: as in steady. Target ratio <= 1.0 (issue 16): the raw client parses every
 *   frame in full, so a client that reads `op`, `t` and `s` without parsing what it drops should
 *   cost no more.
 * - dispatches: what the gateway sent each user a second in the window: the load the CPU paid for.
 * - RSS and live heap per user, after the window: target on RSS ratio <= 2.
 * - journal records between track changes (nd-presence): what the service journaled in the window
 *   (counting-journal.ts wraps its journal), per user per minute. Target <= 1: at most the seq
 *   record a socket may keep once a minute; dispatches and heartbeats belong to the connection.
 */
import type { BenchOptions, Figure } from "../figures.ts";
import { describeTraffic } from "./account/traffic.ts";
import { describeRecords, type JournalRecords, recordsPerUserMinute } from "./counting-journal.ts";
import { gatewaySetup, sideName, withSession } from "./session.ts";
import type { SideKind } from "./side.ts";
import { describeCpu, settleAndMeasure, type WindowCount } from "./steady.ts";

interface DispatchResult {
  cpuPerThousand: number;
  dispatchesPerUserSecond: number;
  rssPerUser: number;
  heapPerUser: number;
  /** Null for raw, which keeps no journal. */
  journalPerUserMinute: number | null;
}

const none: DispatchResult = {
  cpuPerThousand: Number.NaN,
  dispatchesPerUserSecond: Number.NaN,
  rssPerUser: Number.NaN,
  heapPerUser: Number.NaN,
  journalPerUserMinute: null,
};

interface Counted {
  beatsPerSecond: number;
  dispatchesPerSecond: number;
  journal: { before: JournalRecords; after: JournalRecords } | null;
}

async function measure(kind: SideKind, users: number, options: BenchOptions): Promise<DispatchResult> {
  return withSession(kind, users, gatewaySetup(options), options, () => none, async ({ side, gateway, before }) => {
    let journalBefore: JournalRecords | null = null;
    const count: WindowCount<Counted> = {
      async open() {
        await gateway.reset();
        journalBefore = await side.journalRecords();
      },
      async close(seconds) {
        const stats = await gateway.stats();
        const after = await side.journalRecords();
        return {
          beatsPerSecond: stats.op1 / seconds,
          dispatchesPerSecond: stats.dispatches / seconds,
          journal: journalBefore && after ? { before: journalBefore, after } : null,
        };
      },
    };
    const reading = await settleAndMeasure(side, before, users, count, options);
    const { counted } = reading;
    const seconds = reading.cpu.wallMs / 1000;
    const { closed } = await gateway.stats();
    if (closed > 0) options.log(`  warning: ${closed} connections closed during the window`);
    const journalPerUserMinute = counted.journal ? recordsPerUserMinute(counted.journal.before, counted.journal.after, users, seconds) : null;
    const journaled = counted.journal ? `; journaled per user a minute: ${describeRecords(counted.journal.before, counted.journal.after, users, seconds)}` : "";
    options.log(
      `  ${sideName(kind)} ${users}: ${describeCpu(reading)}, ${counted.dispatchesPerSecond.toFixed(0)} dispatches/s, ${
        counted.beatsPerSecond.toFixed(0)
      } beats/s; per user: RSS ${reading.rssPerUser.toFixed(1)} KiB, ${reading.heapPerUser.toFixed(1)} KiB live${journaled}`,
    );
    return {
      cpuPerThousand: reading.cpuPerThousand,
      dispatchesPerUserSecond: counted.dispatchesPerSecond / users,
      rssPerUser: reading.rssPerUser,
      heapPerUser: reading.heapPerUser,
      journalPerUserMinute,
    };
  });
}

export async function steadyDispatches(options: BenchOptions): Promise<Figure[]> {
  const { account } = options;
  if (account.dispatchRate <= 0) {
    options.log("  skipped: --dispatch-rate 0 sends no dispatches (the steady scenario measures that)");
    return [];
  }
  const label = `@ ${account.dispatchRate} dispatch${account.dispatchRate === 1 ? "" : "es"}/s per user`;
  options.log(`  gateway: ${describeTraffic(account)} per socket`);
  const figures: Figure[] = [];
  for (const users of options.users) {
    const raw = await measure("raw", users, options);
    const nd = await measure("nd", users, options);
    const base = { scenario: "steady-dispatches", users, better: "lower" as const, account };
    figures.push(
      {
        ...base,
        metric: `CPU per 1,000 users ${label}`,
        unit: "ms/s",
        ndPresence: nd.cpuPerThousand,
        raw: raw.cpuPerThousand,
        target: { op: "<=", value: 1, on: "ratio" },
      },
      {
        ...base,
        metric: `dispatches received ${label}`,
        unit: "/s per user",
        ndPresence: nd.dispatchesPerUserSecond,
        raw: raw.dispatchesPerUserSecond,
        better: "higher",
      },
      {
        ...base,
        metric: `RSS per user, steady ${label}`,
        unit: "KiB",
        ndPresence: nd.rssPerUser,
        raw: raw.rssPerUser,
        target: { op: "<=", value: 2, on: "ratio" },
      },
      { ...base, metric: `heap per user, steady ${label}`, unit: "KiB", ndPresence: nd.heapPerUser, raw: raw.heapPerUser },
      {
        ...base,
        metric: `journal records between track changes ${label}`,
        unit: "per user per minute",
        ndPresence: nd.journalPerUserMinute ?? Number.NaN,
        raw: null,
        target: { op: "<=", value: 1 },
      },
    );
  }
  return figures;
}
