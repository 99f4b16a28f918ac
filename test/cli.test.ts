import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { type CommandSpec, parseArgs } from "../src/cli/args.ts";
import { invocationOf } from "../src/cli/io.ts";

// The real command, as a user runs it: a child process, in a directory of its own.
const tsx = fileURLToPath(new URL("../node_modules/.bin/tsx", import.meta.url));
const main = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "nd-presence-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const timeout = 20_000;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Starts the CLI; `done` resolves when it exits. */
function launch(args: string[], env: Record<string, string> = {}) {
  // The caller's ND_PRESENCE_CONFIG would change which file each command reads.
  const { ND_PRESENCE_CONFIG: _ignored, ...baseEnv } = process.env;
  const child = spawn(tsx, [main, ...args], { cwd: dir, env: { ...baseEnv, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  const out = { stdout: "", stderr: "" };
  child.stdout.on("data", (chunk: Buffer) => (out.stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (out.stderr += chunk.toString()));
  const done = new Promise<Run>((resolve) => child.on("close", (code) => resolve({ code, ...out })));
  return { child, out, done };
}

const run = (args: string[], env: Record<string, string> = {}) => launch(args, env).done;

const writeConfig = (name: string, config: unknown) => {
  writeFileSync(join(dir, name), JSON.stringify(config, null, 2));
  return name;
};

const valid = {
  discord: { applicationId: "1234567890123456789" },
  http: { enabled: false },
  users: [{ username: "alice", discordToken: "env:CLI_TEST_TOKEN" }],
};
const tokenEnv = { CLI_TEST_TOKEN: "cli-test-secret-token" };

describe("command-line flags", () => {
  const spec: CommandSpec = { flags: { config: { takesValue: true }, force: { takesValue: false } }, maxPositionals: 1 };
  const usage = (argv: string[]) => {
    try {
      return parseArgs(argv, spec);
    } catch (error) {
      return (error as Error).message;
    }
  };

  it("reads --flag VALUE, --flag=VALUE, -flag, -h and --", () => {
    expect(usage(["--config", "a.json", "--force"])).toEqual({ flags: { config: "a.json", force: true }, positionals: [], help: false });
    expect(usage(["--config=-a.json", "-force", "-h"])).toEqual({ flags: { config: "-a.json", force: true }, positionals: [], help: true });
    expect(usage(["--", "-x"])).toEqual({ flags: {}, positionals: ["-x"], help: false });
  });

  it("says what is wrong with a flag, and which one was meant", () => {
    expect(usage(["--confg=a.json"])).toBe('unknown option "--confg"; did you mean "--config"?');
    expect(usage(["-abc"])).toBe('unknown option "-abc"');
    expect(usage(["--config"])).toBe("--config needs a value, e.g. --config PATH");
    expect(usage(["--config", "--force"])).toBe("--config needs a value, e.g. --config PATH");
    expect(usage(["--force=yes"])).toBe("--force takes no value");
    expect(usage(["a", "b"])).toBe('unexpected argument "b"');
    expect(usage(["a", "b", "--help"])).toMatchObject({ help: true });
  });
});

describe("the command init suggests, for each way of running the CLI", () => {
  it("is the installed bin, a checkout's build, or its sources under tsx or Deno, with the folder to run it in", () => {
    // Installed: npm links the bin into a folder on the PATH (global) or into node_modules/.bin (local).
    expect(invocationOf("/usr/local/bin/nd-presence", "/home/me", false)).toEqual({ cli: "nd-presence", from: null });
    expect(invocationOf("/srv/app/node_modules/.bin/nd-presence", "/srv/app", false)).toEqual({ cli: "node_modules/.bin/nd-presence", from: null });
    expect(invocationOf("/srv/app/node_modules/.bin/nd-presence", "/tmp", false)).toEqual({ cli: "node_modules/.bin/nd-presence", from: "/srv/app" });
    expect(invocationOf("/usr/lib/node_modules/nd-presence/dist/cli/main.js", "/tmp", false)).toEqual({ cli: "nd-presence", from: null });
    // A checkout: its build with node, its sources with tsx or with the Deno npm installed.
    expect(invocationOf("/src/nd/dist/cli/main.js", "/src/nd", false)).toEqual({ cli: "node dist/cli/main.js", from: null });
    expect(invocationOf("/src/nd/dist/cli/main.js", "/tmp", false)).toEqual({ cli: "node dist/cli/main.js", from: "/src/nd" });
    expect(invocationOf("/src/nd/src/cli/main.ts", "/src/nd/", false)).toEqual({ cli: "node --import tsx src/cli/main.ts", from: null });
    expect(invocationOf("/src/nd/src/cli/main.ts", "/tmp", true)).toEqual({ cli: "node_modules/.bin/deno run -A src/cli/main.ts", from: "/src/nd" });
  });
});

describe("nd-presence CLI", () => {
  it("prints help with --help and alone; an unknown command is a usage error", { timeout }, async () => {
    const [help, bare, unknown] = await Promise.all([run(["--help"]), run([]), run(["chek"])]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("nd-presence start");
    expect(bare.code).toBe(0);
    expect(bare.stdout).toBe(help.stdout);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "chek"; did you mean "check"?');
    expect(unknown.stderr).toContain("Usage:");
  });

  it("check accepts a good config and lists every problem of a bad one", { timeout }, async () => {
    const good = writeConfig("good.json", valid);
    const bad = writeConfig("bad.json", {
      discord: { applicationId: "nope" },
      presence: { detials: "{title}" },
      users: [{ username: "alice", discordToken: "env:CLI_TEST_TOKEN" }, { username: "bob" }],
    });
    const [ok, notOk] = await Promise.all([run(["check", "--config", good], tokenEnv), run(["check", "--config", bad], tokenEnv)]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("config OK: 1 user, sources: none");
    expect(notOk.code).toBe(2);
    expect(notOk.stdout).toContain("  discord.applicationId: must be 5 to 25 digits");
    expect(notOk.stdout).toContain('  presence.detials: unknown key; did you mean "details"?');
    expect(notOk.stdout).toContain("  users[1].discordToken: missing");
    expect(notOk.stdout + notOk.stderr).not.toContain(tokenEnv.CLI_TEST_TOKEN);
  });

  it("init writes an example that check accepts, and will not overwrite it without --force", { timeout }, async () => {
    const first = await run(["init", "example.json"]);
    expect(first.code).toBe(0);
    expect(existsSync(join(dir, "example.json"))).toBe(true);
    expect(first.stdout).toContain("DISCORD_TOKEN_ALICE");
    const env = { DISCORD_TOKEN_ALICE: "t-alice", LB_TOKEN_ALICE: "lb-alice", ND_PASSWORD: "pw" };
    const [check, again, forced] = await Promise.all([
      run(["check", "--config", "example.json"], env),
      run(["init", "example.json"]),
      run(["init", "forced.json", "--force"]),
    ]);
    expect(check.code).toBe(0);
    expect(check.stdout).toContain("sources: subsonic, listenbrainz");
    // The check it suggests is a command that runs as printed, where it says (no bin on PATH here).
    const from = /^ {2}in (.+):$/m.exec(first.stdout)?.[1] ?? dir;
    const suggested = /^ {2}3\. (.+)$/m.exec(first.stdout)![1]!.split(" ");
    expect(suggested.slice(0, 4)).toEqual(["node", "--import", "tsx", "src/cli/main.ts"]);
    const { ND_PRESENCE_CONFIG: _ignored, ...baseEnv } = process.env;
    const asPrinted = spawn(suggested[0]!, suggested.slice(1), { cwd: from, env: { ...baseEnv, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let printed = "";
    asPrinted.stdout.on("data", (chunk: Buffer) => (printed += chunk.toString()));
    expect(await new Promise((resolve) => asPrinted.on("close", resolve))).toBe(0);
    expect(printed).toContain("sources: subsonic, listenbrainz");
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("already exists; pass --force");
    expect(forced.code).toBe(0);
  });

  it("start refuses a bad config with exit 2", { timeout }, async () => {
    const result = await run(["start", "--config", writeConfig("start-bad.json", { users: [] })]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("discord: missing");
  });

  it("start runs until SIGTERM, then stops cleanly with exit 0", { timeout }, async () => {
    const started = launch(["start", "--config", writeConfig("start-ok.json", valid)], tokenEnv);
    await until(() => started.out.stderr.includes("nd-presence started"), 15_000);
    const signalledAt = Date.now();
    // process.kill, not child.kill: under Deno, a child stopped through child.kill is reported as
    // killed by the signal even when it handled it and exited 0.
    process.kill(started.child.pid!, "SIGTERM");
    const result = await started.done;
    expect(result.code).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(5_000);
    expect(result.stderr).toContain("stopping (SIGTERM)");
    expect(result.stderr).not.toContain(tokenEnv.CLI_TEST_TOKEN);
  });
});

async function until(condition: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting for the CLI");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
