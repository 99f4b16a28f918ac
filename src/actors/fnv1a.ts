/** FNV-1a's 32-bit offset basis: where a hash of nothing starts. */
export const FNV1A_OFFSET_BASIS = 0x811c9dc5;

/**
 * FNV-1a, 32 bits, over a text's UTF-16 code units, as an unsigned number: a short, stable name
 * for a text or a seed drawn from one. Not for secrets: it is easy to reverse and to collide.
 * `basis` starts the hash somewhere else (a salt).
 * @example fnv1a("") // 0x811c9dc5
 * @example fnv1a("a").toString(16) // "e40c292c"
 */
export function fnv1a(text: string, basis: number = FNV1A_OFFSET_BASIS): number {
  let hash = basis;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}
