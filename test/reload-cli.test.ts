import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runCli } from "../src/cli/run.ts";
import { FakeDiscordRest, FakeImageHost } from "./fakes/discord-rest.ts";
import { FakeGateway } from "./fakes/gateway.ts";
import { until } from "./fakes/wait.ts";
import { APP_ID, TOKENS } from "./harness.ts";

// `nd-presence start` as a process: SIGHUP and POST /reload re-read the config file, a config
// that `check` refuses is refused with check's own messages while the running one stays, and
// each way a start can fail on the machine is one line with its documented exit code.
const repository = new URL("..", import.meta.url).pathname;
const deno = "Deno" in globalThis;
const cli = deno ? [process.execPath, "run", "-A", "src/cli/main.ts"] : [process.execPath, "--import", "tsx", "src/cli/main.ts"];
const secrets = { LB_ALICE: "lb-alice-SECRET-0000", LB_BOB: "lb-bob-SECRET-1111", DISCORD_TOKEN_ALICE: TOKENS.alice, DISCORD_TOKEN_BOB: TOKENS.bob };

let child: ChildProcess | undefined;
let output = "";
const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  if (child && child.exitCode === null) child.kill("SIGKILL");
  child = undefined;
  await Promise.all(closers.splice(0).map((close) => close()));
});

function startCli(args: string[], env: Record<string, string> = {}) {
  output = "";
  const [command, ...rest] = [...cli, "start", ...args];
  child = spawn(command!, rest, { cwd: repository, env: { ...process.env, ...secrets, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child!.once("exit", (code) => resolve(code)));
  return { exited };
}

const alice = { username: "alice", discordToken: "env:DISCORD_TOKEN_ALICE", listenbrainzToken: "env:LB_ALICE" };
const bob = { username: "bob", discordToken: "env:DISCORD_TOKEN_BOB", listenbrainzToken: "env:LB_BOB" };

async function fakes() {
  const gateway = await FakeGateway.start({ validTokens: Object.values(TOKENS) });
  const rest = await FakeDiscordRest.start({ gatewayUrl: gateway.url, validTokens: Object.values(TOKENS) });
  const images = await FakeImageHost.start({ known: [] });
  closers.push(() => gateway.close(), () => rest.close(), () => images.close());
  const dir = mkdtempSync(join(tmpdir(), "nd-presence-reload-"));
  const configFor = (users: object[], extra: object = {}) => ({
    discord: { applicationId: APP_ID, apiBaseUrl: rest.url },
    artwork: { coverArtArchiveUrl: images.url, defaultImage: `${images.url}/img/default.jpg`, musicBrainzLookup: false },
    sources: { listenbrainz: { enabled: true } },
    http: { host: "127.0.0.1", port: 0 },
    journal: { path: join(dir, "data", "journal.jsonl") },
    users,
    ...extra,
  });
  const path = join(dir, "nd-presence.json");
  const write = (config: object) => writeFileSync(path, JSON.stringify(config, null, 2));
  return { gateway, dir, path, write, configFor };
}

const listen = (title: string) => ({
  listen_type: "playing_now",
  payload: [{ track_metadata: { artist_name: "Portishead", track_name: title, release_name: "Dummy", additional_info: { duration_ms: 305_000 } } }],
});
const details = (d: unknown) => (d as { activities: Array<{ details?: string }> }).activities[0]?.details;

describe("nd-presence start: reload", () => {
  it("SIGHUP adds a user without touching the others; POST /reload refuses a bad config with check's messages and keeps the running one", async () => {
    const { gateway, path, write, configFor } = await fakes();
    write(configFor([alice]));
    const { exited } = startCli(["--config", path]);
    const port = Number((await until(() => /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(output), 15_000, "the HTTP server"))[1]);
    const base = `http://127.0.0.1:${port}`;
    const submit = (token: string, title: string) =>
      fetch(`${base}/1/submit-listens`, { method: "POST", headers: { Authorization: `Token ${token}` }, body: JSON.stringify(listen(title)) });

    expect((await submit(secrets.LB_ALICE, "Roads")).status).toBe(200);
    const aliceShown = await gateway.waitForFrame((f) => f.op === 3 && details(f.d) === "Roads", 10_000);
    // Bob is not configured yet: his token is refused.
    expect((await submit(secrets.LB_BOB, "Sour Times")).status).toBe(401);

    // SIGHUP after bob is added: bob's listen is taken and shown; alice's session is left alone.
    write(configFor([alice, bob]));
    process.kill(child!.pid!, "SIGHUP");
    await until(() => output.includes("config reloaded"), 10_000, "the reload");
    expect(output).toMatch(/"added":\["bob"\]/);
    expect((await submit(secrets.LB_BOB, "Sour Times")).status).toBe(200);
    const bobShown = await gateway.waitForFrame((f) => f.op === 3 && details(f.d) === "Sour Times", 10_000);
    expect(gateway.connections[bobShown.connection]!.token).toBe(TOKENS.bob);
    expect(gateway.connections).toHaveLength(2);
    expect(gateway.connections[aliceShown.connection]!.closedWith).toBeUndefined();

    // A config that check refuses: 422 with the same lines check prints, and nothing changes.
    const broken = { ...configFor([alice]), users: [alice, { ...bob, status: "away" }], sourcez: {} };
    write(broken);
    const checked: string[] = [];
    const checkCode = await runCli(["check", "--config", path], { out: (line) => checked.push(line), err: (line) => checked.push(line), env: secrets });
    expect(checkCode).toBe(2);
    const answer = await fetch(`${base}/reload`, { method: "POST" });
    expect(answer.status).toBe(422);
    const body = (await answer.json()) as { ok: boolean; problems: string[] };
    expect(body.ok).toBe(false);
    expect(body.problems.map((line) => `  ${line}`)).toEqual(checked.slice(1));
    expect(body.problems.length).toBe(2);
    expect(output).toContain("reload refused");
    // Still running the previous config: bob is still there, alice's socket still open.
    const status = (await (await fetch(`${base}/status`)).json()) as { users: Array<{ user: string; state: string }> };
    expect(status.users.map((u) => [u.user, u.state])).toEqual([["alice", "presenting.playing"], ["bob", "presenting.playing"]]);
    expect(gateway.connections.every((c) => c.closedWith === undefined)).toBe(true);

    // Only a POST, and not from a web page.
    expect((await fetch(`${base}/reload`)).status).toBe(405);
    expect((await fetch(`${base}/reload`, { method: "POST", headers: { Origin: "https://evil.example" } })).status).toBe(403);

    // A good config again, through POST /reload this time: bob removed, his presence cleared.
    write(configFor([alice]));
    const removed = await fetch(`${base}/reload`, { method: "POST" });
    expect(removed.status).toBe(200);
    expect(await removed.json()).toMatchObject({ ok: true, added: [], removed: ["bob"], changed: [] });
    await gateway.waitForFrame((f) => f.op === 3 && f.connection === bobShown.connection && details(f.d) === undefined, 10_000);
    expect((await gateway.waitForClose(bobShown.connection)).code).toBe(1000);

    process.kill(child!.pid!, "SIGTERM");
    expect(await exited).toBe(0);
    for (const secret of Object.values(secrets)) expect(output).not.toContain(secret);
  }, 60_000);
});

describe("nd-presence start: logs", () => {
  it("writes JSON lines to a pipe and short lines to a terminal", async () => {
    const { path, write, configFor } = await fakes();
    write(configFor([alice]));
    // A pipe: one JSON object per line.
    const piped = startCli(["--config", path]);
    await until(() => output.includes("nd-presence started"), 15_000, "the start through a pipe");
    const started = output.split("\n").find((line) => line.includes("nd-presence started"))!;
    expect(JSON.parse(started)).toMatchObject({ level: "info", message: "nd-presence started", users: 1, sources: ["listenbrainz"] });
    process.kill(child!.pid!, "SIGTERM");
    expect(await piped.exited).toBe(0);

    // A terminal (util-linux's `script` gives the process a pseudo-terminal): a short line.
    output = "";
    const command = [...cli, "start", "--config", path].map((word) => `'${word}'`).join(" ");
    // Its own process group, so that the service under it goes with it (a closed terminal is a
    // SIGHUP, which the service takes as a reload).
    const terminal = spawn("script", ["-qfec", command, "/dev/null"], {
      cwd: repository,
      env: { ...process.env, ...secrets },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    closers.push(async () => {
      try {
        process.kill(-terminal.pid!, "SIGKILL");
      } catch {
        // Gone already.
      }
    });
    terminal.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const line = await until(
      () => /^\d\d:\d\d:\d\d\.\d{3} INFO {2}nd-presence started {2}config=\S+ users=1 sources=\["listenbrainz"\]\r?$/m.exec(output),
      15_000,
      "the short line",
    );
    expect(line[0]).not.toContain("{");
  }, 40_000);
});

describe("nd-presence start: signals while it starts", () => {
  it("a SIGHUP that comes while it starts neither kills it nor is lost: the reload runs once it is up; a SIGTERM then stops it", async () => {
    const { path, write, configFor } = await fakes();
    write(configFor([alice]));
    const lines: string[] = [];
    const io = { out: (line: string) => lines.push(line), err: (line: string) => lines.push(line), env: { ...process.env, ...secrets } };
    // In this process, as a real signal: without a handler from the first moment it would end it.
    const exit = runCli(["start", "--config", path], io);
    process.kill(process.pid, "SIGHUP");
    await until(() => lines.some((line) => line.includes("config reloaded")), 15_000, "the held reload");
    expect(lines.findIndex((line) => line.includes("nd-presence started"))).toBeLessThan(lines.findIndex((line) => line.includes("SIGHUP: reloading")));
    process.kill(process.pid, "SIGTERM");
    expect(await exit).toBe(0);
    expect(process.listenerCount("SIGHUP")).toBe(0);
  }, 30_000);
});

describe("nd-presence start: what it needs from the machine", () => {
  it("a second start on the same journal: one line, exit 4, and the first one's journal untouched", async () => {
    const { gateway, path, write, configFor, dir } = await fakes();
    write(configFor([alice]));
    const first = startCli(["--config", path]);
    const port = Number((await until(() => /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(output), 15_000, "the first one"))[1]);
    const journal = join(dir, "data", "journal.jsonl");
    const before = readFileSync(journal, "utf8");
    const firstChild = child!;
    const firstOutput = output;

    const second = startCli(["--config", path]);
    expect(await second.exited).toBe(4);
    expect(output.trim().split("\n")).toEqual([
      `nd-presence start: the journal ${journal} is in use by another nd-presence (pid ${firstChild.pid}); stop it, or give this one its own journal.path or ND_PRESENCE_DATA`,
    ]);
    expect(readFileSync(journal, "utf8")).toBe(before);
    expect(gateway.connections).toHaveLength(0);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);

    output = firstOutput;
    process.kill(firstChild.pid!, "SIGTERM");
    expect(await first.exited).toBe(0);
    // The lock went with it: a start now takes the journal.
    expect(existsSync(`${journal}.lock`)).toBe(false);
  }, 30_000);

  it("a lock left by a process that died is taken over, even when its pid now belongs to another process", async () => {
    const { path, write, configFor, dir } = await fakes();
    write(configFor([alice]));
    const journal = join(dir, "data", "journal.jsonl");
    mkdirSync(join(dir, "data"), { recursive: true });
    // This test's own pid runs, but it is not the process that wrote the lock (another boot, another start).
    writeFileSync(`${journal}.lock`, JSON.stringify({ pid: process.pid, process: "a-boot-long-gone:12345" }));
    const { exited } = startCli(["--config", path]);
    await until(() => output.includes("nd-presence started"), 15_000, "the start");
    process.kill(child!.pid!, "SIGTERM");
    expect(await exited, output).toBe(0);
    expect(existsSync(`${journal}.lock`)).toBe(false);
  }, 30_000);

  it("a missing config: one line, exit 2", async () => {
    const dir = mkdtempSync(join(tmpdir(), "nd-presence-start-"));
    const { exited } = startCli(["--config", join(dir, "nope.json")]);
    expect(await exited).toBe(2);
    const lines = output.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^nd-presence start: cannot read the config .*nope\.json: no such file; write an example with `nd-presence init/);
  }, 30_000);

  it("a port in use: one line, exit 3", async () => {
    const { path, write, configFor } = await fakes();
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    closers.push(() => new Promise((resolve) => taken.close(resolve)));
    const port = (taken.address() as { port: number }).port;
    write(configFor([alice], { http: { host: "127.0.0.1", port } }));
    const { exited } = startCli(["--config", path]);
    expect(await exited).toBe(3);
    const lines = output.trim().split("\n");
    expect(lines).toEqual([
      `nd-presence start: cannot listen on 127.0.0.1:${port}: the port is in use (another nd-presence?); stop it or set http.port (EADDRINUSE)`,
    ]);
  }, 30_000);

  it("a data folder that cannot be written: one line, exit 4, before anything connects", async () => {
    const { path, write, configFor, dir } = await fakes();
    // A file stands where the data folder should be: no folder can be made there, even as root.
    writeFileSync(join(dir, "blocked"), "not a folder");
    const { journal: _, ...config } = configFor([alice]);
    write(config);
    const { exited } = startCli(["--config", path], { ND_PRESENCE_DATA: join(dir, "blocked", "data") });
    expect(await exited).toBe(4);
    const lines = output.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^nd-presence start: cannot write the journal .*blocked\/data\/journal\.jsonl: a file stands where a folder should be; /);
  }, 30_000);
});
