/** Entry point of the workflow bundle: every workflow type the Pontoon worker registers. */
import type { FunctionControllerArgs } from './function-controller.ts';

export { executeFunction } from './execute-function.ts';

/**
 * functionController, loaded on first call. Every workflow run evaluates the bundle's modules in
 * its own module cache; importing the controller here statically made every execution evaluate the
 * controller's graph too (zod and the spec schema among it), which executions never use. Executions
 * are the many: this keeps their runs to the modules they need. The import is part of the bundle
 * (eager mode), resolves within the first activation, before the run's first message is handled.
 */
export async function functionController(args: FunctionControllerArgs): Promise<void> {
  const controller = await import(/* webpackMode: "eager" */ './function-controller.ts');
  return controller.functionController(args);
}
