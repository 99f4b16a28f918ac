/**
 * The first of a play's player names (a name or an id; undefined ones are skipped) that the
 * user's `ignorePlayers` lists, or undefined. Case-insensitive, and the one place where the
 * names are lower-cased: callers pass the list as configured.
 * @example ignoredPlayer(["Feishin"], ["feishin", "7"]) // "feishin"
 */
export function ignoredPlayer(ignorePlayers: readonly string[], players: readonly (string | undefined)[]): string | undefined {
  if (ignorePlayers.length === 0) return undefined;
  const ignored = new Set(ignorePlayers.map((name) => name.toLowerCase()));
  return players.find((name): name is string => name !== undefined && ignored.has(name.toLowerCase()));
}
