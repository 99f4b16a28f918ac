/**
 * One side of a network measurement, in a process of its own: nd-presence (`createPresenceService`
 * with the real JSONL journal) or the raw baseline (`RawClient`), for users `u0..uN-1` with tokens
 * `bench-uI`, driven by the parent over IPC (`startSide`).
 *
 * The process is forked with `--expose-gc`: memory is read after `global.gc()`, and only the chosen
 * side's modules are ever loaded, so the baseline read before the users exist holds no per-user
 * memory of either side.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Activity } from "../../src/actors/effects.ts";
import type { Track } from "../../src/actors/track.ts";
import { Child, epochNow, serve } from "./ipc.ts";

export type SideKind = "nd" | "raw";

export interface MemoryReading {
  rss: number;
  heapUsed: number;
}

export interface CpuReading {
  /** process.cpuUsage() user + system over the window, ms. */
  cpuMs: number;
  wallMs: number;
}

const APP_ID = "1234567890123456789";
const USER_AGENT = "nd-presence-bench/0.1";
/** A loopback port where nothing listens: any REST call would fail here, never leave the machine. */
const NOWHERE = "http://127.0.0.1:9";
const token = (user: string) => `bench-${user}`;

/** A track whose artist line carries its send time, for the gateway to read back. */
function trackAt(i: number, sentAt: number): Track {
  return { title: `Song ${i}`, artist: `t=${sentAt}`, album: "Bench Album", durationMs: 3_600_000 };
}

/** What nd-presence sends for that track, field for field, built by hand for the raw client. */
function rawActivity(track: Track, at: number): Activity {
  return {
    type: 2,
    name: "Navidrome",
    application_id: APP_ID,
    status_display_type: 2,
    details: track.title,
    state: track.artist,
    timestamps: { start: Math.round(at), end: Math.round(at + track.durationMs!) },
    assets: { large_text: track.album! },
  };
}

/** Shows track `i` for `user`, stamped with the time of the call. */
type Play = (user: string, i: number) => void;

function readMemory(): MemoryReading {
  // Several passes: the first may only promote what the next one frees.
  for (let i = 0; i < 3; i++) global.gc?.();
  const { rss, heapUsed } = process.memoryUsage();
  return { rss, heapUsed };
}

async function loadNd(users: number, gatewayUrl: string): Promise<{ play: Play; cleanup(): void }> {
  const { createPresenceService } = await import("../../src/service.ts");
  const { JsonlJournal } = await import("../../src/adapters/jsonl-journal.ts");
  const { silentLogger } = await import("../../src/adapters/logger.ts");
  const dir = mkdtempSync(join(tmpdir(), "nd-bench-"));
  const names = Array.from({ length: users }, (_, i) => `u${i}`);
  const service = createPresenceService({
    config: {
      // gatewayUrl set: no discovery. No MBIDs, no public URL, no default image: no REST at all.
      discord: { applicationId: APP_ID, apiBaseUrl: NOWHERE, gatewayUrl, userAgent: USER_AGENT },
      presence: { links: "none" },
      artwork: { order: ["coverartarchive", "public"], defaultImage: null, coverArtArchiveUrl: NOWHERE },
      users: names.map((username) => ({ username, discordToken: token(username) })),
    },
    journal: new JsonlJournal({ path: join(dir, "journal.jsonl"), logger: silentLogger }),
    logger: silentLogger,
  });
  await service.start();
  return {
    play: (user, i) => {
      const at = epochNow();
      service.dispatch({ type: "playback.playing", user, track: trackAt(i, at), positionMs: 0 });
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

async function loadRaw(gatewayUrl: string): Promise<{ play: Play; cleanup(): void }> {
  const { RawClient } = await import("./raw-client.ts");
  const client = new RawClient({ url: gatewayUrl, userAgent: USER_AGENT, tokenFor: token });
  return {
    play: (user, i) => {
      const at = epochNow();
      client.present(user, rawActivity(trackAt(i, at), at));
    },
    cleanup: () => {},
  };
}

function runSide(): void {
  let users = 0;
  let side: { play: Play; cleanup(): void } | null = null;
  const ready = () => {
    if (!side) throw new Error("side: start first");
    return side;
  };

  serve({
    /** Loads the side's modules first (not counted per user), then reads the baseline memory. */
    async start({ kind, users: n, gatewayUrl }: { kind: SideKind; users: number; gatewayUrl: string }) {
      users = n;
      // Load the code before the baseline, so that only what the users cost is counted.
      if (kind === "nd") await import("../../src/service.ts");
      else await import("./raw-client.ts");
      const before = readMemory();
      side = kind === "nd" ? await loadNd(n, gatewayUrl) : await loadRaw(gatewayUrl);
      return { before, gc: typeof global.gc === "function" };
    },
    /** Every user starts playing: each connects, identifies and presents. */
    playAll() {
      const { play } = ready();
      const firstAt = epochNow();
      for (let i = 0; i < users; i++) play(`u${i}`, i);
      return { firstAt, lastAt: epochNow() };
    },
    memory: () => readMemory(),
    async cpu({ windowMs }: { windowMs: number }): Promise<CpuReading> {
      const start = process.cpuUsage();
      const t0 = performance.now();
      await new Promise((resolve) => setTimeout(resolve, windowMs));
      const used = process.cpuUsage(start);
      return { cpuMs: (used.user + used.system) / 1000, wallMs: performance.now() - t0 };
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
    exit() {
      side?.cleanup();
      setImmediate(() => process.exit(0));
    },
  });
}

/** The parent's handle on a side process. */
export interface SideHandle {
  kind: SideKind;
  start(users: number, gatewayUrl: string): Promise<{ before: MemoryReading; gc: boolean }>;
  playAll(): Promise<{ firstAt: number; lastAt: number }>;
  memory(): Promise<MemoryReading>;
  cpu(windowMs: number): Promise<CpuReading>;
  changes(perSecond: number, durationMs: number): Promise<{ sent: number; maxLagMs: number }>;
  /** Removes the journal's temp dir and ends the process (its sockets die with it). */
  close(): Promise<void>;
}

/** Forks a side process; `execArgv` adds node flags (e.g. `--cpu-prof`). */
export function startSide(kind: SideKind, execArgv: string[] = []): SideHandle {
  const child = new Child(new URL(import.meta.url), { args: ["--side"], execArgv: ["--expose-gc", ...execArgv] });
  return {
    kind,
    start: (users, gatewayUrl) => child.call("start", { kind, users, gatewayUrl }),
    playAll: () => child.call("playAll"),
    memory: () => child.call("memory"),
    cpu: (windowMs) => child.call("cpu", { windowMs }),
    changes: (perSecond, durationMs) => child.call("changes", { perSecond, durationMs }),
    close: async () => {
      // Only a clean exit writes a --cpu-prof / --heap-prof profile: when profiling, wait for a
      // busy side to get to the exit request; otherwise a killed side is as good as an exited one.
      const waitMs = execArgv.some((flag) => flag.endsWith("-prof")) ? 300_000 : 10_000;
      await Promise.race([child.call("exit").then(() => child.exited), new Promise((resolve) => setTimeout(resolve, waitMs).unref())]).catch(() => {});
      await child.kill();
    },
  };
}

if (process.argv.includes("--side")) runSide();
