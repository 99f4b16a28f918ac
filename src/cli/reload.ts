import type { Logger } from "../adapters/logger.ts";
import type { App } from "../app.ts";
import type { Env } from "../config/env.ts";
import { loadConfigFile } from "../config/load.ts";
import { formatProblem } from "../config/problem.ts";
import type { ServiceConfig } from "../config/service-config.ts";
import { errorText } from "../errors.ts";
import { withEnvironmentDefaults } from "./environment.ts";

/** What a reload answers `POST /reload` with; SIGHUP only logs it. */
export interface ReloadAnswer {
  status: number;
  body: { ok: true; added: string[]; removed: string[]; changed: string[]; needsRestart: string[] } | { ok: false; problems: string[] } | {
    ok: false;
    error: string;
  };
}

/**
 * Re-reads the config file and applies it to the running app (SIGHUP, `POST /reload`). A config
 * that `check` would refuse is refused with the same messages, and the running one stays.
 * `hooks.learnSecrets` gets the new config's secrets before anything can log them; `hooks.applied`
 * the new config once it is in (the CLI's own logger takes its `log.level`).
 */
export async function reloadFromFile(
  app: App,
  source: { path: string; env: Env },
  logger: Logger,
  hooks: { learnSecrets(secrets: readonly string[]): void; applied(config: ServiceConfig): void },
): Promise<ReloadAnswer> {
  const { path, env } = source;
  const loaded = await loadConfigFile(path, env);
  if (!loaded.ok) {
    const problems = loaded.problems.map(formatProblem);
    logger.log("error", `reload refused: ${path} has ${problems.length} problem${problems.length === 1 ? "" : "s"}; still running the previous config`);
    for (const problem of problems) logger.log("error", `  ${problem}`);
    return { status: 422, body: { ok: false, problems } };
  }
  hooks.learnSecrets(loaded.secrets);
  try {
    const next = withEnvironmentDefaults(loaded.config, env);
    const outcome = await app.reload(next);
    hooks.applied(next);
    const { added, removed, changed, needsRestart } = outcome;
    logger.log("info", "config reloaded", { added, removed, changed });
    if (needsRestart.length > 0) logger.log("warn", "these settings changed and take effect at the next start", { settings: needsRestart });
    return { status: 200, body: { ok: true, ...outcome } };
  } catch (error) {
    logger.log("error", `reload failed: ${errorText(error)}; still running the previous config`);
    return { status: 409, body: { ok: false, error: errorText(error) } };
  }
}
