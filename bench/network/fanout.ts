/**
 * fanout: N users start playing at once; each connects, identifies and presents.
 *
 * - users presenting: users the gateway has an op 3 from when every user did, or when the
 *   bring-up timeout (`bringUpTimeoutMs`) struck. The target "10,000 users in one process".
 * - time to all presenting: from the side's first dispatch to the gateway's receipt of the last
 *   user's first op 3, both read as `performance.timeOrigin + performance.now()`.
 * - RSS and heap per user: (after - before) / N in the side's own process, forked with
 *   `--expose-gc` and read after `global.gc()`. "Before" is read once the side's code is loaded and
 *   before any user exists; "after" once every user is presenting.
 *
 * The gateway sends the run's account traffic (`--dispatch-rate`, `--ready-bytes`): each user's
 * READY is large, and dispatches start as soon as it is READY.
 */
import type { BenchOptions, Figure } from "../figures.ts";
import { gatewaySetup, perUserKiB, sideName, withSession } from "./session.ts";
import type { SideKind } from "./side.ts";

interface FanoutResult {
  presented: number;
  fanoutMs: number;
  rssPerUser: number;
  heapPerUser: number;
}

async function measure(kind: SideKind, users: number, options: BenchOptions): Promise<FanoutResult> {
  const none = (presented: number) => ({ presented, fanoutMs: Number.NaN, rssPerUser: Number.NaN, heapPerUser: Number.NaN });
  return withSession(kind, users, gatewaySetup(options), options, none, async (session) => {
    const after = await session.side.memory();
    const result = {
      presented: session.presented,
      fanoutMs: session.fanoutMs,
      rssPerUser: perUserKiB(session.before, after, session.users, "rss"),
      heapPerUser: perUserKiB(session.before, after, session.users, "heapUsed"),
    };
    const heapTotalPerUser = perUserKiB(session.before, after, session.users, "heapTotal");
    options.log(
      `  ${sideName(kind)} ${users}: all presenting in ${result.fanoutMs.toFixed(0)} ms; per user: RSS ${result.rssPerUser.toFixed(1)} KiB, V8 heap ${
        heapTotalPerUser.toFixed(1)
      } KiB held, ${result.heapPerUser.toFixed(1)} KiB live`,
    );
    return result;
  });
}

export async function fanout(options: BenchOptions): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const users of options.users) {
    // One side at a time, each in a fresh process: neither's memory or CPU mixes with the other's.
    const raw = await measure("raw", users, options);
    const nd = await measure("nd", users, options);
    const figure = (metric: string, unit: string, pick: (r: FanoutResult) => number, extra: Partial<Figure> = {}): Figure => ({
      scenario: "fanout",
      metric,
      unit,
      users,
      ndPresence: pick(nd),
      raw: pick(raw),
      better: "lower",
      account: options.account,
      ...extra,
    });
    figures.push(
      figure("users presenting", "users", (r) => r.presented, { better: "higher", target: { op: ">=", value: users } }),
      figure("time to all presenting", "ms", (r) => r.fanoutMs),
      figure("RSS per user", "KiB", (r) => r.rssPerUser, { target: { op: "<=", value: 2, on: "ratio" } }),
      figure("heap per user", "KiB", (r) => r.heapPerUser),
    );
  }
  return figures;
}
