/**
 * Parameter values and priorities: the checks executions make at start. No zod here — workflows
 * import this module, and it is loaded once per workflow thread (worker.ts, preloaded modules),
 * not once per run.
 */
import type { ParameterSpec } from './schema.ts';

/**
 * Execution priorities, highest first: 1 … 5. Lower numbers are admitted first under a concurrency
 * limit (core/admission.ts). The spec schema, the API, the CLI and the documents derive their range
 * from this list.
 */
export const PRIORITY_LEVELS = [1, 2, 3, 4, 5] as const;
/** The highest priority (1). */
export const PRIORITY_HIGHEST = PRIORITY_LEVELS[0];
/** The lowest priority (5). */
export const PRIORITY_LOWEST = PRIORITY_LEVELS[PRIORITY_LEVELS.length - 1]!;
/** Priorities by name. */
export const PRIORITY_ALIASES = { high: 1, normal: 3, low: 5 } as const;
/** The names of PRIORITY_ALIASES: high, normal, low. */
export const PRIORITY_NAMES = Object.keys(PRIORITY_ALIASES) as [
  keyof typeof PRIORITY_ALIASES,
  ...(keyof typeof PRIORITY_ALIASES)[],
];
/**
 * True when `p` is one of PRIORITY_ALIASES' own names. Not `p in PRIORITY_ALIASES`: that is true for
 * inherited names too ("toString", "constructor"), which a caller's input must not reach.
 */
export function isPriorityName(p: unknown): p is keyof typeof PRIORITY_ALIASES {
  return typeof p === 'string' && Object.hasOwn(PRIORITY_ALIASES, p);
}
/** How a priority is written, for error messages and docs. */
/** True for a priority level as a number (1–5, PRIORITY_LEVELS); the aliases are `isPriorityName`. */
export function isPriorityLevel(p: unknown): p is (typeof PRIORITY_LEVELS)[number] {
  return (PRIORITY_LEVELS as readonly unknown[]).includes(p);
}

export const PRIORITY_HELP = `an integer ${PRIORITY_HIGHEST} (highest) to ${PRIORITY_LOWEST} (lowest), or ${PRIORITY_NAMES.map((n) => `${n} (${PRIORITY_ALIASES[n]})`).join(', ')}`;

/**
 * What parameters can carry. Each value reaches the function as an environment variable, and
 * Linux limits one argument or environment string to 128 KiB (MAX_ARG_STRLEN, execve(2)) and all
 * of them together to a quarter of the stack limit (2 MiB at the usual 8 MiB). Pontoon's limits sit
 * well inside both, and inside what a pod spec in etcd comfortably holds.
 */
export const PARAMETER_LIMITS = {
  /** One value, in UTF-8 bytes. */
  valueBytes: 32 * 1024,
  /** All values of one execution together, names included, in UTF-8 bytes. */
  totalBytes: 128 * 1024,
} as const;

/** A parameter must be given when it says so, and by default when it has no default. */
export function isRequired(p: Pick<ParameterSpec, 'required' | 'default'>): boolean {
  return p.required ?? p.default === undefined;
}

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
/** RFC 3339 date-time with seconds and an offset (Z or ±hh:mm); fractions of any length. */
const DATE_TIME_RE =
  /^(\d{4}-\d{2}-\d{2})T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$/;

/** YYYY-MM-DD naming a day that exists (2024-02-29 yes, 2026-02-29 and 2026-04-31 no). */
export function isIsoDate(value: string): boolean {
  const m = DATE_RE.exec(value);
  if (!m) return false;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  if (month < 1 || month > 12 || day < 1) return false;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] ?? 0;
  return day <= days;
}

/** An RFC 3339 date-time with an offset, on a day that exists (no leap seconds, no 24:00). */
export function isIsoDateTime(value: string): boolean {
  const m = DATE_TIME_RE.exec(value);
  return m !== null && isIsoDate(m[1] ?? '');
}

/** Bytes of `text` in UTF-8 (lone surrogates count 3, as TextEncoder writes them). */
export function utf8Bytes(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

/**
 * Why a string cannot reach a process, or undefined. Process arguments and environment entries
 * end at the first NUL byte (execve(2)), so Node refuses to spawn with one (ERR_INVALID_ARG_VALUE)
 * and the kubelet's runtime cannot deliver it either.
 */
export function undeliverable(text: string): string | undefined {
  const at = text.indexOf('\u0000');
  return at === -1
    ? undefined
    : `contains a NUL byte (\\u0000, at character ${at}), which no process can receive in its arguments or environment`;
}

/** The idempotency key rule, for the API body, the Idempotency-Key header and every other starter. */
export const IDEMPOTENCY_KEY = {
  maxLength: 200,
  pattern: /^[A-Za-z0-9._~:-]+$/,
  help: 'use 1 to 200 of the characters A-Z a-z 0-9 . _ ~ : -',
} as const;

export function isIdempotencyKey(key: unknown): key is string {
  return (
    typeof key === 'string' &&
    key.length >= 1 &&
    key.length <= IDEMPOTENCY_KEY.maxLength &&
    IDEMPOTENCY_KEY.pattern.test(key)
  );
}

/** Checks one concrete (already templated) value against a parameter's type, enum and pattern. */
export function parameterValueError(p: ParameterSpec, value: unknown): string | undefined {
  const coerced = coerceParameter(p, value);
  if ('error' in coerced) return coerced.error;
  const v = coerced.value;
  if (typeof v === 'string') {
    const problem = undeliverable(v);
    if (problem) return problem;
    const bytes = utf8Bytes(v);
    if (bytes > PARAMETER_LIMITS.valueBytes)
      return `is ${bytes} bytes; a parameter value may hold at most ${PARAMETER_LIMITS.valueBytes} bytes (pass larger data as the execution's input)`;
  }
  if (p.enum && !p.enum.some((e) => e === v || String(e) === String(v))) {
    return `${JSON.stringify(v)} is not allowed; allowed: ${p.enum.map((e) => JSON.stringify(e)).join(', ')}`;
  }
  if (p.pattern !== undefined && !new RegExp(`^(?:${p.pattern})$`).test(String(v))) {
    return `${JSON.stringify(v)} does not match the pattern ${p.pattern}`;
  }
  return undefined;
}

/** Converts a value (strings from a CLI or a template included) to the parameter's type. */
export function coerceParameter(
  p: Pick<ParameterSpec, 'type'>,
  value: unknown,
): { value: string | number | boolean } | { error: string } {
  const show = JSON.stringify(value);
  switch (p.type) {
    case 'string':
      return typeof value === 'string' ? { value } : { error: `${show} is not a string` };
    case 'integer': {
      const n = typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
      return typeof n === 'number' && Number.isSafeInteger(n)
        ? { value: n }
        : { error: `${show} is not an integer` };
    }
    case 'number': {
      const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
      return typeof n === 'number' && Number.isFinite(n)
        ? { value: n }
        : { error: `${show} is not a number` };
    }
    case 'boolean':
      if (typeof value === 'boolean') return { value };
      if (value === 'true' || value === 'false') return { value: value === 'true' };
      return { error: `${show} is not a boolean (true or false)` };
    case 'date':
      return typeof value === 'string' && isIsoDate(value)
        ? { value }
        : { error: `${show} is not a date (YYYY-MM-DD)` };
    case 'datetime':
      return typeof value === 'string' && isIsoDateTime(value)
        ? { value }
        : { error: `${show} is not an RFC 3339 date-time` };
  }
}

/** Priority as a number 1–5 from a number or an alias; NaN for a string that is not an alias (untyped callers). */
export function priorityNumber(p: number | keyof typeof PRIORITY_ALIASES): number {
  if (typeof p === 'number') return p;
  // Callers in plain JavaScript (SDK starters) can pass any string: only the aliases' own names map.
  return isPriorityName(p) ? PRIORITY_ALIASES[p] : Number.NaN;
}
