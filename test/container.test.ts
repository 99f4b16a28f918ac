import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { buildContext, buildDockerfile, type Command, dockerignore, type Image, makeReadOnly, makeWritable, parseDockerfile, snapshot } from "./dockerfile.ts";
import { FakeDiscordRest, FakeImageHost } from "./fakes/discord-rest.ts";
import { FakeGateway } from "./fakes/gateway.ts";
import { until, withTimeout } from "./fakes/wait.ts";
import { APP_ID, TOKENS } from "./harness.ts";

// The Dockerfile, built and run without a container engine (none is on this machine or CI's):
// test/dockerfile.ts runs its steps on a clean copy of the build context, with the image's paths
// (/app, /data) in a temporary tree, the build stage's `npm ci` offline from npm's cache. Then the
// image's ENTRYPOINT and CMD run as its USER (uid 1000 when the test runs as root, as CI does),
// with the runtime tree read-only and only the /data volume writable: the service starts, answers
// the HEALTHCHECK, shows a play sent to its ListenBrainz receiver on a loopback fake Discord, and
// on SIGTERM to that very process (exec form: no shell between) clears it, closes with 1000 and
// exits 0, having written its journal in /data and nothing else anywhere.
//
// Node only: packaging and deployment are about the Node build (dist/, run by node, as in the
// image); the Deno suite runs the sources, and this file would only build the same dist again.
const deno = "Deno" in globalThis;

const repository = new URL("..", import.meta.url).pathname;
const asRoot = process.getuid?.() === 0;
const LB_TOKEN = "lb-alice-SECRET-container-0000";

let tmp = "";
let image: Image;
let before: Map<string, string>;
let contextFiles: string[] = [];
const children: ChildProcess[] = [];
const fakes: Array<{ close(): Promise<void> }> = [];

afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  await Promise.all(fakes.splice(0).map((fake) => fake.close()));
});

describe.skipIf(deno)("the container image, built from the Dockerfile and run as its user", () => {
  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), "nd-presence-container-"));
    // The image's user (uid 1000) must reach the tree: mkdtemp makes it 0700.
    chmodSync(tmp, 0o755);
    const context = join(tmp, "context");
    mkdirSync(context, { mode: 0o755 });
    contextFiles = buildContext(repository, context);
    const cache = execFileSync("npm", ["config", "get", "cache"], { encoding: "utf8" }).trim();
    image = await buildDockerfile(readFileSync(join(repository, "Dockerfile"), "utf8"), {
      context,
      root: join(tmp, "image"),
      // As the current user, without network: every package comes from npm's cache.
      runEnv: {
        PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
        HOME: process.env.HOME ?? tmp,
        npm_config_cache: cache,
        npm_config_offline: "true",
        npm_config_update_notifier: "false",
      },
      ids: (uid, gid) => (asRoot ? { uid, gid } : { uid: process.getuid!(), gid: process.getgid!() }),
    });
    // The image's files are not the service's to change; only its volumes are. As root (CI) they
    // belong to root, as Docker's COPY leaves them, which uid 1000 cannot write: that is checked
    // below, not made so. As anyone else they are the test's own files: made read-only here.
    if (!asRoot) makeReadOnly(image.root, image.volumes.map((volume) => image.hostPath(volume)));
    before = snapshot(image.root);
  }, 10 * 60_000);

  afterAll(() => {
    if (!tmp) return;
    makeWritable(tmp);
    rmSync(tmp, { recursive: true, force: true });
  });

  it("is built as the Dockerfile says: Node's base, exec form, a numeric non-root user, /data its only volume", () => {
    const major = /^node:(\d+)-/.exec(image.base)?.[1];
    // The image runs a Node still supported; this test runs its steps with the host's Node (20
    // here), which the package supports too (engines), so the image's may only be newer.
    expect(Number(major), `FROM ${image.base}`).toBeGreaterThanOrEqual(Number(process.versions.node.split(".")[0]));
    expect(Number(major), `FROM ${image.base}`).toBeGreaterThanOrEqual(22);
    if (asRoot) expect(writableByTheService(image.hostPath("/app"))).toEqual([]);
    expect(image.entrypoint?.form).toBe("exec");
    expect(image.cmd?.form).toBe("exec");
    expect(image.user?.written).toMatch(/^[1-9]\d*:\d+$/);
    expect(image.volumes).toEqual(["/data"]);
    expect(image.workdir).toBe("/data");
    expect(image.env).toMatchObject({ ND_PRESENCE_CONFIG: "/data/nd-presence.json", ND_PRESENCE_DATA: "/data", ND_PRESENCE_HTTP_HOST: "0.0.0.0" });
    expect(image.expose).toEqual(["4534"]);
    expect(image.healthcheck?.command.form).toBe("exec");
    expect(image.healthcheck?.command.argv.join(" ")).toContain(`http://127.0.0.1:${image.expose[0]}/healthz`);
    // The package as it runs, nothing else: no sources, tests or dev dependencies.
    expect(readdirSync(image.hostPath("/app")).sort()).toEqual(["config.schema.json", "dist", "node_modules", "package.json"]);
    for (const dev of ["typescript", "vitest", "tsx", "deno"]) expect(existsSync(image.hostPath(`/app/node_modules/${dev}`)), dev).toBe(false);
    expect(existsSync(image.hostPath("/app/node_modules/xstate"))).toBe(true);
    expect(readdirSync(image.hostPath("/data"))).toEqual([]);
    if (asRoot) expect(statSync(image.hostPath("/data")).uid).toBe(image.user!.uid);
  });

  it("gets the repository's files as its build context, less what .dockerignore leaves out", () => {
    for (const path of ["package.json", "package-lock.json", "tsconfig.json", "src/cli/main.ts", "config.schema.json"]) expect(contextFiles).toContain(path);
    // bench/results/latest.json is in git, and .dockerignore keeps it out.
    expect(contextFiles).not.toContain("bench/results/latest.json");
    expect(contextFiles.filter((path) => /^(node_modules|dist|data|\.git)\//.test(path))).toEqual([]);
  });

  it("a missing config: one line that names it, and exit 2", async () => {
    const data = freshVolume("missing-config");
    const container = run({ mounts: { "/data": data } });
    expect(await container.exited()).toBe(2);
    const lines = container.lines();
    expect(lines, container.output()).toHaveLength(1);
    expect(lines[0]).toContain(join(data, "nd-presence.json"));
  });

  it("a /data it cannot write: one line, and exit 4", async () => {
    const data = freshVolume("read-only-data");
    const port = await freePort();
    writeFileSync(join(data, "nd-presence.json"), JSON.stringify(config({ port, api: "http://127.0.0.1:9/api", gateway: "ws://127.0.0.1:9/" })));
    // A volume the service's user cannot write: root's (a bind mount nobody chowned), or read-only.
    if (asRoot) chownSync(data, 0, 0);
    chmodSync(data, 0o555);
    const container = run({ mounts: { "/data": data }, env: { DISCORD_TOKEN_ALICE: TOKENS.alice, LB_ALICE: LB_TOKEN } });
    expect(await container.exited()).toBe(4);
    expect(container.lines(), container.output()).toHaveLength(1);
  });

  it("a port in use: one line, and exit 3", async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    try {
      const port = (taken.address() as { port: number }).port;
      const data = freshVolume("port-in-use");
      writeFileSync(join(data, "nd-presence.json"), JSON.stringify(config({ port, api: "http://127.0.0.1:9/api", gateway: "ws://127.0.0.1:9/" })));
      const container = run({ mounts: { "/data": data }, env: { DISCORD_TOKEN_ALICE: TOKENS.alice, LB_ALICE: LB_TOKEN } });
      expect(await container.exited()).toBe(3);
      expect(container.lines(), container.output()).toEqual([
        expect.stringMatching(new RegExp(`^nd-presence start: cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use`)),
      ]);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  it("compose.yaml wires Navidrome to the receiver over the compose network, and publishes the port on the host's loopback only", () => {
    const compose = readFileSync(join(repository, "compose.yaml"), "utf8");
    expect(compose).toMatch(/ND_LISTENBRAINZ_ENABLED: "true"/);
    expect(compose).toMatch(/ND_LISTENBRAINZ_BASEURL: http:\/\/nd-presence:4534\/1\//);
    expect(compose).toMatch(/^\s+nd-presence:\s*$/m);
    expect(compose).toMatch(/- "?127\.0\.0\.1:4534:4534"?/);
    expect(compose).not.toMatch(/- "?4534:4534"?/);
  });

  it("compose.yaml's example config passes `check` in the image, with the secrets the example env file names", async () => {
    const folder = join(tmp, "compose-config");
    mkdirSync(folder, { mode: 0o755 });
    copyFileSync(join(repository, "contrib", "nd-presence.container.json"), join(folder, "nd-presence.json"));
    const compose = readFileSync(join(repository, "compose.yaml"), "utf8");
    expect(compose).toContain("ND_PRESENCE_CONFIG: /config/nd-presence.json");
    expect(compose).toContain("- ./nd-presence:/config:ro");
    const container = run({
      args: ["check"],
      mounts: { "/data": freshVolume("check"), "/config": folder },
      // Each NAME= of contrib/nd-presence.env.example, filled in: the config may name no other.
      env: { ND_PRESENCE_CONFIG: "/config/nd-presence.json", ...exampleSecrets() },
    });
    expect(await container.exited(), container.output()).toBe(0);
  });

  it("starts as uid 1000, is healthy, shows a play, and on SIGTERM clears it, closes with 1000 and exits 0", async () => {
    const gateway = await FakeGateway.start({ validTokens: [TOKENS.alice] });
    const rest = await FakeDiscordRest.start({ gatewayUrl: gateway.url, validTokens: [TOKENS.alice] });
    const images = await FakeImageHost.start({ known: [] });
    fakes.push(gateway, rest, images);
    const data = freshVolume("data");
    const port = await freePort();
    writeFileSync(join(data, "nd-presence.json"), JSON.stringify(config({ port, api: rest.url, gateway: gateway.url, images: images.url }), null, 2));
    const env = {
      DISCORD_TOKEN_ALICE: TOKENS.alice,
      LB_ALICE: LB_TOKEN,
      // Loopback however the config is read: this test listens nowhere else.
      ND_PRESENCE_HTTP_HOST: "127.0.0.1",
      ND_PRESENCE_HEALTHCHECK_URL: `http://127.0.0.1:${port}/healthz`,
    };
    const container = run({ mounts: { "/data": data }, env });
    await container.printed(new RegExp(`listening on http://127\\.0\\.0\\.1:${port}/`), "the HTTP server");

    const listen = {
      listen_type: "playing_now",
      payload: [{ track_metadata: { artist_name: "Portishead", track_name: "Roads", release_name: "Dummy", additional_info: { duration_ms: 305_000 } } }],
    };
    const posted = await fetch(`http://127.0.0.1:${port}/1/submit-listens`, {
      method: "POST",
      headers: { Authorization: `Token ${LB_TOKEN}`, "Content-Type": "application/json" },
      body: JSON.stringify(listen),
    });
    expect(posted.status).toBe(200);
    const shown = await gateway.waitForFrame((f) => f.op === 3 && activityOf(f.d)?.details === "Roads", 15_000);
    expect(gateway.connections[shown.connection]!.token).toBe(TOKENS.alice);

    // The HEALTHCHECK, as Docker runs it: the same user and environment, in the container.
    expect(await healthcheck({ mounts: { "/data": data }, env })).toBe(0);

    process.kill(container.child.pid!, "SIGTERM");
    expect(await container.exited(), container.output()).toBe(0);
    await gateway.waitForFrame((f) => f.op === 3 && f.connection === shown.connection && activityOf(f.d) === null);
    expect((await gateway.waitForClose(shown.connection)).code).toBe(1000);
    // With nothing listening, the HEALTHCHECK fails.
    expect(await healthcheck({ mounts: { "/data": data }, env })).not.toBe(0);

    // The journal is in /data, and holds no secret; nothing else in the image changed.
    const journal = join(data, "journal.jsonl");
    expect(existsSync(journal), `/data holds ${readdirSync(data).join(", ")}`).toBe(true);
    expect(readFileSync(journal, "utf8")).not.toContain(TOKENS.alice);
    expect(container.output()).not.toContain(TOKENS.alice);
    expect(container.output()).not.toContain(LB_TOKEN);
    expect(snapshot(image.root)).toEqual(before);
  }, 60_000);
});

describe.skipIf(deno)("test/dockerfile.ts, the interpreter the container test builds with", () => {
  const options = (root: string) => ({ context: root, root, runEnv: { PATH: process.env.PATH ?? "" }, ids: (uid: number, gid: number) => ({ uid, gid }) });

  it("refuses an instruction it does not know, rather than skip it", () => {
    expect(() => parseDockerfile("FROM node:20-bookworm-slim\nADD https://example.org/x /x\n")).toThrow(/line 2: .*does not know ADD/);
    expect(() => parseDockerfile("FROM node:20-bookworm-slim\nCOPY --link . /app\n")).not.toThrow();
  });

  it("refuses what it cannot map: a RUN with an absolute path, a write into the base image's folders", async () => {
    const root = mkdtempSync(join(tmpdir(), "nd-presence-dockerfile-"));
    try {
      await expect(buildDockerfile("FROM node:20-bookworm-slim\nWORKDIR /w\nRUN touch /etc/x\n", options(root))).rejects.toThrow(/absolute path/);
      await expect(buildDockerfile("FROM node:20-bookworm-slim\nCOPY . /usr/local/lib/x\n", options(root))).rejects.toThrow(/base image's \/usr/);
      await expect(buildDockerfile("FROM node:20-bookworm-slim\nWORKDIR /w\nCOPY --link . .\n", options(root))).rejects.toThrow(/--link is not supported/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("reads .dockerignore as Docker does", () => {
    const ignored = dockerignore("node_modules\n*.env\nbench/results\n**/*.log\n!keep.log\n");
    expect(["node_modules", "node_modules/x/y.js", "a.env", "bench/results/latest.json", "x.log", "a/b/c.log"].filter((p) => !ignored(p))).toEqual([]);
    // A pattern without ** matches from the context's root only; ! includes again.
    expect(["src/node_modules.ts", "src/x.env", "src/a.env/x", "bench/run.ts", "keep.log"].filter(ignored)).toEqual([]);
  });
});

/** A named volume as Docker makes it: a copy of the image's /data, owner and mode included. */
function freshVolume(name: string): string {
  const folder = join(tmp, "volumes", name);
  mkdirSync(join(tmp, "volumes"), { recursive: true, mode: 0o755 });
  mkdirSync(folder);
  const stat = statSync(image.hostPath("/data"));
  if (asRoot) chownSync(folder, stat.uid, stat.gid);
  chmodSync(folder, stat.mode & 0o7777);
  return folder;
}

/** The config a user would put in /data: one user, the ListenBrainz receiver, Discord on loopback fakes. */
function config({ port, api, gateway, images }: { port: number; api: string; gateway: string; images?: string }) {
  return {
    discord: { applicationId: APP_ID, apiBaseUrl: api, gatewayUrl: gateway },
    artwork: { ...(images ? { coverArtArchiveUrl: images } : {}), musicBrainzLookup: false, defaultImage: "none" },
    sources: { listenbrainz: { enabled: true } },
    http: { host: "127.0.0.1", port },
    users: [{ username: "alice", discordToken: "env:DISCORD_TOKEN_ALICE", listenbrainzToken: "env:LB_ALICE" }],
  };
}

interface RunOptions {
  /** CMD's replacement, as after `docker run IMAGE`. */
  args?: string[];
  /** Container path to host folder, as `-v`. */
  mounts?: Record<string, string>;
  /** As `-e`. */
  env?: Record<string, string>;
}

/** The container's environment and working directory, with its paths on the host. */
function containerProcess(command: Command, { mounts = {}, env = {} }: RunOptions) {
  const all: Record<string, string> = {
    // The base image's PATH; its node is the host's (see the first test), given by path below.
    PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    // The image's /home/node, absent here: nothing may write there.
    HOME: join(tmp, "absent-home"),
    ...image.env,
    ...env,
  };
  for (const [name, value] of Object.entries(all)) all[name] = image.hostPath(value, mounts);
  const [program, ...args] = command.argv.map((arg) => image.hostPath(arg, mounts));
  if (program !== "node") throw new Error(`the container runs ${program}; the test knows only the base image's node`);
  return {
    program: process.execPath,
    args,
    options: {
      cwd: image.hostPath(image.workdir, mounts),
      env: all,
      // The image's USER; an unprivileged test can only be itself.
      ...(asRoot && image.user ? { uid: image.user.uid, gid: image.user.gid } : {}),
    },
  };
}

/** `docker run`: ENTRYPOINT and CMD (or `args`) as the image's user. */
function run(options: RunOptions = {}) {
  const command: Command = { form: "exec", argv: [...image.entrypoint!.argv, ...(options.args ?? image.cmd!.argv)] };
  const { program, args, options: spawnOptions } = containerProcess(command, options);
  const child = spawn(program, args, { ...spawnOptions, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let text = "";
  child.stdout!.on("data", (chunk: Buffer) => (text += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (text += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    child,
    /** Its exit code, once it exits (within 30 s of this call). */
    exited: () => withTimeout(exited, 30_000, "the container to exit"),
    output: () => text,
    lines: () => text.split("\n").filter((line) => line.trim() !== ""),
    printed: (pattern: RegExp, what: string) =>
      until(
        () => {
          if (child.exitCode !== null) throw new Error(`the container exited (${child.exitCode}) before ${what}:\n${text}`);
          return pattern.exec(text);
        },
        30_000,
        what,
      ),
  };
}

/** The HEALTHCHECK's command, as Docker runs it in the container; its exit code. */
function healthcheck(options: RunOptions): Promise<number | null> {
  const { program, args, options: spawnOptions } = containerProcess(image.healthcheck!.command, options);
  const child = spawn(program, args, { ...spawnOptions, stdio: "ignore" });
  return withTimeout(new Promise((resolve) => child.once("exit", (code) => resolve(code))), 15_000, "the HEALTHCHECK");
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const activityOf = (d: unknown) => (d as { activities: Array<{ details?: string }> }).activities[0] ?? null;

/** Files and folders under `root` that uid 1000 could change: not root's, or writable by group or others. */
function writableByTheService(root: string): string[] {
  const found: string[] = [];
  const walk = (path: string) => {
    const stat = lstatSync(path);
    if (stat.isSymbolicLink()) return;
    if (stat.uid !== 0 || (stat.mode & 0o022) !== 0) found.push(`${relative(root, path) || "."} ${stat.uid} ${(stat.mode & 0o777).toString(8)}`);
    if (stat.isDirectory()) { for (const entry of readdirSync(path)) walk(join(path, entry)); }
  };
  walk(root);
  return found;
}

/** The variables contrib/nd-presence.env.example names (`NAME=` lines), each with a value of its own. */
function exampleSecrets(): Record<string, string> {
  const text = readFileSync(join(repository, "contrib", "nd-presence.env.example"), "utf8");
  const names = [...text.matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((match) => match[1]!);
  return Object.fromEntries(names.map((name) => [name, `example-${name.toLowerCase()}-value`]));
}
