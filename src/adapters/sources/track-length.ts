/**
 * The longest track a source may report: 7 days. Audiobooks come as one file of 30 hours and more,
 * and the longest single recordings run for a few days; a longer length is a source's bug (or a
 * hostile client's), and showing a progress bar for it would be a lie. It is also well under the
 * 24.8 days one timer can wait, so a track's end is never a re-armed timer at normal speed.
 */
export const LONGEST_TRACK_MS = 7 * 24 * 60 * 60 * 1000;

/**
 * A length from a source in `msPerUnit` units (1000 for seconds), as whole ms, or undefined when
 * it is no usable length: not a finite number, not above 0 ms, or longer than `LONGEST_TRACK_MS`.
 * An unknown length is shown without a bar and cleared after `unknownLengthMs`.
 *
 * @example
 * trackLengthMs(289.4, 1000); // 289400
 * trackLengthMs(2_200_000_000, 1); // undefined: 25 days
 */
export function trackLengthMs(value: unknown, msPerUnit: number): number | undefined {
  if (typeof value !== "number" || !Number.isFinite(value)) return undefined;
  const ms = Math.round(value * msPerUnit);
  return ms > 0 && ms <= LONGEST_TRACK_MS ? ms : undefined;
}
