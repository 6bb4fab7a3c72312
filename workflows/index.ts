/** Entry point of the workflow bundle: every workflow type the Pontoon worker registers. */
export { executeFunction } from './execute-function.ts';
export { functionController } from './function-controller.ts';
