import { Buffer } from "node:buffer";

/**
 * Every way a secret gets written into a log line or an inspector event, by name: as is,
 * URL-encoded (encodeURIComponent, and form encoding, which writes a space as `+`), as the hex of a
 * Subsonic `p=enc:<hex>` (both letter cases), as base64 (standard and URL-safe), and each of those
 * as JSON writes it inside a string. Written apart from the scrubber, as the tests' oracle.
 */
export function spellingsOf(secret: string): Map<string, string> {
  const bytes = Buffer.from(secret, "utf8");
  const forms = new Map([
    ["raw", secret],
    ["encodeURIComponent", encodeURIComponent(secret)],
    ["form-encoded", new URLSearchParams({ p: secret }).toString().slice("p=".length)],
    ["hex", bytes.toString("hex")],
    ["HEX", bytes.toString("hex").toUpperCase()],
    ["base64", bytes.toString("base64")],
    ["base64url", bytes.toString("base64url")],
  ]);
  const spellings = new Map(forms);
  for (const [name, form] of forms) {
    const json = JSON.stringify(form).slice(1, -1);
    if (json !== form) spellings.set(`${name}, JSON-escaped`, json);
  }
  return spellings;
}

/** The names of the spellings of `secret` found in any string of `value` (keys too), at any depth. */
export function spellingsIn(value: unknown, secret: string): string[] {
  const strings = stringsIn(value);
  return [...spellingsOf(secret)].filter(([, spelling]) => strings.some((s) => s.includes(spelling))).map(([name]) => name);
}

function stringsIn(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.flatMap(stringsIn);
  if (typeof value === "object" && value !== null) return Object.entries(value).flatMap(([key, item]) => [key, ...stringsIn(item)]);
  return [];
}
