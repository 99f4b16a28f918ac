import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

// The real command as a child process, in a directory of its own. Under Deno the same test runs
// the CLI with Deno, as e2e-service.test.ts does.
const root = fileURLToPath(new URL("..", import.meta.url));
const main = join(root, "src/cli/main.ts");
const tsx = join(root, "node_modules/.bin/tsx");
const dir = mkdtempSync(join(tmpdir(), "nd-presence-charts-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const timeout = 20_000;

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const [command, ...runtime] = "Deno" in globalThis ? [process.execPath, "run", "-A", main] : [tsx, main];
  const child = spawn(command!, [...runtime, ...args], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  const out = { stdout: "", stderr: "" };
  child.stdout.on("data", (chunk: Buffer) => (out.stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (out.stderr += chunk.toString()));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, ...out })));
}

const read = (path: string) => readFileSync(join(dir, path), "utf8");

/** Every state name in a machine config, nested ones included. */
function stateNames(config: { states?: Record<string, unknown> }): string[] {
  return Object.entries(config.states ?? {}).flatMap(([name, node]) => [name, ...stateNames(node as { states?: Record<string, unknown> })]);
}

describe("nd-presence charts", () => {
  it("writes each machine as JSON for Stately and as Mermaid, and says what it wrote", { timeout }, async () => {
    const result = await run(["charts", "--out", "out"]);
    expect(result.code).toBe(0);
    for (const name of ["presence", "shard", "supervisor"]) {
      for (const ext of ["json", "mmd"]) expect(result.stdout).toContain(`wrote ${join("out", `${name}.${ext}`)}`);
      expect(read(`out/${name}.mmd`).startsWith("stateDiagram-v2\n")).toBe(true);
    }

    const presence = JSON.parse(read("out/presence.json"));
    expect(presence).toMatchObject({ id: "presence", initial: "disconnected" });
    expect(stateNames(presence)).toEqual(
      expect.arrayContaining(["disconnected", "identifying", "ready", "presenting", "playing", "paused", "clearing", "backoff", "failed"]),
    );
    const text = read("out/presence.json");
    // Named delays, guards and actions, as strings; combined guards as their expression.
    expect(presence.meta.implementations.delays).toEqual(expect.arrayContaining(["helloTimeout", "readyTimeout", "backoff"]));
    expect(presence.meta.implementations.guards).toEqual(expect.arrayContaining(["isFatalClose", "fromOpenSocket", "wantsPresence"]));
    expect(presence.states.backoff.after).toHaveProperty("backoff");
    expect(text).toContain('"guard": "fromOpenSocket && isFatalClose"');
    expect(text).toContain('"guard": "!wantsPresence"');
    expect(text).toContain('"closeToResume"');

    const supervisor = JSON.parse(read("out/supervisor.json"));
    expect(supervisor).toMatchObject({ id: "supervisor", initial: "running" });
    expect(stateNames(supervisor)).toEqual(["running", "stopping", "stopped"]);
    expect(supervisor.meta.implementations).toMatchObject({ actors: ["shard"] });
    expect(read("out/supervisor.json")).toContain('"guard": "isConfiguredUser"');
    const shard = JSON.parse(read("out/shard.json"));
    expect(shard).toMatchObject({ id: "shard", initial: "running" });
    expect(stateNames(shard)).toEqual(["running", "stopping", "stopped"]);
    expect(shard.states.running.after).toHaveProperty("sweepInterval");
    expect(shard.meta.implementations).toMatchObject({ delays: ["sweepInterval"], actors: ["presence"] });
  });

  it("writes to ./charts by default; --help says so", { timeout }, async () => {
    const [result, help] = await Promise.all([run(["charts"]), run(["charts", "--help"])]);
    expect(result.code).toBe(0);
    expect(existsSync(join(dir, "charts", "presence.json"))).toBe(true);
    expect(existsSync(join(dir, "charts", "supervisor.mmd"))).toBe(true);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: nd-presence charts [--out DIR]");
    expect(help.stdout).toContain("./charts");
  });
});
