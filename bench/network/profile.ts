/**
 * Profiling driver for the network scenarios: one side, one gateway, N users, then what was asked:
 *
 *   tsx bench/network/profile.ts --side nd --users 1000 --interval 2000 --cpu 30 --out /tmp/prof
 *   tsx bench/network/profile.ts --side nd --users 10000 --ramp 500 --cpu 30 --changes 20
 *   tsx bench/network/profile.ts --side nd --users 1000 --heap
 *
 * --ramp B  brings the users up B at a time (each batch presenting before the next), where the
 *           scenarios start them all at once: to reach steady state when a burst does not make it.
 * --cpu S   a plain S-second CPU window (the steady figure), then a profiled one: steady.cpuprofile.
 * --gc-before-cpu  reads the memory (forced collections) right before those windows.
 * --changes S  100 track changes/s for S seconds, plain then profiled: changes.cpuprofile.
 * --settle S  waits S seconds after the bring-up before the windows below (default 5); 65 is past
 *           the bring-up's own timers (identify cooldown, frame and presence windows).
 * --node "FLAGS"  node/V8 flags for the side's process.
 * --snapshot  a full heap snapshot once all are presenting: presenting.heapsnapshot.
 * --snapshot-steady  the same after the settle (use --settle 65, steady.ts's SETTLE_MS): steady.heapsnapshot.
 * --allocations S  samples everything allocated in an S-second steady window: steady.heapprofile.
 * --promoted S  the same, only what outlived the young generation: what fills the old space.
 * --heap    samples the allocations of the bring-up still live after it: bringup.heapprofile.
 * --heap-all  the same with the bring-up's garbage too: all it allocated, to see what grows the heap.
 * --bringup S  profiles the first S seconds of the bring-up (bringup.cpuprofile), and stops there
 *           if the users are not all presenting by then.
 * --shutdown  profiles the side's shutdown (every presence cleared, every socket closed): shutdown.cpuprofile.
 * --dispatch-rate N, --ready-bytes N  the account traffic the gateway sends, as for `npm run bench`
 *           (default 1 dispatch/s per socket and a 100 KB READY; --dispatch-rate 0: heartbeats only).
 *
 * Read them with `tsx bench/journal/profile-summary.ts <file>.cpuprofile` and
 * `tsx bench/network/heap-summary.ts <file>.heapprofile` (both map tsx's output back to .ts lines).
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { percentile } from "../figures.ts";
import { DEFAULT_ACCOUNT } from "./account/traffic.ts";
import { startGateway } from "./gateway-process.ts";
import { perUserKiB, REAL_HEARTBEAT_MS, sleep } from "./session.ts";
import { type SideKind, startSide } from "./side.ts";

const argv = process.argv.slice(2);
const flag = (name: string) => {
  const i = argv.indexOf(`--${name}`);
  return i < 0 ? undefined : (argv[i + 1] ?? "");
};
const kind = (flag("side") ?? "nd") as SideKind;
// The floors' machines sides have no gateway to bring up against: their figures come from the steady scenario.
if (kind !== "nd" && kind !== "raw") throw new Error(`--side must be nd or raw, not ${kind}`);
const users = Number(flag("users") ?? 1000);
const interval = Number(flag("interval") ?? REAL_HEARTBEAT_MS);
const ramp = Number(flag("ramp") ?? users);
const out = flag("out") ?? "/tmp/nd-bench-profile";
mkdirSync(out, { recursive: true });

const account = {
  dispatchRate: Number(flag("dispatch-rate") ?? DEFAULT_ACCOUNT.dispatchRate),
  readyBytes: Number(flag("ready-bytes") ?? DEFAULT_ACCOUNT.readyBytes),
};
const gateway = await startGateway(interval, account);
const side = startSide(kind, flag("node")?.split(" ").filter(Boolean) ?? []);
try {
  const { before } = await side.start(users, gateway.url, interval);
  const heapSampling = argv.includes("--heap") || argv.includes("--heap-all");
  if (heapSampling) await side.heapSamplingStart(argv.includes("--heap-all") ? "all" : "live");
  // --bringup S: profile the first S seconds of the bring-up, and give up on it after them.
  const bringUpSeconds = Number(flag("bringup") ?? 0);
  const profiling = bringUpSeconds > 0;
  if (profiling) await side.cpuProfileStart();
  const t0 = performance.now();
  for (let from = 0; from < users; from += ramp) {
    const to = Math.min(users, from + ramp);
    const t = performance.now();
    const { firstAt, lastAt } = await side.playAll({ from, to });
    if (profiling) console.log(`dispatching ${to - from} playbacks took ${(lastAt - firstAt).toFixed(0)} ms (one synchronous loop)`);
    const up = await gateway.waitPresented(to, profiling ? bringUpSeconds * 1000 : 600_000).then(() => true, () => false);
    if (!up) {
      const stats = await gateway.stats();
      await side.cpuProfileStop(join(out, "bringup.cpuprofile"));
      throw new Error(`${kind} ${users}: ${stats.presentedUsers} presenting, ${stats.identified} identified after ${bringUpSeconds} s; giving up`);
    }
    if (ramp < users) console.log(`users ${to}: batch presenting in ${(performance.now() - t).toFixed(0)} ms`);
  }
  if (profiling) await side.cpuProfileStop(join(out, "bringup.cpuprofile"));
  console.log(`${kind} ${users}: all presenting in ${(performance.now() - t0).toFixed(0)} ms`);
  if (heapSampling) await side.heapSamplingStop(join(out, "bringup.heapprofile"));
  const after = await side.memory();
  const perUser = (field: "rss" | "heapTotal" | "heapUsed") => perUserKiB(before, after, users, field).toFixed(1);
  console.log(`per user: RSS ${perUser("rss")} KiB, V8 heap ${perUser("heapTotal")} KiB held, ${perUser("heapUsed")} KiB live`);
  console.log(`heap spaces (KiB used/committed): ${(await side.heapSpaces()).join(", ")}`);
  if (argv.includes("--snapshot")) {
    await side.heapSnapshot(join(out, "presenting.heapsnapshot"));
    console.log(`heap snapshot: ${join(out, "presenting.heapsnapshot")}`);
  }
  await sleep(Number(flag("settle") ?? 5) * 1000);
  if (argv.includes("--snapshot-steady")) {
    await side.heapSnapshot(join(out, "steady.heapsnapshot"));
    const steady = await side.memory();
    console.log(
      `per user after the settle: ${perUserKiB(before, steady, users, "heapUsed").toFixed(1)} KiB live; heap snapshot: ${join(out, "steady.heapsnapshot")}`,
    );
  }

  const cpuSeconds = Number(flag("cpu") ?? 0);
  if (cpuSeconds > 0) {
    // --gc-before-cpu: the forced collections steady.ts makes (side.memory()) right before the window.
    if (argv.includes("--gc-before-cpu")) await side.memory();
    for (const profiled of [false, true]) {
      await gateway.reset();
      const cpu = profiled ? await side.cpuProfile(cpuSeconds * 1000, join(out, "steady.cpuprofile")) : await side.cpu(cpuSeconds * 1000);
      const stats = await gateway.stats();
      const seconds = cpu.wallMs / 1000;
      console.log(
        `steady${profiled ? " (profiled)" : ""}: ${(cpu.cpuMs / seconds / (users / 1000)).toFixed(2)} CPU ms/s per 1,000 users (${
          ((100 * cpu.systemMs) / cpu.cpuMs).toFixed(0)
        }% system), ${(stats.op1 / seconds).toFixed(0)} beats/s, ${stats.closed} closed`,
      );
    }
  }

  // --allocations S: everything allocated in an S-second steady window, garbage included;
  // --promoted S: only what outlived the young generation (what grows the old space).
  const promoted = flag("promoted") !== undefined;
  const allocationSeconds = Number(flag(promoted ? "promoted" : "allocations") ?? 0);
  if (allocationSeconds > 0) {
    await gateway.reset();
    await side.heapSamplingStart(promoted ? "promoted" : "all");
    await sleep(allocationSeconds * 1000);
    await side.heapSamplingStop(join(out, "steady.heapprofile"));
    const stats = await gateway.stats();
    console.log(`allocations: ${stats.op1} beats in ${allocationSeconds} s: ${join(out, "steady.heapprofile")}`);
  }

  const changeSeconds = Number(flag("changes") ?? 0);
  if (changeSeconds > 0) {
    for (const profiled of [false, true]) {
      await gateway.stats();
      const profiling = profiled ? side.cpuProfile(changeSeconds * 1000 + 500, join(out, "changes.cpuprofile")) : null;
      const { sent } = await side.changes(100, changeSeconds * 1000);
      await profiling;
      await sleep(1_000);
      const samples = (await gateway.stats()).latencyMs.sort((a, b) => a - b);
      console.log(
        `changes${profiled ? " (profiled)" : ""}: ${samples.length}/${sent} arrived, p50 ${percentile(samples, 50).toFixed(2)} ms, p99 ${
          percentile(samples, 99).toFixed(2)
        } ms, max ${(samples.at(-1) ?? Number.NaN).toFixed(2)} ms`,
      );
    }
  }

  if (argv.includes("--shutdown")) {
    await side.cpuProfileStart();
    const t = performance.now();
    await side.shutdown();
    console.log(`shutdown: ${(performance.now() - t).toFixed(0)} ms`);
    await side.cpuProfileStop(join(out, "shutdown.cpuprofile"));
  }
} finally {
  await side.close();
  await gateway.close();
}
