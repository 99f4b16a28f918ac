/**
 * The candidate a misspelt word most likely meant, or undefined when none is close: for
 * "did you mean" hints on unknown keys, enum values, commands and flags.
 *
 * @example
 * closest("detials", ["name", "details", "state"]); // "details"
 */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const lower = word.toLowerCase();
  // Allow more edits in longer words: one typo in "url" is a different word, two in "details" are not.
  const limit = lower.length < 4 ? 1 : lower.length < 9 ? 2 : 3;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  if (best !== undefined && bestDistance <= limit) return best;
  // A part of the name ("interval" for "pollIntervalMs"), when only one candidate contains it.
  if (lower.length < 4) return undefined;
  const containing = candidates.filter((c) => c.toLowerCase().includes(lower) || lower.includes(c.toLowerCase()));
  return containing.length === 1 ? containing[0] : undefined;
}

/** Optimal string alignment distance: Levenshtein plus swaps of neighbours, the commonest typo. */
function editDistance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i]);
  for (let j = 1; j <= b.length; j++) rows[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = d;
    }
  }
  return rows[a.length]![b.length]!;
}
