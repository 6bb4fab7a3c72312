/** The read-only views: `get functions|executions` (tables) and `describe function|execution`. */
import type { ExecutionDetail, ExecutionSummary } from '../../client/executions.ts';
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
import { ago, type OutputFormat, render, span, table } from '../format.ts';
import { Exit, type Io, morePages, UsageError } from '../output.ts';

interface FunctionRow {
  name: string;
  version: number;
  appliedAt: string;
  mode: string;
  schedules: string[];
  description: string | null;
}

/** The filters and page of `get executions`, as parsed (the API validates them). */
interface ExecutionQuery {
  function?: string;
  status?: string;
  trigger?: string;
  since?: string;
  until?: string;
  limit?: string;
  'page-token'?: string;
}

export const get: Command = {
  help: `Usage: pontoon get functions [-o json|yaml]
       pontoon get executions [--function f] [--status s] [--trigger t] [--since t] [--until t] [--limit n] [--page-token t] [-o json|yaml]

Statuses: running, succeeded, failed, cancelled, terminated, timed_out. Times are RFC 3339.
A page holds --limit rows (default 50); when more may match, the next page's --page-token is printed
on stderr (and is nextPageToken in -o json|yaml).

Examples:
  pontoon get functions
  pontoon get executions --function daily-report --status failed --since 2026-11-01T00:00:00Z`,
  async run(args, io) {
    const { positionals, values } = guard(() =>
      parseArgs({
        args,
        options: {
          ...helpOption,
          ...outputOption,
          function: { type: 'string' },
          status: { type: 'string' },
          trigger: { type: 'string' },
          since: { type: 'string' },
          until: { type: 'string' },
          limit: { type: 'string' },
          'page-token': { type: 'string' },
        },
        allowPositionals: true,
      }),
    );
    if (values.help) return showHelp(get.help, io);
    const out = outputFormat(values.output);
    const what = positionals[0];
    if (what === 'functions' || what === 'function' || what === 'fn') return await getFunctions(out, io);
    if (what === 'executions' || what === 'execution' || what === 'ex')
      return await getExecutions(values, out, io);
    throw new UsageError('get needs "functions" or "executions"');
  },
};

async function getFunctions(out: OutputFormat, io: Io): Promise<number> {
  const r = await api().route('listFunctions').json<{ functions: FunctionRow[] }>();
  if (out !== 'text') io.out(render(r.functions, out));
  else
    io.out(
      table(
        ['NAME', 'VERSION', 'MODE', 'SCHEDULES', 'APPLIED'],
        r.functions.map((f) => [f.name, f.version, f.mode, f.schedules.join(','), ago(f.appliedAt)]),
        'no functions applied (apply one with: pontoon apply -f <spec file>)',
      ),
    );
  return Exit.ok;
}

/** True when a listing was narrowed by any filter (its empty answer says "match", not "yet"). */
function filtered(values: object): boolean {
  return Object.entries(values).some(
    ([k, v]) => v !== undefined && !['output', 'help', 'limit', 'page-token'].includes(k),
  );
}

async function getExecutions(values: ExecutionQuery, out: OutputFormat, io: Io): Promise<number> {
  const r = await api()
    .route('listExecutions')
    .json<{ executions: ExecutionSummary[]; nextPageToken: string | null }>({
      query: {
        function: values.function,
        status: values.status,
        trigger: values.trigger,
        since: values.since,
        until: values.until,
        limit: values.limit,
        pageToken: values['page-token'],
      },
    });
  if (out !== 'text') io.out(render(r, out));
  else
    io.out(
      table(
        ['EXECUTION', 'FUNCTION', 'TRIGGER', 'PRIORITY', 'STATUS', 'STARTED', 'DURATION'],
        r.executions.map((e) => [
          e.executionId,
          e.function,
          e.trigger,
          e.priority,
          e.status,
          ago(e.startedAt),
          span(e.startedAt, e.endedAt),
        ]),
        values['page-token']
          ? 'no more executions'
          : filtered(values)
            ? 'no executions match'
            : 'no executions yet',
      ),
    );
  if (out === 'text') morePages(r.nextPageToken, io);
  return Exit.ok;
}

export const describe: Command = {
  help: `Usage: pontoon describe function <name> [-o json|yaml]
       pontoon describe function --openapi <name> [-o json|yaml]
       pontoon describe execution <id> [-o json|yaml]

The spec shows spec.input.schema and spec.output.schema of a typed function; --openapi prints the
function's own OpenAPI document (its invocation, input typed by FunctionInput, result by FunctionOutput).

Examples:
  pontoon describe function hello
  pontoon describe function --openapi greet -o json
  pontoon describe execution exec:hello:0b5c…`,
  async run(args, io) {
    const { positionals, values } = guard(() =>
      parseArgs({
        args,
        options: { ...helpOption, ...outputOption, openapi: { type: 'boolean' } },
        allowPositionals: true,
      }),
    );
    if (values.help) return showHelp(describe.help, io);
    const out = outputFormat(values.output);
    const [what, id] = positionals;
    if (!id) throw new UsageError('describe needs "function <name>" or "execution <id>"');
    if (what === 'function' || what === 'functions' || what === 'fn') {
      if (values.openapi) {
        const doc = await api().route('functionOpenApi', { name: id }).json<Record<string, unknown>>();
        io.out(render(doc, out === 'json' ? 'json' : 'yaml'));
        return Exit.ok;
      }
      const f = await api().route('getFunction', { name: id }).json<Record<string, unknown>>();
      io.out(render(f, out === 'json' ? 'json' : 'yaml'));
      return Exit.ok;
    }
    if (what === 'execution' || what === 'executions' || what === 'ex') {
      const e = await api().route('getExecution', { id }).json<ExecutionDetail>();
      io.out(out === 'text' ? describeExecutionText(e) : render(e, out));
      return Exit.ok;
    }
    throw new UsageError('describe needs "function <name>" or "execution <id>"');
  },
};

/** `describe execution` as text: status, times, parameters, a table of attempts, failure or output. */
function describeExecutionText(e: ExecutionDetail): string {
  const lines = [
    `Execution:  ${e.executionId}`,
    `Function:   ${e.function ?? '-'}`,
    `Status:     ${e.status}${e.status === 'running' && e.phase ? ` (${e.phase}${e.attempt ? `, attempt ${e.attempt}/${e.maxAttempts}` : ''})` : ''}`,
    `Trigger:    ${e.trigger ?? '-'}    Priority: ${e.priority ?? '-'}`,
    `Started:    ${e.startedAt ?? '-'}${e.endedAt ? `    Ended: ${e.endedAt} (${span(e.startedAt, e.endedAt)})` : ''}`,
  ];
  if (e.scheduledTime) lines.push(`Scheduled:  ${e.scheduledTime}`);
  lines.push(`Parameters: ${Object.keys(e.parameters).length ? JSON.stringify(e.parameters) : '(none)'}`);
  if (e.attempts.length) {
    lines.push('Attempts:');
    lines.push(
      table(
        ['  #', 'EXIT', 'DURATION', 'RESULT'],
        e.attempts.map((a) => [
          `  ${a.attempt}`,
          a.exitCode,
          span(a.startedAt, a.endedAt),
          a.failure ? `${a.failure.type}: ${a.failure.message}` : 'ok',
        ]),
      ),
    );
  }
  if (e.failure) lines.push(`Failure:    ${e.failure.type}: ${e.failure.message}`);
  if (e.status === 'succeeded') lines.push(`Output:     ${JSON.stringify(e.output)}`);
  return lines.join('\n');
}
