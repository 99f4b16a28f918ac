/**
 * Runs a Dockerfile's steps without a container engine, for test/container.test.ts: each stage's
 * filesystem is a folder on the host, and the paths the Dockerfile creates (/app, /data, ...) are
 * mapped into it. The base image is the host: its programs (node, npm, sh) are the host's, which is
 * why the test checks that the host's Node is the base image's.
 *
 * It knows the instructions nd-presence's Dockerfile uses (FROM ... AS, WORKDIR, COPY with --from
 * and --chown, RUN, ENV, USER, VOLUME, EXPOSE, HEALTHCHECK, ENTRYPOINT, CMD) and throws on any
 * other instruction, flag or form, so that a change to the Dockerfile cannot silently skip a step:
 * it either runs here or fails the test until this file learns it.
 */
import { spawn } from "node:child_process";
import { chmodSync, chownSync, cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, posix, relative } from "node:path";

/** One instruction, continuation lines joined and comments dropped. */
export interface Instruction {
  keyword: string;
  /** Everything after the keyword, trimmed. */
  text: string;
  /** Its first line in the file, 1-based, for error messages. */
  line: number;
}

export interface Stage {
  /** The name given with `AS`, if any. */
  name: string | null;
  /** The image it starts from, e.g. `node:20-bookworm-slim`. */
  base: string;
  instructions: Instruction[];
}

/** A command in exec form (a JSON array, run as is) or shell form (run by `/bin/sh -c`). */
export interface Command {
  form: "exec" | "shell";
  argv: string[];
}

const known = new Set(["FROM", "WORKDIR", "COPY", "RUN", "ENV", "USER", "VOLUME", "EXPOSE", "HEALTHCHECK", "ENTRYPOINT", "CMD"]);

/**
 * The top-level folders of the base image (Debian's layout). The Dockerfile may create new
 * top-level folders, which are mapped into the stage's folder; writing into one of these would mix
 * the base image (the host) with the image's own files, which this interpreter cannot model.
 */
const baseImageFolders = new Set([
  "bin",
  "boot",
  "dev",
  "etc",
  "home",
  "lib",
  "lib64",
  "media",
  "mnt",
  "opt",
  "proc",
  "root",
  "run",
  "sbin",
  "srv",
  "sys",
  "tmp",
  "usr",
  "var",
]);

/** Splits a Dockerfile into stages of instructions. Throws on anything it does not know. */
export function parseDockerfile(text: string): Stage[] {
  const lines = text.split("\n");
  const instructions: Instruction[] = [];
  let current: { text: string; line: number } | null = null;
  let directives = true;
  for (const [index, raw] of lines.entries()) {
    const line = raw.replace(/\r$/, "");
    const trimmed = line.trim();
    if (trimmed.startsWith("#")) {
      // Parser directives come first, before any other line; `escape` would change how every
      // line below is read, so it is refused rather than ignored.
      if (directives && /^#\s*escape\s*=/i.test(trimmed)) throw new Error(`Dockerfile line ${index + 1}: the escape directive is not supported`);
      continue; // a comment, also inside a continued instruction (as Docker reads it)
    }
    directives = false;
    if (current === null && trimmed === "") continue;
    const continued = /\\\s*$/.test(line);
    const part = continued ? line.replace(/\\\s*$/, "") : line;
    if (current === null) current = { text: part, line: index + 1 };
    // Docker drops the escape and the line break, nothing else: `ab\` then `cd` is `abcd`.
    else current.text += part;
    if (!continued) {
      const [, keyword = "", rest = ""] = /^\s*(\S+)\s*(.*)$/s.exec(current.text) ?? [];
      instructions.push({ keyword: keyword.toUpperCase(), text: rest.trim(), line: current.line });
      current = null;
    }
  }
  if (current !== null) throw new Error(`Dockerfile line ${current.line}: the file ends inside a continued instruction`);

  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (!known.has(instruction.keyword)) {
      throw new Error(`Dockerfile line ${instruction.line}: the test's interpreter does not know ${instruction.keyword}; teach test/dockerfile.ts to run it`);
    }
    if (instruction.keyword === "FROM") {
      const match = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.text);
      if (!match || match[1]!.startsWith("--")) throw new Error(`Dockerfile line ${instruction.line}: FROM ${instruction.text} is not supported`);
      stages.push({ base: match[1]!, name: match[2] ?? null, instructions: [] });
    } else {
      const stage = stages.at(-1);
      if (!stage) throw new Error(`Dockerfile line ${instruction.line}: ${instruction.keyword} before FROM`);
      stage.instructions.push(instruction);
    }
  }
  if (stages.length === 0) throw new Error("the Dockerfile has no FROM");
  return stages;
}

/** `--name=value` flags at the start of `text`, and what follows them. */
function flagsOf(instruction: Instruction, allowed: readonly string[]): { flags: Map<string, string>; rest: string } {
  const flags = new Map<string, string>();
  let rest = instruction.text;
  for (;;) {
    const match = /^--([a-z-]+)=(\S+)\s*/.exec(rest);
    if (!match) break;
    if (!allowed.includes(match[1]!)) throw new Error(`Dockerfile line ${instruction.line}: ${instruction.keyword} --${match[1]} is not supported`);
    flags.set(match[1]!, match[2]!);
    rest = rest.slice(match[0].length);
  }
  if (rest.startsWith("--")) throw new Error(`Dockerfile line ${instruction.line}: ${instruction.keyword} ${rest.split(/\s/)[0]} is not supported`);
  return { flags, rest };
}

/** Exec form if the text is a JSON array of strings, else shell form. */
function commandOf(text: string, line: number): Command {
  if (text.startsWith("[")) {
    let argv: unknown;
    try {
      argv = JSON.parse(text);
    } catch {
      throw new Error(`Dockerfile line ${line}: ${text} looks like exec form but is not JSON`);
    }
    if (!Array.isArray(argv) || argv.length === 0 || !argv.every((a) => typeof a === "string")) {
      throw new Error(`Dockerfile line ${line}: exec form must be a non-empty array of strings`);
    }
    return { form: "exec", argv };
  }
  return { form: "shell", argv: ["/bin/sh", "-c", text] };
}

/** Words with double or single quotes and backslash escapes, as ENV reads them. */
function words(text: string, line: number): string[] {
  const out: string[] = [];
  let word = "";
  let quote: string | null = null;
  let started = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === quote) quote = null;
      else if (c === "\\" && quote === '"' && i + 1 < text.length) word += text[++i];
      else word += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      started = true;
    } else if (c === "\\" && i + 1 < text.length) {
      word += text[++i];
      started = true;
    } else if (/\s/.test(c)) {
      if (started) out.push(word);
      word = "";
      started = false;
    } else {
      word += c;
      started = true;
    }
  }
  if (quote) throw new Error(`Dockerfile line ${line}: unclosed quote`);
  if (started) out.push(word);
  return out;
}

function noVariables(instruction: Instruction): void {
  if (instruction.text.includes("$")) {
    throw new Error(`Dockerfile line ${instruction.line}: ${instruction.keyword} with a variable is not supported by the test's interpreter`);
  }
}

export interface BuildOptions {
  /** The build context on the host (see `buildContext`). */
  context: string;
  /** An empty host folder: each stage's filesystem is made in a folder under it. */
  root: string;
  /** The environment of RUN steps, before the stage's ENV: PATH, HOME, npm's offline setting. */
  runEnv: Record<string, string>;
  /**
   * The ids that `COPY --chown` and `USER` name, as this test can use them: the same ids when it
   * runs as root, else its own (an unprivileged test can neither chown nor switch user).
   */
  ids: (uid: number, gid: number) => { uid: number; gid: number };
}

/** The final stage, built: its filesystem on the host and its configuration. */
export interface Image {
  /** The stage's folder on the host. */
  root: string;
  base: string;
  /** ENV, as the Dockerfile writes it (container paths). */
  env: Record<string, string>;
  /** USER, as ids this test can use (`BuildOptions.ids`), and as written. */
  user: { uid: number; gid: number; written: string } | null;
  /** The last WORKDIR (a container path). */
  workdir: string;
  volumes: string[];
  expose: string[];
  healthcheck: { options: Map<string, string>; command: Command } | null;
  entrypoint: Command | null;
  cmd: Command | null;
  /**
   * A container path on the host: under `root` when the Dockerfile made its top-level folder, in
   * `mounts` (container path to host folder) when a volume is mounted there, else unchanged (a
   * path of the base image, which is the host).
   */
  hostPath(path: string, mounts?: Record<string, string>): string;
}

interface StageState {
  index: number;
  stage: Stage;
  root: string;
  env: Record<string, string>;
  workdir: string;
  created: Set<string>;
  user: Image["user"];
  volumes: string[];
  expose: string[];
  healthcheck: Image["healthcheck"];
  entrypoint: Command | null;
  cmd: Command | null;
}

function topFolder(path: string): string {
  return path.split("/")[1] ?? "";
}

/** A container path (absolute, or relative to WORKDIR), normalised. */
function containerPath(state: StageState, path: string): string {
  return posix.resolve(state.workdir, path);
}

/** Where a container path of this stage lives on the host; `create` records a new top-level folder. */
function onHost(state: StageState, path: string, instruction: Instruction, create: boolean): string {
  const top = topFolder(path);
  if (create && top !== "" && !state.created.has(top)) {
    if (baseImageFolders.has(top)) {
      throw new Error(
        `Dockerfile line ${instruction.line}: ${instruction.keyword} writes into the base image's /${top}, which the test's interpreter cannot map`,
      );
    }
    state.created.add(top);
  }
  if (!state.created.has(top)) {
    throw new Error(`Dockerfile line ${instruction.line}: ${path} is not in a folder the Dockerfile made, so the test's interpreter cannot map it`);
  }
  return join(state.root, path);
}

/** Builds every stage in order and returns the last. RUN steps run for real, in the mapped WORKDIR. */
export async function buildDockerfile(text: string, options: BuildOptions): Promise<Image> {
  const stages = parseDockerfile(text);
  const states: StageState[] = [];
  for (const [index, stage] of stages.entries()) {
    const root = join(options.root, `stage-${index}${stage.name ? `-${stage.name}` : ""}`);
    mkdirSync(root, { recursive: true, mode: 0o755 });
    if (states.some((s) => s.stage.name === stage.base)) throw new Error(`FROM ${stage.base}: a stage built on another stage is not supported`);
    const state: StageState = {
      index,
      stage,
      root,
      env: {},
      workdir: "/",
      created: new Set(),
      user: null,
      volumes: [],
      expose: [],
      healthcheck: null,
      entrypoint: null,
      cmd: null,
    };
    states.push(state);
    for (const instruction of stage.instructions) await step(state, states, instruction, options);
  }
  const last = states.at(-1)!;
  return {
    root: last.root,
    base: last.stage.base,
    env: last.env,
    user: last.user,
    workdir: last.workdir,
    volumes: last.volumes,
    expose: last.expose,
    healthcheck: last.healthcheck,
    entrypoint: last.entrypoint,
    cmd: last.cmd,
    hostPath(path, mounts = {}) {
      if (!path.startsWith("/")) return path;
      const normal = posix.normalize(path);
      for (const [target, folder] of Object.entries(mounts)) {
        if (normal === target || normal.startsWith(`${target}/`)) return join(folder, normal.slice(target.length));
      }
      return last.created.has(topFolder(normal)) ? join(last.root, normal) : normal;
    },
  };
}

async function step(state: StageState, states: StageState[], instruction: Instruction, options: BuildOptions): Promise<void> {
  const { line } = instruction;
  switch (instruction.keyword) {
    case "WORKDIR": {
      noVariables(instruction);
      state.workdir = containerPath(state, instruction.text);
      mkdirSync(onHost(state, state.workdir, instruction, true), { recursive: true, mode: 0o755 });
      return;
    }
    case "ENV": {
      noVariables(instruction);
      const parts = words(instruction.text, line);
      if (parts.length > 0 && !parts[0]!.includes("=")) {
        // The old form: ENV NAME value with spaces
        const [name, ...value] = instruction.text.split(/\s+/);
        state.env[name!] = value.join(" ");
        return;
      }
      for (const part of parts) {
        const at = part.indexOf("=");
        if (at <= 0) throw new Error(`Dockerfile line ${line}: ENV ${part} is not NAME=value`);
        state.env[part.slice(0, at)] = part.slice(at + 1);
      }
      return;
    }
    case "USER": {
      noVariables(instruction);
      const match = /^(\d+):(\d+)$/.exec(instruction.text);
      if (!match) throw new Error(`Dockerfile line ${line}: USER must be numeric uid:gid for the test's interpreter (it has no /etc/passwd of the image)`);
      state.user = { ...options.ids(Number(match[1]), Number(match[2])), written: instruction.text };
      return;
    }
    case "VOLUME": {
      noVariables(instruction);
      const paths = instruction.text.startsWith("[") ? commandOf(instruction.text, line).argv : instruction.text.split(/\s+/);
      for (const path of paths) {
        const target = containerPath(state, path);
        mkdirSync(onHost(state, target, instruction, true), { recursive: true, mode: 0o755 });
        state.volumes.push(target);
      }
      return;
    }
    case "EXPOSE":
      noVariables(instruction);
      state.expose.push(...instruction.text.split(/\s+/));
      return;
    case "ENTRYPOINT":
      state.entrypoint = commandOf(instruction.text, line);
      return;
    case "CMD":
      state.cmd = commandOf(instruction.text, line);
      return;
    case "HEALTHCHECK": {
      const { flags, rest } = flagsOf(instruction, ["interval", "timeout", "start-period", "start-interval", "retries"]);
      if (rest === "NONE") {
        state.healthcheck = null;
        return;
      }
      const match = /^CMD\s+(.*)$/s.exec(rest);
      if (!match) throw new Error(`Dockerfile line ${line}: HEALTHCHECK must be followed by CMD or NONE`);
      state.healthcheck = { options: flags, command: commandOf(match[1]!.trim(), line) };
      return;
    }
    case "COPY":
      return copy(state, states, instruction, options);
    case "RUN":
      return run(state, instruction, options);
  }
  throw new Error(`Dockerfile line ${line}: ${instruction.keyword} is not supported`);
}

function copy(state: StageState, states: StageState[], instruction: Instruction, options: BuildOptions): void {
  const { line } = instruction;
  noVariables(instruction);
  const { flags, rest } = flagsOf(instruction, ["from", "chown"]);
  const args = rest.startsWith("[") ? commandOf(rest, line).argv : rest.split(/\s+/);
  if (args.length < 2) throw new Error(`Dockerfile line ${line}: COPY needs a source and a destination`);
  const sources = args.slice(0, -1);
  const destination = args.at(-1)!;
  if (sources.some((s) => /[*?[]/.test(s))) throw new Error(`Dockerfile line ${line}: COPY with a wildcard is not supported`);

  const from = flags.get("from");
  let sourceRoot = options.context;
  if (from !== undefined) {
    const stage = states.find((s) => s.stage.name === from || String(s.index) === from);
    if (!stage || stage === state) throw new Error(`Dockerfile line ${line}: COPY --from=${from} names no earlier stage`);
    sourceRoot = stage.root;
  }
  let chown: { uid: number; gid: number } | null = null;
  const owner = flags.get("chown");
  if (owner !== undefined) {
    const match = /^(\d+):(\d+)$/.exec(owner);
    if (!match) throw new Error(`Dockerfile line ${line}: COPY --chown must be numeric uid:gid`);
    chown = options.ids(Number(match[1]), Number(match[2]));
  }

  const target = containerPath(state, destination);
  if (sources.length > 1 && !destination.endsWith("/")) throw new Error(`Dockerfile line ${line}: COPY of several sources needs a destination that ends in /`);
  const intoFolder = destination.endsWith("/");
  const targetOnHost = onHost(state, target, instruction, true);
  const made: string[] = [];
  const ensureFolder = (folder: string) => {
    // The folders COPY creates are the chown's too (BuildKit's behaviour), the ones that exist are not.
    let missing = folder;
    const chain: string[] = [];
    while (!existsSync(missing)) {
      chain.push(missing);
      missing = dirname(missing);
    }
    mkdirSync(folder, { recursive: true, mode: 0o755 });
    made.push(...chain);
  };
  for (const source of sources) {
    // A context path may not leave the context; a stage path is absolute in that stage.
    const normal = from === undefined ? posix.normalize(source) : posix.resolve("/", source);
    if (from === undefined && (normal.startsWith("../") || normal === ".." || normal.startsWith("/"))) {
      throw new Error(`Dockerfile line ${line}: COPY ${source} is outside the build context`);
    }
    const sourceOnHost = join(sourceRoot, normal);
    if (!existsSync(sourceOnHost)) {
      throw new Error(`Dockerfile line ${line}: COPY ${source}: no such file or folder in ${from === undefined ? "the build context" : `stage ${from}`}`);
    }
    if (statSync(sourceOnHost).isDirectory()) {
      // A folder's contents go into the destination, as Docker copies them.
      ensureFolder(targetOnHost);
      for (const entry of readdirSync(sourceOnHost)) {
        cpSync(join(sourceOnHost, entry), join(targetOnHost, entry), { recursive: true, verbatimSymlinks: true });
        made.push(join(targetOnHost, entry));
      }
    } else {
      const file = intoFolder || (existsSync(targetOnHost) && statSync(targetOnHost).isDirectory()) ? join(targetOnHost, posix.basename(normal)) : targetOnHost;
      ensureFolder(dirname(file));
      cpSync(sourceOnHost, file, { verbatimSymlinks: true });
      made.push(file);
    }
  }
  if (chown) { for (const path of made) chownTree(path, chown.uid, chown.gid); }
}

function chownTree(path: string, uid: number, gid: number): void {
  const stat = lstatSync(path);
  if (stat.uid !== uid || stat.gid !== gid) chownSync(path, uid, gid);
  if (stat.isDirectory()) { for (const entry of readdirSync(path)) chownTree(join(path, entry), uid, gid); }
}

async function run(state: StageState, instruction: Instruction, options: BuildOptions): Promise<void> {
  const { line } = instruction;
  const command = commandOf(instruction.text, line);
  const words = command.form === "shell" ? [command.argv[2]!] : command.argv;
  // The host's / is not the image's: an absolute path in a RUN would reach the host's files.
  if (words.some((word) => /(^|[\s=:'"(])\/(?!\s)/.test(word))) {
    throw new Error(`Dockerfile line ${line}: RUN names an absolute path; the test's interpreter runs RUN in the mapped WORKDIR and needs relative paths`);
  }
  // `..` would climb out of the mapped tree the same way.
  if (words.some((word) => /(^|[\s=:'"(/])\.\.(\/|\s|$)/.test(word))) {
    throw new Error(`Dockerfile line ${line}: RUN names a path with ..; the test's interpreter keeps RUN inside its mapped tree`);
  }
  if (state.user !== null) throw new Error(`Dockerfile line ${line}: RUN after USER is not supported by the test's interpreter`);
  const cwd = onHost(state, state.workdir, instruction, false);
  const env = { ...options.runEnv, ...state.env };
  const [program, ...args] = command.argv;
  const output = await new Promise<{ code: number | null; text: string }>((resolve, reject) => {
    const child = spawn(program!, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let text = "";
    child.stdout.on("data", (chunk: Buffer) => (text += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (text += chunk.toString()));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, text }));
  });
  if (output.code !== 0) {
    const hint = /ENOTCACHED|offline/i.test(output.text)
      ? "\n(the build runs offline: the npm cache must hold every package of the lockfile; `npm ci` in the repository fills it)"
      : "";
    throw new Error(`Dockerfile line ${line}: RUN ${instruction.text} exited ${output.code}:\n${output.text.slice(-4000)}${hint}`);
  }
}

/**
 * The build context Docker would send: every file of the folder (.gitignore means nothing to
 * Docker) less what .dockerignore excludes, copied to `into`. A folder it excludes is not walked,
 * unless .dockerignore has `!` exceptions, which may take back a path inside one.
 */
export function buildContext(repository: string, into: string): string[] {
  const ignorePath = join(repository, ".dockerignore");
  const ignoreText = existsSync(ignorePath) ? readFileSync(ignorePath, "utf8") : "";
  const ignore = dockerignore(ignoreText);
  const exceptions = /^\s*!/m.test(ignoreText);
  const files: string[] = [];
  const walk = (folder: string) => {
    for (const entry of readdirSync(join(repository, folder), { withFileTypes: true })) {
      const path = folder === "" ? entry.name : `${folder}/${entry.name}`;
      if (entry.isDirectory()) {
        if (exceptions || !ignore(path)) walk(path);
      } else if (!ignore(path)) files.push(path);
    }
  };
  walk("");
  files.sort();
  for (const path of files) {
    mkdirSync(dirname(join(into, path)), { recursive: true, mode: 0o755 });
    cpSync(join(repository, path), join(into, path), { verbatimSymlinks: true });
  }
  return files;
}

/**
 * Docker's .dockerignore rules: a pattern excludes the path it matches and everything under it;
 * `*` and `?` stay within a path segment, `**` spans any number of them; `!` includes again; the
 * last pattern that matches decides.
 */
export function dockerignore(text: string): (path: string) => boolean {
  const rules = text.split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => {
      const negated = line.startsWith("!");
      const pattern = posix.normalize(line.slice(negated ? 1 : 0).trim()).replace(/^\/+/, "").replace(/\/+$/, "");
      if (/[[\]\\]/.test(pattern)) throw new Error(`.dockerignore: ${line}: character classes and escapes are not supported by the test`);
      const source = pattern.split("/").map((segment) =>
        segment === "**" ? "(?:.*)" : segment.replace(/[.+^${}()|]/g, "\\$&").replace(/\*/g, "[^/]*").replace(/\?/g, "[^/]")
      ).join("/").replace(/\(\?:\.\*\)\//g, "(?:.*/)?");
      return { negated, regex: new RegExp(`^${source}$`) };
    });
  return (path) => {
    const segments = path.split("/");
    const prefixes = segments.map((_, i) => segments.slice(0, i + 1).join("/"));
    let excluded = false;
    for (const rule of rules) {
      if (prefixes.some((prefix) => rule.regex.test(prefix))) excluded = !rule.negated;
    }
    return excluded;
  };
}

/** Every entry under `root` (but the folders in `except`), with what a write would change. */
export function snapshot(root: string, except: string[] = []): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (folder: string) => {
    for (const entry of readdirSync(folder)) {
      const path = join(folder, entry);
      if (except.includes(path)) continue;
      const stat = lstatSync(path);
      out.set(relative(root, path), `${stat.mode.toString(8)} ${stat.uid}:${stat.gid} ${stat.size} ${stat.mtimeMs}`);
      if (stat.isDirectory()) walk(path);
    }
  };
  walk(root);
  return out;
}

/** `chmod -R a-w`, but the folders in `except` (and what they hold) keep their modes. */
export function makeReadOnly(root: string, except: string[] = []): void {
  const walk = (path: string) => {
    if (except.includes(path)) return;
    const stat = lstatSync(path);
    if (stat.isSymbolicLink()) return;
    if (stat.isDirectory()) { for (const entry of readdirSync(path)) walk(join(path, entry)); }
    chmodSync(path, stat.mode & 0o7555);
  };
  walk(root);
}

/** `chmod -R u+w`, so that an unprivileged test can delete what it made read-only. */
export function makeWritable(root: string): void {
  const walk = (path: string) => {
    const stat = lstatSync(path);
    if (stat.isSymbolicLink()) return;
    chmodSync(path, stat.mode | 0o200);
    if (stat.isDirectory()) { for (const entry of readdirSync(path)) walk(join(path, entry)); }
  };
  if (existsSync(root)) walk(root);
}
