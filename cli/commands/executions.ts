/**
 * The commands on one execution: `invoke` (start one; --wait shows its progress, --follow-logs
 * streams its attempts' logs), `logs` and `cancel`.
 */
import { readFile } from 'node:fs/promises';
import type { ExecutionDetail } from '../../client/executions.ts';
import {
  isPriorityName,
  type PRIORITY_ALIASES,
  PRIORITY_HIGHEST,
  PRIORITY_LEVELS,
  PRIORITY_LOWEST,
  PRIORITY_NAMES,
} from '../../core/values.ts';
import { ApiCallError, type ApiClient } from '../api-client.ts';
import {
  api,
  type Command,
  guard,
  helpOption,
  outputFormat,
  outputOption,
  parseArgs,
  showHelp,
} from '../command.ts';
import { type OutputFormat, render } from '../format.ts';
import { Exit, type Io, UsageError } from '../output.ts';

export const invoke: Command = {
  help: `Usage: pontoon invoke <function> [options]

Options:
  -p, --param k=v             parameter value (repeatable); coerced to the declared type
  -i, --input <json|@file|->  JSON input for the function (@file reads a file, - reads stdin)
      --priority <1-5|high|normal|low>
      --idempotency-key <k>   the same key always names the same execution (no second run)
  -w, --wait                  wait, showing progress (queued → running attempt n → done), then print
                              the execution; exit 1 if it failed
      --follow-logs           with --wait: stream the attempts' logs to stderr
  -o, --output <text|json|yaml>

Examples:
  pontoon invoke hello --param name=Ada --wait
  pontoon invoke daily-report -p date=2026-01-31 --idempotency-key report-2026-01-31
  echo '{"rows":[1,2]}' | pontoon invoke hello --input - --wait --follow-logs`,
  async run(args, io) {
    const { positionals, values } = guard(() =>
      parseArgs({
        args,
        options: {
          ...helpOption,
          ...outputOption,
          param: { type: 'string', short: 'p', multiple: true },
          input: { type: 'string', short: 'i' },
          priority: { type: 'string' },
          'idempotency-key': { type: 'string' },
          wait: { type: 'boolean', short: 'w' },
          'follow-logs': { type: 'boolean' },
        },
        allowPositionals: true,
      }),
    );
    if (values.help) return showHelp(invoke.help, io);
    const out = outputFormat(values.output);
    const fn = positionals[0];
    if (!fn || positionals.length > 1) throw new UsageError('invoke needs exactly one function name');
    const parameters = parseParameters(values.param ?? []);
    const priority = parsePriority(values.priority);
    if (values['follow-logs'] && !values.wait) throw new UsageError('--follow-logs needs --wait');
    const input = await readInput(values.input);
    const client = api();
    const started = await client
      .route('invoke', { name: fn })
      .json<{ executionId: string; created: boolean }>({
        body: {
          ...(Object.keys(parameters).length ? { parameters } : {}),
          ...(input !== undefined ? { input } : {}),
          ...(priority !== undefined ? { priority } : {}),
          ...(values['idempotency-key'] ? { idempotencyKey: values['idempotency-key'] } : {}),
        },
      })
      .catch((err: unknown) => {
        // An input its schema refused: how to give one, and where the schema is.
        if (err instanceof ApiCallError && err.code === 'validation_failed')
          err.hint = `${input === undefined ? "give it with --input '<json>' or --input - (stdin); " : ''}the schema: pontoon describe function --openapi ${fn}`;
        throw err;
      });
    if (!values.wait) {
      if (out === 'text') io.out(`${started.created ? 'started' : 'already exists'}: ${started.executionId}`);
      else io.out(render(started, out));
      return Exit.ok;
    }
    return await waitForExecution(client, started, Boolean(values['follow-logs']), out, io);
  },
};

/** `--param k=v` values (repeatable) as the request's parameters; the API coerces them to their types. */
function parseParameters(pairs: string[]): Record<string, string> {
  const parameters: Record<string, string> = {};
  for (const kv of pairs) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new UsageError(`--param "${kv}" must look like name=value`);
    parameters[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return parameters;
}

/** `--priority`: a level (core/values.ts) as a number, or a name; undefined when not given. */
function parsePriority(p: string | undefined): number | keyof typeof PRIORITY_ALIASES | undefined {
  if (p === undefined) return undefined;
  if (isPriorityName(p)) return p;
  if (PRIORITY_LEVELS.map(String).includes(p)) return Number(p);
  throw new UsageError(
    `--priority must be ${PRIORITY_HIGHEST}-${PRIORITY_LOWEST} or ${PRIORITY_NAMES.join(', ')}`,
  );
}

/** `--input`: JSON text, `@file` or `-` (stdin), parsed; undefined when not given. */
async function readInput(value: string | undefined): Promise<unknown> {
  if (value === undefined) return undefined;
  let text = value;
  if (value === '-') {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    text = Buffer.concat(chunks).toString('utf8');
  } else if (value.startsWith('@')) {
    text = await readFile(value.slice(1), 'utf8');
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--input is not valid JSON: ${(err as Error).message}`);
  }
}

/**
 * `invoke --wait`: polls the execution every 0.5 s, showing each change of progress on stderr (in
 * place on a terminal) and, with followLogs, streaming each attempt's log to stderr; then prints the
 * execution. Exit 0 when it succeeded, 1 otherwise.
 */
async function waitForExecution(
  client: ApiClient,
  started: { executionId: string; created: boolean },
  followLogs: boolean,
  out: OutputFormat,
  io: Io,
): Promise<number> {
  const id = started.executionId;
  io.err(`execution ${id}${started.created ? '' : ' (existing: same idempotency key)'}`);
  let last = '';
  let followed = 0;
  let following: Promise<void> | undefined;
  for (;;) {
    const e = await client.route('getExecution', { id }).json<ExecutionDetail>();
    const line = progressLine(e);
    if (line !== last && e.status === 'running') {
      last = line;
      if (io.tty && !followLogs) process.stderr.write(`\r\x1b[K${line}`);
      else io.err(line);
    }
    const current = e.attempt ?? e.attempts.length;
    if (followLogs && current > followed && !following && (e.phase === 'running' || e.status !== 'running')) {
      followed = current;
      following = streamLog(client, id, current, (c) => process.stderr.write(c))
        .catch(() => undefined)
        .finally(() => {
          following = undefined;
        });
    }
    if (e.status !== 'running') {
      await following;
      if (followLogs) {
        // Attempts that began and ended between two polls: print their logs whole.
        const lastAttempt = Math.max(0, ...e.attempts.map((a) => a.attempt));
        for (let a = followed + 1; a <= lastAttempt; a++) {
          const res = await client
            .route('executionLogs', { id })
            .raw({ query: { attempt: a } })
            .catch(() => undefined);
          if (res) process.stderr.write(await res.text());
        }
      }
      if (io.tty && last && !followLogs) process.stderr.write('\r\x1b[K');
      io.out(
        out === 'yaml' ? render(e, 'yaml') : out === 'json' ? render(e, 'json') : JSON.stringify(e, null, 2),
      );
      if (e.status === 'succeeded') return Exit.ok;
      // Why, in one line on stderr, led by the function's own error line as in the Web UI (loaded
      // here only: core/legible.ts reaches @temporalio/common).
      const { failureMessage } = await import('../../core/legible.ts');
      const n = e.attempts.length;
      const when =
        e.status === 'cancelled'
          ? n
            ? ` during attempt ${n}`
            : ' before any attempt'
          : n
            ? ` after ${n} attempt${n === 1 ? '' : 's'}`
            : '';
      const why = e.failure ? `: ${failureMessage(e.failure.message, e.attempts)}` : '';
      io.err(`${e.status.replace('_', ' ')}${when}${why}`);
      return Exit.failed;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** The progress of a running execution in words (queued, running attempt n/m, retrying at …). */
function progressLine(e: ExecutionDetail): string {
  if (e.status !== 'running') return e.status;
  switch (e.phase) {
    case undefined:
    case 'starting':
      return 'queued';
    case 'running':
      return `running attempt ${e.attempt}/${e.maxAttempts}`;
    case 'backoff':
      return `attempt ${e.attempt}/${e.maxAttempts} failed; retrying at ${e.nextAttemptAt ?? 'soon'}`;
    default:
      return e.phase;
  }
}

/** Streams one attempt's log until the API ends the stream (attempt over or execution ended). */
async function streamLog(
  client: ApiClient,
  id: string,
  attempt: number,
  write: (chunk: string) => void,
): Promise<void> {
  const res = await client.route('executionLogs', { id }).raw({
    query: { attempt, follow: 'true' },
  });
  if (!res.body) return;
  const decoder = new TextDecoder();
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>)
    write(decoder.decode(chunk, { stream: true }));
}

export const logs: Command = {
  help: `Usage: pontoon logs <execution-id> [--attempt n] [-f]

Prints an attempt's log (the latest attempt by default); -f follows it while the execution runs.

Examples:
  pontoon logs exec:hello:0b5c… --attempt 2
  pontoon logs exec:batch:nightly-2026-11-24 -f`,
  async run(args, io) {
    const { positionals, values } = guard(() =>
      parseArgs({
        args,
        options: { ...helpOption, attempt: { type: 'string' }, follow: { type: 'boolean', short: 'f' } },
        allowPositionals: true,
      }),
    );
    if (values.help) return showHelp(logs.help, io);
    const id = positionals[0];
    if (!id) throw new UsageError('logs needs an execution id');
    if (values.attempt !== undefined && !/^[1-9]\d*$/.test(values.attempt))
      throw new UsageError('--attempt must be a positive integer');
    const client = api();
    if (values.follow) {
      let attempt = values.attempt ? Number(values.attempt) : undefined;
      for (;;) {
        const e = await client.route('getExecution', { id }).json<ExecutionDetail>();
        const current = attempt ?? Math.max(1, e.attempt ?? e.attempts.length);
        await streamLog(client, id, current, (c) => process.stdout.write(c));
        if (values.attempt) return Exit.ok;
        const after = await client.route('getExecution', { id }).json<ExecutionDetail>();
        if (after.status !== 'running') return Exit.ok;
        attempt = undefined;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    const res = await client.route('executionLogs', { id }).raw({
      query: { attempt: values.attempt },
    });
    io.out(await res.text());
    return Exit.ok;
  },
};

export const cancel: Command = {
  help: `Usage: pontoon cancel <execution-id>

Cancels a running execution: its attempt is killed and the execution ends cancelled.`,
  async run(args, io) {
    const { positionals, values } = guard(() =>
      parseArgs({ args, options: helpOption, allowPositionals: true }),
    );
    if (values.help) return showHelp(cancel.help, io);
    const id = positionals[0];
    if (!id) throw new UsageError('cancel needs an execution id');
    await api().route('cancelExecution', { id }).json();
    io.out(`cancelling ${id}`);
    return Exit.ok;
  },
};
