import { fnv1a, FNV1A_OFFSET_BASIS } from "./fnv1a.ts";

/**
 * A tiny seeded random number generator (mulberry32). Machines keep its state in their context, so
 * that jitter is part of the journaled history: a replay draws the same numbers as the live run.
 *
 * @example
 * const [value, next] = nextRandom(42); // value in [0, 1)
 */
export function nextRandom(state: number): [value: number, next: number] {
  const next = (state + 0x6d2b79f5) | 0;
  let t = next;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return [((t ^ (t >>> 14)) >>> 0) / 4294967296, next];
}

/** A 32-bit seed from a string and a number (FNV-1a salted), e.g. a user's name and the first event's time. */
export function seedFrom(text: string, salt: number): number {
  return fnv1a(text, FNV1A_OFFSET_BASIS ^ (salt | 0)) | 0;
}
