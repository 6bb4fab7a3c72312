/**
 * The commands that change applied functions: `apply` (validate, build, then apply every spec or
 * none: a server refusal rolls back what was applied before it) and `delete function`.
 */
import type { LoadedSpec, SpecProblem } from '../../core/parse.ts';
import { splitPath } from '../../core/parse-path.ts';
import type { FunctionSpec } from '../../core/schema.ts';
import { ApiCallError, type ApiClient, UnreachableError } from '../api-client.ts';
import {
  api,
  type Command,
  guard,
  helpOption,
  outputFormat,
  outputOption,
  parseArgs,
  showHelp,
  specTools,
} from '../command.ts';
import { type OutputFormat, render } from '../format.ts';
import { ENV_HELP } from '../help.ts';
import { Exit, type Io, UsageError } from '../output.ts';

export const apply: Command = {
  help: `Usage: pontoon apply -f <file|folder> [-f …] [--no-build] [-o json|yaml]

Validates every spec, builds and pushes the image of every spec with spec.build (like pontoon
build), and applies none if any spec is invalid or any build fails; then sends each to the API.
A built spec is applied with spec.image set to the pushed image's digest, so every execution of
that version runs exactly that image. Applying an unchanged spec is a no-op.
--no-build applies specs with spec.build as they are (enough for the local runtime, which runs
build.command in the context folder; the kubernetes runtime refuses them with ImageUnavailable).
${ENV_HELP} Registry: PONTOON_REGISTRY (see pontoon build --help).

Examples:
  pontoon apply -f function-specs/
  pontoon apply -f hello.yaml -f batch.yaml`,
  async run(args, io) {
    const { positionals, values } = guard(() =>
      parseArgs({
        args,
        options: {
          ...helpOption,
          ...outputOption,
          file: { type: 'string', short: 'f', multiple: true },
          'no-build': { type: 'boolean' },
        },
        allowPositionals: true,
      }),
    );
    if (values.help) return showHelp(apply.help, io);
    const out = outputFormat(values.output);
    const paths = [...(values.file ?? []), ...positionals];
    if (paths.length === 0) throw new UsageError('apply needs -f <file|folder>');
    const { loadSpecs, formatProblem, problemCount } = await specTools();
    const result = await loadSpecs(paths);
    for (const p of result.problems) io.err(formatProblem(p));
    const n = problemCount(result.problems);
    if (n) {
      io.err(`nothing applied: ${n} problem${n === 1 ? '' : 's'} found`);
      return Exit.usage;
    }
    if (!values['no-build']) {
      const { buildSpecs } = await import('../../packaging/index.ts');
      const built = await buildSpecs(result.specs, (line) => io.err(line));
      for (const p of built.problems) io.err(formatProblem(p));
      if (built.problems.length) {
        io.err(
          `nothing applied: ${built.problems.length} build problem${built.problems.length === 1 ? '' : 's'}`,
        );
        return Exit.usage;
      }
    }
    return await applyAll(result.specs, out, io, formatProblem);
  },
};

/**
 * Sends every spec to the API in turn; the first refusal (or an unreachable API) rolls back the
 * ones applied before it, so the specs are applied all or none. Exit 0, 2 refused, 3 unreachable.
 */
async function applyAll(
  specs: LoadedSpec[],
  out: OutputFormat,
  io: Io,
  formatProblem: (p: SpecProblem) => string,
): Promise<number> {
  const client = api();
  const applied: { name: string; version: number; changed: boolean; image?: string }[] = [];
  // All or nothing, server refusals included: what each function was before, to put back.
  const before = new Map<string, FunctionSpec | null>();
  if (specs.length > 1) {
    for (const s of specs) {
      const name = s.spec.metadata.name;
      before.set(name, await currentSpecOf(client, name));
    }
  }
  for (const s of specs) {
    const name = s.spec.metadata.name;
    let r: { name: string; version: number; changed: boolean };
    try {
      r = await client.route('applyFunction', { name }).json({ body: s.spec });
    } catch (err) {
      const located = refusalDetails(err);
      io.err(
        located.length
          ? `${s.file}:${s.line}: function/${name} refused by the server (${(err as ApiCallError).code}):`
          : `${s.file}:${s.line}: function/${name} refused by the server: ${(err as Error).message}${err instanceof ApiCallError ? ` (${err.code})` : ''}`,
      );
      for (const d of located) {
        const at = s.locate?.(splitPath(d.field)) ?? { line: s.line, column: 1 };
        io.err(formatProblem({ file: s.file, ...at, path: d.field, message: d.message }));
      }
      const undo = applied.filter((a) => a.changed);
      const left = await rollBack(client, undo, before);
      if (left.length === 0) {
        io.err(
          undo.length
            ? `nothing applied: rolled back ${undo.map((a) => `function/${a.name}`).join(', ')}`
            : 'nothing applied',
        );
      } else {
        for (const l of left) io.err(l);
        io.err('apply was only partly rolled back: the functions above are at the new version');
      }
      return err instanceof UnreachableError ? Exit.unreachable : Exit.usage;
    }
    applied.push({
      name: r.name,
      version: r.version,
      changed: r.changed,
      ...(s.spec.spec.image ? { image: s.spec.spec.image } : {}),
    });
    if (out === 'text')
      io.out(`function/${r.name} ${r.changed ? 'applied' : 'unchanged'} (version ${r.version})`);
  }
  if (out !== 'text') io.out(render(applied, out));
  return Exit.ok;
}

/** `{field, message}` details of an API error that names spec fields (spec_invalid from the server). */
function refusalDetails(err: unknown): { field: string; message: string }[] {
  if (!(err instanceof ApiCallError) || !Array.isArray(err.details)) return [];
  return err.details.filter(
    (d): d is { field: string; message: string } =>
      typeof d?.field === 'string' && typeof d?.message === 'string' && d.line === undefined,
  );
}

/** The spec a function has now, or null when none is applied under that name. */
async function currentSpecOf(client: ApiClient, name: string): Promise<FunctionSpec | null> {
  try {
    return (await client.route('getFunction', { name }).json<{ spec: FunctionSpec }>()).spec;
  } catch (err) {
    if (err instanceof ApiCallError && err.code === 'function_not_found') return null;
    throw err;
  }
}

/**
 * Puts back what `pontoon apply` changed before a later document was refused: the previous spec is
 * applied again (a new version with the old content), a function that did not exist is deleted.
 * Returns a line per function it could not restore.
 */
async function rollBack(
  client: ApiClient,
  changed: { name: string }[],
  before: Map<string, FunctionSpec | null>,
): Promise<string[]> {
  const left: string[] = [];
  for (const { name } of [...changed].reverse()) {
    const previous = before.get(name);
    try {
      if (previous) await client.route('applyFunction', { name }).json({ body: previous });
      else await client.route('deleteFunction', { name }).json();
    } catch (err) {
      left.push(`function/${name}: could not roll back: ${(err as Error).message}`);
    }
  }
  return left;
}

export const deleteFunction: Command = {
  help: `Usage: pontoon delete function <name> [--cancel-running] [--yes] [-o json|yaml]

Deletes a function: its controller ends and its schedules are removed, so it can no longer be
invoked; its executions stay listed. Running executions finish unless --cancel-running is given.
Asks for confirmation in a terminal; scripts (stdin not a terminal) must pass --yes.

Examples:
  pontoon delete function hello
  pontoon delete function nightly-batch --cancel-running --yes`,
  async run(args, io) {
    const { positionals, values } = guard(() =>
      parseArgs({
        args,
        options: {
          ...helpOption,
          ...outputOption,
          'cancel-running': { type: 'boolean' },
          yes: { type: 'boolean', short: 'y' },
        },
        allowPositionals: true,
      }),
    );
    if (values.help) return showHelp(deleteFunction.help, io);
    const out = outputFormat(values.output);
    const [what, name, ...extra] = positionals;
    if (!['function', 'functions', 'fn'].includes(what ?? '') || !name || extra.length)
      throw new UsageError('delete needs "function <name>"');
    const cancelRunning = Boolean(values['cancel-running']);
    if (!values.yes) {
      if (!io.confirm) {
        throw new UsageError(
          `deleting function/${name} needs confirmation, and stdin is not a terminal to ask: add --yes`,
        );
      }
      const ok = await io.confirm(
        `Delete function/${name} and its schedules${cancelRunning ? ', cancelling its running executions' : ' (running executions finish)'}?`,
      );
      if (!ok) {
        io.err(`not deleted: function/${name}`);
        return Exit.usage;
      }
    }
    const r = await api()
      .route('deleteFunction', { name })
      .json<{ name: string; version: number; cancelledExecutions: number }>({
        query: { cancelRunning: cancelRunning ? 'true' : undefined },
      });
    if (out !== 'text') io.out(render(r, out));
    else
      io.out(
        `function/${r.name} deleted (was version ${r.version})${
          cancelRunning
            ? `; cancelled ${r.cancelledExecutions} running execution${r.cancelledExecutions === 1 ? '' : 's'}`
            : ''
        }`,
      );
    return Exit.ok;
  },
};
