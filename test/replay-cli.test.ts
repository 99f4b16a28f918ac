import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JsonlJournal } from "../src/adapters/journal/jsonl-journal.ts";
import { memoryLogger } from "../src/adapters/logger.ts";
import type { TraceRecord } from "../src/service/trace.ts";
import { APP_ID, otherSong, preciseClock, song, startHarness, TOKENS } from "./harness.ts";

// `nd-presence replay` as a user runs it: a child process, on a journal a real service wrote.
const tsx = fileURLToPath(new URL("../node_modules/.bin/tsx", import.meta.url));
const main = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "nd-presence-replay-"));
const journalPath = join(dir, "data", "journal.jsonl");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const timeout = 20_000;
const secret = new RegExp(Object.values(TOKENS).join("|"));
/** How many presence updates (op 3) the fake gateway received in the live run. */
let presenceFrames = 0;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], extraEnv: Record<string, string> = {}): Promise<Run> {
  // The caller's ND_PRESENCE_CONFIG would make the replay read a config; cwd has none.
  const { ND_PRESENCE_CONFIG: _ignored, ...env } = process.env;
  const child = spawn(tsx, [main, ...args], { cwd: dir, env: { ...env, ...extraEnv }, stdio: ["ignore", "pipe", "pipe"] });
  const out = { stdout: "", stderr: "" };
  child.stdout.on("data", (chunk: Buffer) => (out.stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (out.stderr += chunk.toString()));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, ...out })));
}

beforeAll(async () => {
  // A precise clock fires each timer at its due time, as the replay does: the live run and the
  // timeline then agree to the millisecond.
  const h = await startHarness({ clock: preciseClock(), journal: new JsonlJournal({ path: journalPath, logger: memoryLogger() }) });
  try {
    h.play(song, { positionMs: 30_000 });
    await h.waitForPresence((a) => a?.details === song.title);
    await h.advance(20_000);
    h.dispatch({ type: "playback.paused", user: "alice", positionMs: 50_000 });
    await h.waitForPresence((a) => a?.assets?.small_text === "Paused");
    await h.advance(10_000);
    h.play(song, { positionMs: 50_000 });
    await h.advance(10_000);
    h.play(otherSong);
    await h.waitForPresence((a) => a?.details === otherSong.title);
    // Past the end of the second track, then a clean stop: it is journaled, so the replay's
    // clock, which only moves with the journal, passes the end too.
    for (let i = 0; i < 8; i++) await h.advance(41_250);
    await h.waitForPresence((a) => a === null);
    presenceFrames = h.framesWithOp(3).length;
    await h.service.stop();
  } finally {
    await h.close();
  }
}, timeout);

describe("nd-presence replay", () => {
  it("prints each presence update with its cause, and the state changes under it", { timeout }, async () => {
    const result = await run(["replay", "--journal", journalPath]);
    expect(result.code).toBe(0);
    const lines = result.stdout.split("\n");
    const updates = lines.filter((line) => /^\d{4}-/.test(line));
    // One line per op 3 the gateway received, no more, no less.
    expect(updates.length).toBe(presenceFrames);
    expect(updates[0]).toMatch(/^2024-11-23T19:33:20\.000Z {2}alice {2}shows "Pyramid Song" — Radiohead \(0:30 \/ 4:49\) {2}← gateway\.ready #\d+$/);
    expect(updates).toContainEqual(expect.stringMatching(/ {2}alice {2}shows "Pyramid Song" — Radiohead \(Paused at 0:50\) {2}← playback\.paused #\d+$/));
    expect(updates).toContainEqual(expect.stringMatching(/ {2}alice {2}shows "Pyramid Song" — Radiohead \(0:50 \/ 4:49\) {2}← playback\.playing #\d+$/));
    expect(updates).toContainEqual(expect.stringMatching(/ {2}alice {2}shows "Knives Out" — Radiohead \(0:00 \/ 4:15\) {2}← \S+ #\d+$/));
    expect(updates.at(-1)).toMatch(/ {2}alice {2}cleared {2}← track\.ended \(timer\)$/);
    // Quieter, indented: why the first presence went out when it did.
    expect(lines).toContainEqual(expect.stringMatching(/^ {4}\S+ {2}alice {2}socket\.open #1 {2}← gateway\.discovered #\d+$/));
    expect(lines).toContainEqual(expect.stringMatching(/^ {4}\S+ {2}alice {2}identify \(op 2\) on #1 {2}← gateway\.hello #\d+$/));
    expect(lines).toContainEqual(expect.stringMatching(/^ {4}\S+ {2}alice {2}state presenting\.paused$/));
    expect(result.stdout + result.stderr).not.toMatch(secret);
  });

  it("filters by --user, prints JSON records with --json, and uses a config without its secrets", { timeout }, async () => {
    const config = join(dir, "nd-presence.test.json");
    writeFileSync(config, JSON.stringify({ discord: { applicationId: APP_ID }, users: [{ username: "alice", discordToken: "env:REPLAY_TEST_TOKEN" }] }));
    const [bob, json, withConfig, unsetEnv] = await Promise.all([
      run(["replay", "--journal", journalPath, "--user", "bob"]),
      run(["replay", "--journal", journalPath, "--json", "--user", "alice"]),
      run(["replay", "--journal", journalPath, "--config", config], { REPLAY_TEST_TOKEN: TOKENS.alice }),
      // A replay needs no secret: an unset variable gets a placeholder.
      run(["replay", "--journal", journalPath, "--config", config]),
    ]);
    expect(bob.code).toBe(0);
    expect(bob.stdout).not.toContain("alice");
    expect(json.code).toBe(0);
    const records = json.stdout.trim().split("\n").map((line) => JSON.parse(line) as TraceRecord);
    expect(records.length).toBeGreaterThan(presenceFrames);
    expect(records.every((record) => record.user === "alice" && record.live === false)).toBe(true);
    expect(records.filter((r) => r.kind === "effect" && r.effect.type === "socket.send" && r.effect.frame.op === 3).length).toBe(presenceFrames);
    for (const result of [withConfig, unsetEnv]) {
      expect(result.code).toBe(0);
      expect(result.stdout).toContain("cleared  ← track.ended (timer)");
    }
    expect([bob, json, withConfig, unsetEnv].map((r) => r.stdout + r.stderr).join("\n")).not.toMatch(secret);
  });

  it("leaves a torn journal as it is, and exits 2 for a journal it cannot read", { timeout }, async () => {
    const torn = join(dir, "torn.jsonl");
    const text = `${readFileSync(journalPath, "utf8")}{"v":1,"seq":999,"at":`;
    writeFileSync(torn, text);
    const [tornRun, missing, folder, usage] = await Promise.all([
      run(["replay", "--journal", torn]),
      run(["replay", "--journal", join(dir, "nope.jsonl")]),
      run(["replay", "--journal", dir]),
      run(["replay"]),
    ]);
    expect(tornRun.code).toBe(0);
    expect(tornRun.stderr).toContain("torn last line");
    expect(tornRun.stdout).toContain("cleared  ← track.ended (timer)");
    expect(readFileSync(torn, "utf8")).toBe(text);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("nope.jsonl (no such file)");
    expect(folder.code).toBe(2);
    expect(folder.stderr).toContain("is a directory");
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("--journal PATH is required");
  });
});
