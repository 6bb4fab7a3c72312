/**
 * Turns YAML (or JSON) text into validated function specs, reporting EVERY problem with its place:
 * `file:line:column field.path: what is wrong, what is allowed`. Pure (no file system): the CLI,
 * the API and tests feed it text.
 */
import { type Node, parseAllDocuments } from 'yaml';
import type { z } from 'zod';
import { compileSchema } from './io-schema.ts';
import { formatPath } from './parse-path.ts';
import { type FunctionSpec, functionSpecSchema } from './schema.ts';
import { literalSecretProblems } from './secret-env.ts';
import { findNode, jsonSyntaxProblem, positions, unclosedFlowBefore, yamlMessage } from './yaml-text.ts';

export { formatPath };

/** Largest spec file or request body accepted; a spec is a page of YAML, a megabyte is a mistake. */
export const MAX_SPEC_BYTES = 1024 * 1024;
/** YAML aliases expanded per document, against "billion laughs" documents. */
const MAX_ALIASES = 100;

export interface SpecProblem {
  file: string;
  line: number;
  column: number;
  /** Field path such as `spec.execution.retry.maxAttempts`; empty for whole-document problems. */
  path: string;
  message: string;
  /**
   * Set on the line that stands for YAML errors not listed (capYamlErrors): how many. Count
   * problems with problemCount, not by length.
   */
  omitted?: number;
}

/** How many problems a list holds, those a cap line stands for included. */
export function problemCount(problems: readonly SpecProblem[]): number {
  return problems.reduce((n, p) => n + (p.omitted ?? 1), 0);
}

export interface LoadedSpec {
  spec: FunctionSpec;
  file: string;
  /** Line of the document's first line (multi-document files hold several specs). */
  line: number;
  /**
   * Where a field of this spec is written (line and column, 1-based), for problems found after
   * validation (e.g. packaging): the field itself, else its nearest written parent.
   */
  locate?: (path: readonly (string | number)[]) => { line: number; column: number };
}

export interface ParseResult {
  specs: LoadedSpec[];
  problems: SpecProblem[];
}

export function formatProblem(p: SpecProblem): string {
  return `${p.file}:${p.line}:${p.column}${p.path ? ` ${p.path}` : ''}: ${p.message}`;
}

export function parseSpecText(text: string, file: string): ParseResult {
  const problems: SpecProblem[] = [];
  const specs: LoadedSpec[] = [];
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_SPEC_BYTES) {
    problems.push({
      file,
      line: 1,
      column: 1,
      path: '',
      message: `file is ${bytes} bytes; the limit is ${MAX_SPEC_BYTES} bytes (1 MiB) per spec file`,
    });
    return { specs, problems };
  }
  const docs = parseAllDocuments(text, {
    uniqueKeys: true,
    prettyErrors: false,
    strict: true,
  });
  const at = positions(text);
  const docList = Array.isArray(docs) ? docs : [];
  const nonEmpty = docList.filter((d) => d.contents !== null || d.errors.length > 0);
  if (nonEmpty.length === 0) {
    problems.push({
      file,
      line: 1,
      column: 1,
      path: '',
      message: `empty file; expected a Function spec (apiVersion: pontoon.dev/v1, kind: Function, metadata, spec)`,
    });
    return { specs, problems };
  }
  for (const doc of nonEmpty) {
    if (doc.errors.length > 0) {
      // The parser notices an unclosed [ or { only where a later line starts, and what follows
      // then fails to parse too: report the opener, and nothing after it.
      const flowError = doc.errors.find((e) => /end with a [\]}]/.test(e.message));
      const unclosed = flowError && unclosedFlowBefore(text, flowError.pos[0]);
      if (unclosed) {
        const close = unclosed.open === '[' ? ']' : '}';
        problems.push({
          file,
          ...at(unclosed.offset),
          path: '',
          message: `YAML syntax error: this "${unclosed.open}" is never closed; end the ${unclosed.open === '[' ? 'list' : 'mapping'} with "${close}" (on the same line, or indent the lines after it)`,
        });
      }
      for (const err of doc.errors) {
        if (unclosed && err.pos[0] >= unclosed.offset) continue;
        const msg =
          err.code === 'DUPLICATE_KEY'
            ? `duplicate key "${/^[^:,}\]\n]*/
                .exec(text.slice(err.pos[0]))![0]
                .trim()
                .replace(/^(["'])(.*)\1$/, '$2')}"; each field may appear once`
            : yamlMessage(err.message);
        problems.push({
          file,
          ...at(err.pos[0]),
          path: '',
          message: `YAML ${err.code === 'DUPLICATE_KEY' ? 'error' : 'syntax error'}: ${msg}`,
        });
      }
      continue;
    }
    const docStart = at(doc.range[0]);
    let data: unknown;
    try {
      data = doc.toJS({ maxAliasCount: MAX_ALIASES });
    } catch (err) {
      const msg = (err as Error).message;
      problems.push({
        file,
        ...docStart,
        path: '',
        message: /alias/i.test(msg)
          ? `YAML error: too many alias expansions (limit ${MAX_ALIASES}); write the values out`
          : `YAML error: ${msg}`,
      });
      continue;
    }
    if (typeof data !== 'object' || data === null || Array.isArray(data)) {
      problems.push({
        file,
        ...docStart,
        path: '',
        message: `expected a mapping (a Function spec with apiVersion, kind, metadata, spec), got ${describeValue(data)}`,
      });
      continue;
    }
    const result = functionSpecSchema().safeParse(data);
    // Literal env values that look like secrets (core/secret-env.ts): checked on a valid spec, here
    // and by the controller's validator, not by the schema (which replays old histories).
    // Typed inputs and results: an inline JSON Schema that does not compile is located at its keyword.
    const secrets = result.success
      ? [...literalSecretProblems(result.data), ...ioSchemaProblems(result.data)]
      : [];
    for (const p of secrets) {
      const atKey = 'atKey' in p && p.atKey === true;
      const { node, keyNode } = findNode(doc.contents as Node | null, p.path, atKey);
      const offset = (atKey ? (keyNode ?? node) : (node ?? keyNode))?.range?.[0] ?? doc.range[0];
      problems.push({ file, ...at(offset), path: formatPath(p.path), message: p.message });
    }
    if (result.success && secrets.length === 0) {
      const contents = doc.contents as Node | null;
      const docOffset = doc.range[0];
      specs.push({
        spec: result.data,
        file,
        line: docStart.line,
        locate: (p) => {
          const { node, keyNode } = findNode(contents, p, true);
          return at((keyNode ?? node)?.range?.[0] ?? docOffset);
        },
      });
      continue;
    }
    if (result.success) continue;
    for (const issue of result.error.issues) {
      for (const p of explainIssue(issue, data)) {
        const { node, keyNode } = findNode(doc.contents as Node | null, p.path, p.pointAtKey);
        const offset = (keyNode ?? node)?.range?.[0] ?? doc.range[0];
        problems.push({ file, ...at(offset), path: formatPath(p.path), message: p.message });
      }
    }
  }
  // One name, one function: a second document with the same name would silently replace the first.
  const seen = new Map<string, LoadedSpec>();
  for (const s of specs) {
    const prev = seen.get(s.spec.metadata.name);
    if (prev) {
      problems.push({
        file: s.file,
        line: s.line,
        column: 1,
        path: 'metadata.name',
        message: `function "${s.spec.metadata.name}" is defined twice (also at ${prev.file}:${prev.line})`,
      });
    } else {
      seen.set(s.spec.metadata.name, s);
    }
  }
  problems.sort((a, b) => a.line - b.line || a.column - b.column);
  return { specs, problems: capYamlErrors(problems) };
}

/**
 * What is wrong with the inline `spec.input.schema` and `spec.output.schema` of a valid spec, each
 * with the path of the offending keyword (Ajv compiles them: core/io-schema.ts).
 */
export function ioSchemaProblems(
  spec: FunctionSpec,
): { path: (string | number)[]; message: string; atKey?: boolean }[] {
  const out: { path: (string | number)[]; message: string; atKey?: boolean }[] = [];
  for (const which of ['input', 'output'] as const) {
    const schema = spec.spec[which]?.schema;
    if (schema === undefined) continue;
    const r = compileSchema(schema);
    // A schedule starts executions with no input (null): a typed input must accept it, or every
    // scheduled execution would end InputInvalid.
    if (which === 'input' && !('problems' in r) && !r.validate(null)) {
      for (const [i, sch] of spec.spec.schedules.entries()) {
        out.push({
          path: ['spec', 'schedules', i, 'name'],
          message: `schedule "${sch.name}" starts executions with no input (null), which spec.input.schema refuses; accept null in the schema (e.g. "type": ["object", "null"]) or start this function by invocation only`,
        });
      }
    }
    if ('problems' in r)
      for (const p of r.problems)
        out.push({
          path: ['spec', which, 'schema', ...p.path],
          message: `bad JSON Schema: ${p.message}`,
          ...(p.atKey ? { atKey: true } : {}),
        });
  }
  return out;
}

/**
 * A schema file named by `spec.input.schemaFile` or `spec.output.schemaFile` (JSON, or YAML): its
 * schema, or every problem located in that file (syntax, and a schema that does not compile, at the
 * offending keyword). Pure: load.ts reads the file.
 */
export function parseSchemaFileText(
  text: string,
  file: string,
): { schema?: unknown; problems: SpecProblem[] } {
  const at = positions(text);
  const docs = parseAllDocuments(text, {
    uniqueKeys: true,
    prettyErrors: false,
    strict: true,
  });
  const list = (Array.isArray(docs) ? docs : []).filter((d) => d.contents !== null || d.errors.length > 0);
  if (list.length !== 1) {
    return {
      problems: [
        {
          file,
          line: 1,
          column: 1,
          path: '',
          message: list.length
            ? 'holds several documents; a schema file holds one JSON Schema'
            : 'empty file; expected a JSON Schema',
        },
      ],
    };
  }
  const doc = list[0]!;
  if (doc.errors.length && file.toLowerCase().endsWith('.json')) {
    // A .json file is read as YAML (JSON is YAML), whose words for a JSON mistake ("Block collections
    // are not allowed within flow collections") mislead: JSON's own parser says what is wrong there.
    const json = jsonSyntaxProblem(text);
    if (json)
      return {
        problems: [{ file, ...at(json.offset), path: '', message: `JSON syntax error: ${json.message}` }],
      };
  }
  if (doc.errors.length) {
    return {
      problems: capYamlErrors(
        doc.errors.map((e) => ({
          file,
          ...at(e.pos[0]),
          path: '',
          message: `${e.code === 'DUPLICATE_KEY' ? 'duplicate key' : 'syntax error'}: ${yamlMessage(e.message)}`,
        })),
        () => true,
        'a JSON Schema',
      ),
    };
  }
  let schema: unknown;
  try {
    schema = doc.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (err) {
    return { problems: [{ file, line: 1, column: 1, path: '', message: (err as Error).message }] };
  }
  const r = compileSchema(schema);
  if (!('problems' in r)) return { schema, problems: [] };
  return {
    problems: r.problems.map((p) => {
      const { node, keyNode } = findNode(doc.contents as Node | null, p.path, p.atKey === true);
      return {
        file,
        ...at((p.atKey ? (keyNode ?? node) : (node ?? keyNode))?.range?.[0] ?? doc.range[0]),
        path: formatPath(p.path),
        message: `bad JSON Schema: ${p.message}`,
      };
    }),
  };
}

/** YAML errors listed per file; one more line stands for the rest. */
const MAX_YAML_ERRORS = 5;

/**
 * A file that is not YAML at all (a README given by mistake) has a YAML error on most lines: keeps
 * the first MAX_YAML_ERRORS of a file's (sorted) problems that `isYaml` says are YAML errors, and
 * puts one line standing for the rest (`omitted`) where the next one was; `expected` names what the
 * file should be. Other problems are all kept.
 */
function capYamlErrors(
  problems: SpecProblem[],
  isYaml: (p: SpecProblem) => boolean = (p) => p.message.startsWith('YAML '),
  expected = 'a Function spec',
): SpecProblem[] {
  const yaml = problems.filter(isYaml);
  if (yaml.length <= MAX_YAML_ERRORS) return problems;
  const dropped = new Set(yaml.slice(MAX_YAML_ERRORS));
  const first = yaml[MAX_YAML_ERRORS]!;
  return problems.flatMap((p) => {
    if (p === first)
      return [
        {
          file: p.file,
          line: p.line,
          column: p.column,
          path: '',
          message: `YAML errors: … and ${dropped.size} more in this file (is it ${expected}? fix the first ones first)`,
          omitted: dropped.size,
        },
      ];
    return dropped.has(p) ? [] : [p];
  });
}

interface Explained {
  path: (string | number)[];
  message: string;
  pointAtKey?: boolean;
}

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = data;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    if (!Object.hasOwn(cur, seg as PropertyKey)) return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[seg as string];
  }
  return cur;
}

function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  return `${typeof v} ${JSON.stringify(v)}`;
}

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
  record: 'a mapping',
};

function explainIssue(issue: z.core.$ZodIssue, data: unknown): Explained[] {
  const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p)) as (string | number)[];
  const value = valueAt(data, path);
  switch (issue.code) {
    case 'unrecognized_keys': {
      const allowed = allowedKeys(path);
      return issue.keys.map((key) => ({
        path: [...path, key],
        pointAtKey: true,
        message: `unknown field "${key}"${allowed ? `; allowed here: ${allowed.join(', ')}` : ''}`,
      }));
    }
    case 'invalid_type': {
      if (value === undefined)
        return [{ path, message: `is required (${TYPE_NAMES[issue.expected] ?? issue.expected})` }];
      const expected = TYPE_NAMES[issue.expected] ?? issue.expected;
      return [{ path, message: `expected ${expected}, got ${describeValue(value)}` }];
    }
    case 'invalid_value': {
      if (issue.values.length === 1)
        return [
          {
            path,
            message: issue.message.startsWith('must')
              ? issue.message
              : `must be ${JSON.stringify(issue.values[0])}`,
          },
        ];
      return [
        {
          path,
          message: `${describeValue(value)} is not allowed; allowed: ${issue.values.map((v) => String(v)).join(', ')}`,
        },
      ];
    }
    case 'too_small': {
      const min = Number(issue.minimum);
      if (issue.origin === 'array')
        return [{ path, message: `needs at least ${min} item${min === 1 ? '' : 's'}` }];
      if (issue.origin === 'string')
        return [{ path, message: min === 1 ? 'must not be empty' : `must have at least ${min} characters` }];
      return [{ path, message: `${describeValue(value)} is too small; minimum ${min}` }];
    }
    case 'too_big': {
      const max = Number(issue.maximum);
      if (issue.origin === 'array') return [{ path, message: `has more than ${max} items` }];
      if (issue.origin === 'string')
        return [
          {
            path,
            message: issue.message.includes('longer') ? issue.message : `is longer than ${max} characters`,
          },
        ];
      return [{ path, message: `${describeValue(value)} is too large; maximum ${max}` }];
    }
    case 'invalid_format':
      return [
        {
          path,
          message: issue.message.startsWith('Invalid')
            ? `${describeValue(value)} is not a valid ${issue.format}`
            : issue.message,
        },
      ];
    case 'not_multiple_of':
      return [{ path, message: `must be a multiple of ${issue.divisor}` }];
    default:
      return [{ path, message: issue.message }];
  }
}

/** The fields allowed at a path, read from the schema itself so messages never drift from it. */
function allowedKeys(path: readonly (string | number)[]): string[] | undefined {
  // biome-ignore lint/suspicious/noExplicitAny: walking zod's internal definitions
  let schema: any = functionSpecSchema();
  const unwrap = () => {
    for (let i = 0; i < 10; i++) {
      const def = schema?._zod?.def;
      if (!def) return;
      if (['default', 'optional', 'nullable', 'prefault', 'readonly', 'catch'].includes(def.type))
        schema = def.innerType;
      else if (def.type === 'pipe') schema = def.in;
      else if (def.type === 'union')
        schema =
          def.options.find((o: { _zod: { def: { type: string } } }) => o._zod.def.type === 'object') ??
          def.options[0];
      else return;
    }
  };
  unwrap();
  for (const seg of path) {
    const def = schema?._zod?.def;
    if (!def) return undefined;
    if (def.type === 'object') schema = def.shape[seg];
    else if (def.type === 'array') schema = def.element;
    else if (def.type === 'record') schema = def.valueType;
    else return undefined;
    unwrap();
  }
  const def = schema?._zod?.def;
  return def?.type === 'object' ? Object.keys(def.shape) : undefined;
}
