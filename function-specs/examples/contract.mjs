// Helpers for the example functions: read the Pontoon function contract, write the result.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const dir = process.env.PONTOON_DIR ?? '/pontoon';

/** The whole request: {function, executionId, attempt, scheduledTime, trigger, parameters, input}. */
export function readRequest() {
  return JSON.parse(readFileSync(path.join(dir, 'input.json'), 'utf8'));
}

/** Writes the function's result; Pontoon returns it as the execution's output. */
export function writeOutput(result) {
  writeFileSync(path.join(dir, 'output.json'), JSON.stringify(result));
}
