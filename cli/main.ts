/**
 * `pontoon` — validate and apply specs, invoke functions, read logs, run the embedded default.
 * In this slice the CLI talks to Temporal directly (TEMPORAL_ADDRESS); the API issue moves it onto
 * the REST API with the same commands and exit codes.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { type Client, WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import { attemptLogPath } from '../activities/local-runtime.ts';
import { applySpec, startExecution, waitForResult } from '../client/functions.ts';
import { functionJsonSchemaText } from '../spec/json-schema.ts';
import { loadSpecs } from '../spec/load.ts';
import { Trigger } from '../spec/names.ts';
import { formatProblem } from '../spec/parse.ts';
import { PRIORITY_ALIASES } from '../spec/schema.ts';
import { parseConfig } from '../worker/config.ts';
import { connectClient } from '../worker/temporal.ts';
import { type ExecutionProgress, progressQuery } from '../workflows/definitions.ts';
import { Exit, type Io, processIo, UsageError } from './output.ts';

const HELP: Record<string, string> = {
  main: `pontoon — serverless functions on Kubernetes, orchestrated by Temporal

Usage: pontoon <command> [options]

Commands:
  dev                 run everything locally: Temporal dev server, worker, example functions (npm start)
  worker              run the Pontoon worker (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, PONTOON_*)
  validate <paths…>   check spec files or folders; prints every problem as file:line:column
  apply -f <paths…>   validate, then store the specs (all or nothing)
  invoke <function>   start an execution; --wait prints its result
  logs <execution>    print an attempt's log (local runtime)
  schema              print the JSON Schema of a function spec

Environment: TEMPORAL_ADDRESS (default localhost:7233), TEMPORAL_NAMESPACE (default), TEMPORAL_API_KEY,
  TEMPORAL_TLS_* (see README), PONTOON_TASK_QUEUE (default pontoon), PONTOON_DATA_DIR (default .pontoon).
Exit codes: 0 ok, 1 execution failed, 2 usage or validation error, 3 cannot reach Temporal.
Run 'pontoon <command> --help' for a command's options and examples.`,
  validate: `Usage: pontoon validate <file|folder>…

Checks every spec (YAML, multi-document, or JSON) and prints each problem as
  file:line:column field.path: what is wrong, what is allowed
Exits 2 when any problem is found, 0 otherwise.

Examples:
  pontoon validate function-specs/
  pontoon validate my-fn.yaml other.yaml`,
  apply: `Usage: pontoon apply -f <file|folder> [-f …]

Validates every spec first; applies none if any is invalid. Applying an unchanged spec is a no-op.

Examples:
  pontoon apply -f function-specs/
  pontoon apply -f hello.yaml -f batch.yaml`,
  invoke: `Usage: pontoon invoke <function> [options]

Options:
  -p, --param k=v          parameter value (repeatable); coerced to the declared type
  -i, --input <json|@file|->  JSON input for the function (@file reads a file, - reads stdin)
      --priority <1-5|high|normal|low>
      --idempotency-key <k>  the same key always names the same execution (no second run)
  -w, --wait               wait and print the result JSON; exit 1 if the execution failed
  -o, --output <json|text> output format for the started execution (default text)

Examples:
  pontoon invoke hello --param name=Ada --wait
  pontoon invoke daily-report -p date=2026-01-31 --idempotency-key report-2026-01-31
  echo '{"rows":[1,2]}' | pontoon invoke hello --input - --wait`,
  logs: `Usage: pontoon logs <execution-id> [--attempt n]

Prints the full log of an attempt (the last attempt by default) from the local runtime's data folder.

Examples:
  pontoon logs exec:hello:0b5c… --attempt 2`,
  dev: `Usage: pontoon dev [-f <folder>] [--port 7233] [--ui-port 8233]

Starts the Temporal dev server (state kept in .pontoon/temporal.db), the Pontoon worker on the local
runtime, and applies every spec in function-specs/ (or -f). Reuses a Temporal server already listening
on the port. Ctrl-C stops everything.`,
  worker: `Usage: pontoon worker

Runs the Pontoon worker against TEMPORAL_ADDRESS until SIGTERM/SIGINT, then finishes in-flight work.`,
  schema: `Usage: pontoon schema

Prints the JSON Schema of a function spec (function-specs/function.schema.json is this output).`,
};

const helpOption = { help: { type: 'boolean', short: 'h' } } as const;

/** parseArgs with its errors turned into usage errors (exit 2). */
function guard<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

async function connect(): Promise<Client> {
  const config = parseConfig();
  try {
    return await connectClient(config.temporal, '5s');
  } catch (err) {
    throw new UnreachableError(
      `cannot reach Temporal at ${config.temporal.address}: ${(err as Error).message}`,
    );
  }
}

class UnreachableError extends Error {
  override name = 'UnreachableError';
}

async function cmdValidate(args: string[], io: Io): Promise<number> {
  const { positionals, values } = guard(() =>
    parseArgs({ args: args, options: helpOption, allowPositionals: true }),
  );
  if (values.help) return help('validate', io);
  if (positionals.length === 0) throw new UsageError('validate needs at least one file or folder');
  const result = await loadSpecs(positionals);
  for (const p of result.problems) io.err(formatProblem(p));
  if (result.problems.length) {
    io.err(`${result.problems.length} problem${result.problems.length === 1 ? '' : 's'} found`);
    return Exit.usage;
  }
  io.out(
    `${result.specs.length} function spec${result.specs.length === 1 ? '' : 's'} valid: ${result.specs.map((s) => s.spec.metadata.name).join(', ')}`,
  );
  return Exit.ok;
}

async function cmdApply(args: string[], io: Io): Promise<number> {
  const { positionals, values } = guard(() =>
    parseArgs({
      args: args,
      options: { ...helpOption, file: { type: 'string', short: 'f', multiple: true } },
      allowPositionals: true,
    }),
  );
  if (values.help) return help('apply', io);
  const paths = [...(values.file ?? []), ...positionals];
  if (paths.length === 0) throw new UsageError('apply needs -f <file|folder>');
  const result = await loadSpecs(paths);
  for (const p of result.problems) io.err(formatProblem(p));
  if (result.problems.length) {
    io.err(
      `nothing applied: ${result.problems.length} problem${result.problems.length === 1 ? '' : 's'} found`,
    );
    return Exit.usage;
  }
  const client = await connect();
  const taskQueue = parseConfig().taskQueue;
  try {
    for (const s of result.specs) {
      const r = await applySpec(client, s.spec, taskQueue);
      io.out(
        `function/${r.name} ${r.changed ? `applied (version ${r.version})` : `unchanged (version ${r.version})`}`,
      );
    }
  } finally {
    await client.connection.close();
  }
  return Exit.ok;
}

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

function progressLine(p: ExecutionProgress): string {
  switch (p.phase) {
    case 'starting':
      return 'queued';
    case 'running':
      return `running attempt ${p.attempt}/${p.maxAttempts}`;
    case 'backoff':
      return `attempt ${p.attempt}/${p.maxAttempts} failed; retrying at ${p.nextAttemptAt ?? 'soon'}`;
    default:
      return p.phase;
  }
}

async function cmdInvoke(args: string[], io: Io): Promise<number> {
  const { positionals, values } = guard(() =>
    parseArgs({
      args: args,
      options: {
        ...helpOption,
        param: { type: 'string', short: 'p', multiple: true },
        input: { type: 'string', short: 'i' },
        priority: { type: 'string' },
        'idempotency-key': { type: 'string' },
        wait: { type: 'boolean', short: 'w' },
        output: { type: 'string', short: 'o' },
      },
      allowPositionals: true,
    }),
  );
  if (values.help) return help('invoke', io);
  const fn = positionals[0];
  if (!fn || positionals.length > 1) throw new UsageError('invoke needs exactly one function name');
  const parameters: Record<string, string> = {};
  for (const kv of values.param ?? []) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new UsageError(`--param "${kv}" must look like name=value`);
    parameters[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  let priority: number | 'high' | 'normal' | 'low' | undefined;
  if (values.priority !== undefined) {
    const p = values.priority;
    if (p in PRIORITY_ALIASES) priority = p as 'high' | 'normal' | 'low';
    else if (/^[1-5]$/.test(p)) priority = Number(p);
    else throw new UsageError('--priority must be 1-5 or high, normal, low');
  }
  const output = values.output ?? 'text';
  if (output !== 'json' && output !== 'text') throw new UsageError('--output must be json or text');
  const input = await readInput(values.input);
  const client = await connect();
  const config = parseConfig();
  try {
    const started = await startExecution(
      client,
      {
        function: fn,
        parameters,
        ...(input !== undefined ? { input } : {}),
        ...(priority !== undefined ? { priority } : {}),
      },
      { trigger: Trigger.cli, taskQueue: config.taskQueue, idempotencyKey: values['idempotency-key'] },
    );
    if (!values.wait) {
      if (output === 'json') io.out(JSON.stringify(started));
      else io.out(`${started.created ? 'started' : 'already exists'}: ${started.executionId}`);
      return Exit.ok;
    }
    io.err(`execution ${started.executionId}${started.created ? '' : ' (existing, same idempotency key)'}`);
    const handle = client.workflow.getHandle(started.executionId);
    let last = '';
    const timer = setInterval(async () => {
      try {
        const line = progressLine(await handle.query(progressQuery));
        if (line !== last) {
          last = line;
          if (io.tty) process.stderr.write(`\r\x1b[K${line}`);
          else io.err(line);
        }
      } catch {
        // not yet started by a worker, or finished: the result below says what happened
      }
    }, 500);
    try {
      const result = await waitForResult(client, started.executionId);
      if (io.tty && last) process.stderr.write('\r\x1b[K');
      io.out(JSON.stringify(result, null, 2));
      return result.status === 'succeeded' ? Exit.ok : Exit.failed;
    } catch (err) {
      if (err instanceof WorkflowFailedError) {
        io.err(
          `execution ${started.executionId} ended without a result: ${err.cause?.message ?? err.message}`,
        );
        return Exit.failed;
      }
      throw err;
    } finally {
      clearInterval(timer);
    }
  } finally {
    await client.connection.close();
  }
}

async function cmdLogs(args: string[], io: Io): Promise<number> {
  const { positionals, values } = guard(() =>
    parseArgs({
      args: args,
      options: { ...helpOption, attempt: { type: 'string' } },
      allowPositionals: true,
    }),
  );
  if (values.help) return help('logs', io);
  const id = positionals[0];
  if (!id) throw new UsageError('logs needs an execution id');
  const config = parseConfig();
  let attempt = values.attempt ? Number(values.attempt) : undefined;
  if (attempt !== undefined && (!Number.isInteger(attempt) || attempt < 1))
    throw new UsageError('--attempt must be a positive integer');
  if (attempt === undefined) {
    const client = await connect();
    try {
      const p = await client.workflow.getHandle(id).query(progressQuery);
      attempt = Math.max(1, p.attempt);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) {
        io.err(`no execution ${id}`);
        return Exit.usage;
      }
      throw err;
    } finally {
      await client.connection.close();
    }
  }
  try {
    io.out(await readFile(attemptLogPath(config.dataDir, id, attempt), 'utf8'));
    return Exit.ok;
  } catch {
    io.err(
      `no log for ${id} attempt ${attempt} in ${config.dataDir} (logs of the local runtime are kept on the worker's machine)`,
    );
    return Exit.usage;
  }
}

function help(command: string, io: Io): number {
  io.out(HELP[command] ?? HELP.main!);
  return Exit.ok;
}

export async function main(argv: string[], io: Io = processIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        return help(rest[0] ?? 'main', io);
      case 'validate':
        return await cmdValidate(rest, io);
      case 'apply':
        return await cmdApply(rest, io);
      case 'invoke':
        return await cmdInvoke(rest, io);
      case 'logs':
        return await cmdLogs(rest, io);
      case 'schema':
        io.out(functionJsonSchemaText().trimEnd());
        return Exit.ok;
      case 'dev': {
        const { values } = guard(() =>
          parseArgs({
            args: rest,
            options: {
              ...helpOption,
              file: { type: 'string', short: 'f', multiple: true },
              port: { type: 'string' },
              'ui-port': { type: 'string' },
            },
            allowPositionals: true,
          }),
        );
        if (values.help) return help('dev', io);
        const { runDev } = await import('./dev.ts');
        return await runDev(
          {
            specPaths: values.file ?? ['function-specs'],
            port: Number(values.port ?? 7233),
            uiPort: Number(values['ui-port'] ?? 8233),
          },
          io,
        );
      }
      case 'worker': {
        if (rest.includes('--help') || rest.includes('-h')) return help('worker', io);
        const { runWorker } = await import('../worker/main.ts');
        await runWorker();
        return Exit.ok;
      }
      default:
        io.err(`unknown command "${command}"\n`);
        io.err(HELP.main!);
        return Exit.usage;
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`error: ${err.message} (see pontoon ${command} --help)`);
      return Exit.usage;
    }
    if (err instanceof UnreachableError) {
      io.err(`error: ${err.message}\nIs the server running? Start one with: npm start`);
      return Exit.unreachable;
    }
    if ((err as Error).name === 'ConfigError') {
      io.err(`error: ${(err as Error).message}`);
      return Exit.usage;
    }
    io.err(`error: ${(err as Error).message}`);
    return Exit.failed;
  }
}
