import type { JsonSchema, JsonType } from "./json-schema.ts";
import { childPath, type Problem } from "./problem.ts";
import { patterns } from "./schema.ts";
import { closest } from "./suggest.ts";
import { isRecord } from "../actors/objects.ts";

const typeWords: Record<JsonType, string> = {
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

/**
 * Checks `value` against `schema` (the subset in `JsonSchema`) and appends every problem found,
 * each at its JSON path. Messages never quote the value: it may be a secret.
 *
 * @example
 * const problems: Problem[] = [];
 * checkSchema({ port: "80" }, schema, "", problems);
 */
export function checkSchema(value: unknown, schema: JsonSchema, path: string, problems: Problem[]): void {
  if (schema.oneOf) return checkOneOf(value, schema.oneOf, path, problems);
  if (schema.type !== undefined && !hasType(value, schema.type)) {
    problems.push({ path, message: `must be ${typeWords[schema.type]}` });
    return;
  }
  if (schema.enum && !schema.enum.includes(value as never)) {
    const choices = schema.enum.map((choice) => JSON.stringify(choice)).join(", ");
    const near = typeof value === "string" ? closest(value, schema.enum.filter((c): c is string => typeof c === "string")) : undefined;
    problems.push({ path, message: `must be one of ${choices}${near === undefined ? "" : `; did you mean "${near}"?`}` });
  }
  if (typeof value === "string") checkString(value, schema, path, problems);
  if (typeof value === "number") checkNumber(value, schema, path, problems);
  if (Array.isArray(value)) checkArray(value, schema, path, problems);
  else if (isRecord(value)) checkObject(value, schema, path, problems);
}

function checkString(value: string, schema: JsonSchema, path: string, problems: Problem[]): void {
  if (schema.minLength !== undefined && [...value].length < schema.minLength) {
    problems.push({ path, message: schema.minLength === 1 ? "must not be empty" : `must be at least ${schema.minLength} characters long` });
  } else if (schema.pattern !== undefined && !new RegExp(schema.pattern, "u").test(value)) {
    problems.push({ path, message: patternWords[schema.pattern] ?? `must match the pattern ${schema.pattern}` });
  }
}

function checkNumber(value: number, schema: JsonSchema, path: string, problems: Problem[]): void {
  // A field in ms (its name ends in "Ms") gets its bound in words too: 600000 means little at a glance.
  const bound = (limit: number) => (path.endsWith("Ms") ? `${limit}${inWords(limit)}` : `${limit}`);
  if (schema.minimum !== undefined && value < schema.minimum) problems.push({ path, message: `must be at least ${bound(schema.minimum)}` });
  if (schema.maximum !== undefined && value > schema.maximum) problems.push({ path, message: `must be at most ${bound(schema.maximum)}` });
}

const durationUnits: Array<[unit: string, ms: number]> = [["day", 86_400_000], ["h", 3_600_000], ["min", 60_000], ["s", 1000]];

/** " (10 min)" for 600000 ms, in the largest unit that divides it; "" when that unit would be ms. */
function inWords(ms: number): string {
  const unit = durationUnits.find(([, size]) => ms >= size && ms % size === 0);
  if (!unit) return "";
  const count = ms / unit[1];
  return ` (${count} ${unit[0] === "day" && count !== 1 ? "days" : unit[0]})`;
}

function checkArray(value: unknown[], schema: JsonSchema, path: string, problems: Problem[]): void {
  const seen = new Map<string, number>();
  value.forEach((item, index) => {
    const itemPath = childPath(path, index);
    if (schema.items) checkSchema(item, schema.items, itemPath, problems);
    if (!schema.uniqueItems) return;
    const key = JSON.stringify(item);
    const first = seen.get(key);
    if (first === undefined) seen.set(key, index);
    else problems.push({ path: itemPath, message: `repeats ${childPath(path, first)}; list each entry once` });
  });
}

function checkObject(value: Record<string, unknown>, schema: JsonSchema, path: string, problems: Problem[]): void {
  const properties = schema.properties ?? {};
  for (const key of schema.required ?? []) {
    if (value[key] !== undefined) continue;
    const what = properties[key]?.description;
    problems.push({ path: childPath(path, key), message: `missing; add it${what ? ` (${what})` : ""}` });
  }
  const known = Object.keys(properties);
  for (const [key, child] of Object.entries(value)) {
    const childSchema = Object.hasOwn(properties, key) ? properties[key] : undefined;
    if (childSchema !== undefined) {
      checkSchema(child, childSchema, childPath(path, key), problems);
    } else if (schema.additionalProperties === false) {
      const near = closest(key, known);
      const hint = near !== undefined ? `did you mean "${near}"?` : `the keys allowed here are ${known.map((k) => `"${k}"`).join(", ")}`;
      problems.push({ path: childPath(path, key), message: `unknown key; ${hint}` });
    }
  }
}

/** `oneOf`, as the schema uses it: `T | null`. A value of neither type gets one message naming both. */
function checkOneOf(value: unknown, branches: JsonSchema[], path: string, problems: Problem[]): void {
  const typed = branches.filter((branch) => branch.type === undefined || hasType(value, branch.type));
  if (typed.length === 0) {
    const words = branches.map((branch) => (branch.type ? typeWords[branch.type] : "a value"));
    problems.push({ path, message: `must be ${words.join(" or ")}` });
    return;
  }
  // Report against the branch of the value's own type: "must be a URL", not "must be null".
  const attempts = typed.map((branch) => {
    const found: Problem[] = [];
    checkSchema(value, branch, path, found);
    return found;
  });
  if (attempts.some((found) => found.length === 0)) return;
  problems.push(...attempts[0]!);
}

function hasType(value: unknown, type: JsonType): boolean {
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
