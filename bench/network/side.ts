/**
 * One side of a network measurement, in a process of its own: nd-presence (`createPresenceService`
 * with the real JSONL journal, wrapped to count its records: counting-journal.ts), the raw baseline (`RawClient`), or machines alone (`machinesAlone`,
 * no sockets: the floors, with nd-presence's presence machine or the minimal one), for users
 * `u0..uN-1` with tokens `bench-uI`, driven by the parent over IPC (`startSide`).
 *
 * The process is forked with `--expose-gc`: memory is read after `global.gc()`, and only the chosen
 * side's modules are ever loaded, so the baseline read before the users exist holds no per-user
 * memory of either side.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Track } from "../../src/actors/track.ts";
import type { ServiceConfig } from "../../src/config/service-config.ts";
import type { FloorMachine } from "../floors.ts";
import { trackActivity } from "../track-activity.ts";
import { APP_ID, NOWHERE, tokenFor, USER_AGENT } from "./bench-client.ts";
import type { JournalRecords } from "./counting-journal.ts";
import { Child, epochNow, serve } from "./ipc.ts";

/** nd-presence, the raw baseline, or one of the floors' machines alone (../floors.ts). */
export type SideKind = "nd" | "raw" | FloorMachine;
/** What a heap sampling keeps: see `heapSamplingStart`. */
export type HeapSampling = "live" | "all" | "promoted";

/** process.memoryUsage() fields, bytes, read after global.gc(). */
export interface MemoryReading {
  rss: number;
  heapUsed: number;
  /** What V8 holds for its heap, used or not: RSS's share that garbage grew and GC did not return. */
  heapTotal: number;
}

export interface CpuReading {
  /** process.cpuUsage() user + system over the window, ms (every thread of the process). */
  cpuMs: number;
  /** The system (kernel) part of it: syscalls such as socket and journal writes. */
  systemMs: number;
  wallMs: number;
}

/** CPU used since `start` (a process.cpuUsage() reading) and wall time since `t0` (performance.now()). */
function cpuSince(start: NodeJS.CpuUsage, t0: number): CpuReading {
  const used = process.cpuUsage(start);
  return { cpuMs: (used.user + used.system) / 1000, systemMs: used.system / 1000, wallMs: performance.now() - t0 };
}

/** A track whose artist line carries its send time, for the gateway to read back. */
function trackAt(i: number, sentAt: number): Track {
  return { title: `Song ${i}`, artist: `t=${sentAt}`, album: "Bench Album", durationMs: 3_600_000 };
}

/** Shows track `i` for `user`, stamped with the time of the call. */
type Play = (user: string, i: number) => void;

function readMemory(): MemoryReading {
  // Several passes: the first may only promote what the next one frees.
  for (let i = 0; i < 3; i++) global.gc?.();
  // Then a last-resort collection, which also hands freed pages back to the OS, as V8's memory
  // reducer does by itself once a process goes idle: what stays resident is what the users hold,
  // not what the bring-up left behind (a plain gc() can leave hundreds of MiB of it).
  (global.gc as ((options: object) => void) | undefined)?.({ type: "major", execution: "sync", flavor: "last-resort" });
  const { rss, heapUsed, heapTotal } = process.memoryUsage();
  return { rss, heapUsed, heapTotal };
}

interface Side {
  play: Play;
  /** The machines side only: users presenting and heartbeats sent (it has no gateway to count them). */
  stats?(): { presenting: number; beats: number };
  /** nd-presence only: what it journaled since it started. */
  journalRecords?(): JournalRecords;
  /** Clears every presence and closes every socket with 1000 (nd-presence: `service.stop()`). */
  shutdown(): Promise<void>;
  cleanup(): void;
}

/**
 * Brings up a side's users; its modules are already loaded, so that they are not counted per user.
 * The heartbeat interval is the gateway's to set: only the machines side, which has none, reads it.
 */
type SetUp = (users: number, gatewayUrl: string, heartbeatIntervalMs: number) => Promise<Side>;

/** nd-presence's configuration, for the service and for its machines alone. */
function serviceConfig(users: number, gatewayUrl: string): ServiceConfig {
  return {
    // gatewayUrl set: no discovery. No MBIDs, no public URL, no default image: no REST at all.
    discord: { applicationId: APP_ID, apiBaseUrl: NOWHERE, gatewayUrl, userAgent: USER_AGENT },
    presence: { links: "none" },
    artwork: { order: ["coverartarchive", "public"], defaultImage: null, coverArtArchiveUrl: NOWHERE, musicBrainzLookup: false },
    users: Array.from({ length: users }, (_, i) => ({ username: `u${i}`, discordToken: tokenFor(`u${i}`) })),
  };
}

async function ndSide(): Promise<SetUp> {
  const { createPresenceService } = await import("../../src/service/service.ts");
  const { JsonlJournal } = await import("../../src/adapters/journal/jsonl-journal.ts");
  const { silentLogger } = await import("../../src/adapters/logger.ts");
  const { CountingJournal } = await import("./counting-journal.ts");
  return async (users, gatewayUrl) => {
    const dir = mkdtempSync(join(tmpdir(), "nd-bench-"));
    const journal = new CountingJournal(new JsonlJournal({ path: join(dir, "journal.jsonl"), logger: silentLogger }));
    const service = createPresenceService({ config: serviceConfig(users, gatewayUrl), journal, logger: silentLogger });
    await service.start();
    return {
      play: (user, i) => {
        const at = epochNow();
        service.dispatch({ type: "playback.playing", user, track: trackAt(i, at), positionMs: 0 });
      },
      journalRecords: () => journal.records(),
      shutdown: () => service.stop(),
      cleanup: () => rmSync(dir, { recursive: true, force: true }),
    };
  };
}

async function rawSide(): Promise<SetUp> {
  const { RawClient } = await import("./raw-client.ts");
  return async (_users, gatewayUrl) => {
    const client = new RawClient({ url: gatewayUrl, userAgent: USER_AGENT, tokenFor });
    return {
      play: (user, i) => {
        const at = epochNow();
        client.present(user, trackActivity(trackAt(i, at), at, APP_ID));
      },
      shutdown: () => client.clearAll(),
      cleanup: () => {},
    };
  };
}

async function machinesSide(kind: FloorMachine): Promise<SetUp> {
  const { machinesAlone } = await import("./machines-side.ts");
  return async (users, gatewayUrl, heartbeatIntervalMs) => {
    const machines = machinesAlone(serviceConfig(users, gatewayUrl), heartbeatIntervalMs, kind);
    return {
      play: (user, i) => {
        const at = epochNow();
        machines.play(user, trackAt(i, at), at);
      },
      stats: () => machines.stats(),
      shutdown: async () => machines.stop(),
      cleanup: () => {},
    };
  };
}

const setUps: Record<SideKind, () => Promise<SetUp>> = {
  nd: ndSide,
  raw: rawSide,
  presence: () => machinesSide("presence"),
  minimal: () => machinesSide("minimal"),
};

let inspectorSession: import("node:inspector/promises").Session | null = null;
async function inspector() {
  if (inspectorSession) return inspectorSession;
  const { Session } = await import("node:inspector/promises");
  inspectorSession = new Session();
  inspectorSession.connect();
  return inspectorSession;
}

async function startCpuProfile(): Promise<void> {
  const session = await inspector();
  await session.post("Profiler.enable");
  await session.post("Profiler.start");
}

async function stopCpuProfile(path: string): Promise<void> {
  const { profile } = await (await inspector()).post("Profiler.stop");
  writeFileSync(path, JSON.stringify(profile));
}

function runSide(): void {
  let users = 0;
  let side: Side | null = null;
  const ready = () => {
    if (!side) throw new Error("side: start first");
    return side;
  };

  serve({
    /** Loads the side's modules first (not counted per user), then reads the baseline memory. */
    async start({ kind, users: n, gatewayUrl, heartbeatIntervalMs }: { kind: SideKind; users: number; gatewayUrl: string; heartbeatIntervalMs: number }) {
      users = n;
      const setUp = await setUps[kind]();
      const before = readMemory();
      side = await setUp(n, gatewayUrl, heartbeatIntervalMs);
      return { before, gc: typeof global.gc === "function" };
    },
    /** Users `from..to-1` (default: all) start playing at once: each connects, identifies and presents. */
    playAll({ from = 0, to = users }: { from?: number; to?: number } = {}) {
      const { play } = ready();
      const firstAt = epochNow();
      for (let i = from; i < to; i++) play(`u${i}`, i);
      return { firstAt, lastAt: epochNow() };
    },
    memory: () => readMemory(),
    stats: () => ready().stats?.() ?? null,
    journalRecords: () => ready().journalRecords?.() ?? null,
    /**
     * V8's heap spaces, KiB used / committed: where `heapTotal` beyond the live heap sits. Read
     * right after `memory` (which collects first), so no collection of its own.
     */
    async heapSpaces() {
      const { getHeapSpaceStatistics } = await import("node:v8");
      return getHeapSpaceStatistics().map((s) => `${s.space_name} ${(s.space_used_size / 1024).toFixed(0)}/${(s.space_size / 1024).toFixed(0)}`);
    },
    async cpu({ windowMs }: { windowMs: number }): Promise<CpuReading> {
      const start = process.cpuUsage();
      const t0 = performance.now();
      await new Promise((resolve) => setTimeout(resolve, windowMs));
      return cpuSince(start, t0);
    },
    /** Track changes at `perSecond`, round-robin over the users, for `durationMs`. */
    async changes({ perSecond, durationMs }: { perSecond: number; durationMs: number }) {
      const { play } = ready();
      const total = Math.floor((perSecond * durationMs) / 1000);
      const stepMs = 1000 / perSecond;
      const t0 = performance.now();
      let sent = 0;
      let maxLagMs = 0;
      await new Promise<void>((resolve) => {
        const tick = () => {
          const now = performance.now();
          // Catch up with every change that is due: a late timer must not lower the rate.
          while (sent < total && t0 + sent * stepMs <= now) {
            maxLagMs = Math.max(maxLagMs, now - (t0 + sent * stepMs));
            play(`u${sent % users}`, users + sent);
            sent += 1;
          }
          if (sent >= total) return resolve();
          setTimeout(tick, Math.max(0, t0 + sent * stepMs - performance.now()));
        };
        tick();
      });
      return { sent, maxLagMs };
    },
    // Diagnostics for profile.ts: a CPU profile of one window, and the allocation sites of live memory.
    cpuProfileStart: () => startCpuProfile(),
    cpuProfileStop: ({ path }: { path: string }) => stopCpuProfile(path),
    async cpuProfile({ windowMs, path }: { windowMs: number; path: string }): Promise<CpuReading> {
      await startCpuProfile();
      const start = process.cpuUsage();
      const t0 = performance.now();
      await new Promise((resolve) => setTimeout(resolve, windowMs));
      const reading = cpuSince(start, t0);
      await stopCpuProfile(path);
      return reading;
    },
    /** A full V8 heap snapshot (after a GC), for `heap-snapshot-summary.ts`: what each user's memory is made of. */
    async heapSnapshot({ path }: { path: string }) {
      global.gc?.();
      const { writeHeapSnapshot } = await import("node:v8");
      writeHeapSnapshot(path);
    },
    /**
     * `live`: what is still live when sampling stops. `all`: everything allocated, garbage too.
     * `promoted`: everything that outlived the young generation (live, or dead in the old space).
     */
    async heapSamplingStart({ mode = "live" }: { mode?: HeapSampling } = {}) {
      const flags = { includeObjectsCollectedByMajorGC: mode !== "live", includeObjectsCollectedByMinorGC: mode === "all" };
      await (await inspector()).post("HeapProfiler.startSampling", { samplingInterval: 4096, ...flags });
    },
    async heapSamplingStop({ path }: { path: string }) {
      global.gc?.(); // what is sampled and then freed leaves the profile
      const { profile } = await (await inspector()).post("HeapProfiler.stopSampling");
      writeFileSync(path, JSON.stringify(profile));
    },
    /** Times the side's shutdown: every presence cleared, every socket closed. */
    async shutdown(): Promise<{ ms: number }> {
      const started = performance.now();
      await ready().shutdown();
      return { ms: performance.now() - started };
    },
    exit() {
      side?.cleanup();
      setImmediate(() => process.exit(0));
    },
  });
}

/** The parent's handle on a side process. */
export interface SideHandle {
  kind: SideKind;
  start(users: number, gatewayUrl: string, heartbeatIntervalMs: number): Promise<{ before: MemoryReading; gc: boolean }>;
  playAll(range?: { from: number; to: number }): Promise<{ firstAt: number; lastAt: number }>;
  memory(): Promise<MemoryReading>;
  stats(): Promise<{ presenting: number; beats: number } | null>;
  /** What nd-presence journaled since it started; null for the other sides (they keep no journal). */
  journalRecords(): Promise<JournalRecords | null>;
  heapSpaces(): Promise<string[]>;
  cpu(windowMs: number): Promise<CpuReading>;
  changes(perSecond: number, durationMs: number): Promise<{ sent: number; maxLagMs: number }>;
  cpuProfile(windowMs: number, path: string): Promise<CpuReading>;
  cpuProfileStart(): Promise<void>;
  cpuProfileStop(path: string): Promise<void>;
  heapSnapshot(path: string): Promise<void>;
  heapSamplingStart(mode?: HeapSampling): Promise<void>;
  heapSamplingStop(path: string): Promise<void>;
  shutdown(): Promise<{ ms: number }>;
  /** Removes the journal's temp dir and ends the process (its sockets die with it). */
  close(): Promise<void>;
}

/** Forks a side process; `execArgv` adds node flags (e.g. `--cpu-prof`). */
export function startSide(kind: SideKind, execArgv: string[] = []): SideHandle {
  const child = new Child(new URL(import.meta.url), { args: ["--bench-side-process"], execArgv: ["--expose-gc", ...execArgv] });
  return {
    kind,
    start: (users, gatewayUrl, heartbeatIntervalMs) => child.call("start", { kind, users, gatewayUrl, heartbeatIntervalMs }),
    playAll: (range) => child.call("playAll", range ?? {}),
    memory: () => child.call("memory"),
    stats: () => child.call("stats"),
    journalRecords: () => child.call("journalRecords"),
    heapSpaces: () => child.call("heapSpaces"),
    cpu: (windowMs) => child.call("cpu", { windowMs }),
    changes: (perSecond, durationMs) => child.call("changes", { perSecond, durationMs }),
    cpuProfile: (windowMs, path) => child.call("cpuProfile", { windowMs, path }),
    cpuProfileStart: () => child.call("cpuProfileStart").then(() => {}),
    cpuProfileStop: (path) => child.call("cpuProfileStop", { path }).then(() => {}),
    heapSnapshot: (path) => child.call("heapSnapshot", { path }).then(() => {}),
    heapSamplingStart: (mode = "live") => child.call("heapSamplingStart", { mode }).then(() => {}),
    heapSamplingStop: (path) => child.call("heapSamplingStop", { path }).then(() => {}),
    shutdown: () => child.call("shutdown"),
    close: async () => {
      // Only a clean exit writes a --cpu-prof / --heap-prof profile: when profiling, wait for a
      // busy side to get to the exit request; otherwise a killed side is as good as an exited one.
      const waitMs = execArgv.some((flag) => flag.endsWith("-prof")) ? 300_000 : 10_000;
      await Promise.race([child.call("exit").then(() => child.exited), new Promise((resolve) => setTimeout(resolve, waitMs).unref())]).catch(() => {});
      await child.kill();
    },
  };
}

if (process.argv.includes("--bench-side-process")) runSide();
