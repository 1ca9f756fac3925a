import { setFlagsFromString } from "node:v8";
import { Ajv2020, type AnySchema, type ErrorObject } from "ajv/dist/2020.js";
import { invalidArgument } from "./errors.ts";

// Schemas come from API callers, and their "pattern" keywords run on every payload: a
// backtracking pattern such as ^(a+)+$ could hold the thread for minutes. V8 switches such a
// regexp to its linear-time engine once it backtracks too much; that engine takes no "u"
// flag, back-references nor look-arounds (see patternRegExp).
setFlagsFromString("--enable-experimental-regexp-engine-on-excessive-backtracks");

/** Patterns whose meaning needs the "u" flag: non-ASCII text, \p{…} classes, \u{…} escapes. */
const NEEDS_UNICODE = /[^\x00-\x7f]|\\[pP]|\\u\{/;

/**
 * Compiles a schema "pattern". Its syntax is checked with the "u" flag, as draft 2020-12 has
 * it; an ASCII pattern then runs without the flag so that V8 can fall back to its linear
 * engine (the one difference: "." and negated classes see a character outside the BMP as
 * two). Patterns that need "u" keep it, and with it the backtracking engine.
 */
const patternRegExp = Object.assign(
  (pattern: string, u: string): RegExp => {
    const unicode = new RegExp(pattern, u);
    return NEEDS_UNICODE.test(pattern) ? unicode : new RegExp(pattern, "");
  },
  { code: "hooklinePatternRegExp" },
);

/** Why a document does not match a schema: a JSON Pointer into the document and the rule broken. */
export interface SchemaViolation {
  /** "" for the document itself, else e.g. "/amount" or "/items/0/sku". */
  path: string;
  message: string;
}

/** A compiled schema: undefined when the value matches, else the first violation. */
export type SchemaCheck = (value: unknown) => SchemaViolation | undefined;

/**
 * One compiler for every schema. Draft 2020-12; "format" is an annotation only (the draft's
 * default), unknown keywords are refused so that a typo such as "requried" is caught when
 * the schema is stored rather than silently ignored.
 */
const ajv = new Ajv2020({
  strict: true,
  strictTypes: false,
  strictTuples: false,
  strictRequired: false,
  validateFormats: false,
  allErrors: false,
  // Nothing is ever fetched: a $ref must resolve within the schema.
  loadSchema: undefined,
  code: { regExp: patternRegExp },
});

function firstViolation(errors: readonly ErrorObject[] | null | undefined): SchemaViolation {
  const error = errors?.[0];
  if (!error) return { path: "", message: "does not match the schema" };
  // "must have required property 'x'" reads better at the missing property itself.
  if (error.keyword === "required" && typeof error.params["missingProperty"] === "string")
    return { path: `${error.instancePath}/${escapePointer(error.params["missingProperty"])}`, message: "is required" };
  if (error.keyword === "additionalProperties" && typeof error.params["additionalProperty"] === "string")
    return { path: `${error.instancePath}/${escapePointer(error.params["additionalProperty"])}`, message: "is not allowed by the schema" };
  return { path: error.instancePath, message: error.message ?? `fails "${error.keyword}"` };
}

function escapePointer(token: string): string {
  return token.replace(/~/g, "~0").replace(/\//g, "~1");
}

/** Parses a JSON document given as text; INVALID_ARGUMENT naming the field when it is not JSON. */
export function parseJsonField(field: string, text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw invalidArgument(field, `must be JSON: ${(err as Error).message}`);
  }
}

/**
 * Compiles a JSON Schema (draft 2020-12) given as text. INVALID_ARGUMENT naming the field
 * when it is not JSON, not a schema, or cannot be compiled (say, a $ref that does not resolve).
 */
export function compileSchema(field: string, text: string): SchemaCheck {
  const schema = parseJsonField(field, text);
  if (typeof schema !== "boolean" && (typeof schema !== "object" || schema === null || Array.isArray(schema)))
    throw invalidArgument(field, "must be a JSON Schema: an object or a boolean");
  let validate: ReturnType<typeof ajv.compile>;
  try {
    validate = ajv.compile(schema as AnySchema);
  } catch (err) {
    throw invalidArgument(field, `is not a valid JSON Schema (draft 2020-12): ${(err as Error).message}`);
  } finally {
    // The compiled function stays usable; forgetting the schema lets another type reuse its $id
    // and lets a replaced schema be collected.
    if (typeof schema === "object") ajv.removeSchema(schema as AnySchema);
  }
  return (value) => {
    try {
      return validate(value) ? undefined : firstViolation(validate.errors);
    } catch (err) {
      // A recursive schema walks a deeply nested document by recursion: refuse, do not crash.
      if (err instanceof RangeError) return { path: "", message: "is nested too deeply to check against the schema" };
      throw err;
    }
  };
}
