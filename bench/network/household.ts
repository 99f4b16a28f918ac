/**
 * household: the resident memory of nd-presence for one user, started as the README documents it
 * (`node dist/cli/main.js start`, the build: bench/built.ts), as a small household runs it. Target <= 50 MiB
 * (issue 16; Navicord, one process per user, holds 28 MB).
 *
 * The CLI runs as a child process with a one-user config: the Subsonic source polling a fake
 * Navidrome (fake-navidrome.ts, in this process) that plays one hour-long track, the HTTP server
 * (status page) on a free port, the journal in a temp dir, Discord's gateway the bench's fake
 * (with the run's account traffic: a large READY, dispatches), REST and artwork pointed at a port
 * where nothing listens. Once the gateway has the user's presence, and a settle of 10 s (3 s
 * quick) of steady running, VmRSS is read from /proc/<pid>/status (VmHWM, the peak, is logged);
 * then SIGTERM, and the stop is checked (the presence cleared, the socket closed with 1000).
 *
 * Raw: one user's raw client (household-raw.ts), compiled by the same tsc and run by plain node,
 * read the same way. What node with nothing else holds is logged too, the floor under both.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { builtCli, builtScript } from "../built.ts";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BenchOptions, Figure } from "../figures.ts";
import { describeTraffic } from "./account/traffic.ts";
import { APP_ID, NOWHERE, tokenFor } from "./bench-client.ts";
import { startFakeNavidrome } from "./fake-navidrome.ts";
import { type GatewayHandle, startGateway } from "./gateway-process.ts";
import { REAL_HEARTBEAT_MS, sleep } from "./session.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const USER = "u0";
/** How long a start may take until the presence is at the gateway (a Subsonic poll is every 2 s). */
const PRESENTING_TIMEOUT_MS = 30_000;

interface Memory {
  rssMiB: number;
  peakMiB: number;
}

const none: Memory = { rssMiB: Number.NaN, peakMiB: Number.NaN };

/** VmRSS and VmHWM of a process, MiB (Linux only: null elsewhere). */
function processMemory(pid: number): Memory | null {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return null;
  }
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN);
  return { rssMiB: kib("VmRSS") / 1024, peakMiB: kib("VmHWM") / 1024 };
}

/**
 * Runs `args` (a node command) until the gateway has one presence and the settle is over, reads
 * its memory, then stops it with SIGTERM. Null memory when it never presented or exited early.
 */
async function measureProcess(label: string, args: string[], env: NodeJS.ProcessEnv, gateway: GatewayHandle, options: BenchOptions): Promise<Memory> {
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ["ignore", "ignore", "pipe"] });
  let output = "";
  child.stderr!.on("data", (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4_000)));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  try {
    const presented = await Promise.race([
      gateway.waitPresented(1, PRESENTING_TIMEOUT_MS).then(() => true, () => false),
      exited.then(() => false),
    ]);
    if (!presented) {
      options.log(`  ${label}: not presenting within ${PRESENTING_TIMEOUT_MS / 1000} s; its output ends:\n${output}`);
      return none;
    }
    await sleep(options.quick ? 3_000 : 10_000);
    const memory = processMemory(child.pid!);
    if (!memory) options.log(`  ${label}: no /proc/${child.pid}/status (not Linux?): no reading`);
    await gateway.reset();
    const code = await stop(child, exited);
    const stats = await gateway.stats();
    const clean = stats.cleared >= 1 && stats.closedNormally >= 1;
    options.log(
      `  ${label}: RSS ${memory?.rssMiB.toFixed(1)} MiB (peak ${memory?.peakMiB.toFixed(1)} MiB); SIGTERM: exit ${code}, ${
        clean ? "presence cleared and closed with 1000" : `NOT stopped cleanly (gateway: ${stats.cleared} cleared, ${stats.closedNormally} closed with 1000)`
      }`,
    );
    return memory ?? none;
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
}

/** SIGTERM, then the exit code; SIGKILL after 10 s (the CLI gives its stop 5 s). */
async function stop(child: ChildProcess, exited: Promise<number | null>): Promise<number | null | "killed"> {
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  const code = await exited;
  clearTimeout(timer);
  return child.signalCode === "SIGKILL" ? "killed" : code;
}

/** The one-user config of a household: Navidrome polled, the status page on, the journal kept. */
function householdConfig(dir: string, gatewayUrl: string, navidromeUrl: string): string {
  const path = join(dir, "nd-presence.json");
  const config = {
    discord: { applicationId: APP_ID, apiBaseUrl: NOWHERE, gatewayUrl },
    artwork: { defaultImage: null, coverArtArchiveUrl: NOWHERE, musicBrainzLookup: false },
    sources: { subsonic: { url: navidromeUrl, username: "admin", password: "env:ND_BENCH_PASSWORD", pollIntervalMs: 2_000 } },
    http: { port: 0 },
    journal: { path: join(dir, "journal.jsonl") },
    users: [{ username: USER, discordToken: "env:ND_BENCH_TOKEN" }],
  };
  writeFileSync(path, JSON.stringify(config, null, 2));
  return path;
}

async function measureService(options: BenchOptions): Promise<Memory> {
  const dir = mkdtempSync(join(tmpdir(), "nd-bench-household-"));
  const gateway = await startGateway(REAL_HEARTBEAT_MS, options.account);
  const navidrome = await startFakeNavidrome(USER);
  try {
    const config = householdConfig(dir, gateway.url, navidrome.url);
    const env = { ...process.env, ND_BENCH_TOKEN: tokenFor(USER), ND_BENCH_PASSWORD: "bench-password" };
    return await measureProcess("nd-presence", [builtCli(), "start", "--config", config], env, gateway, options);
  } finally {
    await navidrome.close();
    await gateway.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function measureRaw(options: BenchOptions): Promise<Memory> {
  const gateway = await startGateway(REAL_HEARTBEAT_MS, options.account);
  try {
    return await measureProcess("raw", [builtScript("bench/network/household-raw.ts"), gateway.url], process.env, gateway, options);
  } finally {
    await gateway.close();
  }
}

/** RSS of `node` running nothing, MiB: the floor under both readings. */
async function nodeAlone(): Promise<number> {
  const child = spawn(process.execPath, ["-e", "console.error('ready'); setInterval(() => {}, 1 << 30)"], {
    cwd: ROOT,
    stdio: ["ignore", "ignore", "pipe"],
  });
  try {
    await new Promise<void>((resolve, reject) => {
      child.stderr!.on("data", (chunk: Buffer) => chunk.toString().includes("ready") && resolve());
      child.once("exit", () => reject(new Error("exited")));
    });
    await sleep(1_000);
    return processMemory(child.pid!)?.rssMiB ?? Number.NaN;
  } catch {
    return Number.NaN;
  } finally {
    child.kill("SIGKILL");
  }
}

export async function household(options: BenchOptions): Promise<Figure[]> {
  options.log(`  gateway: ${describeTraffic(options.account)}`);
  options.log(`  node and nothing else: RSS ${(await nodeAlone()).toFixed(1)} MiB`);
  const raw = await measureRaw(options);
  const nd = await measureService(options);
  return [
    {
      scenario: "household",
      metric: "RSS of a one-user household, started as documented",
      unit: "MiB",
      ndPresence: nd.rssMiB,
      raw: raw.rssMiB,
      better: "lower",
      target: { op: "<=", value: 50 },
      account: options.account,
    },
  ];
}
