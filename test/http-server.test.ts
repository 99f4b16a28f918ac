import { PRESENCE_KEPT_MS } from "../src/actors/presence-effects.ts";
import { connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createHttpServer, type HttpServer, type HttpServerOptions } from "../src/adapters/http/server.ts";
import { ListenBrainzReceiver, tokenLookup } from "../src/adapters/sources/listenbrainz-receiver.ts";
import { renderMetrics } from "../src/adapters/http/metrics.ts";
import type { PlaybackEventInput } from "../src/service/event-validation.ts";
import { type Harness, song, startHarness, TOKENS } from "./harness.ts";
import { until } from "./fakes/wait.ts";

// docs/architecture.md "Service contract": the HTTP server over the REAL service (fake Discord on loopback).

const LB_TOKEN = "lb-alice-SECRET-5e0c2b1a-93f4";
let h: Harness;
let http: HttpServer;
afterEach(async () => {
  await http?.close();
  await h?.close();
});

async function start(over: Partial<HttpServerOptions> = {}) {
  h = await startHarness({ users: [{ username: "alice", discordToken: TOKENS.alice, listenbrainzToken: LB_TOKEN }] });
  const receiver = new ListenBrainzReceiver({
    userForToken: tokenLookup(h.config.users),
    ignorePlayers: () => [],
    dispatch: (event: PlaybackEventInput) => h.service.dispatch(event),
    userAgent: "nd-presence-test",
    logger: h.logger,
  });
  http = createHttpServer({
    port: 0,
    status: () => h.service.status(),
    sources: () => [receiver.status()],
    journalBytes: () => 1234,
    entriesSinceCheckpoint: () => h.service.entriesSinceCheckpoint(),
    receiver,
    logger: h.logger,
    now: () => h.clock.now(),
    ...over,
  });
  const base = `http://127.0.0.1:${await http.listen()}`;
  const get = async (path: string, init?: RequestInit) => {
    const response = await fetch(`${base}${path}`, init);
    return { status: response.status, type: response.headers.get("content-type"), text: await response.text() };
  };
  return { base, get };
}

/** A strict reading of the Prometheus text format 0.0.4: every sample belongs to a declared family. */
function parsePrometheus(text: string): Map<string, number> {
  expect(text.endsWith("\n")).toBe(true);
  const types = new Map<string, string>();
  const helps = new Set<string>();
  const samples = new Map<string, number>();
  for (const line of text.trimEnd().split("\n")) {
    const comment = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line);
    if (comment) {
      if (comment[1] === "TYPE") {
        expect(["counter", "gauge"]).toContain(comment[3]);
        types.set(comment[2]!, comment[3]!);
      } else helps.add(comment[2]!);
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? (-?\d+(?:\.\d+)?(?:e[+-]?\d+)?|NaN|[+-]Inf)$/.exec(
      line,
    );
    if (!sample) throw new Error(`not a Prometheus sample line: ${line}`);
    expect(types.has(sample[1]!), `TYPE declared for ${sample[1]}`).toBe(true);
    expect(helps.has(sample[1]!), `HELP declared for ${sample[1]}`).toBe(true);
    if (types.get(sample[1]!) === "counter") expect(sample[1]!.endsWith("_total")).toBe(true);
    samples.set(`${sample[1]}${sample[2] ?? ""}`, Number(sample[3]));
  }
  return samples;
}

const playingNow = JSON.stringify({
  listen_type: "playing_now",
  payload: [{
    track_metadata: {
      artist_name: song.artist,
      track_name: song.title,
      release_name: song.album,
      additional_info: { duration_ms: song.durationMs, submission_client: "Navidrome" },
    },
  }],
});

describe("HTTP server over the real service", () => {
  it("serves status, health and metrics while presenting; 503 naming the user after a 4004", async () => {
    const { get } = await start();
    const submitted = await get("/1/submit-listens", { method: "POST", headers: { authorization: `Token ${LB_TOKEN}` }, body: playingNow });
    expect(submitted).toMatchObject({ status: 200, text: '{"status":"ok"}' });
    await h.waitForPresence((activity) => activity?.details === song.title);
    await h.advance(PRESENCE_KEPT_MS); // kept, so shown and counted

    const status = await get("/status");
    expect(status.type).toBe("application/json; charset=utf-8");
    const body = JSON.parse(status.text);
    expect(body.running).toBe(true);
    expect(body.users).toEqual([
      expect.objectContaining({
        user: "alice",
        state: "presenting.playing",
        connected: true,
        showing: expect.objectContaining({ details: song.title, state: song.artist }),
      }),
    ]);
    expect(body.sources).toEqual([expect.objectContaining({ name: "listenbrainz", ok: true, nowPlaying: 1 })]);

    expect(await get("/healthz")).toMatchObject({ status: 200, text: '{"ok":true}\n' });

    const metrics = await get("/metrics");
    expect(metrics).toMatchObject({ status: 200, type: "text/plain; version=0.0.4; charset=utf-8" });
    const samples = parsePrometheus(metrics.text);
    expect(samples.get('nd_presence_users{state="presenting.playing"}')).toBe(1);
    expect(samples.get('nd_presence_user_connected{user="alice"}')).toBe(1);
    expect(samples.get('nd_presence_presence_updates_total{user="alice"}')).toBeGreaterThanOrEqual(1);
    expect(samples.get('nd_presence_reconnects_total{user="alice"}')).toBe(0);
    expect(samples.get('nd_presence_source_up{source="listenbrainz"}')).toBe(1);
    expect(samples.get('nd_presence_source_polls_total{source="listenbrainz"}')).toBe(1);
    expect(samples.get('nd_presence_source_errors_total{source="listenbrainz"}')).toBe(0);
    expect(samples.get("nd_presence_journal_bytes")).toBe(1234);
    expect(samples.get("nd_presence_journal_entries_since_checkpoint")).toBe(h.service.entriesSinceCheckpoint());
    expect(h.service.entriesSinceCheckpoint()).toBeGreaterThan(0);

    const page = await get("/");
    expect(page.type).toBe("text/html; charset=utf-8");
    expect(page.text).toContain("presenting.playing");
    expect(page.text).toContain(song.title);

    // Discord rejects the token: the user is failed for good, and health says who and why.
    h.gateway.closeWith(4004, "Authentication failed.");
    await until(() => h.service.status().users[0]?.state === "failed", 2000, "alice to fail");
    const health = await get("/healthz");
    expect(health.status).toBe(503);
    const reasons = JSON.parse(health.text);
    expect(reasons.ok).toBe(false);
    expect(reasons.reasons).toEqual([expect.stringMatching(/^alice: failed \(.+\)$/)]);
    expect(parsePrometheus((await get("/metrics")).text).get('nd_presence_users{state="failed"}')).toBe(1);

    // No secret anywhere an operator can read.
    const everything = [status.text, metrics.text, page.text, (await get("/")).text, (await get("/status")).text, health.text].join("\n");
    for (const secret of [TOKENS.alice, TOKENS.bob, LB_TOKEN]) expect(everything).not.toContain(secret);
  });

  it("answers 404 and 405 as JSON, and 500 without dying when a handler throws", async () => {
    const { get } = await start();
    expect(await get("/nope")).toMatchObject({ status: 404, type: "application/json; charset=utf-8" });
    expect(await get("/status", { method: "POST", body: "{}" })).toMatchObject({ status: 405, type: "application/json; charset=utf-8" });
    await http.close();

    const broken = createHttpServer({
      port: 0,
      status: () => {
        throw new Error("boom");
      },
      sources: () => [],
      logger: h.logger,
    });
    http = broken;
    const port = await broken.listen();
    const failed = await fetch(`http://127.0.0.1:${port}/status`);
    expect(failed.status).toBe(500);
    expect(await failed.json()).toEqual({ error: "internal error" });
    expect(h.logger.entries).toContainEqual(expect.objectContaining({ level: "error", message: "http: request failed" }));
    expect((await fetch(`http://127.0.0.1:${port}/nope`)).status).toBe(404); // still serving
  });
});

describe("a client too slow to send its request", () => {
  it("gets 408 (it may retry), not 400, and the server goes on serving", async () => {
    // The time limit itself is what is tested here: the server answers when it runs out.
    const { base } = await start({ requestTimeoutMs: 200 });
    const port = Number(new URL(base).port);
    const socket = connect(port, "127.0.0.1");
    let answer = "";
    socket.on("data", (chunk) => (answer += chunk.toString()));
    const closed = new Promise((resolve) => socket.on("close", resolve));
    // Headers and the start of a body that never comes whole, as a stalled upload looks.
    socket.write(
      `POST /1/submit-listens HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Token ${LB_TOKEN}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{`,
    );
    await closed;
    expect(answer).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect((await fetch(`http://127.0.0.1:${port}/nope`)).status).toBe(404);
  });
});

describe("renderMetrics", () => {
  it("escapes label values per the text format and leaves out the journal's size when unknown", () => {
    const text = renderMetrics({
      status: { running: true, users: [], refusedEvents: { 'a"b\\c\nd': 2 }, journal: { writable: true, failures: 0, lastError: null } },
      sources: [],
      journalBytes: null,
    });
    expect(text).toContain('nd_presence_refused_events_total{user="a\\"b\\\\c\\nd"} 2\n');
    expect(text).not.toContain("nd_presence_journal_bytes");
    expect([...parsePrometheus(text)]).toEqual([
      ['nd_presence_refused_events_total{user="a\\"b\\\\c\\nd"}', 2],
      ["nd_presence_journal_writable", 1],
      ["nd_presence_journal_write_failures_total", 0],
    ]);
  });
});
