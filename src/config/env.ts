import { childPath, type Problem } from "./problem.ts";

/** The variables a config reads from, by name. `process.env` is one. */
export type Env = Record<string, string | undefined>;

const prefix = "env:";
const variableName = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A parsed config with its `env:NAME` strings read, and what could not be read. */
export interface EnvResolution {
  value: unknown;
  problems: Problem[];
  /** Every value read: each is a secret, to be kept out of logs. */
  values: string[];
}

/**
 * Replaces every string value `"env:NAME"` with the variable's value. A variable that is not set
 * (or is empty) is a problem at that path naming the variable, never its value; the string is
 * then left as it was, so that the validator sees a string and adds nothing at that path.
 *
 * @example
 * resolveEnv({ users: [{ discordToken: "env:TOKEN" }] }, { TOKEN: "secret" }).value;
 * // { users: [{ discordToken: "secret" }] }
 */
export function resolveEnv(value: unknown, env: Env): EnvResolution {
  const problems: Problem[] = [];
  const values: string[] = [];
  const walk = (node: unknown, path: string): unknown => {
    if (Array.isArray(node)) return node.map((item, index) => walk(item, childPath(path, index)));
    if (typeof node === "object" && node !== null) {
      const out: Record<string, unknown> = {};
      for (const [key, child] of Object.entries(node)) {
        Object.defineProperty(out, key, { value: walk(child, childPath(path, key)), enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
    if (typeof node !== "string" || !node.startsWith(prefix)) return node;
    const name = node.slice(prefix.length);
    if (!variableName.test(name)) {
      problems.push({ path, message: '"env:" must be followed by a variable name (letters, digits and _), e.g. "env:DISCORD_TOKEN_ALICE"' });
      return node;
    }
    const found = env[name];
    if (found === undefined || found === "") {
      problems.push({ path, message: `environment variable ${name} is ${found === undefined ? "not set" : "empty"}; set it before running nd-presence` });
      return node;
    }
    values.push(found);
    return found;
  };
  return { value: walk(value, ""), problems, values };
}

/**
 * The names of the variables a parsed config reads (`env:NAME`), in order, once each: what a
 * user must set before `start`.
 *
 * @example
 * envNames({ password: "env:ND_PASSWORD" }); // ["ND_PASSWORD"]
 */
export function envNames(value: unknown): string[] {
  const names = new Set<string>();
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (typeof node === "object" && node !== null) Object.values(node).forEach(walk);
    else if (typeof node === "string" && node.startsWith(prefix) && variableName.test(node.slice(prefix.length))) names.add(node.slice(prefix.length));
  };
  walk(value);
  return [...names];
}
