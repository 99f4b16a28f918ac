/**
 * latency: track changes at 100 per second, round-robin over N users (each user changes every
 * N / 100 s: every 100 s at 10,000 users, every 10 s at 1,000, inside Discord's 5 per 20 s).
 *
 * Each change carries its send time in the artist line (`t=<epoch ms>`, read just before
 * `service.dispatch` or `RawClient.present`), which becomes the activity's `state`. The gateway
 * process subtracts it from its own clock when the op 3 arrives: `performance.timeOrigin +
 * performance.now()` on both sides, so the figure is dispatch to frame received, across processes.
 * Meanwhile every socket receives the run's account traffic (a dispatch a second by default).
 */
import { type BenchOptions, type Figure, percentile } from "../figures.ts";
import { gatewaySetup, sideName, sleep, withSession } from "./session.ts";
import type { SideKind } from "./side.ts";

const CHANGES_PER_SECOND = 100;

interface LatencyResult {
  p50: number;
  p99: number;
  max: number;
}

const none: LatencyResult = { p50: Number.NaN, p99: Number.NaN, max: Number.NaN };

async function measure(kind: SideKind, users: number, options: BenchOptions): Promise<LatencyResult> {
  return withSession(kind, users, gatewaySetup(options), options, () => none, async (session) => {
    await sleep(2_000);
    await session.gateway.stats(); // drops the bring-up's samples
    const { sent, maxLagMs } = await session.side.changes(CHANGES_PER_SECOND, options.quick ? 5_000 : 20_000);
    // Collect until every change has arrived, or 3 s after the last was sent.
    const samples: number[] = [];
    for (const deadline = Date.now() + 3_000; samples.length < sent && Date.now() < deadline; await sleep(100)) {
      samples.push(...(await session.gateway.stats()).latencyMs);
    }
    if (samples.length < sent) options.log(`  warning: ${sent - samples.length} of ${sent} changes never reached the gateway`);
    if (maxLagMs > 20) options.log(`  note: the side's change timer ran up to ${maxLagMs.toFixed(0)} ms late (its event loop was busy)`);
    samples.sort((a, b) => a - b);
    const result = { p50: percentile(samples, 50), p99: percentile(samples, 99), max: samples.at(-1) ?? Number.NaN };
    options.log(
      `  ${sideName(kind)} ${users}: ${samples.length} changes, p50 ${result.p50.toFixed(2)} ms, p99 ${result.p99.toFixed(2)} ms, max ${
        result.max.toFixed(2)
      } ms`,
    );
    return result;
  });
}

export async function latency(options: BenchOptions): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const users of options.users) {
    const raw = await measure("raw", users, options);
    const nd = await measure("nd", users, options);
    const base = { scenario: "latency", users, unit: "ms", better: "lower" as const, account: options.account };
    figures.push(
      { ...base, metric: "change to op 3, p50", ndPresence: nd.p50, raw: raw.p50 },
      { ...base, metric: "change to op 3, p99", ndPresence: nd.p99, raw: raw.p99, target: { op: "<", value: 5 } },
      { ...base, metric: "change to op 3, max", ndPresence: nd.max, raw: raw.max },
    );
  }
  return figures;
}
