/**
 * The contract's environment: the PONTOON_* variables every function gets from Pontoon, whatever
 * runs it (the README's "function contract"). One builder for both runtimes: the kubernetes pod
 * (activities/kubernetes/pod.ts, warm.ts) lists them as container env after the spec's own env; the
 * local runtime (activities/local/launch.ts, replica.ts) sets them last over the function's
 * environment. Either way the contract's names win over the spec's.
 */
import type { AttemptRequest } from '../core/execution.ts';
import { parameterEnvName } from '../core/parameters.ts';

/** The whole request as JSON, in PONTOON_DIR: written before the function starts. */
export const INPUT_FILE = 'input.json';

/** The function's result as JSON, in PONTOON_DIR: read after it exited 0 (output.ts). */
export const OUTPUT_FILE = 'output.json';

/** PONTOON_DIR inside a pod: the emptyDir the function and the observer share. */
export const POD_DIR = '/pontoon';

/** PONTOON_PORT of a warm replica's function server inside its pod (the observer calls it on localhost). */
export const WARM_PORT = 8080;

/** One contract variable (the shape of a Kubernetes EnvVar with a value). */
export interface ContractVar {
  name: string;
  value: string;
}

/**
 * The variables of one on-demand attempt, in order: PONTOON_EXECUTION_ID, PONTOON_FUNCTION,
 * PONTOON_ATTEMPT, PONTOON_SCHEDULED_TIME, PONTOON_TRIGGER, PONTOON_DIR (`dir`: where input.json is
 * and output.json goes), then one PONTOON_PARAM_<NAME> per parameter.
 */
export function attemptContractEnv(req: AttemptRequest, dir: string): ContractVar[] {
  return [
    { name: 'PONTOON_EXECUTION_ID', value: req.executionId },
    { name: 'PONTOON_FUNCTION', value: req.function },
    { name: 'PONTOON_ATTEMPT', value: String(req.attempt) },
    { name: 'PONTOON_SCHEDULED_TIME', value: req.scheduledTime },
    { name: 'PONTOON_TRIGGER', value: req.trigger },
    { name: 'PONTOON_DIR', value: dir },
    ...Object.entries(req.parameters).map(([k, v]) => ({ name: parameterEnvName(k), value: String(v) })),
  ];
}

/**
 * The variables of a warm replica's function server: PONTOON_FUNCTION, PONTOON_PORT (where it
 * serves `POST /invoke` and `GET /healthz`), and PONTOON_DIR when the runtime gives it a folder (the
 * local runtime does; a Kubernetes replica has none).
 */
export function warmContractEnv(fn: string, port: number, dir?: string): ContractVar[] {
  return [
    { name: 'PONTOON_FUNCTION', value: fn },
    { name: 'PONTOON_PORT', value: String(port) },
    ...(dir !== undefined ? [{ name: 'PONTOON_DIR', value: dir }] : []),
  ];
}
