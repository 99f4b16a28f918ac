import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { memoryLogger } from "../src/adapters/logger.ts";
import { type App, startApp } from "../src/app.ts";
import type { ServiceConfig } from "../src/config/service-config.ts";
import { FakeDiscordRest, FakeImageHost } from "./fakes/discord-rest.ts";
import { FakeGateway } from "./fakes/gateway.ts";
import { APP_ID, song, TOKENS } from "./harness.ts";

// A journal that cannot be written (an unwritable data folder here; a full disk takes the same
// path) does not stop the service, but an operator must see it: /healthz answers 503 with the
// reason, /status, the page and /metrics say so, and it clears once a write goes through again.
let app: App | undefined;
const fakes: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await app?.stop();
  app = undefined;
  await Promise.all(fakes.splice(0).map((fake) => fake.close()));
});

const activityOf = (d: unknown) => (d as { activities: Array<{ details?: string }> }).activities[0] ?? null;

describe("a journal that cannot be written", () => {
  it("is reported by /healthz, /status, the page and /metrics; presences go on; it clears when writes work again", async () => {
    const gateway = await FakeGateway.start({ validTokens: Object.values(TOKENS) });
    const rest = await FakeDiscordRest.start({ gatewayUrl: gateway.url, validTokens: Object.values(TOKENS) });
    const images = await FakeImageHost.start({ known: [] });
    fakes.push(gateway, rest, images);
    const dir = mkdtempSync(join(tmpdir(), "nd-presence-journal-failure-"));
    // The data folder's place is taken by a file: no folder can be made there (EEXIST), even as root.
    const blocker = join(dir, "data");
    writeFileSync(blocker, "not a folder");
    const config: ServiceConfig = {
      discord: { applicationId: APP_ID, apiBaseUrl: rest.url },
      artwork: { coverArtArchiveUrl: images.url, musicBrainzLookup: false },
      http: { host: "127.0.0.1", port: 0 },
      journal: { path: join(blocker, "journal.jsonl") },
      users: [{ username: "alice", discordToken: TOKENS.alice }],
    };
    const logger = memoryLogger();
    app = await startApp(config, { logger });
    const base = `http://127.0.0.1:${app.httpPort}`;
    const get = async (path: string) => {
      const response = await fetch(`${base}${path}`);
      return { status: response.status, text: await response.text() };
    };

    // The start-up checkpoint could not be saved: already reported.
    expect(logger.entries).toContainEqual(
      expect.objectContaining({ level: "error", message: "journal checkpoint could not be saved, so the journal was not compacted" }),
    );
    const health = await get("/healthz");
    expect(health.status).toBe(503);
    expect(JSON.parse(health.text).reasons).toEqual([expect.stringMatching(/^journal: cannot be written \(checkpoint: EEXIST/)]);

    // Playback still reaches Discord; each input's append fails (the playback, the gateway's
    // hello and ready), and is counted.
    app.service.dispatch({ type: "playback.playing", user: "alice", track: song, positionMs: 0 });
    await gateway.waitForFrame((f) => f.op === 3 && activityOf(f.d)?.details === song.title, 10_000);
    const status = JSON.parse((await get("/status")).text);
    expect(status.journal).toEqual({ writable: false, failures: expect.any(Number), lastError: expect.stringMatching(/^append: EEXIST/) });
    const failures: number = status.journal.failures;
    expect(failures).toBeGreaterThanOrEqual(4); // the checkpoint, the playback, hello, ready
    expect(status.users[0].state).toBe("presenting.playing");
    const failing = (await get("/metrics")).text;
    expect(failing).toMatch(/^nd_presence_journal_writable 0$/m);
    expect(Number(/^nd_presence_journal_write_failures_total (\d+)$/m.exec(failing)?.[1])).toBeGreaterThanOrEqual(failures);
    expect((await get("/")).text).toContain("<strong>Journal:</strong> cannot be written (append: EEXIST");
    expect(logger.entries.filter((e) => e.message.startsWith("journal append failed"))).toHaveLength(1);

    // The operator fixes the folder: the next input is written, and everything says so.
    rmSync(blocker);
    app.service.dispatch({ type: "playback.paused", user: "alice", positionMs: 1_000 });
    expect((await get("/healthz")).status).toBe(200);
    const recovered = JSON.parse((await get("/status")).text).journal;
    expect(recovered).toEqual({ writable: true, failures: expect.any(Number), lastError: null });
    expect(recovered.failures).toBeGreaterThanOrEqual(failures);
    const metrics = (await get("/metrics")).text;
    expect(metrics).toMatch(/^nd_presence_journal_writable 1$/m);
    expect(metrics).toMatch(new RegExp(`^nd_presence_journal_write_failures_total ${recovered.failures}$`, "m"));
    expect((await get("/")).text).not.toContain("<strong>Journal:</strong>");
    expect(logger.entries).toContainEqual(expect.objectContaining({ level: "info", message: "journal: writing again" }));
  }, 30_000);
});
