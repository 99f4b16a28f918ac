import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DiscordRest, carriesCredentials } from "../src/adapters/discord-rest.ts";
import { memoryLogger } from "../src/adapters/logger.ts";
import { PresenceError } from "../src/errors.ts";
import { FakeDiscordRest } from "./fakes/discord-rest.ts";

const TOKEN = "mfa.user-token-SECRET-1234567890";
const APP = "123456789012345678";
const UA = "nd-presence/test (+https://example.org)";

describe("DiscordRest", () => {
  let fake: FakeDiscordRest;
  let logger: ReturnType<typeof memoryLogger>;
  let sleeps: number[];
  let rest: DiscordRest;

  beforeEach(async () => {
    fake = await FakeDiscordRest.start({ gatewayUrl: "wss://gateway.example.test", validTokens: [TOKEN] });
    logger = memoryLogger();
    sleeps = [];
    rest = new DiscordRest({
      apiBaseUrl: fake.url,
      userAgent: UA,
      logger,
      sleep: async (ms) => void sleeps.push(ms),
    });
  });
  afterEach(() => fake.close());

  describe("discoverGateway", () => {
    it("caches the URL: one request for two calls, another with refresh (docs/protocol.md section 1)", async () => {
      expect(await rest.discoverGateway(false)).toBe("wss://gateway.example.test");
      expect(await rest.discoverGateway(false)).toBe("wss://gateway.example.test");
      expect(fake.requests).toHaveLength(1);
      expect(fake.requests[0]).toMatchObject({ method: "GET", path: "/api/v10/gateway" });
      expect(fake.requests[0]!.headers.authorization).toBeUndefined();

      expect(await rest.discoverGateway(true)).toBe("wss://gateway.example.test");
      expect(fake.requests).toHaveLength(2);
    });

    it("shares one in-flight request between concurrent calls", async () => {
      const urls = await Promise.all([rest.discoverGateway(false), rest.discoverGateway(false), rest.discoverGateway(true)]);
      expect(urls).toEqual(Array(3).fill("wss://gateway.example.test"));
      expect(fake.requests).toHaveLength(1);
    });

    it("fails with gateway_discovery when the endpoint is down, and retries on the next call", async () => {
      fake.gatewayDown = true;
      await expect(rest.discoverGateway(false)).rejects.toMatchObject({ code: "gateway_discovery" });
      fake.gatewayDown = false;
      expect(await rest.discoverGateway(false)).toBe("wss://gateway.example.test");
      expect(fake.requests).toHaveLength(2);
    });

    it("rejects a gateway URL that is not ws:// or wss://", async () => {
      const bad = await FakeDiscordRest.start({ gatewayUrl: "https://not-a-socket.test", validTokens: [] });
      try {
        const client = new DiscordRest({ apiBaseUrl: bad.url, userAgent: UA, logger });
        await expect(client.discoverGateway(false)).rejects.toMatchObject({ code: "gateway_discovery" });
      } finally {
        await bad.close();
      }
    });
  });

  describe("registerExternalAssets", () => {
    const art = "https://img.example.org/covers/a.jpg";

    it("posts the raw token and the URLs, returns mp: keys in order", async () => {
      const other = "https://img.example.org/covers/b.png";
      const keys = await rest.registerExternalAssets(TOKEN, APP, [art, other]);
      expect(keys).toEqual([`mp:${FakeDiscordRest.assetPath(art)}`, `mp:${FakeDiscordRest.assetPath(other)}`]);
      const [request] = fake.requests;
      expect(request).toMatchObject({ method: "POST", path: `/api/v9/applications/${APP}/external-assets` });
      // Raw token, no "Bot " prefix (docs/protocol.md section 2).
      expect(request!.headers.authorization).toBe(TOKEN);
      expect(request!.headers["content-type"]).toBe("application/json");
      expect(JSON.parse(request!.body)).toEqual({ urls: [art, other] });
    });

    it("sends a User-Agent on every request", async () => {
      await rest.discoverGateway(false);
      await rest.registerExternalAssets(TOKEN, APP, [art]);
      await rest.registerExternalAssets("wrong", APP, [art]).catch(() => undefined);
      expect(fake.requests).toHaveLength(3);
      for (const request of fake.requests) expect(request.headers["user-agent"]).toBe(UA);
    });

    it("401 -> token_invalid, and the token is in neither the error nor the log", async () => {
      const badToken = "mfa.revoked-token-SECRET-0987654321";
      const error = await rest.registerExternalAssets(badToken, APP, [art]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PresenceError);
      expect((error as PresenceError).code).toBe("token_invalid");
      expect((error as PresenceError).message).toMatch(/rejected/);
      expect(String((error as PresenceError).message)).not.toContain(badToken);
      expect(JSON.stringify(error)).not.toContain(badToken);
      expect(logger.text()).not.toContain(badToken);
      expect(logger.text()).not.toMatch(/authorization/i);
    });

    it("429 waits retry_after through the injected sleep, then retries once and succeeds", async () => {
      fake.failNext(429, { retry_after: 0.05, global: false, message: "You are being rate limited." });
      const keys = await rest.registerExternalAssets(TOKEN, APP, [art]);
      expect(keys).toEqual([`mp:${FakeDiscordRest.assetPath(art)}`]);
      expect(sleeps).toEqual([50]);
      expect(fake.requests).toHaveLength(2);
      expect(logger.text()).not.toContain(TOKEN);
    });

    it("caps a long retry_after, and a second 429 is an external_assets error", async () => {
      fake.failNext(429, { retry_after: 3600, global: false, message: "You are being rate limited." }, 2);
      await expect(rest.registerExternalAssets(TOKEN, APP, [art])).rejects.toMatchObject({ code: "external_assets" });
      expect(sleeps).toEqual([10_000]);
      expect(fake.requests).toHaveLength(2);
    });

    it("other statuses -> external_assets with the status", async () => {
      fake.failNext(500);
      const error = (await rest.registerExternalAssets(TOKEN, APP, [art]).catch((e: unknown) => e)) as PresenceError;
      expect(error.code).toBe("external_assets");
      expect(error.message).toContain("500");
      expect(error.message).not.toContain(TOKEN);
    });

    it("refuses URLs Discord would reject or that carry credentials, without a request", async () => {
      const long = `https://img.example.org/${"x".repeat(260)}.jpg`;
      for (const urls of [[], [art, art, art], [long], ["ftp://img.example.org/a.jpg"], ["https://nd.example.org/rest/getCoverArt?id=1&u=admin&t=abc&s=salt"]]) {
        await expect(rest.registerExternalAssets(TOKEN, APP, urls)).rejects.toMatchObject({ code: "external_assets" });
      }
      expect(fake.requests).toHaveLength(0);
    });
  });
});

describe("carriesCredentials", () => {
  it("spots Subsonic credentials, API keys and userinfo", () => {
    expect(carriesCredentials("https://nd.example.org/rest/getCoverArt?id=1&u=admin&t=abc&s=salt")).toBe(true);
    expect(carriesCredentials("https://nd.example.org/rest/getCoverArt?id=1&p=enc:6869")).toBe(true);
    expect(carriesCredentials("https://img.example.org/a.jpg?apiKey=k")).toBe(true);
    expect(carriesCredentials("https://img.example.org/a.jpg?token=k")).toBe(true);
    expect(carriesCredentials("https://admin:pw@img.example.org/a.jpg")).toBe(true);
    expect(carriesCredentials("not a url")).toBe(true);
    expect(carriesCredentials("https://coverartarchive.org/release/abc/front-500")).toBe(false);
    expect(carriesCredentials("https://img.example.org/a.jpg?size=500")).toBe(false);
  });
});
