/** Exit codes and small output helpers shared by every command. */
export const Exit = {
  ok: 0,
  /** The execution ran and failed (or timed out). */
  failed: 1,
  /** Bad usage or an invalid spec. */
  usage: 2,
  /** Temporal (or later the API) cannot be reached. */
  unreachable: 3,
} as const;

export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * An option the command does not declare (`option` as typed, e.g. `--wiat`); `declared` are the
 * command's option names, from which cli/main.ts names the closest one.
 */
export class UnknownOptionError extends UsageError {
  override name = 'UnknownOptionError';
  constructor(
    readonly option: string,
    readonly declared: string[],
  ) {
    super(`unknown option ${option}`);
  }
}

export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** True when stderr is a terminal: progress lines redraw in place. */
  tty: boolean;
  /**
   * Asks a yes/no question; absent when no one can answer (stdin or stderr is not a terminal), so
   * a destructive command in a script must be confirmed by its flag (--yes) instead.
   */
  confirm?: (question: string) => Promise<boolean>;
}

export const processIo: Io = {
  out: (t) => process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
  err: (t) => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
  tty: Boolean(process.stderr.isTTY),
  ...(process.stdin.isTTY && process.stderr.isTTY
    ? {
        async confirm(question: string): Promise<boolean> {
          const { createInterface } = await import('node:readline/promises');
          const rl = createInterface({ input: process.stdin, output: process.stderr });
          try {
            return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
          } finally {
            rl.close();
          }
        },
      }
    : {}),
};

/** Under a listing's table: how to ask for the next page, when there is one (stderr, so pipes get rows only). */
export function morePages(nextPageToken: string | null, io: Io): void {
  if (nextPageToken) io.err(`next page: repeat the command with --page-token ${nextPageToken}`);
}
