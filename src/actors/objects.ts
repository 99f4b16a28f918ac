/** Small helpers for plain JSON-like objects, shared by the machines, the adapters and the config. */

/** The object without its undefined fields (optional fields stay absent, not present-but-undefined). */
export function compact<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** A plain object (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
