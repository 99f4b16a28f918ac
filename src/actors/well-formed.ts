/**
 * Lone surrogates: half of a UTF-16 pair without its other half, as left by text cut in the middle
 * of an emoji upstream. No UTF-8 text can hold one: JSON writes it as `\ud83d`, which Discord
 * cannot show, and encodeURIComponent throws on it.
 */
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * `text` with each lone surrogate replaced by U+FFFD, as `String.prototype.toWellFormed` does (which
 * Node 20 and Deno have, but this project's ES2023 typings do not declare). A whole pair is kept.
 * @example wellFormed("A\udc00B \u{1F3B8}") // "A\uFFFDB \u{1F3B8}"
 */
export function wellFormed(text: string): string {
  return text.replace(loneSurrogate, "\uFFFD");
}

/**
 * A copy of plain data (objects, arrays) with every string in it made well-formed; other values are
 * kept as they are.
 * @example wellFormedStrings({ title: "\ud83d", durationMs: 1 }) // { title: "\uFFFD", durationMs: 1 }
 */
export function wellFormedStrings<T>(value: T): T {
  if (typeof value === "string") return wellFormed(value) as T;
  if (Array.isArray(value)) return value.map(wellFormedStrings) as T;
  if (typeof value !== "object" || value === null) return value;
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, wellFormedStrings(item)])) as T;
}
