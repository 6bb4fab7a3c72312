/**
 * Executions that failed after their retries: `dead-letters` lists them, `redrive` runs one again
 * (or, with filters, every match).
 */
import type { FAILURE_TYPES } from '../../core/execution.ts';
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
import { ago, type OutputFormat, render, table } from '../format.ts';
import { Exit, type Io, morePages, UsageError } from '../output.ts';

interface DeadLetterRow {
  executionId: string;
  function: string | null;
  failureType: string | null;
  redriveOf: string | null;
  failedAt: string | null;
}

export const deadLetters: Command = {
  help: `Usage: pontoon dead-letters [--function f] [--type T] [--since t] [--until t] [--limit n] [--page-token t] [-o json|yaml]

Lists dead letters: executions that ended failed after their retries, newest first, by function,
failure type (FunctionExit, FunctionExitNonRetryable, AttemptTimedOut, DeadlineExceeded, …) and
when they failed (--since inclusive, --until exclusive, RFC 3339). A redrive that failed again is a
dead letter too (REDRIVE OF names the execution it re-ran). A page holds --limit rows (default
50); when more may match, the next page's --page-token is printed on stderr.

Examples:
  pontoon dead-letters --function daily-report --since 2026-11-01T00:00:00Z
  pontoon dead-letters --type FunctionExit -o json`,
  async run(args, io) {
    const { positionals, values } = guard(() =>
      parseArgs({
        args,
        options: {
          ...helpOption,
          ...outputOption,
          function: { type: 'string' },
          type: { type: 'string' },
          since: { type: 'string' },
          until: { type: 'string' },
          limit: { type: 'string' },
          'page-token': { type: 'string' },
        },
        allowPositionals: true,
      }),
    );
    if (values.help) return showHelp(deadLetters.help, io);
    if (positionals.length) throw new UsageError('dead-letters takes no arguments; filter with --function');
    const out = outputFormat(values.output);
    const r = await api()
      .route('listDeadLetters')
      .json<{ deadLetters: DeadLetterRow[]; nextPageToken: string | null }>({
        query: {
          function: values.function,
          type: values.type,
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
          ['EXECUTION', 'FUNCTION', 'TYPE', 'FAILED', 'REDRIVE OF'],
          r.deadLetters.map((d) => [
            d.executionId,
            d.function,
            d.failureType,
            ago(d.failedAt),
            d.redriveOf ?? '',
          ]),
          values['page-token']
            ? 'no more dead letters'
            : [values.function, values.type, values.since, values.until].some((v) => v !== undefined)
              ? 'no dead letters match'
              : 'no dead letters (no execution has failed for good)',
        ),
      );
    if (out === 'text') morePages(r.nextPageToken, io);
    return Exit.ok;
  },
};

/** The filters of a bulk redrive besides the function, as parsed (the API validates them). */
interface RedriveFilters {
  type?: string;
  since?: string;
  until?: string;
  'dry-run'?: boolean;
}

export const redrive: Command = {
  help: `Usage: pontoon redrive <execution-id> [--same-version] [-o json|yaml]
       pontoon redrive --function f [--type T] [--since t] [--until t] [--dry-run] [--same-version] [-o json|yaml]

Starts a failed execution again: a new execution with the same function, parameters, input,
priority and scheduledTime, named <execution-id>.redrive and linked to the original (search
attribute PontoonRedriveOf, and redriveOf in its result). Redriving the same execution again starts
nothing: it names the redrive already made. A redrive runs the function's current spec version;
--same-version runs exactly the version the original ran (refused when it is no longer kept: a
function keeps its last 20 versions).
The bulk form redrives every dead letter of one function matching the filters; --dry-run
prints how many match and starts nothing. One request starts at most the backfill cap
(PONTOON_API_MAX_BACKFILL_FIRES, 1000): narrow the filters beyond it.

Examples:
  pontoon redrive exec:daily-report:nightly-2026-11-24T02:30:00Z
  pontoon redrive --function daily-report --since 2026-11-24T00:00:00Z --type FunctionExit --dry-run
  pontoon redrive --function daily-report --since 2026-11-24T00:00:00Z --type FunctionExit`,
  async run(args, io) {
    const { positionals, values } = guard(() =>
      parseArgs({
        args,
        options: {
          ...helpOption,
          ...outputOption,
          function: { type: 'string' },
          type: { type: 'string' },
          since: { type: 'string' },
          until: { type: 'string' },
          'dry-run': { type: 'boolean' },
          'same-version': { type: 'boolean' },
        },
        allowPositionals: true,
      }),
    );
    if (values.help) return showHelp(redrive.help, io);
    const out = outputFormat(values.output);
    const sameVersion = values['same-version'] ? { sameVersion: true } : {};
    const id = positionals[0];
    const bulk = values.function || values.type || values.since || values.until;
    if (id && (bulk || values['dry-run'] || positionals.length > 1))
      throw new UsageError(
        'redrive takes one execution id, or filters (--function, --type, --since, --until), not both',
      );
    if (id) return await redriveOne(id, sameVersion, out, io);
    if (!values.function)
      throw new UsageError('redrive needs an execution id, or --function (and --type, --since, --until)');
    return await redriveMany(values.function, values, sameVersion, out, io);
  },
};

/** `redrive <execution-id>`: one redrive (or the one made before). */
async function redriveOne(
  id: string,
  sameVersion: { sameVersion?: boolean },
  out: OutputFormat,
  io: Io,
): Promise<number> {
  const r = await api()
    .route('redriveExecution', { id })
    .json<{ executionId: string; created: boolean; specVersion: number }>({ body: sameVersion });
  io.out(
    out !== 'text'
      ? render(r, out)
      : r.created
        ? `redrive of ${id} started: ${r.executionId} (spec version ${r.specVersion})`
        : `${id} was redriven before: ${r.executionId} (nothing started)`,
  );
  return Exit.ok;
}

/** `redrive --function f …`: every matching dead letter (or their count, --dry-run). Exit 2 when any was refused. */
async function redriveMany(
  fn: string,
  values: RedriveFilters,
  sameVersion: { sameVersion?: boolean },
  out: OutputFormat,
  io: Io,
): Promise<number> {
  const body = {
    function: fn,
    // Sent as typed: the API answers an unknown type with the known ones (400 validation_failed).
    ...(values.type ? { type: values.type as keyof typeof FAILURE_TYPES } : {}),
    ...(values.since ? { since: values.since } : {}),
    ...(values.until ? { until: values.until } : {}),
    ...(values['dry-run'] ? { dryRun: true } : {}),
    ...sameVersion,
  };
  const r = await api().route('redriveDeadLetters').json<{
    dryRun?: boolean;
    count: number;
    cap?: number;
    started?: number;
    alreadyRedriven?: number;
    refused?: number;
    redrives?: {
      redriveOf: string;
      executionId?: string;
      created?: boolean;
      error?: { code: string; message: string };
    }[];
  }>({ body });
  if (out !== 'text') io.out(render(r, out));
  else if (r.dryRun)
    io.out(
      `${r.count} dead letter${r.count === 1 ? '' : 's'} match (dry run: nothing started; at most ${r.cap} per redrive)`,
    );
  else {
    for (const x of r.redrives ?? [])
      io.out(
        x.error
          ? `${x.redriveOf}: refused: ${x.error.message} (${x.error.code})`
          : `${x.redriveOf} -> ${x.executionId}${x.created ? '' : ' (redriven before)'}`,
      );
    io.out(
      `redrove ${r.count}: ${r.started} started, ${r.alreadyRedriven} redriven before, ${r.refused} refused`,
    );
  }
  return r.refused ? Exit.usage : Exit.ok;
}
