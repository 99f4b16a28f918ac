/**
 * What one heartbeat costs in the actor system, with no socket and no journal: a presenting
 * user's `heartbeat.due` (the timer) and `gateway.heartbeatAck` (the answer), under a
 * SimulatedClock. Prints time and bytes allocated per beat, hot. By default the ACK goes through
 * the supervisor, as in the service; `--machine` sends it to the presence machine alone. The
 * semi-space must hold the whole run (no scavenge), or the bytes come out low:
 *
 *   node --expose-gc --max-semi-space-size=512 --min-semi-space-size=512 --import tsx bench/micro/beat.ts [--machine] [beats]
 *   INSPECT=1 node --import tsx bench/micro/beat.ts          # which events a beat takes
 *   ALLOCATIONS=/tmp/beat.heapprofile node --import tsx bench/micro/beat.ts   # who allocates
 */
import { type AnyActorRef, createActor, SimulatedClock } from "xstate";
import type { Effect } from "../../src/actors/effects.ts";
import { presenceMachine } from "../../src/actors/presence-machine.ts";
import { defaultClientProperties, defaultPresenceSettings, defaultTimings } from "../../src/actors/settings.ts";
import { presenceInput, shardMachine } from "../../src/actors/shard-machine.ts";
import { supervisorMachine } from "../../src/actors/supervisor-machine.ts";

const args = process.argv.slice(2);
const machineOnly = args.includes("--machine");
const beats = Number(args.find((a) => !a.startsWith("--")) ?? 5_000);
const clock = new SimulatedClock();
clock.set(1_700_000_000_000);
let frames = 0;
const perform = (effect: Effect) => void (effect.type === "socket.send" && frames++);
const profile = {
  user: "u",
  presence: { ...defaultPresenceSettings, applicationId: "1" },
  timings: defaultTimings,
  properties: defaultClientProperties,
  gatewayUrl: "ws://127.0.0.1:9",
};
const presence = presenceMachine.provide({ actions: { perform: (_, effect) => perform(effect) } });
const ignore = () => {};
const actor: AnyActorRef = machineOnly ? createActor(presence, { clock, input: presenceInput(profile, 1) }).start() : createActor(
  supervisorMachine.provide({
    actions: { perform: ignore },
    actors: { shard: shardMachine.provide({ actions: { perform: ignore }, actors: { presence } }) },
  }),
  {
    clock,
    input: { users: [profile], sweepIntervalMs: 3_600_000 },
  },
).start();
const at = () => clock.now();
const interval = 41_250;
actor.send({ type: "playback.playing", user: "u", track: { title: "t", artist: "a", album: "b", durationMs: 3_600_000_000 }, positionMs: 0, at: at() });
actor.send({ type: "gateway.hello", user: "u", socket: 1, heartbeatIntervalMs: interval, at: at() });
actor.send({ type: "gateway.ready", user: "u", socket: 1, seq: 1, sessionId: "s", at: at() });
clock.increment(interval); // past the first beat
actor.send({ type: "gateway.heartbeatAck", user: "u", socket: 1, at: at() });
if (frames < 3) throw new Error(`not presenting: ${frames} frames sent`);

function run(n: number) {
  for (let i = 0; i < n; i++) {
    clock.increment(interval); // heartbeat.due
    actor.send({ type: "gateway.heartbeatAck", user: "u", socket: 1, at: at() });
  }
}
run(2_000); // warm up
if (process.env.INSPECT) {
  const seen = new Map<string, number>();
  actor.system.inspect((e) => {
    if (e.type !== "@xstate.event") return;
    const key = `${e.event.type} -> ${(e.actorRef as AnyActorRef).id}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
  });
  run(100);
  console.log("events per 100 beats:", Object.fromEntries(seen));
  process.exit(0);
}
if (process.env.ALLOCATIONS) {
  // Every allocation of the run, garbage included, sampled: `tsx bench/network/heap-summary.ts <file>`.
  const { Session } = await import("node:inspector/promises");
  const { writeFileSync } = await import("node:fs");
  const session = new Session();
  session.connect();
  await session.post("HeapProfiler.startSampling", { samplingInterval: 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  run(beats);
  const { profile: sampled } = await session.post("HeapProfiler.stopSampling");
  writeFileSync(process.env.ALLOCATIONS, JSON.stringify(sampled));
  process.exit(0);
}
global.gc?.();
const heap0 = process.memoryUsage().heapUsed;
const sent0 = frames;
const t0 = performance.now();
run(beats);
const ms = performance.now() - t0;
const bytes = process.memoryUsage().heapUsed - heap0;
if (frames - sent0 !== beats) throw new Error(`expected ${beats} beats sent, got ${frames - sent0}`);
console.log(
  `${machineOnly ? "machine alone" : "through the supervisor"}: ${((ms * 1000) / beats).toFixed(1)} µs and ${
    (bytes / beats / 1024).toFixed(1)
  } KiB allocated per beat (timer + ACK)`,
);
