import { afterEach, describe, expect, it } from "vitest";
import { APP_ID, type Harness, RELEASE_MBID, song, startHarness, T0, TOKENS } from "./harness.ts";
import { FakeDiscordRest } from "./fakes/discord-rest.ts";

let h: Harness;
afterEach(async () => h?.close());

describe("a playing track shows in Discord", () => {
  it("discovers the gateway, identifies, and shows Listening with title, artist, album, art and a progress bar", async () => {
    h = await startHarness();
    h.play(song, { positionMs: 30_000 });

    const presence = await h.waitForPresence();
    const [discovery] = h.rest.requests.filter((r) => r.path === "/api/v10/gateway");
    expect(discovery).toBeDefined();
    const connection = h.gateway.connections[0]!;
    expect(connection.url).toBe("/?v=10&encoding=json");
    expect(connection.headers["user-agent"]).toMatch(/^nd-presence\//);

    // Identify as docs/protocol.md says: raw token, no intents, client properties, no activity yet.
    const identify = h.framesWithOp(2)[0]!;
    expect(identify.d).toEqual({
      token: TOKENS.alice,
      capabilities: 0,
      properties: { os: "Linux", browser: "Discord Client", device: "", system_locale: "en-US" },
      presence: { status: "unknown", since: 0, activities: [], afk: true },
      compress: false,
      client_state: { guild_versions: {} },
    });
    expect(identify.raw).not.toMatch(/Bot /);
    expect(identify.raw).not.toMatch(/intents/);

    // Then one op 3 with everything, after READY.
    expect(presence.d).toEqual({
      since: 0,
      status: "online",
      afk: true,
      activities: [
        {
          type: 2,
          name: "Navidrome",
          application_id: APP_ID,
          status_display_type: 2,
          details: "Pyramid Song",
          details_url: `https://musicbrainz.org/recording/${song.mbids!.recording}`,
          state: "Radiohead",
          state_url: `https://musicbrainz.org/artist/${song.mbids!.artists![0]}`,
          timestamps: { start: T0 - 30_000, end: T0 - 30_000 + 289_000 },
          assets: {
            large_image: `mp:${FakeDiscordRest.assetPath(`${h.images.url}/release/${RELEASE_MBID}/front-500`)}`,
            large_text: "Amnesiac",
            large_url: `https://musicbrainz.org/release/${RELEASE_MBID}`,
          },
        },
      ],
    });
    expect(h.framesWithOp(3)).toHaveLength(1);
    expect(h.service.status().users[0]).toMatchObject({ user: "alice", state: "presenting.playing", connected: true });
    expect(h.shown.at(-1)?.activity?.details).toBe("Pyramid Song");
  });

  it("clears with activities: [] when the track stops", async () => {
    h = await startHarness();
    h.play(song);
    const first = await h.waitForPresence();
    h.dispatch({ type: "playback.stopped", user: "alice" });
    const clear = await h.waitForPresence((a) => a === null, first.index + 1);
    expect(clear.d).toEqual({ since: 0, status: "online", afk: true, activities: [] });
    expect(h.service.status().users[0]).toMatchObject({ state: "ready", showing: null });
  });

  it("never lets a token reach a log line, the status or a REST body", async () => {
    h = await startHarness();
    h.play(song);
    await h.waitForPresence();
    const visible = h.everythingVisible();
    expect(visible).toContain("alice");
    expect(visible).not.toContain(TOKENS.alice);
  });

  it("identifies with the configured client properties", async () => {
    h = await startHarness({ discord: { properties: { os: "Windows 10", system_locale: "de-DE" } } });
    h.play(song);
    await h.waitForPresence();
    expect((h.framesWithOp(2)[0]!.d as { properties: unknown }).properties).toEqual({
      os: "Windows 10",
      browser: "Discord Client",
      device: "",
      system_locale: "de-DE",
    });
  });

  it("skips discovery when discord.gatewayUrl is set, and discovers once for many connections otherwise", async () => {
    h = await startHarness({ configureGatewayUrl: true });
    h.play(song);
    await h.waitForPresence();
    expect(h.rest.requests.filter((r) => r.path.startsWith("/api/v10/gateway"))).toHaveLength(0);
    await h.close();

    h = await startHarness({ users: [{ username: "alice", discordToken: TOKENS.alice }, { username: "bob", discordToken: TOKENS.bob }] });
    h.play(song, { user: "alice" });
    h.play(song, { user: "bob" });
    await h.gateway.waitForFrame((f) => f.op === 3 && f.connection === 1);
    await h.gateway.waitForFrame((f) => f.op === 3 && f.connection === 0);
    expect(h.rest.requests.filter((r) => r.path.startsWith("/api/v10/gateway"))).toHaveLength(1);
  });
});
