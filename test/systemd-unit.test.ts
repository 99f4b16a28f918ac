import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

// contrib/nd-presence.service, checked by systemd's own tools (Debian's `systemd` package, which
// .ci/run installs): `systemd-analyze verify` loads it as systemd would and reports every problem
// (an unknown key, a bad value, a command that is not there), and `systemd-analyze security
// --offline=yes` rates its sandbox. Neither needs systemd as PID 1: both read unit files only, so
// they work in a container like this machine and CI (checked: verify exits 0 and prints nothing
// for a good unit, and names the file for a bad one, as the last test shows). `--man=no`: verify
// would otherwise check the man pages of a Documentation= line, and a container has none.
//
// Node only: packaging and deployment are about the Node build (the installed bin is dist/); the
// Deno suite runs the sources, and would only check the same file again.
const deno = "Deno" in globalThis;

const repository = new URL("..", import.meta.url).pathname;
const unitText = readFileSync(join(repository, "contrib", "nd-presence.service"), "utf8");
const INSTALLED_BIN = "/usr/local/bin/nd-presence";

/** The unit's settings: section, then each key with its values in order (a key may repeat). */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let section: Map<string, string[]> | null = null;
  let pending = "";
  for (const raw of text.split("\n")) {
    const line = pending + raw.trim();
    pending = "";
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    if (line.endsWith("\\")) {
      pending = `${line.slice(0, -1)} `;
      continue;
    }
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = new Map();
      sections.set(header[1]!, section);
      continue;
    }
    const at = line.indexOf("=");
    if (section === null || at <= 0) throw new Error(`not a unit file line: ${line}`);
    const key = line.slice(0, at).trim();
    section.set(key, [...(section.get(key) ?? []), line.slice(at + 1).trim()]);
  }
  return sections;
}

const service = parseUnit(unitText).get("Service") ?? new Map<string, string[]>();
const setting = (key: string) => service.get(key)?.join(" ") ?? null;

function systemdAnalyze(args: string[]) {
  const result = spawnSync("systemd-analyze", args, { encoding: "utf8" });
  if (result.error) throw new Error(`systemd-analyze cannot run (${result.error.message}): apt-get install systemd (Debian's package; .ci/run installs it)`);
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

/**
 * The unit with ExecStart's binary replaced by one that exists here (verify checks that it is
 * executable): this Node running the repository's dist/cli/main.js. Everything else is the file's.
 */
function unitToVerify(extra = ""): string {
  const execStart = unitText.split("\n").filter((line) => line.startsWith("ExecStart="));
  expect(execStart).toEqual([`ExecStart=${INSTALLED_BIN} start`]);
  const copy = unitText.replace(/^ExecStart=.*$/m, `ExecStart=${process.execPath} ${join(repository, "dist", "cli", "main.js")} start`) + extra;
  const others = (text: string) => text.split("\n").filter((line) => !line.startsWith("ExecStart="));
  expect(others(copy).slice(0, others(unitText).length)).toEqual(others(unitText));
  const dir = mkdtempSync(join(tmpdir(), "nd-presence-unit-"));
  dirs.push(dir);
  const path = join(dir, "nd-presence.service");
  writeFileSync(path, copy);
  return path;
}

describe.skipIf(deno)("contrib/nd-presence.service", () => {
  it("runs the installed bin as a dynamic user, with its state, config and secrets where the docs say", () => {
    expect(setting("ExecStart")).toBe(`${INSTALLED_BIN} start`);
    expect(setting("ExecReload")).toBe("/bin/kill -HUP $MAINPID");
    expect(setting("DynamicUser")).toBe("yes");
    expect(setting("StateDirectory")).toBe("nd-presence");
    expect(setting("ConfigurationDirectory")).toBe("nd-presence");
    expect(setting("WorkingDirectory")).toBe("%S/nd-presence");
    expect(setting("Environment")?.split(/\s+/).sort()).toEqual(["ND_PRESENCE_CONFIG=/etc/nd-presence/nd-presence.json", "ND_PRESENCE_DATA=%S/nd-presence"]);
    expect(setting("EnvironmentFile")).toBe("/etc/nd-presence/secrets.env");
    expect(setting("Restart")).toBe("on-failure");
    // A bad config (exit 2) is not fixed by starting again: no restart loop.
    expect(setting("RestartPreventExitStatus")?.split(/\s+/)).toContain("2");
  });

  it("has the hardening, and not MemoryDenyWriteExecute (V8's JIT needs W+X pages)", () => {
    const hardening: Record<string, string> = {
      ProtectSystem: "strict",
      ProtectHome: "yes",
      PrivateTmp: "yes",
      PrivateDevices: "yes",
      NoNewPrivileges: "yes",
      ProtectKernelTunables: "yes",
      ProtectKernelModules: "yes",
      ProtectKernelLogs: "yes",
      ProtectControlGroups: "yes",
      RestrictAddressFamilies: "AF_INET AF_INET6 AF_UNIX",
      RestrictNamespaces: "yes",
      LockPersonality: "yes",
      RestrictRealtime: "yes",
      SystemCallArchitectures: "native",
      CapabilityBoundingSet: "",
      UMask: "0077",
    };
    for (const [key, value] of Object.entries(hardening)) expect(setting(key), key).toBe(value);
    expect(setting("MemoryDenyWriteExecute")).toBeNull();
  });

  it("passes systemd-analyze verify with no warning about it", () => {
    const path = unitToVerify();
    const { status, output } = systemdAnalyze(["verify", "--man=no", path]);
    expect(output.split("\n").filter((line) => line.includes("nd-presence")), output).toEqual([]);
    expect(status, output).toBe(0);
  });

  it("is rated OK by systemd-analyze security (exposure 2.0 or less of 10)", () => {
    const { status, output } = systemdAnalyze(["security", "--offline=yes", unitToVerify()]);
    expect(status, output).toBe(0);
    const exposure = /Overall exposure level for nd-presence\.service: ([\d.]+)/.exec(output)?.[1];
    expect(Number(exposure), output).toBeLessThanOrEqual(2);
  });

  it("verify does report a problem in this environment (so its silence above means something)", () => {
    const { output } = systemdAnalyze(["verify", "--man=no", unitToVerify("\n[Service]\nNoSuchSetting=yes\n")]);
    expect(output).toMatch(/nd-presence\.service:\d+: Unknown key 'NoSuchSetting'/);
  });
});

describe.skipIf(deno)("the unit's secrets file", () => {
  it("names every secret of the config `nd-presence init` writes, which docs/deployment.md installs with it", async () => {
    const { runCli } = await import("../src/cli/run.ts");
    const dir = mkdtempSync(join(tmpdir(), "nd-presence-unit-secrets-"));
    try {
      const path = join(dir, "nd-presence.json");
      const quiet = { out: () => {}, err: () => {} };
      expect(await runCli(["init", path], { ...quiet, env: {} })).toBe(0);
      const example = readFileSync(join(repository, "contrib", "nd-presence.env.example"), "utf8");
      const names = [...example.matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((match) => match[1]!);
      const lines: string[] = [];
      const env = Object.fromEntries(names.map((name) => [name, `example-${name.toLowerCase()}-value`]));
      expect(await runCli(["check", "--config", path], { out: (line) => lines.push(line), err: (line) => lines.push(line), env }), lines.join("\n")).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
