/**
 * Start-time templates: `{{ scheduledTime | tz('Europe/London') | minus('1d') | format('yyyy-MM-dd') }}`.
 *
 * Templates are data, never code: a tiny pipe language over a fixed set of variables and filters,
 * looked up in Maps (no property access on user objects, no eval). Date arithmetic is calendar-aware
 * in the value's time zone (luxon), so "minus 1d" across a DST change lands on the same wall-clock time.
 * Pure and deterministic: safe inside workflow code.
 */
import { DateTime } from 'luxon';
import { timeZoneProblem } from './timezone.ts';

export type TemplateType = 'datetime' | 'string' | 'number';
type Value = { t: 'datetime'; v: DateTime } | { t: 'string'; v: string } | { t: 'number'; v: number };

/** The variables a template may use, fixed at the start of each attempt. */
export interface TemplateVariables {
  /** Nominal time: the schedule's scheduled time (not the wall clock), else the start time. */
  scheduledTime: Date;
  /** When the execution started (workflow time). */
  startTime: Date;
  executionId: string;
  function: string;
  attempt: number;
  /** Schedule name, or api / cli / sdk. */
  trigger: string;
}

const VARIABLE_TYPES: ReadonlyMap<string, TemplateType> = new Map([
  ['scheduledTime', 'datetime'],
  ['startTime', 'datetime'],
  ['executionId', 'string'],
  ['function', 'string'],
  ['attempt', 'number'],
  ['trigger', 'string'],
]);

export const TEMPLATE_VARIABLES = [...VARIABLE_TYPES.keys()];

const UNITS = ['year', 'quarter', 'month', 'week', 'day', 'hour', 'minute', 'second'] as const;
type Unit = (typeof UNITS)[number];
const SHIFT_RE = /^(?:\d+(?:y|mo|w|d|h|m|s))+$/;
const SHIFT_PART_RE = /(\d+)(y|mo|w|d|h|m|s)/g;
const SHIFT_KEYS: Record<string, string> = {
  y: 'years',
  mo: 'months',
  w: 'weeks',
  d: 'days',
  h: 'hours',
  m: 'minutes',
  s: 'seconds',
};

function shiftObject(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of text.matchAll(SHIFT_PART_RE)) {
    const key = SHIFT_KEYS[m[2]!]!;
    out[key] = (out[key] ?? 0) + Number(m[1]);
  }
  return out;
}

interface FilterDef {
  input: TemplateType | 'any';
  output: TemplateType;
  args: ('string' | 'number')[];
  /** Checks literal arguments at validate time; returns a problem or undefined. */
  check?: (args: (string | number)[]) => string | undefined;
  apply: (input: Value, args: (string | number)[]) => Value;
  help: string;
}

const asDate = (v: Value): DateTime => (v as { v: DateTime }).v;

const FILTERS: ReadonlyMap<string, FilterDef> = new Map<string, FilterDef>([
  [
    'tz',
    {
      input: 'datetime',
      output: 'datetime',
      args: ['string'],
      check: ([z]) => timeZoneProblem(String(z)),
      apply: (v, [z]) => ({ t: 'datetime', v: asDate(v).setZone(String(z)) }),
      help: "tz('Europe/London')",
    },
  ],
  [
    'plus',
    {
      input: 'datetime',
      output: 'datetime',
      args: ['string'],
      check: ([d]) =>
        SHIFT_RE.test(String(d)) ? undefined : `"${d}" is not an amount such as "1d", "2h", "1mo", "1y2mo"`,
      apply: (v, [d]) => ({ t: 'datetime', v: asDate(v).plus(shiftObject(String(d))) }),
      help: "plus('1d')",
    },
  ],
  [
    'minus',
    {
      input: 'datetime',
      output: 'datetime',
      args: ['string'],
      check: ([d]) =>
        SHIFT_RE.test(String(d)) ? undefined : `"${d}" is not an amount such as "1d", "2h", "1mo", "1y2mo"`,
      apply: (v, [d]) => ({ t: 'datetime', v: asDate(v).minus(shiftObject(String(d))) }),
      help: "minus('1d')",
    },
  ],
  [
    'startOf',
    {
      input: 'datetime',
      output: 'datetime',
      args: ['string'],
      check: ([u]) =>
        UNITS.includes(u as Unit) ? undefined : `unit "${u}" is not one of ${UNITS.join(', ')}`,
      apply: (v, [u]) => ({ t: 'datetime', v: asDate(v).startOf(u as Unit) }),
      help: "startOf('day')",
    },
  ],
  [
    'endOf',
    {
      input: 'datetime',
      output: 'datetime',
      args: ['string'],
      check: ([u]) =>
        UNITS.includes(u as Unit) ? undefined : `unit "${u}" is not one of ${UNITS.join(', ')}`,
      apply: (v, [u]) => ({ t: 'datetime', v: asDate(v).endOf(u as Unit) }),
      help: "endOf('month')",
    },
  ],
  [
    'format',
    {
      input: 'datetime',
      output: 'string',
      args: ['string'],
      check: ([p]) => (String(p).length > 0 ? undefined : 'the pattern is empty'),
      apply: (v, [p]) => ({ t: 'string', v: asDate(v).toFormat(String(p)) }),
      help: "format('yyyy-MM-dd')",
    },
  ],
  [
    'date',
    {
      input: 'datetime',
      output: 'string',
      args: [],
      apply: (v) => ({ t: 'string', v: asDate(v).toFormat('yyyy-MM-dd') }),
      help: 'date',
    },
  ],
  [
    'iso',
    {
      input: 'datetime',
      output: 'string',
      args: [],
      apply: (v) => ({ t: 'string', v: asDate(v).toISO({ suppressMilliseconds: true }) ?? '' }),
      help: 'iso',
    },
  ],
  [
    'unix',
    {
      input: 'datetime',
      output: 'number',
      args: [],
      apply: (v) => ({ t: 'number', v: Math.floor(asDate(v).toSeconds()) }),
      help: 'unix',
    },
  ],
  [
    'upper',
    {
      input: 'string',
      output: 'string',
      args: [],
      apply: (v) => ({ t: 'string', v: String(v.v).toUpperCase() }),
      help: 'upper',
    },
  ],
  [
    'lower',
    {
      input: 'string',
      output: 'string',
      args: [],
      apply: (v) => ({ t: 'string', v: String(v.v).toLowerCase() }),
      help: 'lower',
    },
  ],
]);

export const TEMPLATE_FILTERS = [...FILTERS.values()].map((f) => f.help);

// ---------------------------------------------------------------- parsing

type Token = {
  kind: 'ident' | 'string' | 'number' | 'punct';
  text: string;
  value?: string | number;
  pos: number;
};

interface FilterCall {
  name: string;
  args: (string | number)[];
  pos: number;
}
interface Expr {
  head: { kind: 'var'; name: string } | { kind: 'literal'; value: string | number };
  filters: FilterCall[];
}
type Segment = { kind: 'text'; text: string } | { kind: 'expr'; expr: Expr; source: string };

export class TemplateError extends Error {
  override name = 'TemplateError';
}

function tokenize(src: string, offset: number): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === ' ' || c === '\t' || c === '\n') {
      i++;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i))!;
      tokens.push({ kind: 'ident', text: m[0], pos: offset + i });
      i += m[0].length;
    } else if (/[0-9-]/.test(c)) {
      const m = /^-?\d+(?:\.\d+)?/.exec(src.slice(i));
      if (!m) throw new TemplateError(`unexpected "${c}" at column ${offset + i + 1}`);
      tokens.push({ kind: 'number', text: m[0], value: Number(m[0]), pos: offset + i });
      i += m[0].length;
    } else if (c === "'" || c === '"') {
      const end = src.indexOf(c, i + 1);
      if (end < 0) throw new TemplateError(`unterminated string starting at column ${offset + i + 1}`);
      tokens.push({
        kind: 'string',
        text: src.slice(i, end + 1),
        value: src.slice(i + 1, end),
        pos: offset + i,
      });
      i = end + 1;
    } else if ('|(),'.includes(c)) {
      tokens.push({ kind: 'punct', text: c, pos: offset + i });
      i++;
    } else {
      throw new TemplateError(`unexpected "${c}" at column ${offset + i + 1}`);
    }
  }
  return tokens;
}

function parseExpr(src: string, offset: number): Expr {
  const tokens = tokenize(src, offset);
  let k = 0;
  const peek = () => tokens[k];
  const next = () => tokens[k++];
  const first = next();
  if (!first) throw new TemplateError('empty expression "{{ }}"');
  let head: Expr['head'];
  if (first.kind === 'ident') head = { kind: 'var', name: first.text };
  else if (first.kind === 'string' || first.kind === 'number')
    head = { kind: 'literal', value: first.value! };
  else throw new TemplateError(`expected a variable at column ${first.pos + 1}, found "${first.text}"`);
  const filters: FilterCall[] = [];
  while (peek()) {
    const bar = next()!;
    if (bar.text !== '|')
      throw new TemplateError(`expected "|" at column ${bar.pos + 1}, found "${bar.text}"`);
    const name = next();
    if (name?.kind !== 'ident')
      throw new TemplateError(`expected a filter name after "|" at column ${bar.pos + 1}`);
    const call: FilterCall = { name: name.text, args: [], pos: name.pos };
    if (peek()?.text === '(') {
      next();
      while (peek() && peek()!.text !== ')') {
        const arg = next()!;
        if (arg.kind !== 'string' && arg.kind !== 'number') {
          throw new TemplateError(
            `filter ${call.name}: arguments must be quoted strings or numbers, found "${arg.text}"`,
          );
        }
        call.args.push(arg.value!);
        if (peek()?.text === ',') next();
        else if (peek()?.text !== ')') throw new TemplateError(`filter ${call.name}: expected "," or ")"`);
      }
      if (!next()) throw new TemplateError(`filter ${call.name}: missing ")"`);
    }
    filters.push(call);
  }
  return { head, filters };
}

function parseSegments(template: string): Segment[] {
  const segments: Segment[] = [];
  let i = 0;
  while (i < template.length) {
    const open = template.indexOf('{{', i);
    if (open < 0) {
      segments.push({ kind: 'text', text: template.slice(i) });
      break;
    }
    if (open > i) segments.push({ kind: 'text', text: template.slice(i, open) });
    const close = template.indexOf('}}', open + 2);
    if (close < 0) throw new TemplateError(`"{{" at column ${open + 1} is never closed with "}}"`);
    const source = template.slice(open + 2, close);
    segments.push({ kind: 'expr', expr: parseExpr(source, open + 2), source: source.trim() });
    i = close + 2;
  }
  return segments;
}

/** True when the value holds template syntax; plain strings are returned as they are. */
export function isTemplate(value: string): boolean {
  return value.includes('{{');
}

function typeOf(expr: Expr): TemplateType {
  let type: TemplateType;
  if (expr.head.kind === 'var') {
    const t = VARIABLE_TYPES.get(expr.head.name);
    if (!t)
      throw new TemplateError(
        `unknown variable "${expr.head.name}"; allowed: ${TEMPLATE_VARIABLES.join(', ')}`,
      );
    type = t;
  } else {
    type = typeof expr.head.value === 'number' ? 'number' : 'string';
  }
  for (const call of expr.filters) {
    const def = FILTERS.get(call.name);
    if (!def) {
      throw new TemplateError(`unknown filter "${call.name}"; allowed: ${[...FILTERS.keys()].join(', ')}`);
    }
    if (def.input !== 'any' && def.input !== type) {
      throw new TemplateError(`filter "${call.name}" takes a ${def.input}, got a ${type} (e.g. ${def.help})`);
    }
    if (call.args.length !== def.args.length) {
      throw new TemplateError(
        `filter "${call.name}" takes ${def.args.length} argument${def.args.length === 1 ? '' : 's'}, got ${call.args.length} (e.g. ${def.help})`,
      );
    }
    def.args.forEach((want, idx) => {
      if (typeof call.args[idx] !== want) {
        throw new TemplateError(
          `filter "${call.name}": argument ${idx + 1} must be a ${want} (e.g. ${def.help})`,
        );
      }
    });
    const problem = def.check?.(call.args);
    if (problem) throw new TemplateError(`filter "${call.name}": ${problem}`);
    type = def.output;
  }
  return type;
}

/** Parses and type-checks a template; returns the problem, or undefined when it is valid. */
export function templateError(template: string): string | undefined {
  try {
    for (const seg of parseSegments(template)) if (seg.kind === 'expr') typeOf(seg.expr);
    return undefined;
  } catch (err) {
    if (err instanceof TemplateError) return err.message;
    throw err;
  }
}

function render(value: Value): string {
  if (value.t === 'datetime') return value.v.toISO({ suppressMilliseconds: true }) ?? '';
  return String(value.v);
}

/** Renders a template; throws TemplateError when it is invalid. Non-template strings come back as they are. */
export function renderTemplate(template: string, vars: TemplateVariables): string {
  if (!isTemplate(template)) return template;
  const env = new Map<string, Value>([
    ['scheduledTime', { t: 'datetime', v: DateTime.fromJSDate(vars.scheduledTime, { zone: 'UTC' }) }],
    ['startTime', { t: 'datetime', v: DateTime.fromJSDate(vars.startTime, { zone: 'UTC' }) }],
    ['executionId', { t: 'string', v: vars.executionId }],
    ['function', { t: 'string', v: vars.function }],
    ['attempt', { t: 'number', v: vars.attempt }],
    ['trigger', { t: 'string', v: vars.trigger }],
  ]);
  let out = '';
  for (const seg of parseSegments(template)) {
    if (seg.kind === 'text') {
      out += seg.text;
      continue;
    }
    typeOf(seg.expr);
    const head = seg.expr.head;
    let value: Value =
      head.kind === 'var'
        ? env.get(head.name)!
        : typeof head.value === 'number'
          ? { t: 'number', v: head.value }
          : { t: 'string', v: head.value };
    for (const call of seg.expr.filters) {
      value = FILTERS.get(call.name)!.apply(value, call.args);
      if (value.t === 'datetime' && !value.v.isValid) {
        throw new TemplateError(
          `filter "${call.name}" gives a date-time out of range (${value.v.invalidExplanation ?? value.v.invalidReason})`,
        );
      }
    }
    out += render(value);
  }
  return out;
}
