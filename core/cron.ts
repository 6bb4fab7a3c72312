/**
 * Validation of the cron expressions a spec may hold: five fields (minute hour day-of-month month
 * day-of-week) or one of the macros. Time zones are a separate spec field, so `CRON_TZ=` prefixes
 * are refused. Returns a message naming the field that is wrong, or undefined. Pure module.
 */
export const CRON_MACROS = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'];

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

interface Field {
  name: string;
  min: number;
  max: number;
  names?: string[];
  namesStart?: number;
}

const FIELDS: Field[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTHS, namesStart: 1 },
  { name: 'day-of-week', min: 0, max: 7, names: DAYS, namesStart: 0 },
];

export const CRON_HELP =
  'five fields "minute hour day-of-month month day-of-week" (e.g. "0 2 * * *", "*/15 9-17 * * MON-FRI") or one of ' +
  CRON_MACROS.join(', ');

function value(token: string, f: Field): number | undefined {
  if (/^\d+$/.test(token)) return Number(token);
  const idx = f.names?.indexOf(token.toUpperCase()) ?? -1;
  return idx >= 0 ? idx + (f.namesStart ?? 0) : undefined;
}

function checkField(text: string, f: Field): string | undefined {
  for (const part of text.split(',')) {
    const [range, step, extra] = part.split('/');
    if (extra !== undefined || range === undefined || range === '') return `"${part}" is malformed`;
    if (step !== undefined && !/^[1-9]\d*$/.test(step)) return `step "/${step}" must be a positive integer`;
    if (range === '*' || (range === '?' && (f.name === 'day-of-month' || f.name === 'day-of-week'))) continue;
    const bounds = range.split('-');
    if (bounds.length > 2) return `"${range}" is malformed`;
    const nums = bounds.map((b) => value(b, f));
    for (let i = 0; i < nums.length; i++) {
      const n = nums[i];
      if (n === undefined) {
        const allowed = f.names ? ` or ${f.names[0]}-${f.names[f.names.length - 1]}` : '';
        return `"${bounds[i]}" is not a number${allowed ? ` or name (${f.names!.join(',')})` : ''}`;
      }
      if (n < f.min || n > f.max) return `${n} is out of range ${f.min}-${f.max}`;
    }
    if (nums.length === 2 && nums[0]! > nums[1]!) return `range "${range}" runs backwards`;
  }
  return undefined;
}

/** undefined when valid; otherwise what is wrong (without the allowed forms, see CRON_HELP). */
export function cronError(expr: string): string | undefined {
  const text = expr.trim();
  if (text.startsWith('@')) {
    return CRON_MACROS.includes(text) ? undefined : `unknown macro "${text}"`;
  }
  if (/^CRON_TZ=|^TZ=/.test(text))
    return 'time zone prefixes are not allowed here; use the schedule\'s "timezone" field';
  const fields = text === '' ? [] : text.split(/\s+/);
  if (fields.length !== 5) return `has ${fields.length} field${fields.length === 1 ? '' : 's'}, expected 5`;
  for (let i = 0; i < 5; i++) {
    const problem = checkField(fields[i]!, FIELDS[i]!);
    if (problem) return `${FIELDS[i]!.name} field: ${problem}`;
  }
  return undefined;
}
