/**
 * `pontoon` — the command line. Talks to the Pontoon API (PONTOON_API, default
 * http://127.0.0.1:8080; PONTOON_TOKEN for the bearer key); `validate` and `schema` work offline;
 * `dev`, `worker` and `api` run Pontoon's processes.
 *
 * This file is the dispatch only: the command's module (commands/, each command with its help),
 * loaded when it runs, and the exit code of what it throws.
 */
import { ApiCallError, UnreachableError } from './api-client.ts';
import type { Command } from './command.ts';
import { MAIN_HELP, packageVersion } from './help.ts';
import { Exit, type Io, processIo, UnknownOptionError, UsageError } from './output.ts';

/**
 * Every command by its name, imported when it runs or its help is asked for: `--help`, `--version`
 * and each command load no other command's modules (bench B8: `npm run bench -- cli`).
 */
const COMMANDS: Record<string, () => Promise<Command>> = {
  validate: async () => (await import('./commands/specs.ts')).validate,
  apply: async () => (await import('./commands/functions.ts')).apply,
  build: async () => (await import('./commands/specs.ts')).build,
  get: async () => (await import('./commands/inspect.ts')).get,
  describe: async () => (await import('./commands/inspect.ts')).describe,
  invoke: async () => (await import('./commands/executions.ts')).invoke,
  logs: async () => (await import('./commands/executions.ts')).logs,
  cancel: async () => (await import('./commands/executions.ts')).cancel,
  'dead-letters': async () => (await import('./commands/dead-letters.ts')).deadLetters,
  redrive: async () => (await import('./commands/dead-letters.ts')).redrive,
  delete: async () => (await import('./commands/functions.ts')).deleteFunction,
  status: async () => (await import('./commands/server.ts')).status,
  schedules: async () => (await import('./commands/schedules.ts')).schedules,
  'api-key': async () => (await import('./commands/server.ts')).apiKey,
  schema: async () => (await import('./commands/specs.ts')).schema,
  dev: async () => (await import('./commands/processes.ts')).dev,
  worker: async () => (await import('./commands/processes.ts')).worker,
  api: async () => (await import('./commands/processes.ts')).apiServer,
};

/** Other spellings that run a command (`pontoon help` knows commands by their own names only). */
const ALIASES: Record<string, string> = { schedule: 'schedules' };

/** The command of a name, or undefined (own names only: `toString` is no command). */
function commandOf(name: string): (() => Promise<Command>) | undefined {
  return Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
}

async function help(name: string, io: Io): Promise<number> {
  // Own names only: `pontoon help toString` found Object.prototype.toString and crashed.
  const load = commandOf(name);
  io.out(load ? (await load()).help : MAIN_HELP);
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
        return await help(rest[0] ?? 'main', io);
      case '-V':
      case '--version':
      case 'version':
        io.out(`pontoon ${packageVersion()}`);
        return Exit.ok;
    }
    const load = commandOf(Object.hasOwn(ALIASES, command) ? ALIASES[command]! : command);
    if (!load) {
      const { closestName } = await import('../util/suggest.ts');
      if (command.startsWith('-')) {
        // An option before any command: only --help and --version are.
        const near = closestName(command.replace(/^-+/, ''), ['help', 'version']);
        io.err(
          `error: unknown option ${command}${near ? `; did you mean --${near}?` : ''} (see pontoon --help)`,
        );
        return Exit.usage;
      }
      const near = closestName(command, [
        ...Object.keys(COMMANDS),
        ...Object.keys(ALIASES),
        'help',
        'version',
      ]);
      io.err(
        `error: unknown command "${command}"${near ? `; did you mean "${near}"?` : ''} (pontoon --help lists the commands)`,
      );
      return Exit.usage;
    }
    return await (await load()).run(rest, io);
  } catch (err) {
    if (err instanceof UnknownOptionError) {
      const { closestName } = await import('../util/suggest.ts');
      const near = closestName(err.option.replace(/^-+/, ''), err.declared);
      io.err(
        `error: ${err.message}${near ? `; did you mean --${near}?` : ''} (see pontoon ${command} --help)`,
      );
      return Exit.usage;
    }
    return failed(err, command, io);
  }
}

/**
 * What a command threw, printed for people, and its exit code: 2 usage errors and API refusals
 * (with the refused fields or input pointers), 3 the API unreachable, 2 a configuration error, 1
 * anything else.
 */
function failed(err: unknown, command: string | undefined, io: Io): number {
  if (err instanceof UsageError) {
    io.err(`error: ${err.message} (see pontoon ${command} --help)`);
    return Exit.usage;
  }
  if (err instanceof UnreachableError) {
    io.err(`error: ${err.message}\nIs Pontoon running? Start it with: npm start (or set PONTOON_API)`);
    return Exit.unreachable;
  }
  if (err instanceof ApiCallError && err.code === 'function_not_found') {
    io.err(functionNotFound(err));
    return Exit.usage;
  }
  if (err instanceof ApiCallError) {
    io.err(`error: ${err.message} (${err.code})`);
    if (err.code === 'spec_invalid' && Array.isArray(err.details)) {
      for (const d of err.details as { line: number; column: number; field: string; message: string }[]) {
        io.err(`  ${d.line}:${d.column} ${d.field}: ${d.message}`);
      }
    }
    // Typed input refused: one line per problem, with its JSON Pointer into --input (a lone
    // problem is in the message already).
    if (err.code === 'validation_failed' && Array.isArray(err.details)) {
      const inputs = (err.details as { field?: string; pointer?: string; message?: string }[]).filter(
        (d) => typeof d?.pointer === 'string',
      );
      if (inputs.length > 1)
        for (const d of inputs) io.err(`  input${d.pointer === '' ? '' : ` ${d.pointer}`}: ${d.message}`);
    }
    if (err.hint) io.err(`  ${err.hint}`);
    return Exit.usage;
  }
  if (['ConfigError', 'ApiConfigError', 'AuthConfigError'].includes((err as Error).name)) {
    io.err(`error: ${(err as Error).message}`);
    return Exit.usage;
  }
  io.err(`error: ${(err as Error).message}`);
  return Exit.failed;
}

/**
 * function_not_found for people: the API names its HTTP route; here the closest applied name and
 * the command that creates a function.
 */
function functionNotFound(err: ApiCallError): string {
  const d = (err.details ?? {}) as { function?: string; suggestion?: string };
  if (!d.function) return `error: ${err.message} (${err.code})`;
  return [
    `error: no function named "${d.function}"${d.suggestion ? `; did you mean "${d.suggestion}"?` : ''} (${err.code})`,
    `  to create it: pontoon apply -f <spec file>   (pontoon get functions lists the applied ones)`,
  ].join('\n');
}
