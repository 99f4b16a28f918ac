/**
 * tsx hands V8 each .ts file transformed onto one line, so a .cpuprofile says `file.ts:1` for
 * every function. This maps a profile position back to the .ts line through the source map tsx
 * keeps in its cache (`<tmpdir>/tsx-<uid>/`, JSON `{code, map}`). Several versions of a file may
 * be cached: the one whose code has the profile's named functions at their columns is used.
 */
import { readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

interface Cached {
  code: string;
  /** Generated column -> original 1-based line, for generated line 0, sorted by column. */
  columns: Array<[column: number, line: number]>;
}

/** Returns `lineOf(url, column, named)` for transformed files, or null when it cannot tell. */
export function sourceLines(): (url: string, column: number, named: Array<[name: string, column: number]>) => number | null {
  const byPath = new Map<string, Array<{ code: string; mappings: string }>>();
  const folder = join(tmpdir(), `tsx-${process.getuid?.() ?? 0}`);
  let names: string[] = [];
  try {
    names = readdirSync(folder);
  } catch {
    return () => null;
  }
  for (const name of names) {
    try {
      const { code, map } = JSON.parse(readFileSync(join(folder, name), "utf8")) as { code: string; map?: { sources?: string[]; mappings?: string } };
      const source = map?.sources?.[0];
      if (!source || typeof map.mappings !== "string") continue;
      byPath.set(source, [...(byPath.get(source) ?? []), { code, mappings: map.mappings }]);
    } catch {
      // Not one of tsx's JSON entries.
    }
  }
  const chosen = new Map<string, Cached | null>();
  return (url, column, named) => {
    if (!url.startsWith("file://")) return null;
    const path = fileURLToPath(url);
    if (!chosen.has(path)) {
      // V8 gives a function's column as that of its "(": the name ends there.
      const fits = (code: string) => named.every(([name, col]) => code.slice(col - name.length, col) === name);
      const hit = (byPath.get(path) ?? []).find((entry) => fits(entry.code));
      chosen.set(path, hit ? { code: hit.code, columns: firstLineColumns(hit.mappings) } : null);
    }
    const cached = chosen.get(path);
    if (!cached) return null;
    let line: number | null = null;
    for (const [col, original] of cached.columns) {
      if (col > column) break;
      line = original;
    }
    return line;
  };
}

/** Decodes the segments of the first generated line of a source map's `mappings`. */
function firstLineColumns(mappings: string): Array<[number, number]> {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const out: Array<[number, number]> = [];
  let column = 0;
  let line = 0;
  for (const segment of (mappings.split(";")[0] ?? "").split(",")) {
    const values: number[] = [];
    let value = 0;
    let shift = 0;
    for (const char of segment) {
      const digit = alphabet.indexOf(char);
      value += (digit & 31) << shift;
      if (digit & 32) shift += 5;
      else {
        values.push(value & 1 ? -(value >>> 1) : value >>> 1);
        value = 0;
        shift = 0;
      }
    }
    if (values.length === 0) continue;
    column += values[0]!;
    if (values.length >= 3) line += values[2]!;
    if (values.length >= 4) out.push([column, line + 1]);
  }
  return out;
}
