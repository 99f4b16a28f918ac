/**
 * Seeded random helpers for what the bench generates (journals, the fake gateway's READY and
 * dispatches): the same seed gives the same bytes, so every run measures the same input.
 */
import { nextRandom } from "../src/actors/random.ts";

/** A generator of numbers in [0, 1) from `seed` (the machines' own mulberry32). */
export function generator(seed: number): () => number {
  let state = seed;
  return () => {
    const [value, next] = nextRandom(state);
    state = next;
    return value;
  };
}

/** An integer in [min, max). */
export function between(random: () => number, min: number, max: number): number {
  return Math.floor(min + random() * (max - min));
}

/** One of `items`. */
export function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

export function hex(random: () => number, length: number): string {
  let text = "";
  for (let i = 0; i < length; i++) text += Math.floor(random() * 16).toString(16);
  return text;
}

/** A Discord id: 18 digits, as snowflakes from 2016 on are written. */
export function snowflake(random: () => number): string {
  return String(100_000_000_000_000_000n + BigInt(Math.floor(random() * 1e15)) * 1000n);
}
