import { execFile } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { createHttpServer, type HttpServer } from "../src/adapters/http/server.ts";
import type { SourceStatus } from "../src/adapters/http/metrics.ts";
import { type Harness, song, startHarness, TOKENS } from "./harness.ts";
import { until } from "./fakes/wait.ts";

// The status page (docs/architecture.md "Service contract": readable in a browser without any external asset),
// rendered by a REAL headless Chromium against the real service.

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARTIFACT = join(dirname(fileURLToPath(import.meta.url)), "artifacts", "status-page.png");
const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

let h: Harness | undefined;
let http: HttpServer | undefined;
const temps: string[] = [];
afterEach(async () => {
  await http?.close();
  await h?.close();
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Runs Chromium headless with a fresh profile; resolves with its stdout. */
function chromium(url: string, extra: string[]): Promise<string> {
  const profile = mkdtempSync(join(tmpdir(), "nd-presence-chromium-"));
  temps.push(profile);
  const args = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--hide-scrollbars",
    `--user-data-dir=${profile}`,
    "--window-size=1000,900",
    "--virtual-time-budget=2000",
    ...extra,
    url,
  ];
  return new Promise((resolve, reject) => {
    execFile(CHROMIUM, args, { timeout: 40_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`chromium failed (${error.message}):\n${stderr.slice(-2000)}`));
      else resolve(stdout);
    });
  });
}

describe("status page in headless Chromium", () => {
  it("renders users, what they show and the sources; screenshot saved as an artifact", { timeout: 60_000 }, async () => {
    // Fail, never skip: a missing browser must not pass CI silently.
    if (!existsSync(CHROMIUM)) {
      throw new Error(`Chromium not found at ${CHROMIUM}: install it (apt-get install chromium) or set CHROMIUM_PATH`);
    }
    h = await startHarness({
      users: [
        { username: "alice", discordToken: TOKENS.alice },
        { username: "bob", discordToken: TOKENS.bob },
        { username: "carol", discordToken: "not-a-valid-discord-token" },
      ],
    });
    h.play(song);
    await h.waitForPresence((activity) => activity?.details === song.title);
    h.play(song, { user: "carol" });
    await until(() => h!.service.status().users[2]?.state === "failed", 3000, "carol to fail");
    // 83 s into the track, in steps so that heartbeats are acknowledged on the way.
    for (let i = 0; i < 8; i++) await h.advance(10_000);
    await h.advance(3_000);

    const sources: SourceStatus[] = [
      { name: "listenbrainz", ok: true, lastError: null, listens: 12, nowPlaying: 3, errors: 0, forwarded: 15, forwardErrors: 0 },
      { name: "subsonic", ok: false, lastError: "GET http://127.0.0.1:4533/rest/getNowPlaying: HTTP 503", polls: 41, errors: 2 },
    ];
    const harness = h;
    http = createHttpServer({
      port: 0,
      status: () => harness.service.status(),
      sources: () => sources,
      logger: harness.logger,
      now: () => harness.clock.now(),
    });
    const url = `http://127.0.0.1:${await http.listen()}/`;

    const shots = mkdtempSync(join(tmpdir(), "nd-presence-shot-"));
    temps.push(shots);
    const png = join(shots, "status.png");
    await chromium(url, [`--screenshot=${png}`]);
    expect(existsSync(png), "Chromium wrote the screenshot").toBe(true);
    const bytes = readFileSync(png);
    expect(bytes.subarray(0, 8).equals(PNG_MAGIC), "PNG signature").toBe(true);
    expect(statSync(png).size).toBeGreaterThan(10 * 1024);
    mkdirSync(dirname(ARTIFACT), { recursive: true });
    copyFileSync(png, ARTIFACT);

    const dom = await chromium(url, ["--dump-dom"]);
    expect(dom).toContain("alice");
    expect(dom).toContain("presenting.playing");
    expect(dom).toContain(song.title);
    expect(dom).toContain("1:23 / 4:49");
    expect(dom).toContain("carol");
    expect(dom).toContain("failed");
    expect(dom).not.toContain("<script");
    for (const secret of Object.values(TOKENS)) expect(dom).not.toContain(secret);
  });
});
