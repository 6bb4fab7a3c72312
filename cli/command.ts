/**
 * What every command shares: its shape (the help text declared beside the code that runs it), the
 * --help and --output options, parseArgs errors as usage errors, the API client and the spec loader
 * (imported when a command reads spec files).
 */
import { parseArgs as nodeParseArgs } from 'node:util';
import { ApiClient, apiFromEnv } from './api-client.ts';
import type { OutputFormat } from './format.ts';
import { Exit, type Io, UnknownOptionError, UsageError } from './output.ts';

/**
 * One `pontoon <command>`. cli/main.ts loads its module when it is run or its help is asked for, so
 * a command's imports cost nothing to the others.
 */
export interface Command {
  /** What `pontoon <command> --help` and `pontoon help <command>` print. */
  readonly help: string;
  /** Runs the command on the arguments after its name; resolves to the exit code (output.ts Exit). */
  run(args: string[], io: Io): Promise<number>;
}

export const helpOption = { help: { type: 'boolean', short: 'h' } } as const;
export const outputOption = { output: { type: 'string', short: 'o' } } as const;

/**
 * node:util's parseArgs, but an option the command does not declare throws UnknownOptionError
 * (cli/main.ts names the closest declared one: "unknown option --wiat; did you mean --wait?");
 * Node's own message ends in a quote it never closes (`… as in '-- "--wiat"`). Other errors pass
 * unchanged. Same signature and types.
 */
export const parseArgs = ((config?: Parameters<typeof nodeParseArgs>[0]) => {
  try {
    return nodeParseArgs(config);
  } catch (err) {
    const e = err as Error & { code?: string };
    const unknown =
      e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION'
        ? /^Unknown option '(.+?)'(?:\. |$)/.exec(e.message)?.[1]
        : undefined;
    if (!unknown) throw err;
    throw new UnknownOptionError(unknown, Object.keys(config?.options ?? {}));
  }
}) as typeof nodeParseArgs;

/** parseArgs with its errors turned into usage errors (exit 2); usage errors pass as they are. */
export function guard<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError((err as Error).message);
  }
}

/** The value of -o/--output (default text); anything else is a usage error. */
export function outputFormat(value: string | undefined): OutputFormat {
  const f = value ?? 'text';
  if (f !== 'text' && f !== 'json' && f !== 'yaml')
    throw new UsageError('--output must be text, json or yaml');
  return f;
}

/** Prints a command's help; exit 0. */
export function showHelp(text: string, io: Io): number {
  io.out(text);
  return Exit.ok;
}

/** The API client of PONTOON_API and PONTOON_TOKEN. */
export const api = () => new ApiClient(apiFromEnv());

/**
 * The spec loader (yaml, zod and the function schema: ~0.2 s of module loading), imported by the
 * commands that read spec files only, so `--help` and the commands that only call the API start
 * without it (bench/cli-startup.ts measures both).
 */
export async function specTools() {
  const [{ loadSpecs }, { formatProblem, problemCount }] = await Promise.all([
    import('../core/load.ts'),
    import('../core/parse.ts'),
  ]);
  return { loadSpecs, formatProblem, problemCount };
}
