/**
 * shutdown: N users presenting, then the side shuts down: every presence cleared (op 3 with no
 * activity) and every socket closed with 1000. nd-presence: `service.stop()`, as SIGINT/SIGTERM
 * run it (the CLI exits after 5 s whatever happens, hence the target); raw: the same frames and
 * closes from `RawClient.clearAll`. Timed in the side's process, from the call to its promise
 * resolved. Counted only if the gateway saw every user cleared and closed with 1000 (a socket
 * cut off, 1006, does not count).
 */
import type { BenchOptions, Figure } from "../figures.ts";
import type { GatewayStats } from "./gateway-process.ts";
import { gatewaySetup, sideName, sleep, withSession } from "./session.ts";
import type { SideKind } from "./side.ts";

async function measure(kind: SideKind, users: number, options: BenchOptions): Promise<number> {
  return withSession(kind, users, gatewaySetup(options), options, () => Number.NaN, async (session) => {
    await session.gateway.reset();
    const { ms } = await session.side.shutdown();
    // The gateway may see the last closes a moment after the side is done: give it up to 2 s.
    const letGo = (s: GatewayStats) => s.cleared >= users && s.closedNormally >= users;
    let stats = await session.gateway.stats();
    for (let waited = 0; !letGo(stats) && waited < 2_000; waited += 50) {
      await sleep(50);
      stats = await session.gateway.stats();
    }
    options.log(
      `  ${sideName(kind)} ${users}: cleared and closed in ${
        ms.toFixed(0)
      } ms (gateway: ${stats.cleared} cleared, ${stats.closedNormally} of ${stats.closed} closed with 1000)`,
    );
    return letGo(stats) ? ms : Number.NaN;
  });
}

export async function shutdown(options: BenchOptions): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const users of options.users) {
    const raw = await measure("raw", users, options);
    const nd = await measure("nd", users, options);
    figures.push({
      scenario: "shutdown",
      metric: "all cleared and closed",
      unit: "ms",
      users,
      ndPresence: nd,
      raw,
      better: "lower",
      target: { op: "<", value: 5_000 },
      account: options.account,
    });
  }
  return figures;
}
