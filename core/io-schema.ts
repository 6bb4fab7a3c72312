/**
 * Typed inputs and results (`spec.input.schema`, `spec.output.schema`): JSON Schema draft 2020-12,
 * checked with Ajv. Compiled once per distinct schema per process (keyed by the schema's content, so
 * once per spec version, whatever number of executions), never per execution.
 *
 * Used by the spec loader and the API (a schema that does not compile is a located error), the
 * API's invocation route (400 `validation_failed`), the worker (input before any attempt, result
 * after each, for every starter) and the warm observer. Never by workflow code: Ajv generates code
 * and is heavy, so workflows ask an activity (test/repo.test.ts guards their import graph).
 */
import { createHash } from 'node:crypto';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { type AttemptOutcome, type AttemptRequest, failure } from './execution.ts';

// ajv-formats is CommonJS: its default export is the function under ESM and under esbuild's bundle.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (
  ajv: Ajv2020,
) => Ajv2020;

/** One problem of a value against a schema: where (a JSON Pointer into the value) and what. */
export interface SchemaProblem {
  /** RFC 6901 JSON Pointer into the checked value; "" is the value itself. */
  pointer: string;
  message: string;
}

/** One problem of a schema itself: the path of the offending keyword inside the schema. */
export interface SchemaCompileProblem {
  path: (string | number)[];
  message: string;
  /** The problem is the key at the end of path (an unknown keyword), not its value. */
  atKey?: boolean;
}

/** Most problems reported for one value: the first ones say what to fix. */
export const MAX_SCHEMA_PROBLEMS = 20;
/** Most distinct compiled schemas kept per process (least recently used forgotten first). */
const MAX_COMPILED = 500;

/**
 * Ajv's options, one place: all errors (every pointer at once), formats checked (ajv-formats),
 * strict schemas (an unknown keyword such as `minimun` is a compile error, not a silent no-op), but
 * union types and tuples without the strictness that refuses ordinary JSON Schema.
 */
function newAjv(): Ajv2020 {
  const ajv = new Ajv2020({
    allErrors: true,
    strict: true,
    strictTypes: false,
    strictTuples: false,
    strictRequired: false,
    allowUnionTypes: true,
    // No loadSchema: a $ref to another document is a compile error, never fetched.
    validateFormats: true,
  });
  addFormats(ajv);
  return ajv;
}

let shared: Ajv2020 | undefined;
function ajv(): Ajv2020 {
  shared ??= newAjv();
  return shared;
}

/** Compilation counts of this process, for tests and metrics: a compile per schema, never per value. */
export const validatorStats = { compiled: 0, cacheHits: 0 };

const compiled = new Map<string, ValidateFunction>();

/** The segments of a JSON Pointer (`/a/0/b~1c` → `['a', 0, 'b/c']`). */
export function pointerSegments(pointer: string): (string | number)[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^(0|[1-9][0-9]*)$/.test(s) ? Number(s) : s));
}

function escapeSegment(s: string): string {
  return s.replace(/~/g, '~0').replace(/\//g, '~1');
}

/**
 * Compiles a schema: the validator, or what is wrong with the schema (each with the path of the
 * offending keyword inside it, for a located error). Not cached: for checking specs.
 */
export function compileSchema(
  schema: unknown,
): { validate: ValidateFunction } | { problems: SchemaCompileProblem[] } {
  if (typeof schema === 'boolean') return { validate: compileUnchecked(schema) };
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
    return { problems: [{ path: [], message: 'must be a JSON Schema: an object, or true/false' }] };
  }
  const a = ajv();
  const s = schema as Record<string, unknown>;
  if (s.$schema !== undefined && s.$schema !== 'https://json-schema.org/draft/2020-12/schema') {
    return {
      problems: [
        {
          path: ['$schema'],
          message: `only JSON Schema draft 2020-12 is supported ("$schema": "https://json-schema.org/draft/2020-12/schema", or leave it out), got ${JSON.stringify(s.$schema)}`,
        },
      ],
    };
  }
  let valid: boolean;
  try {
    valid = a.validateSchema(schema) as boolean;
  } catch (err) {
    return { problems: [{ path: [], message: (err as Error).message }] };
  }
  if (!valid) {
    // The meta-schema reports several errors per bad keyword (enum, then each anyOf branch): one a place.
    const seen = new Set<string>();
    const problems: SchemaCompileProblem[] = [];
    for (const e of a.errors ?? []) {
      if (seen.has(e.instancePath)) continue;
      seen.add(e.instancePath);
      problems.push({ path: pointerSegments(e.instancePath), message: metaMessage(e) });
    }
    return { problems };
  }
  try {
    return { validate: compileUnchecked(schema) };
  } catch (err) {
    return {
      problems: [
        {
          path: compileErrorPath(err as Error, schema),
          message: compileMessage(err as Error),
          ...(/unknown keyword/.test((err as Error).message) ? { atKey: true } : {}),
        },
      ],
    };
  }
}

function compileUnchecked(schema: object | boolean): ValidateFunction {
  // A schema naming ids ($id anywhere, nested ones included) gets an Ajv instance of its own: Ajv
  // keeps nested ids in the instance, and the next version of the same schema would clash with them.
  if (typeof schema === 'object' && findKey(schema, '$id', []) !== undefined) return newAjv().compile(schema);
  const a = ajv();
  try {
    return a.compile(schema);
  } finally {
    // Forget it in the shared instance: another schema may use the same $id, and compiled
    // validators live in our own cache, not Ajv's.
    if (typeof schema === 'object') {
      try {
        a.removeSchema(schema);
        const id = (schema as { $id?: unknown }).$id;
        if (typeof id === 'string') a.removeSchema(id);
      } catch {
        // not added (compile failed)
      }
    }
  }
}

function metaMessage(e: ErrorObject): string {
  const allowed = (e.params as { allowedValues?: unknown[] }).allowedValues;
  if (e.keyword === 'enum' && allowed)
    return `${e.message}: ${allowed.map((v) => JSON.stringify(v)).join(', ')}`;
  return e.message ?? `fails "${e.keyword}"`;
}

function compileMessage(err: Error): string {
  const m = err.message;
  if (/^strict mode: unknown keyword/.test(m))
    return `${m.replace(/^strict mode: /, '')} (a misspelt keyword? JSON Schema draft 2020-12 keywords only)`;
  if (/^no schema with key or ref/.test(m))
    return `${m}: only JSON Schema draft 2020-12 is supported, and no remote schema is fetched`;
  if (/can't resolve reference/.test(m)) return `${m} (references resolve inside this schema only)`;
  return m;
}

/**
 * Where a compile error points: the path Ajv names (`… at path "#/properties/a"`), or for an
 * unknown keyword (whose message names none) the first place the keyword is written.
 */
function compileErrorPath(err: Error, schema: unknown): (string | number)[] {
  const at = /at path "#([^"]*)"/.exec(err.message);
  if (at) return pointerSegments(at[1]!);
  const keyword = /unknown keyword: "([^"]+)"/.exec(err.message)?.[1];
  return keyword ? (findKey(schema, keyword, []) ?? []) : [];
}

function findKey(value: unknown, key: string, path: (string | number)[]): (string | number)[] | undefined {
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) {
      const found = findKey(v, key, [...path, i]);
      if (found) return found;
    }
  } else if (value && typeof value === 'object') {
    if (Object.hasOwn(value, key)) return [...path, key];
    for (const [k, v] of Object.entries(value)) {
      const found = findKey(v, key, [...path, k]);
      if (found) return found;
    }
  }
  return undefined;
}

/** A stable key of a schema's content: the same schema in two spec versions compiles once. */
function keyOf(schema: unknown): string {
  return createHash('sha256').update(JSON.stringify(schema)).digest('base64url');
}

/**
 * The validator of a schema, compiled on first use and kept (by content) for every later value.
 * Throws an Error saying what is wrong when the schema does not compile (a spec applied by a path
 * that skipped the apply-time check).
 */
export function validatorFor(schema: unknown): ValidateFunction {
  const key = keyOf(schema);
  const known = compiled.get(key);
  if (known) {
    validatorStats.cacheHits++;
    compiled.delete(key);
    compiled.set(key, known);
    return known;
  }
  const r = compileSchema(schema);
  if ('problems' in r) {
    throw new Error(
      r.problems
        .map(
          (p) =>
            `${p.path.length ? `/${p.path.map((s) => escapeSegment(String(s))).join('/')}: ` : ''}${p.message}`,
        )
        .join('; '),
    );
  }
  validatorStats.compiled++;
  compiled.set(key, r.validate);
  if (compiled.size > MAX_COMPILED) {
    const oldest = compiled.keys().next().value;
    if (oldest !== undefined) compiled.delete(oldest);
  }
  return r.validate;
}

/** What is wrong with a value against a schema: nothing (an empty list), or each problem with its pointer. */
export function schemaProblems(schema: unknown, value: unknown): SchemaProblem[] {
  const validate = validatorFor(schema);
  if (validate(value)) return [];
  const problems: SchemaProblem[] = [];
  const seen = new Set<string>();
  for (const e of validate.errors ?? []) {
    const p = problemOf(e);
    const k = `${p.pointer}\n${p.message}`;
    if (seen.has(k)) continue;
    seen.add(k);
    problems.push(p);
    if (problems.length >= MAX_SCHEMA_PROBLEMS) break;
  }
  return problems;
}

function problemOf(e: ErrorObject): SchemaProblem {
  const params = e.params as Record<string, unknown>;
  if (e.keyword === 'required' && typeof params.missingProperty === 'string')
    return { pointer: `${e.instancePath}/${escapeSegment(params.missingProperty)}`, message: 'is required' };
  if (e.keyword === 'additionalProperties' && typeof params.additionalProperty === 'string')
    return {
      pointer: `${e.instancePath}/${escapeSegment(params.additionalProperty)}`,
      message: 'is not allowed (no such property in the schema)',
    };
  if (e.keyword === 'unevaluatedProperties' && typeof params.unevaluatedProperty === 'string')
    return {
      pointer: `${e.instancePath}/${escapeSegment(params.unevaluatedProperty)}`,
      message: 'is not allowed (no such property in the schema)',
    };
  if (e.keyword === 'enum' && Array.isArray(params.allowedValues))
    return {
      pointer: e.instancePath,
      message: `must be one of ${params.allowedValues.map((v) => JSON.stringify(v)).join(', ')}`,
    };
  if (e.keyword === 'const')
    return { pointer: e.instancePath, message: `must be ${JSON.stringify(params.allowedValue)}` };
  return { pointer: e.instancePath, message: e.message ?? `fails "${e.keyword}"` };
}

/** A pointer as messages show it: the root (`""`) is named, so it is not mistaken for nothing. */
export function showPointer(pointer: string): string {
  return pointer === '' ? '(root)' : pointer;
}

/** One line of problems: `/age: must be >= 0; /name: is required`. */
export function problemsLine(problems: readonly SchemaProblem[]): string {
  return problems.map((p) => `${showPointer(p.pointer)}: ${p.message}`).join('; ');
}

/**
 * An attempt's outcome with its result checked against `spec.output.schema`: unchanged when the
 * attempt failed, the spec has no output schema or the result matches; else an OutputInvalid
 * failure (not retryable: the same function would return the same shape) naming each pointer. The
 * worker applies it to every attempt it runs and the warm observer to each warm attempt, so the
 * workflow sees the verdict in the outcome, whoever started the execution.
 */
export function checkedOutcome(req: AttemptRequest, outcome: AttemptOutcome): AttemptOutcome {
  const schema = req.spec.spec.output?.schema;
  if (schema === undefined || outcome.failure) return outcome;
  let problems: SchemaProblem[];
  try {
    problems = schemaProblems(schema, outcome.output ?? null);
  } catch (err) {
    return {
      ...outcome,
      failure: failure('SpecInvalid', `spec.output.schema does not compile: ${(err as Error).message}`),
    };
  }
  if (problems.length === 0) return outcome;
  return {
    ...outcome,
    failure: failure(
      'OutputInvalid',
      `the result does not match spec.output.schema: ${problemsLine(problems)}`,
    ),
  };
}
