import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FakeDiscordRest, FakeImageHost } from "./fakes/discord-rest.ts";
import { FakeGateway } from "./fakes/gateway.ts";
import { until } from "./fakes/wait.ts";
import { APP_ID, TOKENS } from "./harness.ts";

// DESIGN.md, "Event sourcing": the real CLI is killed with SIGKILL mid-track and started again on
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

function startCli(configPath: string): { child: ChildProcess; output: () => string; port: Promise<number> } {
  const runtime = "Deno" in globalThis ? ["run", "-A", "src/cli/main.ts"] : ["--import", "tsx", "src/cli/main.ts"];
  const child = spawn(process.execPath, [...runtime, "start", "--config", configPath], {
    cwd: new URL("..", import.meta.url).pathname,
    env: { ...process.env, DISCORD_TOKEN_ALICE: TOKENS.alice, LB_ALICE: LB_TOKEN },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const port = until(() => /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(output), 15_000, "the HTTP server").then((m) => Number(m[1]));
  return { child, output: () => output, port };
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
        artwork: { coverArtArchiveUrl: images.url },
        sources: { listenbrainz: { enabled: true } },
        http: { port: 0 },
        journal: { path: journalPath },
        gateway: { endGraceMs: GRACE_MS },
        users: [{ username: "alice", discordToken: "env:DISCORD_TOKEN_ALICE", listenbrainzToken: "env:LB_ALICE" }],
      }),
    );

    const first = startCli(configPath);
    const listen = {
      listen_type: "playing_now",
      payload: [{ track_metadata: { artist_name: "Portishead", track_name: "Roads", additional_info: { duration_ms: TRACK_MS } } }],
    };
    const postedAt = Date.now();
    const posted = await fetch(`http://127.0.0.1:${await first.port}/1/submit-listens`, {
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

    const second = startCli(configPath);
    await second.port;
    // The session is resumed (nothing to identify, nothing to show again)...
    const resume = await gateway.waitForFrame((f) => f.op === 6, 10_000);
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
