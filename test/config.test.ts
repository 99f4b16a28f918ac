import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { checkCommand } from "../src/cli/check.ts";
import type { JsonSchema } from "../src/config/json-schema.ts";
import { envNames } from "../src/config/env.ts";
import { exampleConfig } from "../src/config/example.ts";
import { parseJsonc } from "../src/config/jsonc.ts";
import { parseConfig } from "../src/config/load.ts";
import { configSchema, configSchemaText } from "../src/config/schema.ts";
import { validateConfig } from "../src/config/validate.ts";
import { createPresenceService } from "../src/service/service.ts";
import { silentLogger } from "../src/adapters/logger.ts";

const minimal = () => ({
  discord: { applicationId: "1234567890123456789" },
  users: [{ username: "alice", discordToken: "token-alice" }],
});

const problemsOf = (text: string, env: Record<string, string> = {}) => {
  const result = parseConfig(text, env);
  return result.ok ? [] : result.problems;
};

describe("config validation", () => {
  it("what check accepts, the service starts with: a disabled user needs no token", async () => {
    const config = { ...minimal(), users: [...minimal().users, { username: "bob", enabled: false }] };
    expect(validateConfig(config)).toEqual([]);
    const service = createPresenceService({ config: config as never, logger: silentLogger });
    await service.start();
    expect(service.status().users.map((u) => [u.user, u.state])).toEqual([["alice", "idle"], ["bob", "disabled"]]);
    await service.stop();
  });

  it("accepts a minimal config", () => {
    expect(validateConfig(minimal())).toEqual([]);
  });

  it("reports an unknown key at its path, with the key it probably meant", () => {
    const config = { ...minimal(), presence: { detials: "{title}" } };
    expect(validateConfig(config)).toEqual([{ path: "presence.detials", message: 'unknown key; did you mean "details"?' }]);
  });

  it("reports every problem at once, each at its JSON path", () => {
    const config = {
      discord: { applicationId: "12ab" },
      sources: { subsonic: { url: "127.0.0.1:4533", username: "admin", password: "pw", pollIntervalMs: "2000" } },
      presence: { status: "busy" },
      users: [
        { username: "alice", discordToken: "t1" },
        { username: "alice" },
      ],
    };
    const paths = validateConfig(config).map((problem) => problem.path);
    expect(paths).toEqual(expect.arrayContaining([
      "discord.applicationId",
      "sources.subsonic.url",
      "sources.subsonic.pollIntervalMs",
      "presence.status",
      "users[1].username",
      "users[1].discordToken",
    ]));
    expect(paths).toHaveLength(6);
  });

  it("says what to do, not just what is wrong", () => {
    const problems = validateConfig({ discord: {}, users: [{ username: "bob", enabled: true, discordToken: "" }], http: { port: 70000 } });
    const byPath = Object.fromEntries(problems.map((p) => [p.path, p.message]));
    expect(byPath["discord.applicationId"]).toMatch(/^missing; add it/);
    expect(byPath["users[0].discordToken"]).toBe("must not be empty");
    expect(byPath["http.port"]).toBe("must be at most 65535");
  });

  it("lets a disabled user go without a token, and accepts null where the schema allows it", () => {
    const config = {
      ...minimal(),
      users: [{ username: "bob", enabled: false }],
      sources: { subsonic: null },
      discord: { applicationId: "12345", gatewayUrl: null },
    };
    expect(validateConfig(config)).toEqual([]);
    expect(validateConfig({ ...config, discord: { applicationId: "12345", gatewayUrl: "http://x" } })).toEqual([
      { path: "discord.gatewayUrl", message: "must be a URL starting with ws:// or wss://" },
    ]);
  });

  it("refuses the ListenBrainz receiver without the HTTP server it runs on", () => {
    const config = { ...minimal(), sources: { listenbrainz: { enabled: true } }, http: { enabled: false } };
    expect(validateConfig(config).map((p) => p.path)).toEqual(["sources.listenbrainz.enabled"]);
  });
});

const dir = mkdtempSync(join(tmpdir(), "nd-presence-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `nd-presence check --config <file>` in-process: its exit code and what it printed. */
async function check(config: unknown) {
  const path = join(dir, "config.json");
  writeFileSync(path, JSON.stringify(config));
  const lines: string[] = [];
  const code = await checkCommand({ flags: { config: path }, positionals: [], help: false }, {
    out: (line) => lines.push(line),
    err: (line) => lines.push(line),
    env: {},
  });
  return { code, lines };
}

describe("durations check refuses", () => {
  it("a helloTimeoutMs over what a timer can wait (2^31 ms), naming the field and its maximum", async () => {
    const { code, lines } = await check({ ...minimal(), gateway: { helloTimeoutMs: 2_147_483_648 } });
    expect(code).toBe(2);
    expect(lines).toEqual([expect.stringMatching(/config\.json: 1 problem$/), "  gateway.helloTimeoutMs: must be at most 600000 (10 min)"]);
  });

  it("and says the minimum the same way", async () => {
    const { lines } = await check({ ...minimal(), gateway: { helloTimeoutMs: 10 }, journal: { fsyncIntervalMs: 600_000 } });
    expect(lines.slice(1)).toEqual([
      "  gateway.helloTimeoutMs: must be at least 1000 (1 s)",
      "  journal.fsyncIntervalMs: must be at most 60000 (1 min)",
    ]);
  });

  it("nothing a timer cannot wait: every ms field has a maximum of at most 2^31 - 1", () => {
    const msFields: Array<[string, JsonSchema]> = [];
    const walk = (schema: JsonSchema, path: string) => {
      for (const [key, child] of Object.entries(schema.properties ?? {})) {
        if (key.endsWith("Ms")) msFields.push([`${path}${key}`, child.oneOf?.find((branch) => branch.type !== "null") ?? child]);
        walk(child.oneOf?.find((branch) => branch.type === "object") ?? child.items ?? child, `${path}${key}.`);
      }
    };
    walk(configSchema, "");
    expect(msFields.length).toBeGreaterThanOrEqual(15);
    const unbounded = msFields.filter(([, field]) => !(field.maximum !== undefined && field.maximum <= 2 ** 31 - 1)).map(([path]) => path);
    expect(unbounded).toEqual([]);
  });
});

describe("artwork check", () => {
  it('accepts an image URL, "none" or null as the default image, and a MusicBrainz URL and switch', async () => {
    for (const defaultImage of ["https://img.example.org/logo.png", "none", null]) {
      expect(await check({ ...minimal(), artwork: { defaultImage, musicBrainzLookup: false, musicBrainzUrl: "http://127.0.0.1:5000" } })).toMatchObject({
        code: 0,
      });
    }
  });

  it("refuses anything else, naming the field and what it takes", async () => {
    const { code, lines } = await check({ ...minimal(), artwork: { defaultImage: "logo.png", musicBrainzUrl: "musicbrainz.org", musicBrainzLookup: "yes" } });
    expect(code).toBe(2);
    expect(lines.slice(1)).toEqual([
      '  artwork.defaultImage: must be a URL starting with http:// or https://, or "none" for no image',
      "  artwork.musicBrainzUrl: must be a URL starting with http:// or https://",
      "  artwork.musicBrainzLookup: must be true or false",
    ]);
    expect(validateConfig({ ...minimal(), artwork: { defaultImage: "None" } })).toEqual([
      { path: "artwork.defaultImage", message: 'must be a URL starting with http:// or https://, or "none" for no image' },
    ]);
  });
});

describe("config loading", () => {
  it("reads env:NAME values from the environment", () => {
    const text = JSON.stringify({ ...minimal(), users: [{ username: "alice", discordToken: "env:DISCORD_TOKEN_ALICE" }] });
    const result = parseConfig(text, { DISCORD_TOKEN_ALICE: "from-env" });
    expect(result.ok && result.config.users[0]!.discordToken).toBe("from-env");
    expect(result.ok && result.secrets).toContain("from-env");
  });

  it("names a missing environment variable at the path that needs it", () => {
    const text = JSON.stringify({ ...minimal(), users: [{ username: "alice", discordToken: "env:DISCORD_TOKEN_ALICE" }] });
    expect(problemsOf(text)).toEqual([
      { path: "users[0].discordToken", message: "environment variable DISCORD_TOKEN_ALICE is not set; set it before running nd-presence" },
    ]);
  });

  it("validates after reading the environment", () => {
    const text = JSON.stringify({ ...minimal(), discord: { applicationId: "env:APP_ID" } });
    expect(problemsOf(text, { APP_ID: "1234567890" })).toEqual([]);
    expect(problemsOf(text, { APP_ID: "not-a-number" }).map((p) => p.path)).toEqual(["discord.applicationId"]);
  });

  it("allows // and /* */ comments, but not inside strings", () => {
    const text = `// a comment
      { /* block
      comment */ "discord": { "applicationId": "1234567890123456789" },
        "presence": { "name": "a // not a comment /* either */" },
        "users": [ { "username": "alice", "discordToken": "t" }, ], // trailing comma allowed
      }`;
    const result = parseConfig(text, {});
    expect(result.ok && result.config.presence?.name).toBe("a // not a comment /* either */");
  });

  it("reports a syntax error with its line and column", () => {
    const text = '{\n  "discord": { "applicationId": "12345" }\n  "users": []\n}';
    expect(problemsOf(text)).toEqual([{ path: "line 3, column 3", message: "expected , or } after a value; is a comma missing?" }]);
    expect(problemsOf('{\n  "users": [\n')[0]!.path).toBe("line 3, column 1");
    expect(problemsOf('{ "a": 1, "a": 2 }')).toEqual([{ path: "line 1, column 11", message: 'the key "a" appears twice in this object; keep one' }]);
  });

  it("says what to do about each kind of syntax error, at the character that is wrong", () => {
    const cases: Array<[text: string, path: string, message: string]> = [
      ['{ "pollIntervalMs": 2000ms }', "line 1, column 25", "invalid number; write digits, e.g. 2000, or quote a string"],
      ['{ "a": 1 } /* note', "line 1, column 12", "this /* comment is never closed; add */"],
      ['{ "a": "b\n" }', "line 1, column 8", 'this string is never closed; add a " at its end'],
      ['{ "a": "C:\\dir" }', "line 1, column 11", "invalid escape in a string; a backslash is written \\\\"],
      ["{ 'a': 1 }", "line 1, column 3", "keys need double quotes, not single quotes"],
      ['{ "a": [1, , 2] }', "line 1, column 12", "expected a value before this ,"],
      ['{ "a": 1 } }', "line 1, column 12", "unexpected text after the end of the config; remove it"],
      ["// only a comment\n", "line 1, column 1", "the file is empty; it must hold a JSON object"],
      ['{ "a": tru }', "line 1, column 8", "expected a value: a string in double quotes, a number, true, false, null, { or ["],
      ['{ "a" 1 }', "line 1, column 7", 'expected : after the key "a"'],
    ];
    for (const [text, path, message] of cases) expect(problemsOf(text), text).toEqual([{ path, message }]);
  });

  it("reads a key named __proto__ as a key, which check then refuses", () => {
    expect(problemsOf('{ "discord": { "applicationId": "12345" }, "users": [], "__proto__": {} }')).toEqual([
      { path: "__proto__", message: expect.stringMatching(/^unknown key/) },
    ]);
  });

  it("never puts a secret in a problem", () => {
    const secrets = ["sekrit-discord-token", "sekrit-lb-token", "sekrit-password", "sekrit-from-env"];
    const text = JSON.stringify({
      discord: { applicationId: "env:APP_ID", userAgent: "" },
      sources: { subsonic: { url: "env:ND_URL", username: "a", password: 42 } },
      users: [
        { username: "alice", discordToken: "sekrit-discord-token", listenbrainzToken: "sekrit-lb-token", status: "sekrit-discord-token" },
        { username: "bob", discordToken: "sekrit-discord-token", listenbrainzToken: "sekrit-lb-token" },
        { username: "carol", discordToken: ["sekrit-password"] },
      ],
    });
    const problems = problemsOf(text, { APP_ID: "sekrit-from-env", ND_URL: "sekrit-from-env" });
    expect(problems.length).toBeGreaterThanOrEqual(6);
    const printed = JSON.stringify(problems);
    for (const secret of secrets) expect(printed).not.toContain(secret);
    // A syntax error quotes nothing around it, whatever JSON.parse would have.
    const broken = problemsOf('{ "users": [ { "discordToken": sekrit-discord-token } ] }');
    expect(broken).toHaveLength(1);
    expect(JSON.stringify(broken)).not.toContain("sekrit");
  });
});

describe("config schema and example", () => {
  it("config.schema.json is the generated schema (run npm run schema)", () => {
    expect(readFileSync(new URL("../config.schema.json", import.meta.url), "utf8")).toBe(configSchemaText());
  });

  it("the init example parses and validates once the variables it names are set", () => {
    const names = envNames(parseJsonc(exampleConfig()));
    expect(names).toEqual(expect.arrayContaining(["DISCORD_TOKEN_ALICE", "ND_PASSWORD"]));
    const env = Object.fromEntries(names.map((name) => [name, `value-of-${name}`]));
    const result = parseConfig(exampleConfig(), env);
    expect(result.ok ? [] : result.problems).toEqual([]);
    expect(result.ok && result.config.sources?.subsonic?.password).toBe("value-of-ND_PASSWORD");
  });
});

describe("discord.activityFields check", () => {
  it('takes "auto", "full" or "core", and names the field and the choices otherwise', async () => {
    for (const activityFields of ["auto", "full", "core"]) {
      expect(await check({ ...minimal(), discord: { ...minimal().discord, activityFields } })).toMatchObject({ code: 0 });
    }
    const { code, lines } = await check({ ...minimal(), discord: { ...minimal().discord, activityFields: "minimal" } });
    expect(code).toBe(2);
    expect(lines.slice(1).join("\n")).toMatch(/discord\.activityFields: .*"auto".*"full".*"core"/);
  });
});

describe("log.level check", () => {
  it('takes "debug", "info", "warn" or "error"', async () => {
    for (const level of ["debug", "info", "warn", "error"]) expect(await check({ ...minimal(), log: { level } })).toMatchObject({ code: 0 });
  });

  it("names the field and the levels otherwise, and refuses an unknown key beside it", async () => {
    const { code, lines } = await check({ ...minimal(), log: { level: "verbose", format: "json" } });
    expect(code).toBe(2);
    expect(lines.slice(1)).toEqual([
      '  log.level: must be one of "debug", "info", "warn", "error"',
      '  log.format: unknown key; the keys allowed here are "level"',
    ]);
    expect(validateConfig({ ...minimal(), log: { level: "warning" } })).toEqual([
      { path: "log.level", message: 'must be one of "debug", "info", "warn", "error"; did you mean "warn"?' },
    ]);
  });
});
