/**
 * One thing wrong with a config: where (a JSON path such as `users[1].discordToken`, or
 * `line 3, column 14` for a syntax error) and what to do about it. A message never quotes a value
 * from the config: any of them may be a secret, and a value read from `env:NAME` always is.
 */
export interface Problem {
  path: string;
  message: string;
}

const identifier = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/**
 * The path of a child: `discord` + `applicationId` is `discord.applicationId`, `users` + 1 is
 * `users[1]`; a key that is not an identifier is quoted, `headers["user agent"]`.
 *
 * @example
 * childPath("users", 1); // "users[1]"
 */
export function childPath(parent: string, key: string | number): string {
  if (typeof key === "number") return `${parent}[${key}]`;
  if (!identifier.test(key)) return `${parent}[${JSON.stringify(key)}]`;
  return parent === "" ? key : `${parent}.${key}`;
}

/** One problem as a line: `users[1].discordToken: missing; ...`. The root is called `(config)`. */
export function formatProblem(problem: Problem): string {
  return `${problem.path === "" ? "(config)" : problem.path}: ${problem.message}`;
}
