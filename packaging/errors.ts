/**
 * A packaging problem tied to a spec field: the CLI prints it as `file:line:column field: message`
 * (the same shape as validation problems) and exits 2; nothing is applied.
 */
export class PackagingError extends Error {
  override name = 'PackagingError';
  /**
   * @param field spec field path the problem belongs to, e.g. ['spec', 'build', 'context']
   * @param message what is wrong and what would fix it (a path in the context is part of it)
   */
  constructor(
    readonly field: (string | number)[],
    message: string,
  ) {
    super(message);
  }
}
