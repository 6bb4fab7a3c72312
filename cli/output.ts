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

export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** True when stderr is a terminal: progress lines redraw in place. */
  tty: boolean;
}

export const processIo: Io = {
  out: (t) => process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
  err: (t) => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
  tty: Boolean(process.stderr.isTTY),
};
