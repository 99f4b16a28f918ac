import { createServer, type IncomingMessage, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { DomainEventInput } from "../src/actors/events.ts";
import { ListenBrainzReceiver, type ListenBrainzReceiverOptions, tokenLookup } from "../src/adapters/sources/listenbrainz-receiver.ts";
import { memoryLogger } from "../src/adapters/logger.ts";
import type { PlaybackEventInput } from "../src/service/event-validation.ts";
import { until } from "./fakes/wait.ts";
import { FakeDiscordRest } from "./fakes/discord-rest.ts";
import { type Harness, RELEASE_MBID, startHarness, T0 } from "./harness.ts";

// docs/protocol.md section 3: the ListenBrainz-compatible receiver, over real HTTP on loopback.

const LB_TOKEN = "lb-alice-SECRET-0f3e9a7c-5d21-4b8e";
const OTHER_TOKEN = "lb-not-configured-SECRET-77aa";

/** Exactly what Navidrome sends (adapters/listenbrainz/client.go `additionalInfo`, agent.go `formatListen`). */
const navidromePlayingNow = {
  listen_type: "playing_now",
  payload: [
    {
      track_metadata: {
        artist_name: "Radiohead",
        track_name: "Pyramid Song",
        release_name: "Amnesiac",
        additional_info: {
          submission_client: "Navidrome",
          submission_client_version: "0.55.0",
          tracknumber: 2,
          artist_names: ["Radiohead"],
          artist_mbids: ["a74b1b7f-71a5-4011-9441-d0b5e4122711"],
          recording_mbid: "aaaaaaaa-0000-0000-0000-000000000001",
          release_mbid: "11111111-2222-3333-4444-555555555555",
          release_group_mbid: "22222222-3333-4444-5555-666666666666",
          duration_ms: 289000,
        },
      },
    },
  ],
};

const single = { listen_type: "single", payload: [{ listened_at: 1_732_390_400, track_metadata: { artist_name: "Radiohead", track_name: "Knives Out" } }] };

/** Loopback HTTP servers started by a test, closed after it. */
const servers: Server[] = [];
let logger = memoryLogger();
afterEach(async () => {
  // Checked after every test, whatever it did: no token in any log entry.
  expect(logger.text()).not.toContain(LB_TOKEN);
  expect(logger.text()).not.toContain(OTHER_TOKEN);
  // Close idle keep-alive connections too: under Deno a pooled fetch connection to a closed server
  // could otherwise be reused by a later test's server on the same port, and hang.
  await Promise.all(
    servers.splice(0).map((s) => {
      const closed = new Promise((resolve) => s.close(resolve));
      s.closeAllConnections?.();
      return closed;
    }),
  );
  logger = memoryLogger();
});

async function serve(handler: (req: IncomingMessage, res: import("node:http").ServerResponse) => void): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** The receiver under test behind a real server; `dispatched` records its output port. */
async function startReceiver(options: Partial<ListenBrainzReceiverOptions> = {}) {
  const dispatched: DomainEventInput[] = [];
  const receiver = new ListenBrainzReceiver({
    userForToken: tokenLookup([{ username: "alice", listenbrainzToken: LB_TOKEN }, { username: "bob" }]),
    ignorePlayers: (user) => (user === "alice" ? ["Feishin"] : []),
    dispatch: (event) => dispatched.push(event),
    userAgent: "nd-presence-test",
    logger,
    ...options,
  });
  const url = await serve((req, res) => {
    void receiver.handle(req, res).then((handled) => {
      if (!handled) res.writeHead(404).end();
    });
  });
  return { receiver, dispatched, url };
}

async function submit(url: string, body: unknown, token: string | null = LB_TOKEN) {
  const response = await fetch(`${url}/1/submit-listens`, {
    method: "POST",
    headers: { "content-type": "application/json; charset=UTF-8", ...(token ? { authorization: `Token ${token}` } : {}) },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

describe("POST /1/submit-listens", () => {
  it("maps Navidrome's playing_now onto playback.playing for the token's user", async () => {
    const { url, dispatched, receiver } = await startReceiver();
    expect(await submit(url, navidromePlayingNow)).toEqual({ status: 200, body: { status: "ok" } });
    expect(dispatched).toEqual([
      {
        type: "playback.playing",
        user: "alice",
        positionMs: 0,
        track: {
          title: "Pyramid Song",
          artist: "Radiohead",
          album: "Amnesiac",
          durationMs: 289_000,
          mbids: {
            recording: "aaaaaaaa-0000-0000-0000-000000000001",
            release: "11111111-2222-3333-4444-555555555555",
            releaseGroup: "22222222-3333-4444-5555-666666666666",
            artists: ["a74b1b7f-71a5-4011-9441-d0b5e4122711"],
          },
        },
      },
    ]);
    expect(receiver.status()).toMatchObject({ name: "listenbrainz", ok: true, nowPlaying: 1, listens: 0, errors: 0 });
  });

  it("takes `duration` in seconds; drops empty artist MBIDs", async () => {
    const { url, dispatched } = await startReceiver();
    const listen = { track_metadata: { artist_name: "A", track_name: "T", additional_info: { duration: 200, media_player: "Symfonium", artist_mbids: [""] } } };
    expect((await submit(url, { listen_type: "playing_now", payload: [listen] })).status).toBe(200);
    expect(dispatched).toEqual([{ type: "playback.playing", user: "alice", positionMs: 0, track: { title: "T", artist: "A", durationMs: 200_000 } }]);
  });

  it("treats an absurd or broken length as unknown, and then takes the other field if it is sane", async () => {
    const { url, dispatched } = await startReceiver();
    const lengths: Array<Record<string, unknown>> = [
      { duration_ms: 2_200_000_000 }, // 25 days: no track is that long
      { duration: 1e12 },
      { duration_ms: -1 },
      { duration_ms: 0.4 }, // rounds to 0 ms: no length
      { duration_ms: 2_200_000_000, duration: 200 },
      { duration_ms: 108_000_000 }, // a 30-hour audiobook is a real length
    ];
    for (const additional_info of lengths) {
      const listen = { track_metadata: { artist_name: "A", track_name: "T", additional_info } };
      expect((await submit(url, { listen_type: "playing_now", payload: [listen] })).status).toBe(200);
    }
    const durations = dispatched.map((event) => (event.type === "playback.playing" ? event.track.durationMs : "not playing"));
    expect(durations).toEqual([undefined, undefined, undefined, undefined, 200_000, 108_000_000]);
  });

  it("accepts `single` and `import`, counts them and dispatches nothing", async () => {
    const { url, dispatched, receiver } = await startReceiver();
    expect(await submit(url, single)).toEqual({ status: 200, body: { status: "ok" } });
    expect(await submit(url, { ...single, listen_type: "import", payload: [single.payload[0], single.payload[0]] })).toEqual({
      status: 200,
      body: { status: "ok" },
    });
    expect(dispatched).toEqual([]);
    expect(receiver.status()).toMatchObject({ listens: 3, nowPlaying: 0, errors: 0 });
  });

  it("accepts a playing_now from an ignored player (any case) and dispatches nothing", async () => {
    const { url, dispatched, receiver } = await startReceiver();
    const fromFeishin = structuredClone(navidromePlayingNow);
    (fromFeishin.payload[0]!.track_metadata.additional_info as Record<string, unknown>).media_player = "feishin";
    expect(await submit(url, fromFeishin)).toEqual({ status: 200, body: { status: "ok" } });
    expect(dispatched).toEqual([]);
    expect(receiver.status().nowPlaying).toBe(1);
  });

  it("refuses an unknown or missing token with 401", async () => {
    const { url, dispatched, receiver } = await startReceiver();
    const refused = { status: 401, body: { code: 401, error: "Invalid authorization token." } };
    expect(await submit(url, navidromePlayingNow, OTHER_TOKEN)).toEqual(refused);
    expect(await submit(url, navidromePlayingNow, null)).toEqual(refused);
    expect(dispatched).toEqual([]);
    expect(receiver.status()).toMatchObject({ errors: 2, lastError: "submit-listens: unknown or missing token" });
  });

  it("refuses malformed JSON with 400 and a message", async () => {
    const { url, dispatched } = await startReceiver();
    const { status, body } = await submit(url, '{"listen_type": "playing_now", "payload": [');
    expect(status).toBe(400);
    expect(body).toMatchObject({ code: 400, error: expect.stringMatching(/^body is not valid JSON: .+/) });
    expect(dispatched).toEqual([]);
  });

  it("names the missing or wrong field in a 400", async () => {
    const { url, dispatched, receiver } = await startReceiver();
    const noTitle = structuredClone(navidromePlayingNow) as { payload: Array<{ track_metadata: Record<string, unknown> }> };
    delete noTitle.payload[0]!.track_metadata.track_name;
    expect(await submit(url, noTitle)).toEqual({ status: 400, body: { code: 400, error: "payload[0].track_metadata.track_name is missing" } });
    expect(await submit(url, { ...navidromePlayingNow, listen_type: "now" })).toEqual({
      status: 400,
      body: { code: 400, error: "listen_type must be one of playing_now, single, import" },
    });
    const two = { ...navidromePlayingNow, payload: [navidromePlayingNow.payload[0], navidromePlayingNow.payload[0]] };
    expect(await submit(url, two)).toEqual({ status: 400, body: { code: 400, error: "payload must contain exactly one listen for playing_now" } });
    expect(dispatched).toEqual([]);
    expect(receiver.status()).toMatchObject({ errors: 3, lastError: "alice: payload must contain exactly one listen for playing_now" });
    expect(logger.entries).toContainEqual({
      level: "warn",
      message: "listenbrainz: request refused",
      data: { user: "alice", problem: "payload[0].track_metadata.track_name is missing" },
    });
  });

  it("refuses a body over maxBodyBytes with 413, by Content-Length or while reading", async () => {
    const { url, dispatched, receiver } = await startReceiver({ maxBodyBytes: 1024 });
    const big = JSON.stringify({ ...navidromePlayingNow, padding: "x".repeat(4096) });
    expect(await submit(url, big)).toEqual({ status: 413, body: { code: 413, error: "body over 1024 bytes" } });
    // Chunked, without Content-Length: counted as it arrives.
    const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        `${url}/1/submit-listens`,
        { method: "POST", headers: { authorization: `Token ${LB_TOKEN}`, "transfer-encoding": "chunked" } },
        (res) => {
          let text = "";
          res.setEncoding("utf8").on("data", (c: string) => (text += c)).on("end", () => resolve({ status: res.statusCode!, body: text }));
        },
      );
      req.on("error", reject);
      for (let i = 0; i < 8; i++) req.write(big.slice(i * 512, (i + 1) * 512));
      req.end();
    });
    expect(chunked.status).toBe(413);
    expect(JSON.parse(chunked.body)).toEqual({ code: 413, error: "body over 1024 bytes" });
    expect(dispatched).toEqual([]);
    expect(receiver.status().errors).toBe(2);
  });

  it("answers 405 to a wrong method and leaves other paths alone", async () => {
    const { url } = await startReceiver();
    expect((await fetch(`${url}/1/submit-listens`)).status).toBe(405);
    expect((await fetch(`${url}/1/other`)).status).toBe(404);
  });
});

describe("GET /1/validate-token", () => {
  it("answers ListenBrainz's shape for a known token and 401 for an unknown one", async () => {
    const { url } = await startReceiver();
    // A fresh connection per call (agent: false): no pooled connection can outlive its server.
    const validate = (token?: string) =>
      new Promise<{ status: number; body: unknown }>((resolve, reject) => {
        const req = request(`${url}/1/validate-token`, { agent: false, headers: token ? { authorization: `Token ${token}` } : {} }, (res) => {
          let text = "";
          res.setEncoding("utf8").on("data", (chunk: string) => (text += chunk)).on("end", () =>
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
        });
        req.on("error", reject).end();
      });
    expect(await validate(LB_TOKEN)).toEqual({ status: 200, body: { code: 200, message: "Token valid.", valid: true, user_name: "alice" } });
    const invalid = { status: 401, body: { code: 401, message: "Invalid authorization token.", valid: false } };
    expect(await validate(OTHER_TOKEN)).toEqual(invalid);
    expect(await validate()).toEqual(invalid);
  });
});

describe("forwarding", () => {
  it("re-sends an accepted submission, with the same Authorization and body, to forwardUrl", async () => {
    const received: Array<{ method?: string; url?: string; authorization?: string; agent?: string; body: string }> = [];
    const upstream = await serve((req, res) => {
      let body = "";
      req.setEncoding("utf8").on("data", (c: string) => (body += c)).on("end", () => {
        received.push({ method: req.method, url: req.url, authorization: req.headers.authorization, agent: req.headers["user-agent"], body });
        res.writeHead(200, { "content-type": "application/json" }).end('{"status":"ok"}');
      });
    });
    const { url, receiver } = await startReceiver({ forwardUrl: `${upstream}/1/` });
    const raw = JSON.stringify(navidromePlayingNow);
    expect((await submit(url, raw)).status).toBe(200);
    expect((await submit(url, single)).status).toBe(200);
    expect((await submit(url, "{", LB_TOKEN)).status).toBe(400); // refused here: not forwarded
    await receiver.flush();
    expect(received).toEqual([
      { method: "POST", url: "/1/submit-listens", authorization: `Token ${LB_TOKEN}`, agent: "nd-presence-test", body: raw },
      { method: "POST", url: "/1/submit-listens", authorization: `Token ${LB_TOKEN}`, agent: "nd-presence-test", body: JSON.stringify(single) },
    ]);
    expect(receiver.status()).toMatchObject({ ok: true, forwarded: 2, forwardErrors: 0 });
  });

  it("counts and logs a failed forward without the token; the client still got 200; the error clears when forwarding works again", async () => {
    let down = true;
    const upstream = await serve((
      _,
      res,
    ) => (down ? res.writeHead(503).end("down") : res.writeHead(200, { "content-type": "application/json" }).end('{"status":"ok"}')));
    const { url, receiver } = await startReceiver({ forwardUrl: upstream });
    expect(await submit(url, navidromePlayingNow)).toEqual({ status: 200, body: { status: "ok" } });
    await receiver.flush();
    expect(receiver.status()).toMatchObject({ ok: false, forwarded: 0, forwardErrors: 1, lastError: `alice: forwarding to ${upstream} failed: HTTP 503` });
    expect(logger.entries).toContainEqual({
      level: "warn",
      message: "listenbrainz: forwarding failed",
      data: { user: "alice", url: upstream, reason: "HTTP 503" },
    });
    // ListenBrainz is back: no outage error is left beside ok.
    down = false;
    expect((await submit(url, navidromePlayingNow)).status).toBe(200);
    await receiver.flush();
    expect(receiver.status()).toMatchObject({ ok: true, forwarded: 1, forwardErrors: 1, lastError: null });
  });

  it("never logs a token, whatever goes wrong", async () => {
    // Port 9 on loopback: nothing listens there, so every forward fails with a connection error.
    const { url, receiver } = await startReceiver({ forwardUrl: "http://127.0.0.1:9", forwardTimeoutMs: 2000 });
    await submit(url, navidromePlayingNow);
    await submit(url, navidromePlayingNow, OTHER_TOKEN);
    await submit(url, "not json");
    await fetch(`${url}/1/validate-token`, { headers: { authorization: `Token ${OTHER_TOKEN}` } });
    await receiver.flush();
    expect(receiver.status()).toMatchObject({ forwardErrors: 1, errors: 3 });
    expect(logger.entries.length).toBeGreaterThanOrEqual(4);
    const everything = `${logger.text()}\n${JSON.stringify(receiver.status())}`;
    expect(everything).not.toContain(LB_TOKEN);
    expect(everything).not.toContain(OTHER_TOKEN);
  });
});

describe("a playing_now, on Discord", () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it("with an absurd duration_ms shows a track of unknown length (no bar) that stays until unknownLengthMs, not one that ends in 25 days", async () => {
    const harness = (h = await startHarness({ config: { gateway: { unknownLengthMs: 120_000 } } }));
    const { url } = await startReceiver({ dispatch: (event: PlaybackEventInput) => harness.dispatch(event) });
    const playingNow = structuredClone(navidromePlayingNow);
    playingNow.payload[0]!.track_metadata.additional_info.duration_ms = 2_200_000_000;
    expect(await submit(url, playingNow)).toEqual({ status: 200, body: { status: "ok" } });

    const shown = harness.activityOf(await harness.waitForPresence())!;
    expect(shown.details).toBe("Pyramid Song");
    expect(shown.timestamps).toEqual({ start: T0 }); // no end: no progress bar
    const clears = () => harness.framesWithOp(3).filter((frame) => harness.activityOf(frame) === null);
    await harness.advanceUntil(() => harness.clock.now() >= T0 + 115_000, 5_000, 120_000, "5 s before unknownLengthMs");
    await harness.advance(4_995);
    expect(clears()).toHaveLength(0);
    await harness.advance(5);
    await until(() => clears().length > 0, 2000, "the clear at unknownLengthMs");
    expect(clears()[0]!.at).toBe(T0 + 120_000);
  });

  it("with only a release group MBID shows the release group's Cover Art Archive image", async () => {
    // The track has an MBID to ask the Cover Art Archive by: no MusicBrainz lookup.
    const harness = (h = await startHarness());
    const { url } = await startReceiver({ dispatch: (event: PlaybackEventInput) => harness.dispatch(event) });
    const playingNow = structuredClone(navidromePlayingNow);
    const info: Record<string, unknown> = playingNow.payload[0]!.track_metadata.additional_info;
    delete info.release_mbid;
    info.release_group_mbid = RELEASE_MBID; // a release group the fake Cover Art Archive has art for
    expect(await submit(url, playingNow)).toEqual({ status: 200, body: { status: "ok" } });

    const shown = harness.activityOf(await harness.waitForPresence())!;
    expect(shown.assets?.large_image).toBe(`mp:${FakeDiscordRest.assetPath(`${harness.images.url}/release-group/${RELEASE_MBID}/front-500`)}`);
  });
});
