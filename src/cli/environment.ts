import { join } from "node:path";
import type { Env } from "../config/env.ts";
import type { ServiceConfig } from "../config/service-config.ts";

/**
 * Defaults that come from where the service runs rather than from the config: a container or a
 * unit sets them once for every config (docs/deployment.md). The config still wins where it says.
 *
 * - `ND_PRESENCE_DATA`: the folder of the journal when `journal.path` is not set (default `./data`).
 * - `ND_PRESENCE_HTTP_HOST`: the HTTP address when `http.host` is not set (default 127.0.0.1; the
 *   container image sets 0.0.0.0, as a port published from a container must be).
 */
export function withEnvironmentDefaults(config: ServiceConfig, env: Env): ServiceConfig {
  const data = env.ND_PRESENCE_DATA;
  const host = env.ND_PRESENCE_HTTP_HOST;
  return {
    ...config,
    ...(data && config.journal?.path === undefined ? { journal: { ...config.journal, path: join(data, "journal.jsonl") } } : {}),
    ...(host && config.http?.host === undefined ? { http: { ...config.http, host } } : {}),
  };
}
