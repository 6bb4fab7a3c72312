/**
 * What an execution shows about itself in the Temporal Web UI, whoever started it: the memo (Memo
 * tab, `temporal workflow describe`), the current details (User Metadata tab, Markdown, answered by a
 * worker), the one-line outcome. Set from inside `executeFunction`, so an execution started with the
 * `temporal` CLI or any SDK is as legible as one started by the API.
 * Pure module: imported by the workflow and by tests.
 */
import { type AttemptRecord, functionErrorLine } from './execution.ts';

export type LegibleStatus =
  | 'starting'
  | 'queued'
  | 'running'
  | 'backoff'
  | 'succeeded'
  | 'failed'
  | 'timed_out'
  | 'cancelled';

export interface ExecutionView {
  function: string;
  /** Schedule name, api, cli or sdk (unknown before the input was read). */
  trigger?: string;
  specVersion?: number;
  /** Parameters as given at first, as resolved once an attempt ran. */
  parameters: Record<string, unknown>;
  /** `running` from the start (the memo keeps it until the end), `queued` while waiting for a slot. */
  status: LegibleStatus;
  /** The attempt running or last run, of maxAttempts. */
  attempt: number;
  maxAttempts: number;
  attempts: readonly AttemptRecord[];
  /** Why it failed or timed out (the message the workflow failure carries). */
  failure?: { type: string; message: string };
  /** When the next attempt starts, during backoff. */
  nextAttemptAt?: string;
}

/** Longest parameters JSON kept in the memo and the details (the memo travels with every list row). */
const PARAMETERS_TEXT_LIMIT = 1024;

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** The parameters as a short JSON text (cut at PARAMETERS_TEXT_LIMIT characters). */
export function parametersText(parameters: Record<string, unknown>): string {
  const text = JSON.stringify(parameters);
  return text.length > PARAMETERS_TEXT_LIMIT ? `${text.slice(0, PARAMETERS_TEXT_LIMIT - 3)}...` : text;
}

/** The function's error line of the last attempt that failed, if it said one. */
function lastError(v: ExecutionView): string | undefined {
  const last = [...v.attempts].reverse().find((a) => a.failure);
  return last ? functionErrorLine(last.logTail, last.failure?.type) : undefined;
}

/**
 * The message a failed execution's workflow failure carries: the function's own error first, then
 * Pontoon's reason (`error: db unreachable — exited with code 2 (all 2 attempts used)`).
 */
export function failureMessage(reason: string, attempts: readonly AttemptRecord[]): string {
  const last = attempts[attempts.length - 1];
  const said = last?.failure ? functionErrorLine(last.logTail, last.failure.type) : undefined;
  return said && !reason.includes(said) ? `${said} — ${reason}` : reason;
}

/** How the execution stands, in one line: `succeeded on attempt 3 of 5`, `failed after 2 attempts: …`. */
export function outcomeLine(v: ExecutionView): string {
  const n = v.attempts.length;
  switch (v.status) {
    case 'starting':
      return 'starting';
    case 'queued':
      return 'waiting for a concurrency slot';
    case 'running':
      return v.attempt ? `running attempt ${v.attempt} of ${v.maxAttempts}` : 'running';
    case 'backoff':
      return `attempt ${v.attempt} of ${v.maxAttempts} failed; the next starts at ${v.nextAttemptAt}`;
    case 'succeeded':
      return `succeeded on attempt ${v.attempt} of ${v.maxAttempts}`;
    case 'cancelled':
      return n ? `cancelled during attempt ${v.attempt}` : 'cancelled before any attempt';
    case 'failed':
    case 'timed_out': {
      const verb = v.status === 'failed' ? 'failed' : 'timed out';
      const after = n ? ` after ${plural(n, 'attempt')}` : '';
      const why = v.failure ? failureMessage(v.failure.message, v.attempts) : 'see the result';
      return `${verb}${after}: ${why}`;
    }
  }
}

/** `hello (cli): succeeded on attempt 1 of 3` — the memo's summary. */
export function summaryLine(v: ExecutionView): string {
  return `${v.function}${v.trigger ? ` (${v.trigger})` : ''}: ${outcomeLine(v)}`;
}

/** The memo: flat keys, so the Memo tab and `temporal workflow describe` read as a table. */
export function executionMemo(v: ExecutionView): Record<string, unknown> {
  const last = v.attempts[v.attempts.length - 1];
  const error = lastError(v);
  return {
    summary: summaryLine(v),
    function: v.function,
    ...(v.trigger ? { trigger: v.trigger } : {}),
    // An object the Memo tab prints as JSON, or its text cut at the limit.
    parameters:
      JSON.stringify(v.parameters).length > PARAMETERS_TEXT_LIMIT
        ? parametersText(v.parameters)
        : v.parameters,
    status: v.status,
    attempts: v.attempts.length,
    ...(last ? { exitCode: last.exitCode } : {}),
    ...(error ? { error } : {}),
    ...(v.failure ? { failure: `${v.failure.type}: ${v.failure.message}` } : {}),
  };
}

/** Markdown for the User Metadata tab's Current Details. */
export function executionDetails(v: ExecutionView): string {
  const lines = [
    `**${v.function}** · trigger **${v.trigger ?? 'unknown'}**${v.specVersion ? ` · spec version ${v.specVersion}` : ''}`,
    '',
    `Parameters: \`${parametersText(v.parameters)}\``,
    '',
    `**Outcome:** ${outcomeLine(v)}`,
  ];
  if (v.attempts.length) {
    lines.push('');
    for (const a of v.attempts) {
      const why = a.failure ? `${a.failure.type}: ${failureMessage(a.failure.message, [a])}` : 'succeeded';
      lines.push(`- attempt ${a.attempt}: exit code ${a.exitCode ?? 'none'} — ${why}`);
    }
  }
  return lines.join('\n');
}
