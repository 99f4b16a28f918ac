import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FakeDiscordRest, FakeImageHost } from "./fakes/discord-rest.ts";
import { FakeGateway } from "./fakes/gateway.ts";
import { FakeSubsonic } from "./fakes/subsonic.ts";
import { deadline, nextTurn, until } from "./fakes/wait.ts";
import { APP_ID, TOKENS } from "./harness.ts";

// The real CLI as a child process, started with exactly the command the README documents (so that
// the PID it gets is the one a service manager signals), pointed at loopback fakes that speak the
// real protocols: a track started on Subsonic and a ListenBrainz playing_now, each appears on
// Discord; stopping clears; SIGTERM to that PID clears, closes with 1000 and exits 0.
const secrets = { ND_PASSWORD: "subsonic-SECRET-pw-42", LB_ALICE: "lb-alice-SECRET-0000", LB_BOB: "lb-bob-SECRET-1111" };
const entry = {
  id: "tr-1",
  title: "Pyramid Song",
  artist: "Radiohead",
  album: "Amnesiac",
  duration: 289,
  track: 2,
  coverArt: "al-1",
  username: "alice",
  minutesAgo: 0,
  playerId: 1,
  playerName: "NavidromeUI",
};

const repository = new URL("..", import.meta.url).pathname;

/**
 * The command "Set up and run" in the README gives to run the service, as words: the second line
 * of its first shell block (Node), or the one it names for Deno.
 */
function documentedStart(runtime: "node" | "deno"): string[] {
  const readme = readFileSync(join(repository, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## Set up and run"));
  const line = runtime === "node" ? /```sh\n.*\n(.*?)\s*#/.exec(section)?.[1] : /On Deno, the second command is `([^`]+)`/.exec(section)?.[1];
  if (!line) throw new Error(`the README's "Set up and run" names no ${runtime} command to run the service`);
  return line.trim().split(/\s+/);
}

let child: ChildProcess | undefined;
let output = "";
const fakes: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  if (child && child.exitCode === null) child.kill("SIGKILL");
  await Promise.all(fakes.splice(0).map((fake) => fake.close()));
});

async function startAll() {
  const gateway = await FakeGateway.start({ validTokens: Object.values(TOKENS) });
  const rest = await FakeDiscordRest.start({ gatewayUrl: gateway.url, validTokens: Object.values(TOKENS) });
  const images = await FakeImageHost.start({ known: [] });
  const subsonic = await FakeSubsonic.start({ username: "admin", password: secrets.ND_PASSWORD, tokenAuth: true });
  fakes.push(gateway, rest, images, subsonic);
  const dir = mkdtempSync(join(tmpdir(), "nd-presence-e2e-"));
  const config = {
    discord: { applicationId: APP_ID, apiBaseUrl: rest.url },
    artwork: { coverArtArchiveUrl: images.url, defaultImage: `${images.url}/img/default.jpg`, musicBrainzLookup: false },
    sources: {
      subsonic: { url: subsonic.url, username: "admin", password: "env:ND_PASSWORD", pollIntervalMs: 500 },
      listenbrainz: { enabled: true },
    },
    http: { host: "127.0.0.1", port: 0 },
    journal: { path: join(dir, "data", "journal.jsonl") },
    users: [
      { username: "alice", discordToken: "env:DISCORD_TOKEN_ALICE", listenbrainzToken: "env:LB_ALICE" },
      { username: "bob", discordToken: "env:DISCORD_TOKEN_BOB", listenbrainzToken: "env:LB_BOB" },
    ],
  };
  writeFileSync(join(dir, "nd-presence.json"), JSON.stringify(config, null, 2));
  output = "";
  // Under Deno the same test starts the README's Deno command: `deno task test` proves the service runs there.
  const [command, ...args] = documentedStart("Deno" in globalThis ? "deno" : "node");
  child = spawn(command!, args, {
    cwd: repository,
    env: { ...process.env, ...secrets, DISCORD_TOKEN_ALICE: TOKENS.alice, DISCORD_TOKEN_BOB: TOKENS.bob, ND_PRESENCE_CONFIG: join(dir, "nd-presence.json") },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const port = Number((await until(() => /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(output), 15_000, "the HTTP server"))[1]);
  return { gateway, rest, subsonic, base: `http://127.0.0.1:${port}` };
}

const activityOf = (d: unknown) => (d as { activities: Array<{ details?: string }> }).activities[0] ?? null;

describe("nd-presence start, end to end", () => {
  it("follows Subsonic and ListenBrainz to Discord, clears on stop, and ends cleanly on SIGTERM", async () => {
    const { gateway, subsonic, base } = await startAll();

    // A track started on the Subsonic server appears on alice's Discord.
    subsonic.setNowPlaying([entry]);
    const alicePresence = await gateway.waitForFrame((f) => f.op === 3 && activityOf(f.d)?.details === "Pyramid Song", 10_000);
    const aliceConnection = alicePresence.connection;
    expect(gateway.connections[aliceConnection]!.token).toBe(TOKENS.alice);

    // A ListenBrainz playing_now, posted the way Navidrome posts it, appears on bob's.
    const listen = {
      listen_type: "playing_now",
      payload: [{
        track_metadata: {
          artist_name: "Portishead",
          track_name: "Roads",
          release_name: "Dummy",
          additional_info: { duration_ms: 305_000, tracknumber: 10, submission_client: "Navidrome", submission_client_version: "0.55.0" },
        },
      }],
    };
    const posted = await fetch(`${base}/1/submit-listens`, {
      method: "POST",
      headers: { Authorization: `Token ${secrets.LB_BOB}`, "Content-Type": "application/json" },
      body: JSON.stringify(listen),
    });
    expect(posted.status).toBe(200);
    expect(await posted.json()).toEqual({ status: "ok" });
    const bobPresence = await gateway.waitForFrame((f) => f.op === 3 && activityOf(f.d)?.details === "Roads", 10_000);
    expect(gateway.connections[bobPresence.connection]!.token).toBe(TOKENS.bob);

    // The status page and the JSON status show both.
    const status = (await (await fetch(`${base}/status`)).json()) as { users: Array<{ user: string; state: string }> };
    expect(status.users.map((u) => [u.user, u.state])).toEqual([["alice", "presenting.playing"], ["bob", "presenting.playing"]]);
    expect(await (await fetch(`${base}/`)).text()).toContain("Roads");
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    // A presence counts once the server has kept it: the socket stayed open 5 s after it.
    const kept = async () => {
      const status = (await (await fetch(`${base}/status`)).json()) as { users: Array<{ presenceUpdates: number }> };
      return status.users[0]!.presenceUpdates === 1;
    };
    // Read again each time the last answer is in: the outcome, not a pause, paces it.
    const time = deadline(15_000);
    try {
      while (!(await kept())) {
        if (time.expired) throw new Error("alice's presence never counted as kept");
        await nextTurn();
      }
    } finally {
      time.clear();
    }
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/nd_presence_presence_updates_total\{user="alice"\} 1/);

    // The entry disappears from the server: alice's presence is cleared.
    subsonic.setNowPlaying([]);
    await gateway.waitForFrame((f) => f.op === 3 && f.connection === aliceConnection && activityOf(f.d) === null, 10_000);

    // SIGTERM: bob's presence is cleared, every socket closes with 1000, exit 0 within 5 s.
    const exited = new Promise<number | null>((resolve) => child!.once("exit", (code) => resolve(code)));
    const signalled = Date.now();
    // process.kill, not child.kill: under Deno a child stopped through child.kill is reported as
    // killed by the signal even when it handled it and exited 0.
    process.kill(child!.pid!, "SIGTERM");
    expect(await exited).toBe(0);
    expect(Date.now() - signalled).toBeLessThan(5_000);
    await gateway.waitForFrame((f) => f.op === 3 && f.connection === bobPresence.connection && activityOf(f.d) === null);
    for (const connection of [aliceConnection, bobPresence.connection]) {
      expect((await gateway.waitForClose(connection)).code).toBe(1000);
    }

    // No secret in anything the process printed or served.
    const seen = output + JSON.stringify(status) + metrics;
    for (const secret of [...Object.values(secrets), TOKENS.alice, TOKENS.bob]) expect(seen).not.toContain(secret);
    expect(subsonic.requests.every((r) => !r.raw.includes(secrets.ND_PASSWORD) && !("p" in r.query))).toBe(true);
  }, 40_000);
});
