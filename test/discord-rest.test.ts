import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { carriesCredentials } from "../src/actors/discord-protocol.ts";
import { DiscordRest } from "../src/adapters/discord/rest.ts";
import { memoryLogger } from "../src/adapters/logger.ts";
import { PresenceError } from "../src/errors.ts";
import { type ApiVersion, FakeDiscordRest, type FakeDiscordRestOptions } from "./fakes/discord-rest.ts";
import { spellingsIn } from "./secret-spellings.ts";

const TOKEN = "mfa.user-token-SECRET-1234567890";
const APP = "123456789012345678";
const UA = "nd-presence/test (+https://example.org)";

describe("DiscordRest", () => {
  let fake: FakeDiscordRest;
  let logger: ReturnType<typeof memoryLogger>;
  let sleeps: number[];
  let rest: DiscordRest;
  /** Fakes a test starts besides `fake`: closed after it. */
  const others: FakeDiscordRest[] = [];

  /** Another fake (e.g. serving only some versions) and a client of it. */
  async function startOther(options: Partial<FakeDiscordRestOptions>): Promise<{ server: FakeDiscordRest; client: DiscordRest }> {
    const server = await FakeDiscordRest.start({ gatewayUrl: "wss://spacebar.example.test", ...options });
    others.push(server);
    return { server, client: new DiscordRest({ apiBaseUrl: server.url, userAgent: UA, logger }) };
  }
  const paths = (server: FakeDiscordRest) => server.requests.map((request) => request.path);

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
  afterEach(async () => {
    await Promise.all([fake, ...others.splice(0)].map((server) => server.close()));
  });

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

  describe("discoverGateway on a server without v10 (issue 17)", () => {
    const serving = (versions: ApiVersion[]) => startOther({ versions });

    it("v10 404 -> asks v9, which answers; one debug line names the path", async () => {
      const { server, client } = await serving(["v9", ""]);
      expect(await client.discoverGateway(false)).toBe("wss://spacebar.example.test");
      expect(paths(server)).toEqual(["/api/v10/gateway", "/api/v9/gateway"]);
      const lines = logger.entries.filter((entry) => entry.message === "gateway discovered");
      expect(lines).toEqual([{ level: "debug", message: "gateway discovered", data: { gateway: "wss://spacebar.example.test", path: "/v9/gateway" } }]);
    });

    it("v10 and v9 404 -> asks the unversioned route, which answers", async () => {
      const { server, client } = await serving([""]);
      expect(await client.discoverGateway(false)).toBe("wss://spacebar.example.test");
      expect(paths(server)).toEqual(["/api/v10/gateway", "/api/v9/gateway", "/api/gateway"]);
    });

    it.each([400, 401, 405])("%i on v10 also means 'not here': asks v9", async (status) => {
      fake.failNext(status);
      expect(await rest.discoverGateway(false)).toBe("wss://gateway.example.test");
      expect(paths(fake)).toEqual(["/api/v10/gateway", "/api/v9/gateway"]);
    });

    it("a 5xx or a bad body on v10 fails at once, without asking another version", async () => {
      fake.failNext(503);
      await expect(rest.discoverGateway(false)).rejects.toMatchObject({ code: "gateway_discovery", message: expect.stringContaining("503") });
      fake.failNext(200, { url: "https://not-a-socket.test" });
      await expect(rest.discoverGateway(false)).rejects.toMatchObject({ code: "gateway_discovery" });
      expect(paths(fake)).toEqual(["/api/v10/gateway", "/api/v10/gateway"]);
    });

    it("a network error fails at once, without asking another version", async () => {
      const asked: string[] = [];
      const client = new DiscordRest({
        apiBaseUrl: fake.url,
        userAgent: UA,
        logger,
        fetch: async (input) => {
          asked.push(String(input));
          throw new TypeError("fetch failed");
        },
      });
      await expect(client.discoverGateway(false)).rejects.toMatchObject({ code: "gateway_discovery", message: expect.stringContaining("cannot reach") });
      expect(asked).toEqual([`${fake.url}/v10/gateway`]);
    });

    it("when no version answers, the error names every path tried", async () => {
      const { server, client } = await serving([]);
      const error = (await client.discoverGateway(false).catch((e: unknown) => e)) as PresenceError;
      expect(error.code).toBe("gateway_discovery");
      for (const tried of ["/v10/gateway: HTTP 404", "/v9/gateway: HTTP 404", "/gateway: HTTP 404"]) expect(error.message).toContain(tried);
      expect(server.requests).toHaveLength(3);
    });

    it("caches the URL found, and a refresh asks the version that answered first", async () => {
      const { server, client } = await serving([""]);
      await client.discoverGateway(false);
      await client.discoverGateway(false);
      expect(server.requests).toHaveLength(3);
      expect(await client.discoverGateway(true)).toBe("wss://spacebar.example.test");
      expect(paths(server).slice(3)).toEqual(["/api/gateway"]);
    });
  });

  describe("checkToken", () => {
    const spacebarLike = () => startOther({ validTokens: [TOKEN], versions: ["v9", ""] });

    it("200 -> valid: GET users/@me with the raw token and the User-Agent", async () => {
      expect(await rest.checkToken(TOKEN)).toBe("valid");
      const [request] = fake.requests;
      expect(request).toMatchObject({ method: "GET", path: "/api/v10/users/@me" });
      expect(request!.headers.authorization).toBe(TOKEN);
      expect(request!.headers["user-agent"]).toBe(UA);
    });

    it("401 from the version discovery found -> invalid, and no other version is asked", async () => {
      await rest.discoverGateway();
      expect(await rest.checkToken("mfa.revoked-token-SECRET-0987654321")).toBe("invalid");
      expect(paths(fake)).toEqual(["/api/v10/gateway", "/api/v10/users/@me"]);
    });

    it("before any discovery a 401 may mean the version is not served: invalid only once every version says so", async () => {
      expect(await rest.checkToken("mfa.revoked-token-SECRET-0987654321")).toBe("invalid");
      expect(paths(fake)).toEqual(["/api/v10/users/@me", "/api/v9/users/@me", "/api/users/@me"]);
      // A server that answers 401 on a version it does not serve, then 200 on one it does: valid.
      fake.failNext(401, { message: "401: Unauthorized", code: 0 });
      expect(await rest.checkToken(TOKEN)).toBe("valid");
    });

    it.each([
      [500, { message: "500: Internal Server Error", code: 0 }],
      [503, { message: "503: Service Unavailable", code: 0 }],
      [429, { retry_after: 1, global: false, message: "You are being rate limited." }],
      [403, { message: "Missing Access", code: 50001 }],
    ])("%i -> unknown, without a retry on another version", async (status, body) => {
      fake.failNext(status, body);
      expect(await rest.checkToken(TOKEN)).toBe("unknown");
      expect(fake.requests).toHaveLength(1);
    });

    it("a network error or a timeout -> unknown", async () => {
      const unreachable = new DiscordRest({
        apiBaseUrl: fake.url,
        userAgent: UA,
        logger,
        fetch: async () => {
          throw new TypeError("fetch failed", { cause: { code: "ECONNREFUSED" } });
        },
      });
      expect(await unreachable.checkToken(TOKEN)).toBe("unknown");

      // A server that never answers: the request's own timeout signal ends it.
      const silent = new DiscordRest({
        apiBaseUrl: fake.url,
        userAgent: UA,
        logger,
        timeoutMs: 5,
        fetch: (_input, init) => new Promise((_resolve, reject) => init!.signal!.addEventListener("abort", () => reject(init!.signal!.reason))),
      });
      expect(await silent.checkToken(TOKEN)).toBe("unknown");
    });

    it("before any discovery, walks v10 -> v9 on 404", async () => {
      const { server, client } = await spacebarLike();
      expect(await client.checkToken(TOKEN)).toBe("valid");
      expect(await client.checkToken("wrong-token")).toBe("invalid");
      expect(paths(server)).toEqual(["/api/v10/users/@me", "/api/v9/users/@me", "/api/v9/users/@me"]);
    });

    it("after discovery, asks the version discovery found first", async () => {
      const { server, client } = await spacebarLike();
      await client.discoverGateway(false);
      expect(await client.checkToken(TOKEN)).toBe("valid");
      expect(paths(server)).toEqual(["/api/v10/gateway", "/api/v9/gateway", "/api/v9/users/@me"]);
    });

    it("no route answering -> unknown", async () => {
      const { server, client } = await startOther({ versions: [] });
      expect(await client.checkToken(TOKEN)).toBe("unknown");
      expect(server.requests).toHaveLength(3);
    });

    it("the token is in no log line, no URL, and no result, whatever the outcome", async () => {
      const { server, client } = await spacebarLike();
      const outcomes = [await client.checkToken(TOKEN), await rest.checkToken(TOKEN)];
      server.failNext(500);
      fake.failNext(429, { retry_after: 1 });
      outcomes.push(await client.checkToken(TOKEN), await rest.checkToken(TOKEN));
      const refused = "mfa.revoked-token-SECRET-0987654321";
      outcomes.push(await client.checkToken(refused));
      expect(outcomes).toEqual(["valid", "valid", "unknown", "unknown", "invalid"]);

      const urls = [...server.requests, ...fake.requests].map((request) => request.path);
      for (const secret of [TOKEN, refused]) {
        expect(spellingsIn([logger.entries, logger.text()], secret)).toEqual([]);
        expect(spellingsIn(urls, secret)).toEqual([]);
      }
      expect(logger.text()).not.toMatch(/authorization/i);
    });
  });

  describe("FakeDiscordRest", () => {
    it("without a token list takes any token; a missing token is 401", async () => {
      const { client } = await startOther({});
      expect(await client.checkToken("anything")).toBe("valid");
      expect(await client.checkToken("")).toBe("invalid");
    });

    it("externalAssetsMissing answers 404 on external assets, as Spacebar does", async () => {
      fake.externalAssetsMissing = true;
      const error = (await rest.registerExternalAssets(TOKEN, APP, ["https://img.example.org/a.jpg"]).catch((e: unknown) => e)) as PresenceError;
      expect(error.code).toBe("external_assets");
      expect(error.message).toContain("404");
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
      for (
        const urls of [[], [art, art, art], [long], ["ftp://img.example.org/a.jpg"], ["https://nd.example.org/rest/getCoverArt?id=1&u=admin&t=abc&s=salt"]]
      ) {
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
