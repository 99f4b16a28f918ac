/**
 * The subset of JSON Schema (draft 2020-12) that `configSchema` is written in and that
 * `validateConfig` interprets. Keeping the subset small means the validator can be exact about it;
 * a keyword outside it would be silently ignored, so the type does not admit one.
 */
export interface JsonSchema {
  $schema?: string;
  $id?: string;
  title?: string;
  description?: string;
  default?: unknown;
  examples?: unknown[];
  type?: JsonType;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: false;
  items?: JsonSchema;
  uniqueItems?: boolean;
  enum?: readonly JsonScalar[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  /** Used for `T | null` only: one branch of type "null" and one other. */
  oneOf?: JsonSchema[];
}

/** The types of JSON values, as JSON Schema names them. */
export type JsonType = "object" | "array" | "string" | "integer" | "number" | "boolean" | "null";

/** A value an `enum` may list. */
export type JsonScalar = string | number | boolean | null;
