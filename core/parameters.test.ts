/** resolveParameters: precedence, coercion of CLI strings, templates, and one problem line per fault. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parameterEnvName, resolveParameters } from './parameters.ts';
import { parseSpecText } from './parse.ts';
import { type FunctionSpec, type FunctionSpecInput, functionSpecSchema } from './schema.ts';
import type { TemplateVariables } from './template.ts';

type ParameterInput = NonNullable<FunctionSpecInput['spec']['parameters']>[number];

function specWith(...parameters: ParameterInput[]): FunctionSpec {
  return functionSpecSchema().parse({
    apiVersion: 'pontoon.dev/v1',
    kind: 'Function',
    metadata: { name: 'params' },
    spec: { image: 'pontoon/examples:0.1', parameters },
  });
}

function vars(scheduledTime = '2026-03-29T01:30:00Z', attempt = 1): TemplateVariables {
  return {
    scheduledTime: new Date(scheduledTime),
    startTime: new Date('2030-01-01T00:00:00Z'),
    executionId: 'exec:params:abc',
    function: 'params',
    attempt,
    trigger: 'nightly',
  };
}

describe('precedence: given > schedule > default', () => {
  const spec = specWith({ name: 'region', enum: ['eu', 'us', 'apac'], default: 'eu' });

  it.each([
    ['given, schedule and default', { region: 'apac' }, { region: 'us' }, 'apac'],
    ['schedule and default', {}, { region: 'us' }, 'us'],
    ['default only', {}, {}, 'eu'],
    ['nothing given at all', undefined, undefined, 'eu'],
    ['given null (not given)', { region: null }, { region: 'us' }, 'us'],
    ['given undefined (not given)', { region: undefined }, {}, 'eu'],
  ])('%s', (_, given, schedule, want) => {
    expect(resolveParameters(spec, given, vars(), schedule)).toEqual({
      values: { region: want },
      problems: [],
    });
  });

  it('renders a template given at start', () => {
    const s = specWith({ name: 'day', type: 'date' });
    expect(resolveParameters(s, { day: '{{ scheduledTime | date }}' }, vars('2026-03-29T01:30:00Z'))).toEqual(
      {
        values: { day: '2026-03-29' },
        problems: [],
      },
    );
  });

  it("renders a schedule template with the schedule's variables", () => {
    const s = specWith({ name: 'day', type: 'date', default: '2000-01-01' });
    const schedule = { day: "{{ scheduledTime | tz('America/New_York') | date }}" };
    // 02:30Z on 8 Mar 2026 is 21:30 EST on 7 Mar.
    expect(resolveParameters(s, {}, vars('2026-03-08T02:30:00Z'), schedule).values).toEqual({
      day: '2026-03-07',
    });
  });

  it('lets a given value override a template default without rendering it', () => {
    const s = specWith({ name: 'day', type: 'date', default: '{{ scheduledTime | date }}' });
    expect(resolveParameters(s, { day: '2026-01-01' }, vars()).values).toEqual({ day: '2026-01-01' });
  });

  it('leaves out an optional parameter without a value (required: false)', () => {
    const s = specWith({ name: 'note', required: false }, { name: 'region', default: 'eu' });
    expect(resolveParameters(s, {}, vars())).toEqual({ values: { region: 'eu' }, problems: [] });
  });

  it('requires a parameter without a default unless it says required: false', () => {
    // ../shared/cases/required-param.yaml: `- name: text` (no default, no required).
    const s = specWith({ name: 'text' });
    expect(resolveParameters(s, {}, vars())).toEqual({
      values: {},
      problems: [
        'parameter "text" is required (it has no default; declare required: false to make it optional)',
      ],
    });
    expect(resolveParameters(s, { text: 'hi' }, vars())).toEqual({ values: { text: 'hi' }, problems: [] });
  });

  it('a parameter with a default is optional unless it says required: true', () => {
    expect(resolveParameters(specWith({ name: 'r', default: 'eu' }), {}, vars()).problems).toEqual([]);
    expect(
      resolveParameters(specWith({ name: 'r', default: 'eu', required: true }), {}, vars()).problems,
    ).toEqual([]);
  });
});

describe('coercion of CLI strings', () => {
  it.each([
    ['integer', '42', 42],
    ['integer', '-7', -7],
    ['integer', ' 42 ', 42],
    ['integer', '0', 0],
    ['integer', 42, 42],
    ['integer', '9007199254740991', 9_007_199_254_740_991],
    ['number', '3.14', 3.14],
    ['number', '-0.5', -0.5],
    ['number', '1e3', 1000],
    ['number', '42', 42],
    ['number', 2.5, 2.5],
    ['boolean', 'true', true],
    ['boolean', 'false', false],
    ['boolean', false, false],
    ['date', '2026-02-28', '2026-02-28'],
    ['date', '2028-02-29', '2028-02-29'],
    ['datetime', '2026-03-29T01:30:00Z', '2026-03-29T01:30:00Z'],
    ['datetime', '2026-03-29T02:30:00+01:00', '2026-03-29T02:30:00+01:00'],
    ['datetime', '2026-03-29T02:30:00.250+05:30', '2026-03-29T02:30:00.250+05:30'],
    ['string', 'hello', 'hello'],
    ['string', '42', '42'],
    ['string', '', ''],
  ] as const)('%s %j -> %j', (type, given, want) => {
    const s = specWith({ name: 'p', type });
    expect(resolveParameters(s, { p: given }, vars())).toEqual({ values: { p: want }, problems: [] });
  });

  it.each([
    ['integer', '4.2', 'parameter "p": "4.2" is not an integer'],
    ['integer', 'abc', 'parameter "p": "abc" is not an integer'],
    ['integer', '', 'parameter "p": "" is not an integer'],
    ['integer', '1e3', 'parameter "p": "1e3" is not an integer'],
    ['integer', '9007199254740993', 'parameter "p": "9007199254740993" is not an integer'],
    ['integer', 4.5, 'parameter "p": 4.5 is not an integer'],
    ['integer', true, 'parameter "p": true is not an integer'],
    ['number', 'abc', 'parameter "p": "abc" is not a number'],
    ['number', '', 'parameter "p": "" is not a number'],
    ['number', ' ', 'parameter "p": " " is not a number'],
    ['number', 'Infinity', 'parameter "p": "Infinity" is not a number'],
    ['number', 'NaN', 'parameter "p": "NaN" is not a number'],
    ['boolean', 'yes', 'parameter "p": "yes" is not a boolean (true or false)'],
    ['boolean', 'TRUE', 'parameter "p": "TRUE" is not a boolean (true or false)'],
    ['boolean', '1', 'parameter "p": "1" is not a boolean (true or false)'],
    ['boolean', 1, 'parameter "p": 1 is not a boolean (true or false)'],
    ['date', '2026-3-1', 'parameter "p": "2026-3-1" is not a date (YYYY-MM-DD)'],
    ['date', '2026-03-29T00:00:00Z', 'parameter "p": "2026-03-29T00:00:00Z" is not a date (YYYY-MM-DD)'],
    ['date', '2026-13-01', 'parameter "p": "2026-13-01" is not a date (YYYY-MM-DD)'],
    ['date', 20260329, 'parameter "p": 20260329 is not a date (YYYY-MM-DD)'],
    ['datetime', '2026-03-29', 'parameter "p": "2026-03-29" is not an RFC 3339 date-time'],
    ['datetime', '2026-03-29T01:30:00', 'parameter "p": "2026-03-29T01:30:00" is not an RFC 3339 date-time'],
    [
      'datetime',
      '2026-03-29 01:30:00Z',
      'parameter "p": "2026-03-29 01:30:00Z" is not an RFC 3339 date-time',
    ],
    [
      'datetime',
      '2026-02-30T00:00:00Z',
      'parameter "p": "2026-02-30T00:00:00Z" is not an RFC 3339 date-time',
    ],
    ['string', 42, 'parameter "p": 42 is not a string'],
    ['string', true, 'parameter "p": true is not a string'],
  ] as const)('%s %j is refused', (type, given, problem) => {
    const s = specWith({ name: 'p', type });
    expect(resolveParameters(s, { p: given }, vars())).toEqual({ values: {}, problems: [problem] });
  });

  // BUG (core/schema.ts coerceParameter, case 'date'): Date.parse rolls impossible days over
  // (2026-02-30 becomes 2 March), so they are accepted as dates.
  it.each([['2026-02-30'], ['2027-02-29'], ['2026-04-31']])(
    'date %j, a day that does not exist, is refused',
    (given) => {
      const s = specWith({ name: 'p', type: 'date' });
      expect(resolveParameters(s, { p: given }, vars())).toEqual({
        values: {},
        problems: [`parameter "p": "${given}" is not a date (YYYY-MM-DD)`],
      });
    },
  );
});

describe('required and unknown parameters', () => {
  it('reports a required parameter without a value', () => {
    const s = specWith({ name: 'token', required: true }, { name: 'region', default: 'eu' });
    expect(resolveParameters(s, {}, vars())).toEqual({
      values: { region: 'eu' },
      problems: ['parameter "token" is required'],
    });
  });

  it('accepts a required parameter set by the schedule or a default', () => {
    const s = specWith({ name: 'a', required: true }, { name: 'b', required: true, default: 'x' });
    expect(resolveParameters(s, {}, vars(), { a: 'y' })).toEqual({
      values: { a: 'y', b: 'x' },
      problems: [],
    });
  });

  it('reports an unknown given parameter with the declared ones', () => {
    const s = specWith(
      { name: 'region', default: 'eu' },
      { name: 'limit', type: 'integer', required: false },
    );
    expect(resolveParameters(s, { regoin: 'us' }, vars())).toEqual({
      values: { region: 'eu' },
      problems: ['unknown parameter "regoin"; declared: region, limit'],
    });
  });

  it('says (none) when the function declares no parameters', () => {
    expect(resolveParameters(specWith(), { x: '1' }, vars()).problems).toEqual([
      'unknown parameter "x"; declared: (none)',
    ]);
  });

  it('does not treat prototype names as declared parameters', () => {
    const s = specWith({ name: 'region', default: 'eu' });
    const given = JSON.parse('{"__proto__": "x", "constructor": "y"}') as Record<string, unknown>;
    expect(resolveParameters(s, given, vars()).problems).toEqual([
      'unknown parameter "__proto__"; declared: region',
      'unknown parameter "constructor"; declared: region',
    ]);
  });

  it('reports every problem at once', () => {
    const s = specWith(
      { name: 'token', required: true },
      { name: 'limit', type: 'integer' },
      { name: 'region', enum: ['eu', 'us'] },
    );
    expect(resolveParameters(s, { limit: 'ten', region: 'mars', extra: 1 }, vars()).problems).toEqual([
      'unknown parameter "extra"; declared: token, limit, region',
      'parameter "token" is required',
      'parameter "limit": "ten" is not an integer',
      'parameter "region": "mars" is not allowed; allowed: "eu", "us"',
    ]);
  });
});

describe('enum and pattern', () => {
  it.each([
    [
      { name: 'p', enum: ['eu', 'us', 'apac'] },
      'mars',
      'parameter "p": "mars" is not allowed; allowed: "eu", "us", "apac"',
    ],
    [{ name: 'p', enum: ['eu', 'us'] }, 'EU', 'parameter "p": "EU" is not allowed; allowed: "eu", "us"'],
    [
      { name: 'p', type: 'integer', enum: [1, 2, 3] },
      '4',
      'parameter "p": 4 is not allowed; allowed: 1, 2, 3',
    ],
    [
      { name: 'p', pattern: '[A-Z]+-[0-9]+' },
      'abc-12',
      'parameter "p": "abc-12" does not match the pattern [A-Z]+-[0-9]+',
    ],
    // The pattern must match the whole value, even with an alternation.
    [
      { name: 'p', pattern: '[A-Z]+-[0-9]+' },
      'xABC-12x',
      'parameter "p": "xABC-12x" does not match the pattern [A-Z]+-[0-9]+',
    ],
    [{ name: 'p', pattern: 'eu|us' }, 'eus', 'parameter "p": "eus" does not match the pattern eu|us'],
    [
      { name: 'p', type: 'integer', pattern: '\\d{2}' },
      '123',
      'parameter "p": 123 does not match the pattern \\d{2}',
    ],
  ] as [ParameterInput, string, string][])('%j refuses %j', (param, given, problem) => {
    expect(resolveParameters(specWith(param), { p: given }, vars())).toEqual({
      values: {},
      problems: [problem],
    });
  });

  it.each([
    [{ name: 'p', enum: ['eu', 'us'] }, 'us', 'us'],
    [{ name: 'p', type: 'integer', enum: [1, 2, 3] }, '2', 2],
    [{ name: 'p', type: 'boolean', enum: [true] }, 'true', true],
    [{ name: 'p', pattern: '[A-Z]+-[0-9]+' }, 'ABC-12', 'ABC-12'],
    [{ name: 'p', pattern: 'eu|us' }, 'us', 'us'],
    [{ name: 'p', type: 'integer', pattern: '\\d{2}' }, '42', 42],
  ] as [ParameterInput, string, string | number | boolean][])('%j accepts %j', (param, given, want) => {
    expect(resolveParameters(specWith(param), { p: given }, vars())).toEqual({
      values: { p: want },
      problems: [],
    });
  });
});

describe('template defaults', () => {
  const DAILY_REPORT = path.resolve(import.meta.dirname, '..', 'function-specs', 'daily-report.yaml');
  const daily = parseSpecText(readFileSync(DAILY_REPORT, 'utf8'), DAILY_REPORT).specs[0]!.spec;

  it.each([
    // [scheduled time, London day before]; BST starts 2026-03-29 01:00Z.
    ['2026-03-29T01:30:00Z', '2026-03-28'],
    ['2026-03-29T23:30:00Z', '2026-03-29'],
    ['2026-10-25T23:30:00Z', '2026-10-24'],
    ['2027-01-01T00:30:00Z', '2026-12-31'],
  ])('daily-report at %s reports on %s', (at, day) => {
    const nightly = daily.spec.schedules[0]!;
    expect(resolveParameters(daily, {}, vars(at), nightly.parameters)).toEqual({
      values: { date: day, region: 'eu' },
      problems: [],
    });
  });

  it('renders attempt, trigger and function into typed values', () => {
    const s = specWith(
      { name: 'attempt', type: 'integer', default: '{{ attempt }}' },
      { name: 'epoch', type: 'integer', default: '{{ scheduledTime | unix }}' },
      { name: 'label', default: '{{ function }}-{{ trigger | upper }}' },
    );
    expect(resolveParameters(s, {}, vars('2026-03-29T01:30:00Z', 3))).toEqual({
      values: { attempt: 3, epoch: Date.UTC(2026, 2, 29, 1, 30) / 1000, label: 'params-NIGHTLY' },
      problems: [],
    });
  });

  it('checks the rendered value against the type', () => {
    const s = specWith({ name: 'day', type: 'date', default: '{{ scheduledTime | iso }}' });
    expect(resolveParameters(s, {}, vars('2026-03-29T01:30:00Z'))).toEqual({
      values: {},
      problems: ['parameter "day": "2026-03-29T01:30:00Z" is not a date (YYYY-MM-DD)'],
    });
  });

  it('checks the rendered value against the enum', () => {
    const s = specWith({ name: 'region', enum: ['eu', 'us'], default: '{{ trigger }}' });
    expect(resolveParameters(s, {}, vars()).problems).toEqual([
      'parameter "region": "nightly" is not allowed; allowed: "eu", "us"',
    ]);
  });

  it('reports a bad template given at start', () => {
    const s = specWith({ name: 'day', type: 'date' });
    expect(resolveParameters(s, { day: '{{ now | date }}' }, vars())).toEqual({
      values: {},
      problems: [
        'parameter "day": bad template: unknown variable "now"; allowed: scheduledTime, startTime, executionId, function, attempt, trigger',
      ],
    });
  });
});

describe('parameter names', () => {
  it.each([
    ['date', 'PONTOON_PARAM_DATE'],
    ['dry_run', 'PONTOON_PARAM_DRY_RUN'],
    ['dryRun', 'PONTOON_PARAM_DRYRUN'],
  ])('%s reaches the function as %s', (name, env) => {
    expect(parameterEnvName(name)).toBe(env);
  });

  // BUG (core/schema.ts spec.parameters): names are unique only case-sensitively, but the function sees
  // them upper-cased, so "dryRun" and "dryrun" both become PONTOON_PARAM_DRYRUN and one silently wins.
  it('refuses two parameters that reach the function as the same variable', () => {
    const result = functionSpecSchema().safeParse({
      apiVersion: 'pontoon.dev/v1',
      kind: 'Function',
      metadata: { name: 'params' },
      spec: { image: 'pontoon/examples:0.1', parameters: [{ name: 'dryRun' }, { name: 'dryrun' }] },
    });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.path)).toEqual([['spec', 'parameters', 1, 'name']]);
  });
});

describe('values no process can receive', () => {
  it('refuses a NUL byte in a given value (../shared/cases/nul-param.json)', () => {
    const s = specWith({ name: 'name', default: 'world' });
    expect(resolveParameters(s, { name: 'a\u0000b' }, vars()).problems).toEqual([
      'parameter "name": contains a NUL byte (\\u0000, at character 1), which no process can receive in its arguments or environment',
    ]);
  });

  it('refuses a NUL byte that a template or a number coercion would produce too', () => {
    const s = specWith({ name: 'n', type: 'integer', default: 1 }, { name: 'who', default: 'x' });
    expect(resolveParameters(s, { who: '\u0000' }, vars()).problems).toHaveLength(1);
  });

  it('limits one value to 32 KiB and all values to 128 KiB, in UTF-8 bytes', () => {
    const one = specWith({ name: 'big', default: 'x' });
    expect(resolveParameters(one, { big: 'é'.repeat(16 * 1024) }, vars()).problems).toEqual([]);
    expect(resolveParameters(one, { big: 'é'.repeat(16 * 1024 + 1) }, vars()).problems).toEqual([
      'parameter "big": is 32770 bytes; a parameter value may hold at most 32768 bytes (pass larger data as the execution\'s input)',
    ]);
    const five = specWith(...['a', 'b', 'c', 'd', 'e'].map((name) => ({ name, default: 'x' })));
    const given = Object.fromEntries(['a', 'b', 'c', 'd', 'e'].map((k) => [k, 'y'.repeat(30 * 1024)]));
    const problems = resolveParameters(five, given, vars()).problems;
    expect(problems).toEqual([
      `the parameters take ${5 * ('PONTOON_PARAM_A'.length + 1 + 30 * 1024)} bytes as environment variables; the limit is 131072 bytes (pass larger data as the execution's input)`,
    ]);
  });
});
