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
  // Nearly all text is well-formed already: the engine's check is far cheaper than the regex.
  return isWellFormed(text) ? text : text.replace(loneSurrogate, "\uFFFD");
}

/** `String.prototype.isWellFormed` where the runtime has it (Node 20, Deno), else the regex. */
const isWellFormed: (text: string) => boolean = typeof (String.prototype as { isWellFormed?: unknown }).isWellFormed === "function"
  ? (text) => (text as unknown as { isWellFormed(): boolean }).isWellFormed()
  : (text) => !new RegExp(loneSurrogate.source).test(text);

/**
 * Plain data (objects, arrays) with every string in it made well-formed; other values are kept as
 * they are. What holds no lone surrogate is returned as it is, not copied: this runs on every
 * activity built, live and in replay.
 * @example wellFormedStrings({ title: "\ud83d", durationMs: 1 }) // { title: "\uFFFD", durationMs: 1 }
 */
export function wellFormedStrings<T>(value: T): T {
  if (typeof value === "string") return wellFormed(value) as T;
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) {
    const items = value.map(wellFormedStrings);
    return (items.every((item, i) => item === value[i]) ? value : items) as T;
  }
  let copy: Record<string, unknown> | null = null;
  for (const key of Object.keys(value)) {
    const item = (value as Record<string, unknown>)[key];
    const fixed = wellFormedStrings(item);
    if (fixed !== item) (copy ??= { ...(value as Record<string, unknown>) })[key] = fixed;
  }
  return (copy ?? value) as T;
}
