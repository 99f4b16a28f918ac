import { type ChildProcess, execFile, spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { delimiter, dirname, join, relative } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The package as npm ships it: packed from the sources (`npm pack` builds it through `prepare`),
// installed offline into a project of its own, and run there as a user runs it, through the
// `nd-presence` bin with nothing but that bin and node on the PATH: no tsx, no TypeScript, no
// checkout. Then the Deno side: the same library imported by the name deno.json gives it.
//
// Installed with `npm ci` and a lockfile, not `npm install -g`: npm 11 resolves the dependencies of
// an install without a lockfile from each one's full registry document, which `npm ci` never
// fetches, so `npm install -g --offline` after `npm ci` fails (ENOTCACHED) where the network is
// not used. The lockfile is the checkout's own, the dependencies' tarballs are in npm's cache, and
// the tree is the one a global install lays out (the package and its dependencies, its bin linked).
//
// Node only: packing and installing are npm's, and the Deno suite runs the sources (the Deno import
// check below spawns Deno from Node, so the Node suite proves it).
const execFileAsync = promisify(execFile);
const root = fileURLToPath(new URL("..", import.meta.url));
const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as Record<"license" | "dependencies" | "bin" | "engines", unknown> & {
  name: string;
  version: string;
};
const timeout = 240_000; // npm pack compiles the sources; the machine that runs this may be busy.

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end; never throws on a non-zero exit. */
function run(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
    const out = { stdout: "", stderr: "" };
    child.stdout.on("data", (chunk: Buffer) => (out.stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (out.stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, ...out }));
  });
}

/** npm with the caller's npm cache and config, but none of the variables of an npm script that may be running this test. */
function npmEnv(): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/^npm_(?!config_(cache|userconfig)$)/i.test(name)),
  );
  return { ...env, npm_config_offline: "true", npm_config_audit: "false", npm_config_fund: "false", npm_config_update_notifier: "false" };
}

/** The first line the child prints to stderr that matches, or an error if it exits before one. */
function lineOf(child: ChildProcess, pattern: RegExp, log: string[]): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stderr! });
    lines.on("line", (line) => {
      log.push(line);
      const match = pattern.exec(line);
      if (match) resolve(match);
    });
    child.on("exit", (code) => reject(new Error(`nd-presence exited (${code}) before printing ${pattern}:\n${log.join("\n")}`)));
  });
}

/** Every folder name under `dir`, followed into subfolders but not through symlinks. */
function folderNames(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? [entry.name, ...folderNames(join(dir, entry.name))] : entry.isSymbolicLink() ? [entry.name] : []
  );
}

/**
 * The project a user installs the package into: a package.json that depends on the tarball, and a
 * lockfile that pins it (by its integrity) and the checkout's own versions of its dependencies.
 */
function installingProject(dir: string, tarball: string): void {
  const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8")) as { packages: Record<string, { dev?: boolean; devOptional?: boolean }> };
  const spec = `file:${relative(dir, tarball)}`;
  const integrity = `sha512-${createHash("sha512").update(readFileSync(tarball)).digest("base64")}`;
  const packages: Record<string, unknown> = {
    "": { dependencies: { [manifest.name]: spec } },
    [`node_modules/${manifest.name}`]: {
      version: manifest.version,
      resolved: spec,
      integrity,
      license: manifest.license,
      dependencies: manifest.dependencies,
      bin: manifest.bin,
      engines: manifest.engines,
    },
  };
  for (const [path, entry] of Object.entries(lock.packages)) if (path !== "" && !entry.dev && !entry.devOptional) packages[path] = entry;
  writeFileSync(join(dir, "package.json"), JSON.stringify({ private: true, dependencies: { [manifest.name]: spec } }, null, 2));
  writeFileSync(join(dir, "package-lock.json"), JSON.stringify({ lockfileVersion: 3, requires: true, packages }, null, 2));
}

describe.skipIf("Deno" in globalThis)("the npm package", () => {
  const work = mkdtempSync(join(tmpdir(), "nd-presence-package-"));
  const project = join(work, "project");
  const home = join(work, "home");
  let entries: string[] = [];
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  beforeAll(async () => {
    // Pack a copy of the checkout, so that the build `npm pack` runs does not replace the dist/ of
    // the checkout under other tests that run it; node_modules is the checkout's own (the build's tsc).
    const source = join(work, "source");
    const skipped = new Set(["node_modules", ".git", "dist"].map((name) => join(root, name)));
    cpSync(root, source, { recursive: true, filter: (path) => !skipped.has(path.replace(/\/$/, "")) });
    symlinkSync(join(root, "node_modules"), join(source, "node_modules"), "dir");
    const packed = await run("npm", ["pack", "--pack-destination", work], { cwd: source, env: npmEnv() });
    expect(packed.code, `npm pack failed:\n${packed.stdout}\n${packed.stderr}`).toBe(0);
    const tarball = join(work, `${manifest.name}-${manifest.version}.tgz`);
    entries = (await execFileAsync("tar", ["-tzf", tarball])).stdout.split("\n").filter(Boolean);

    // Offline: every dependency's tarball is in npm's cache after `npm ci`, and a missing one fails
    // here instead of reaching the network.
    mkdirSync(project);
    installingProject(project, tarball);
    const installed = await run("npm", ["ci", "--offline", "--no-audit", "--no-fund"], { cwd: project, env: npmEnv() });
    if (installed.code !== 0) {
      const hint = /ENOTCACHED|offline/i.test(installed.stdout + installed.stderr)
        ? "a dependency is not in npm's cache (run `npm ci` in the checkout first; this test never downloads)"
        : "see npm's output";
      throw new Error(`installing the package offline failed: ${hint}\n${installed.stdout}\n${installed.stderr}`);
    }
    mkdirSync(home);
  }, timeout);

  it("holds the build, the schema and the README, and no sources, tests or bench", () => {
    const files = entries.map((entry) => relative("package", entry));
    expect(files).toEqual(expect.arrayContaining(["package.json", "README.md", "config.schema.json", "dist/cli/main.js", "dist/index.js", "dist/index.d.ts"]));
    const outside = files.filter((file) => !/^(dist\/|package\.json$|README\.md$|config\.schema\.json$|LICENSE$)/.test(file));
    expect(outside).toEqual([]);
    // TypeScript only as declarations: every module is compiled.
    expect(files.filter((file) => /\.[cm]?ts$/.test(file) && !/\.d\.[cm]?ts$/.test(file))).toEqual([]);
    expect(readFileSync(join(project, "node_modules", manifest.name, "dist/cli/main.js"), "utf8")).toMatch(/^#!\/usr\/bin\/env node\n/);
  });

  it("installs without tsx, TypeScript or esbuild, and runs init, check and start from its bin", { timeout }, async () => {
    const names = folderNames(join(project, "node_modules"));
    expect(names).toContain(manifest.name);
    expect(names.filter((name) => ["tsx", "typescript", "esbuild", "@esbuild"].includes(name))).toEqual([]);
    const bin = join(project, "node_modules", ".bin");
    expect(readdirSync(bin)).toEqual(["nd-presence"]);

    // A user's shell: the installed bin and node, nothing of this checkout or of the test's process.
    const path = [bin, dirname(process.execPath)].join(delimiter);
    const user = (env: Record<string, string> = {}) => ({ PATH: path, HOME: home, ...env });

    const init = await run("nd-presence", ["init", "x.json"], { cwd: home, env: user() });
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toContain("wrote x.json");
    // The commands it suggests are the local install's bin, run in the project that has it.
    expect(init.stdout).toContain(`  in ${project}:\n  3. node_modules/.bin/nd-presence check --config ${join(home, "x.json")}\n`);
    const variables = /set the variables it reads: (.+)$/m.exec(init.stdout)?.[1]?.split(", ") ?? [];
    expect(variables.length).toBeGreaterThan(0);
    const check = await run("nd-presence", ["check", "--config", "x.json"], {
      cwd: home,
      env: user(Object.fromEntries(variables.map((name) => [name, `dummy-${name}`]))),
    });
    expect(check.code, check.stdout + check.stderr).toBe(0);
    expect(check.stdout).toMatch(/^config OK: \d+ users?.*, sources: subsonic, listenbrainz$/m);

    // The service, with everything it could reach on loopback: HTTP on a free port, Discord on a
    // closed one (with no playback nothing connects anyway).
    writeFileSync(
      join(home, "nd-presence.json"),
      JSON.stringify({
        discord: { applicationId: "1234567890123456789", apiBaseUrl: "http://127.0.0.1:9/api", gatewayUrl: "ws://127.0.0.1:9/" },
        http: { host: "127.0.0.1", port: 0 },
        journal: { path: join(home, "data", "journal.jsonl") },
        users: [{ username: "alice", discordToken: "env:PACKAGE_TEST_TOKEN" }],
      }),
    );
    const child = spawn("nd-presence", ["start"], { cwd: home, env: user({ PACKAGE_TEST_TOKEN: "package-test-token" }), stdio: ["ignore", "ignore", "pipe"] });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      const log: string[] = [];
      const [, port] = await lineOf(child, /listening on http:\/\/127\.0\.0\.1:(\d+)/, log);
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(health.status, await health.text()).toBe(200);
      // process.kill, as a service manager signals the PID it started.
      process.kill(child.pid!, "SIGTERM");
      expect(await exited).toBe(0);
      expect(log.join("\n")).not.toContain("package-test-token");
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });

  it("exports the library by its name to Node", { timeout }, async () => {
    const script = `const lib = await import("${manifest.name}"); console.log(JSON.stringify(Object.keys(lib).sort()));`;
    const imported = await run(process.execPath, ["--input-type=module", "-e", script], { cwd: project, env: { PATH: dirname(process.execPath) } });
    expect(imported.code, imported.stderr).toBe(0);
    expect(JSON.parse(imported.stdout)).toEqual(Object.keys(await import("../src/index.ts")).sort());
  });
});

describe.skipIf("Deno" in globalThis)("the Deno package (deno.json)", () => {
  it("exports the library from the sources by its name and package.json's version", { timeout }, async () => {
    // A Deno project that links this checkout as the JSR package deno.json describes; --cached-only:
    // nothing is fetched (a name or version that deno.json does not match would have to be).
    const project = mkdtempSync(join(tmpdir(), "nd-presence-deno-"));
    try {
      const deno = JSON.parse(readFileSync(join(root, "deno.json"), "utf8")) as { name: string; version: string; exports: string };
      expect(deno.version).toBe(manifest.version);
      expect(deno.exports).toBe("./src/index.ts");
      writeFileSync(join(project, "deno.json"), JSON.stringify({ links: [root], nodeModulesDir: "manual" }));
      writeFileSync(
        join(project, "main.ts"),
        `const lib = await import("jsr:${deno.name}@${manifest.version}");\nconsole.log(JSON.stringify(Object.keys(lib).sort()));\n`,
      );
      const denoBin = join(root, "node_modules/.bin/deno");
      expect(existsSync(denoBin)).toBe(true);
      const imported = await run(denoBin, ["run", "--cached-only", "--no-lock", "--allow-read", "--allow-env", "main.ts"], { cwd: project, env: process.env });
      expect(imported.code, imported.stderr).toBe(0);
      expect(JSON.parse(imported.stdout)).toEqual(Object.keys(await import("../src/index.ts")).sort());
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  });
});
