import { expect, it } from 'vitest';
import { compileSchema, pointerSegments, problemsLine, schemaProblems, validatorStats } from './io-schema.ts';

it('names each problem with an RFC 6901 JSON Pointer, escaping ~ and /', () => {
  const schema = {
    type: 'object',
    required: ['a/b'],
    additionalProperties: false,
    properties: { 'a/b': { type: 'string' }, 'm~n': { type: 'array', items: { enum: ['x', 'y'] } } },
  };
  const problems = schemaProblems(schema, { 'm~n': ['x', 'z'], extra: 1 });
  expect(problems).toEqual([
    { pointer: '/a~1b', message: 'is required' },
    { pointer: '/extra', message: 'is not allowed (no such property in the schema)' },
    { pointer: '/m~0n/1', message: 'must be one of "x", "y"' },
  ]);
  expect(pointerSegments('/m~0n/1')).toEqual(['m~n', 1]);
  expect(problemsLine([{ pointer: '', message: 'must be object' }])).toBe('(root): must be object');
  expect(schemaProblems(true, 1)).toEqual([]);
  expect(schemaProblems(false, 1)).toEqual([{ pointer: '', message: 'boolean schema is false' }]);
});

it('compiles a schema once for any number of values (keyed by content)', () => {
  const schema = { type: 'integer', minimum: 0, $comment: `once-${Date.now()}` };
  const before = { ...validatorStats };
  for (let i = 0; i < 100; i++) schemaProblems({ ...schema }, i);
  expect(validatorStats.compiled - before.compiled).toBe(1);
  expect(validatorStats.cacheHits - before.cacheHits).toBe(99);
});

it('two versions of a schema with the same nested $id both compile', () => {
  const v1 = {
    $id: 'https://example.com/person',
    type: 'object',
    $defs: { name: { $id: 'https://example.com/name', type: 'string' } },
    properties: { name: { $ref: 'https://example.com/name' } },
  };
  expect(schemaProblems(v1, { name: 1 })).toEqual([{ pointer: '/name', message: 'must be string' }]);
  expect(schemaProblems({ ...v1, required: ['name'] }, {})).toEqual([
    { pointer: '/name', message: 'is required' },
  ]);
});

it('says what is wrong with a schema, with the path of the offending keyword', () => {
  const problems = (s: unknown) =>
    'problems' in compileSchema(s) ? (compileSchema(s) as { problems: unknown }).problems : [];
  expect(problems({ properties: { a: { type: 'integr' } } })).toEqual([
    {
      path: ['properties', 'a', 'type'],
      message: expect.stringMatching(
        /^must be equal to one of the allowed values: "array", "boolean", "integer"/,
      ),
    },
  ]);
  expect(problems({ properties: { a: { minimun: 1 } } })).toEqual([
    {
      path: ['properties', 'a', 'minimun'],
      message: expect.stringContaining('unknown keyword: "minimun"'),
      atKey: true,
    },
  ]);
  expect(problems({ $schema: 'http://json-schema.org/draft-07/schema#' })).toEqual([
    { path: ['$schema'], message: expect.stringContaining('only JSON Schema draft 2020-12') },
  ]);
  expect(problems({ $ref: '#/$defs/nothing' })).toEqual([
    { path: [], message: expect.stringContaining("can't resolve reference #/$defs/nothing") },
  ]);
  expect(problems({ type: 'string', format: 'no-such-format' })).toEqual([
    { path: [], message: expect.stringContaining('unknown format "no-such-format"') },
  ]);
  expect(problems([1])).toEqual([{ path: [], message: 'must be a JSON Schema: an object, or true/false' }]);
  // Formats are checked (ajv-formats).
  expect(schemaProblems({ type: 'string', format: 'date' }, '2026-02-30')).toEqual([
    { pointer: '', message: 'must match format "date"' },
  ]);
});
