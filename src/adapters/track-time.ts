/**
 * A time within a track as a player shows it: `m:ss`, or `h:mm:ss` from an hour on. Whole
 * seconds, rounded down, as players count: a track 59.9 s in shows 0:59 until a full minute has
 * played, and its end is never shown before it is reached. Negative times show as 0:00.
 * @example trackTime(83_000) // "1:23"
 * @example trackTime(3_723_000) // "1:02:03"
 */
export function trackTime(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const [h, m, s] = [Math.floor(total / 3600), Math.floor((total % 3600) / 60), total % 60];
  const pad = (n: number) => String(n).padStart(2, "0");
  return h > 0 ? `${h}:${pad(m)}:${pad(s)}` : `${m}:${pad(s)}`;
}
