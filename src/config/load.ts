import { readFile } from "node:fs/promises";
import { type Env, resolveEnv } from "./env.ts";
import { JsoncError, parseJsonc } from "./jsonc.ts";
import type { Problem } from "./problem.ts";
import { configSecrets, type ServiceConfig } from "./service-config.ts";
import { validateConfig } from "./validate.ts";

/**
 * A config ready for `startApp`, or every problem that stands in the way. `secrets` lists every
 * value that must stay out of logs: tokens, the password, and anything read from the environment
 * (a host or a username may come from there too); give it to `redactingLogger`.
 */
export type LoadResult = { ok: true; config: ServiceConfig; secrets: string[] } | { ok: false; problems: Problem[] };

/**
 * Parses a config file's text (JSONC), reads its `env:NAME` values from `env`, then validates the
 * result. Pure: no file or process access beyond `env`. Defaults are not filled in; the service
 * applies them. No problem message holds a value from the text or the environment.
 *
 * @example
 * const result = parseConfig(text, { DISCORD_TOKEN_ALICE: "..." });
 * if (!result.ok) for (const p of result.problems) console.error(`${p.path}: ${p.message}`);
 */
export function parseConfig(text: string, env: Env = process.env): LoadResult {
  let parsed: unknown;
  try {
    parsed = parseJsonc(text);
  } catch (error) {
    if (!(error instanceof JsoncError)) throw error;
    return { ok: false, problems: [{ path: `line ${error.line}, column ${error.column}`, message: error.message }] };
  }
  const resolved = resolveEnv(parsed, env);
  // A value that could not be read is already reported, by the name of its variable: whatever
  // the validator says about the placeholder left at that path would only confuse.
  const unread = new Set(resolved.problems.map((problem) => problem.path));
  const problems = [...resolved.problems, ...validateConfig(resolved.value).filter((problem) => !unread.has(problem.path))];
  if (problems.length > 0) return { ok: false, problems };
  const config = resolved.value as ServiceConfig;
  return { ok: true, config, secrets: [...new Set([...configSecrets(config), ...resolved.values])] };
}

/**
 * Reads and parses the config file at `path` (see `parseConfig`). A file that cannot be read is a
 * problem at the file's path, with what to do.
 *
 * @example
 * const result = await loadConfigFile("nd-presence.json");
 * if (result.ok) await startApp(result.config);
 */
export async function loadConfigFile(path: string, env: Env = process.env): Promise<LoadResult> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    return { ok: false, problems: [{ path, message: unreadable(path, error) }] };
  }
  return parseConfig(text, env);
}

function unreadable(path: string, error: unknown): string {
  const code = (error as { code?: unknown }).code;
  if (code === "ENOENT") return `no such file; write an example with \`nd-presence init ${path}\`, or pass --config PATH`;
  if (code === "EISDIR") return "is a directory; pass the config file's path";
  if (code === "EACCES" || code === "EPERM") return "cannot be read (permission denied); check the file's permissions";
  return `cannot be read (${typeof code === "string" ? code : "unknown error"})`;
}
