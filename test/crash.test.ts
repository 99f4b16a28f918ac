import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FakeDiscordRest, FakeImageHost } from "./fakes/discord-rest.ts";
import { FakeGateway } from "./fakes/gateway.ts";
import { withTimeout } from "./fakes/wait.ts";
import { APP_ID, TOKENS } from "./harness.ts";

// docs/architecture.md, "Event sourcing": the real CLI is killed with SIGKILL mid-track and started again on
// the same journal. Discord (the fake gateway) sees the session resumed, nothing shown twice, and
// the presence cleared at the track's original end.
const LB_TOKEN = "lb-alice-SECRET-crash-0000";
const TRACK_MS = 4_000;
const GRACE_MS = 100;

const children: ChildProcess[] = [];
const fakes: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  await Promise.all(fakes.splice(0).map((fake) => fake.close()));
});

interface Cli {
  child: ChildProcess;
  output: () => string;
  /** The HTTP server's port, once the CLI says it listens. */
  port: () => Promise<number>;
  /** Resolves once a held CLI has loaded its modules (see `release`). */
  loaded: () => Promise<void>;
  /** Lets a held CLI start. */
  release: () => void;
}

/**
 * Runs `nd-presence start`. A `held` one loads its runtime and modules at once but starts only on
 * `release()` (test/fakes/cli-start-gate.ts), so that a restart does not wait for them: on a busy
 * machine they take seconds, longer than the track the restart must land in.
 */
function startCli(configPath: string, { held = false } = {}): Cli {
  const deno = "Deno" in globalThis;
  const gate = held ? [deno ? "--preload" : "--import", new URL("./fakes/cli-start-gate.ts", import.meta.url).href] : [];
  const runtime = deno ? ["run", "-A", ...gate, "src/cli/main.ts"] : ["--import", "tsx", ...gate, "src/cli/main.ts"];
  const child = spawn(process.execPath, [...runtime, "start", "--config", configPath], {
    cwd: new URL("..", import.meta.url).pathname,
    env: { ...process.env, DISCORD_TOKEN_ALICE: TOKENS.alice, LB_ALICE: LB_TOKEN },
    stdio: [held ? "pipe" : "ignore", "pipe", "pipe"],
  });
  children.push(child);
  const output = watchOutput(child);
  return {
    child,
    output: output.text,
    port: () => output.printed(/listening on http:\/\/127\.0\.0\.1:(\d+)/, "the HTTP server").then((m) => Number(m[1])),
    loaded: () => output.printed(/start gate: modules loaded/, "its modules to load").then(() => undefined),
    release: () => void child.stdin!.write("go\n"),
  };
}

/** What `child` prints on stdout and stderr, and a wait for a line of it that ends as soon as it is printed. */
function watchOutput(child: ChildProcess) {
  let text = "";
  const checks = new Set<() => void>();
  const append = (chunk: Buffer) => {
    text += chunk.toString();
    for (const check of checks) check();
  };
  child.stdout!.on("data", append);
  child.stderr!.on("data", append);
  child.once("exit", () => checks.forEach((check) => check()));
  /** The first match of `pattern`; rejects if the child exits without printing it. */
  const printed = (pattern: RegExp, what: string): Promise<RegExpExecArray> => {
    const found = new Promise<RegExpExecArray>((resolve, reject) => {
      const check = () => {
        const match = pattern.exec(text);
        const exited = child.exitCode !== null || child.signalCode !== null;
        if (match) resolve(match);
        else if (exited) reject(new Error(`the CLI exited before ${what}:\n${text}`));
        if (match || exited) checks.delete(check);
      };
      checks.add(check);
      check();
    });
    return withTimeout(found, 15_000, what);
  };
  return { text: () => text, printed };
}

const isClear = (d: unknown) => (d as { activities: unknown[] }).activities.length === 0;

describe("crash recovery, end to end", () => {
  it("after SIGKILL mid-track, the restarted service resumes the session and still clears at the original end", async () => {
    const gateway = await FakeGateway.start({ validTokens: [TOKENS.alice] });
    const rest = await FakeDiscordRest.start({ gatewayUrl: gateway.url, validTokens: [TOKENS.alice] });
    const images = await FakeImageHost.start({ known: [] });
    fakes.push(gateway, rest, images);
    const dir = mkdtempSync(join(tmpdir(), "nd-presence-crash-"));
    const journalPath = join(dir, "data", "journal.jsonl");
    const configPath = join(dir, "nd-presence.json");
    writeFileSync(
      configPath,
      JSON.stringify({
        discord: { applicationId: APP_ID, apiBaseUrl: rest.url },
        artwork: { coverArtArchiveUrl: images.url, musicBrainzLookup: false },
        sources: { listenbrainz: { enabled: true } },
        http: { port: 0 },
        journal: { path: journalPath },
        gateway: { endGraceMs: GRACE_MS },
        users: [{ username: "alice", discordToken: "env:DISCORD_TOKEN_ALICE", listenbrainzToken: "env:LB_ALICE" }],
      }),
    );

    const first = startCli(configPath);
    // The restart, made ready before the track starts, so that it lands mid-track however long a
    // busy machine takes to load a runtime and modules.
    const second = startCli(configPath, { held: true });
    await second.loaded();
    const listen = {
      listen_type: "playing_now",
      payload: [{ track_metadata: { artist_name: "Portishead", track_name: "Roads", additional_info: { duration_ms: TRACK_MS } } }],
    };
    const postedAt = Date.now();
    const posted = await fetch(`http://127.0.0.1:${await first.port()}/1/submit-listens`, {
      method: "POST",
      headers: { Authorization: `Token ${LB_TOKEN}`, "Content-Type": "application/json" },
      body: JSON.stringify(listen),
    });
    expect(posted.status).toBe(200);
    const shown = await gateway.waitForFrame((f) => f.op === 3 && !isClear(f.d), 10_000);
    const { start, end } = (shown.d as { activities: Array<{ timestamps: { start: number; end: number } }> }).activities[0]!.timestamps;
    expect(end - start).toBe(TRACK_MS);
    expect(start).toBeGreaterThanOrEqual(postedAt - 5);
    const sessionId = gateway.connections[0]!.sessionId;

    first.child.kill("SIGKILL");
    await new Promise((resolve) => first.child.once("exit", resolve));
    expect(readFileSync(journalPath, "utf8")).not.toContain(TOKENS.alice);

    second.release();
    await second.port();
    // The session is resumed (nothing to identify, nothing to show again)...
    const resume = await gateway.waitForFrame((f) => f.op === 6, 10_000);
    expect(resume.at, "the restarted service was back before the track ended").toBeLessThan(end + GRACE_MS);
    expect((resume.d as { session_id: string }).session_id).toBe(sessionId);
    expect(gateway.frames.filter((f) => f.op === 2)).toHaveLength(1);
    // ...and the presence is cleared at the original end (plus the grace), not before.
    const clear = await gateway.waitForFrame((f) => f.op === 3 && isClear(f.d), TRACK_MS + 5_000);
    expect(clear.connection).toBe(resume.connection);
    expect(clear.at).toBeGreaterThanOrEqual(end + GRACE_MS);
    expect(clear.at).toBeLessThan(end + GRACE_MS + 1_000);
    expect(gateway.frames.filter((f) => f.op === 3 && !isClear(f.d))).toHaveLength(1);

    process.kill(second.child.pid!, "SIGTERM");
    const code = await new Promise((resolve) => second.child.once("exit", (c) => resolve(c)));
    expect(code).toBe(0);
    expect(first.output() + second.output()).not.toContain(TOKENS.alice);
  }, 40_000);
});
