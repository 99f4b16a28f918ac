import type { TSchema } from "@sinclair/typebox";
import { Value, type ValueError, ValueErrorType } from "@sinclair/typebox/value";
import { childPath, type Problem } from "./problem.ts";
import { patterns } from "./schema.ts";
import { closest } from "./suggest.ts";
import { isRecord } from "../actors/objects.ts";

/** The types of JSON values, as JSON Schema names them, in words. */
const typeWords: Record<string, string> = {
  object: "an object { ... }",
  array: "a list [ ... ]",
  string: "a string in double quotes",
  integer: "a whole number",
  number: "a number",
  boolean: "true or false",
  null: "null",
};

// A pattern means nothing to most readers: say what it asks for.
const patternWords: Record<string, string> = {
  [patterns.applicationId]: "must be 5 to 25 digits: the Application ID from https://discord.com/developers/applications",
  [patterns.httpUrl]: "must be a URL starting with http:// or https://",
  [patterns.httpUrlOrNone]: 'must be a URL starting with http:// or https://, or "none" for no image',
  [patterns.wsUrl]: "must be a URL starting with ws:// or wss://",
};

/** A problem at a JSON Pointer, as TypeBox names places (`/users/1/discordToken`). */
interface Found {
  pointer: string;
  message: string;
}

/**
 * Every problem TypeBox's `Value.Errors` finds in `value`, each at its JSON path, in check's words.
 * TypeBox's own messages ("Expected string", "Expected union value") say what a schema wants; these
 * say what to write, never quote the value (it may be a secret), and come in the file's order.
 *
 * @example
 * checkSchema({ port: "80" }, schema); // [{ path: "port", message: "must be a whole number" }]
 */
export function checkSchema(value: unknown, schema: TSchema): Problem[] {
  const found = [...Value.Errors(schema, value)].flatMap((error) => problemsOf(error, value));
  const placed = found.map(({ pointer, message }) => ({ ...locate(value, pointer), message }));
  // TypeBox goes through an object's keys in the schema's order; a reader goes down the file.
  placed.sort((a, b) => compareOrder(a.order, b.order));
  return placed.map(({ path, message }) => ({ path, message }));
}

function problemsOf(error: ValueError, root: unknown): Found[] {
  const { schema, value, path: pointer } = error;
  const at = (message: string): Found[] => [{ pointer, message }];
  if (error.type === ValueErrorType.ObjectRequiredProperty) return at(`missing; add it${schema.description ? ` (${schema.description})` : ""}`);
  // TypeBox also checks a missing key against its schema ("Expected string"): "missing" says it.
  if (value === undefined) return [];
  if (error.type === ValueErrorType.ObjectAdditionalProperties) {
    const known = Object.keys(schema.properties ?? {});
    const near = closest(lastKey(pointer), known);
    return at(`unknown key; ${near !== undefined ? `did you mean "${near}"?` : `the keys allowed here are ${known.map((k) => `"${k}"`).join(", ")}`}`);
  }
  if (error.type === ValueErrorType.Union) {
    // `T | null`: report against the branch of the value's own type ("must be a URL", not "must be null").
    const branches: TSchema[] = schema.anyOf;
    const typed = branches.findIndex((branch) => hasType(value, branch.type));
    if (typed < 0) return at(`must be ${branches.map((branch) => typeWords[branch.type] ?? "a value").join(" or ")}`);
    return [...error.errors[typed]!].flatMap((inner) => problemsOf(inner, root));
  }
  if (typeof schema.type === "string" && !hasType(value, schema.type)) return at(`must be ${typeWords[schema.type] ?? schema.type}`);
  // A field in ms (its name ends in "Ms") gets its bound in words too: 600000 means little at a glance.
  const bound = (limit: number) => (pointer.endsWith("Ms") ? `${limit}${inWords(limit)}` : `${limit}`);
  switch (error.type) {
    case ValueErrorType.Kind: {
      // Our one custom kind, "StringEnum" (see schema.ts).
      const choices: string[] = schema.enum;
      const near = typeof value === "string" ? closest(value, choices) : undefined;
      return at(`must be one of ${choices.map((choice) => JSON.stringify(choice)).join(", ")}${near === undefined ? "" : `; did you mean "${near}"?`}`);
    }
    case ValueErrorType.StringMinLength:
      return at(schema.minLength === 1 ? "must not be empty" : `must be at least ${schema.minLength} characters long`);
    case ValueErrorType.StringPattern:
      return at(patternWords[schema.pattern] ?? `must match the pattern ${schema.pattern}`);
    case ValueErrorType.IntegerMinimum:
    case ValueErrorType.NumberMinimum:
      return at(`must be at least ${bound(schema.minimum)}`);
    case ValueErrorType.IntegerMaximum:
    case ValueErrorType.NumberMaximum:
      return at(`must be at most ${bound(schema.maximum)}`);
    case ValueErrorType.ArrayUniqueItems:
      return repeats(value as unknown[], pointer, root);
    default:
      // Nothing in the schema gives another error today; should one appear, TypeBox's own words.
      return at(error.message);
  }
}

/** TypeBox says a list repeats itself; each repeat is named, with the entry it repeats. */
function repeats(list: unknown[], pointer: string, root: unknown): Found[] {
  const { path } = locate(root, pointer);
  const seen = new Map<string, number>();
  return list.flatMap((item, index) => {
    const key = JSON.stringify(item);
    const first = seen.get(key);
    if (first === undefined) seen.set(key, index);
    return first === undefined ? [] : [{ pointer: `${pointer}/${index}`, message: `repeats ${childPath(path, first)}; list each entry once` }];
  });
}

/**
 * A JSON Pointer as check prints it (`users[1].discordToken`), and where it is in the file: each
 * key's place among its object's keys (-1 for a missing one, listed first), each item's index.
 */
function locate(root: unknown, pointer: string): { path: string; order: number[] } {
  let node = root;
  let path = "";
  const order: number[] = [];
  for (const segment of pointer.split("/").slice(1)) {
    const key = segment.replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(node)) {
      path = childPath(path, Number(key));
      order.push(Number(key));
      node = node[Number(key)];
    } else {
      path = childPath(path, key);
      order.push(isRecord(node) ? Object.keys(node).indexOf(key) : -1);
      node = isRecord(node) && Object.hasOwn(node, key) ? node[key] : undefined;
    }
  }
  return { path, order };
}

function lastKey(pointer: string): string {
  return pointer.slice(pointer.lastIndexOf("/") + 1).replace(/~1/g, "/").replace(/~0/g, "~");
}

/** Depth-first: a place before what is inside it, siblings in the file's order. */
function compareOrder(a: number[], b: number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

const durationUnits: Array<[unit: string, ms: number]> = [["day", 86_400_000], ["h", 3_600_000], ["min", 60_000], ["s", 1000]];

/** " (10 min)" for 600000 ms, in the largest unit that divides it; "" when that unit would be ms. */
function inWords(ms: number): string {
  const unit = durationUnits.find(([, size]) => ms >= size && ms % size === 0);
  if (!unit) return "";
  const count = ms / unit[1];
  return ` (${count} ${unit[0] === "day" && count !== 1 ? "days" : unit[0]})`;
}

function hasType(value: unknown, type: unknown): boolean {
  switch (type) {
    case "object":
      return isRecord(value);
    case "array":
      return Array.isArray(value);
    case "integer":
      return Number.isInteger(value);
    case "number":
      return typeof value === "number" && Number.isFinite(value);
    case "null":
      return value === null;
    default:
      // `type` is one of JSON Schema's names here, which are also `typeof`'s for these.
      return (typeof value as string) === type;
  }
}
