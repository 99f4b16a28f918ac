import { createServer, type Server } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { type InspectionEvent, SimulatedClock } from "xstate";
import { type Inspector, startInspector } from "../src/adapters/http/inspector.ts";
import { memoryLogger } from "../src/adapters/logger.ts";
import type { ServiceConfig } from "../src/config/service-config.ts";
import { createPresenceService, type PresenceService } from "../src/service/service.ts";
import { FakeDiscordRest, FakeImageHost } from "./fakes/discord-rest.ts";
import { FakeGateway } from "./fakes/gateway.ts";
import { until } from "./fakes/wait.ts";
import { APP_ID, RELEASE_MBID, song, T0, TOKENS } from "./harness.ts";
import { spellingsIn, spellingsOf } from "./secret-spellings.ts";

interface Message {
  type: string;
  name?: string;
  sessionId: string;
  parentId?: string;
  snapshot?: { status?: string; value?: unknown; context?: unknown };
  event?: { type: string };
}

/** A viewer as the browser page is one: a WebSocket client of the relay that only listens. */
async function connectViewer(inspector: Inspector, origin?: string) {
  const ws = new WebSocket(inspector.url.replace(/^http/, "ws"), origin ? { origin } : {});
  const raw: string[] = [];
  ws.on("message", (data) => raw.push(data.toString()));
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  cleanups.push(async () => ws.close());
  return { ws, raw, messages: () => raw.map((text) => JSON.parse(text) as Message) };
}

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** The service under a simulated clock, wired to loopback fakes and to a running inspector. */
async function startWithInspector() {
  const clock = new SimulatedClock();
  clock.set(T0);
  const gateway = await FakeGateway.start({ heartbeatIntervalMs: 41_250, now: () => clock.now(), validTokens: Object.values(TOKENS) });
  const rest = await FakeDiscordRest.start({ gatewayUrl: gateway.url, validTokens: Object.values(TOKENS) });
  const images = await FakeImageHost.start({ known: [RELEASE_MBID] });
  cleanups.push(() => Promise.all([gateway.close(), rest.close(), images.close()]));
  const logger = memoryLogger();
  const config: ServiceConfig = {
    discord: { applicationId: APP_ID, apiBaseUrl: rest.url, gatewayUrl: gateway.url },
    artwork: { coverArtArchiveUrl: images.url, defaultImage: `${images.url}/img/default.jpg`, musicBrainzLookup: false },
    users: [{ username: "alice", discordToken: TOKENS.alice }],
  };
  const inspector = await startInspector({ port: 0, logger, secrets: () => Object.values(TOKENS) });
  cleanups.push(() => inspector.stop());
  const viewer = await connectViewer(inspector);
  const service: PresenceService = createPresenceService({ config, clock, logger, inspect: inspector.inspect });
  await service.start();
  cleanups.push(() => service.stop({ clear: false }));
  return { gateway, inspector, viewer, service, logger };
}

const registrationOf = (messages: Message[], name: string) => messages.find((m) => m.type === "@xstate.actor" && m.name === name);
const showsTrack = (messages: Message[], sessionId: string) =>
  messages.some((m) => m.type === "@xstate.snapshot" && m.sessionId === sessionId && JSON.stringify(m.snapshot?.context).includes(song.title));

describe("Stately inspector relay", () => {
  it("streams the supervisor, its shards and each user's machine live, with the playback in their snapshots", async () => {
    const { gateway, inspector, viewer, service } = await startWithInspector();
    service.dispatch({ type: "playback.playing", user: "alice", track: song, positionMs: 0 });
    await gateway.waitForFrame((f) => f.op === 3, 5_000);

    const alice = await until(() => registrationOf(viewer.messages(), "presence:alice"), 2_000, "presence:alice registered");
    const supervisor = registrationOf(viewer.messages(), "supervisor");
    const shard = registrationOf(viewer.messages(), "shard:0");
    expect(supervisor?.parentId).toBeUndefined();
    expect(shard?.parentId).toBe(supervisor?.sessionId);
    expect(alice.parentId).toBe(shard?.sessionId);
    await until(() => showsTrack(viewer.messages(), alice.sessionId), 2_000, "a snapshot showing the track");
    expect(viewer.messages().some((m) => m.type === "@xstate.event" && m.event?.type === "playback.playing")).toBe(true);
    expect(
      viewer.messages().some((m) =>
        m.type === "@xstate.snapshot" && m.sessionId === alice.sessionId && JSON.stringify(m.snapshot?.value).includes("presenting")
      ),
    ).toBe(true);

    // A viewer who opens the inspector later still learns of every live actor and its state.
    const late = await connectViewer(inspector);
    await until(() => registrationOf(late.messages(), "presence:alice") && showsTrack(late.messages(), alice.sessionId), 2_000, "the replay");
    expect(registrationOf(late.messages(), "supervisor")).toBeDefined();

    for (const text of [...viewer.raw, ...late.raw]) expect(text).not.toContain(TOKENS.alice);
  });

  it("scrubs a planted secret from keys and values before the event leaves", async () => {
    const { inspector, viewer } = await startWithInspector();
    const planted = {
      type: "@xstate.event",
      rootId: "x.0",
      actorRef: { sessionId: "x.0" },
      event: { type: "planted", token: TOKENS.alice, header: `Bot ${TOKENS.alice}`, byToken: { [TOKENS.bob]: 1 } },
    } as unknown as InspectionEvent;
    inspector.inspect.next?.(planted);
    const text = await until(() => viewer.raw.find((m) => m.includes('"planted"')), 2_000, "the planted event");
    expect(text).not.toContain(TOKENS.alice);
    expect(text).not.toContain(TOKENS.bob);
    expect(JSON.parse(text).event).toEqual({ type: "planted", token: "[redacted]", header: "Bot [redacted]", byToken: { "[redacted]": 1 } });
  });

  it("sends an event holding a password in every spelling (escaped, URL-encoded, hex, base64) with each one redacted", async () => {
    const password = 'pa"ss\\word & 100% s\u00fbr';
    const inspector = await startInspector({ port: 0, logger: memoryLogger(), secrets: () => [TOKENS.alice, password] });
    cleanups.push(() => inspector.stop());
    const viewer = await connectViewer(inspector);
    const spellings = [...spellingsOf(password).values()];
    const planted = {
      type: "@xstate.event",
      rootId: "x.0",
      actorRef: { sessionId: "x.0" },
      event: { type: "planted", values: spellings, urls: spellings.map((s) => `http://127.0.0.1:4533/rest/ping?p=enc:${s}&v=1`) },
    } as unknown as InspectionEvent;
    inspector.inspect.next?.(planted);
    const text = await until(() => viewer.raw.find((m) => m.includes('"planted"')), 2_000, "the planted event");
    expect(spellingsIn(text, password)).toEqual([]);
    expect(JSON.parse(text).event).toEqual({
      type: "planted",
      values: spellings.map(() => "[redacted]"),
      urls: spellings.map(() => "http://127.0.0.1:4533/rest/ping?p=enc:[redacted]&v=1"),
    });
  });

  it("drops, rather than breaks or sends, an event still holding a secret outside its strings (a number equal to a numeric password)", async () => {
    const inspector = await startInspector({ port: 0, logger: memoryLogger(), secrets: () => ["73313370"] });
    cleanups.push(() => inspector.stop());
    const viewer = await connectViewer(inspector);
    const event = (type: string, value: unknown) =>
      ({ type: "@xstate.event", rootId: "x.0", actorRef: { sessionId: "x.0" }, event: { type, value } }) as unknown as InspectionEvent;
    inspector.inspect.next?.(event("numeric", 73313370));
    inspector.inspect.next?.(event("textual", "pin 73313370"));
    const textual = await until(() => viewer.raw.find((m) => m.includes('"textual"')), 2_000, "the textual event");
    expect(JSON.parse(textual).event).toEqual({ type: "textual", value: "pin [redacted]" });
    expect(viewer.raw.join("\n")).not.toContain("73313370");
    expect(() => viewer.messages()).not.toThrow(); // every message is JSON the page can read
  });

  it("serves the page that opens Stately's inspector, and refuses viewers from other web pages", async () => {
    const logger = memoryLogger();
    const inspector = await startInspector({ port: 0, logger });
    cleanups.push(() => inspector.stop());
    const page = await fetch(inspector.url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('src="https://stately.ai/inspect"');
    await expect(connectViewer(inspector, "https://evil.example")).rejects.toThrow(/401/);
    const viewer = await connectViewer(inspector, inspector.url.replace(/\/$/, ""));

    // Stopping says goodbye to the viewers (1001, going away) instead of waiting for them.
    const closed = new Promise<number>((resolve) => viewer.ws.once("close", resolve));
    await inspector.stop();
    expect(await closed).toBe(1001);
  });

  it("logs an error and runs without the inspector when its port is taken", async () => {
    const blocker: Server = createServer();
    const port = await new Promise<number>((resolve) => blocker.listen(0, "127.0.0.1", () => resolve((blocker.address() as { port: number }).port)));
    cleanups.push(() => new Promise((resolve) => blocker.close(resolve)));
    const logger = memoryLogger();
    const inspector = await startInspector({ port, logger });
    expect(inspector.url).toBe("");
    expect(logger.entries.some((e) => e.level === "error" && e.message.includes(`cannot listen on 127.0.0.1:${port}`))).toBe(true);
    expect(() => inspector.inspect.next?.({ type: "@xstate.event" } as InspectionEvent)).not.toThrow();
    await inspector.stop();
  });
});
