/**
 * The observer's report: what the observer writes to its termination message (Kubernetes keeps at
 * most 4096 bytes of it) and how the worker reads it back. Pure module, shared by observer/main.ts
 * and the kubernetes runtime.
 *
 * - Output that fits travels inline: `{"v":1,"output":<json>}`.
 * - Larger output (up to LIMITS.outputBytes) is printed by the observer on its stdout between two
 *   marker lines, and the report carries only its size and sha256: `{"v":1,"outputRef":{...}}`. The
 *   worker reads the observer container's log through pods/log and accepts the output only if the
 *   digest matches (so a truncated or interleaved log is never taken for a result).
 * - A failure the observer detected (OutputTooLarge, OutputInvalid) is `{"v":1,"failure":{...}}`.
 */
import { createHash } from 'node:crypto';
import { type AttemptFailure, FAILURE_TYPES, type FailureTypeName } from '../core/execution.ts';

/** Kubernetes truncates a termination message to 4096 bytes. */
export const TERMINATION_MESSAGE_BYTES = 4096;
/** Inline output must leave room for the report's envelope. */
const INLINE_BUDGET = TERMINATION_MESSAGE_BYTES - 64;

export const OUTPUT_BEGIN = '----- pontoon output begin -----';
export const OUTPUT_END = '----- pontoon output end -----';

export type ObserverReport =
  | { v: 1; output: unknown }
  | { v: 1; outputRef: { bytes: number; sha256: string } }
  | { v: 1; failure: { type: FailureTypeName; message: string } };

export function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * The report for an observed result, and the text to print on stdout when the output does not fit
 * in the termination message (undefined when it does).
 */
export function reportFor(observed: { output?: unknown; failure?: AttemptFailure }): {
  report: string;
  stdout?: string;
} {
  if (observed.failure) {
    const message = observed.failure.message.slice(0, 3000);
    return { report: JSON.stringify({ v: 1, failure: { type: observed.failure.type, message } }) };
  }
  const json = JSON.stringify(observed.output ?? null);
  const inline = JSON.stringify({ v: 1, output: observed.output ?? null });
  if (Buffer.byteLength(inline, 'utf8') <= INLINE_BUDGET) return { report: inline };
  const ref = { bytes: Buffer.byteLength(json, 'utf8'), sha256: sha256(json) };
  return {
    report: JSON.stringify({ v: 1, outputRef: ref }),
    stdout: `${OUTPUT_BEGIN}\n${json}\n${OUTPUT_END}\n`,
  };
}

/** Parses a termination message; undefined when it is missing or not a report. */
export function parseReport(message: string | undefined): ObserverReport | undefined {
  if (!message?.trim()) return undefined;
  let data: unknown;
  try {
    data = JSON.parse(message);
  } catch {
    return undefined;
  }
  if (typeof data !== 'object' || data === null || (data as { v?: unknown }).v !== 1) return undefined;
  const r = data as Record<string, unknown>;
  if ('output' in r) return { v: 1, output: r.output };
  const ref = r.outputRef as { bytes?: unknown; sha256?: unknown } | undefined;
  if (ref && typeof ref.bytes === 'number' && typeof ref.sha256 === 'string') {
    return { v: 1, outputRef: { bytes: ref.bytes, sha256: ref.sha256 } };
  }
  const f = r.failure as { type?: unknown; message?: unknown } | undefined;
  if (f && typeof f.type === 'string' && f.type in FAILURE_TYPES && typeof f.message === 'string') {
    return { v: 1, failure: { type: f.type as FailureTypeName, message: f.message } };
  }
  return undefined;
}

/**
 * Finds the output the observer printed in its log and checks it against the report's digest.
 * Takes the last complete block (a restarted observer may have printed more than one).
 */
export function extractOutput(
  log: string,
  ref: { bytes: number; sha256: string },
): { output: unknown } | { error: string } {
  const end = log.lastIndexOf(`\n${OUTPUT_END}`);
  const begin = end >= 0 ? log.lastIndexOf(`${OUTPUT_BEGIN}\n`, end) : -1;
  if (begin < 0 || end < 0) return { error: 'the output block is not in the observer log' };
  const json = log.slice(begin + OUTPUT_BEGIN.length + 1, end);
  if (Buffer.byteLength(json, 'utf8') !== ref.bytes || sha256(json) !== ref.sha256) {
    return { error: `the output in the observer log does not match its digest (${ref.bytes} bytes)` };
  }
  try {
    return { output: JSON.parse(json) };
  } catch (err) {
    return { error: `the output in the observer log is not JSON: ${(err as Error).message}` };
  }
}

/**
 * input.json reaches a pod whose request is too large for an annotation (activities/kubernetes/pod.ts)
 * in environment variables of the observer sidecar, which writes it before the function starts:
 * one variable is capped by Linux at 128 KiB (MAX_ARG_STRLEN), and an input may be 256 KiB, so the
 * JSON is split into chunks of at most 32 Ki UTF-16 units (≤ 96 KiB of UTF-8 each), never inside a
 * surrogate pair. `PONTOON_INPUT_CHUNKS` says how many `PONTOON_INPUT_<i>` there are.
 */
export const INPUT_CHUNK_UNITS = 32 * 1024;

export function splitInput(json: string, units = INPUT_CHUNK_UNITS): string[] {
  const chunks: string[] = [];
  let i = 0;
  while (i < json.length) {
    let end = Math.min(json.length, i + units);
    const last = json.charCodeAt(end - 1);
    if (end < json.length && last >= 0xd800 && last <= 0xdbff) end--;
    chunks.push(json.slice(i, end));
    i = end;
  }
  return chunks.length ? chunks : [''];
}

export function joinInput(env: NodeJS.ProcessEnv): string {
  const n = Number(env.PONTOON_INPUT_CHUNKS ?? '0');
  if (!Number.isInteger(n) || n < 1) throw new Error('PONTOON_INPUT_CHUNKS is missing or not a count');
  let json = '';
  for (let i = 0; i < n; i++) {
    const part = env[`PONTOON_INPUT_${i}`];
    if (part === undefined) throw new Error(`PONTOON_INPUT_${i} is missing (${n} chunks announced)`);
    json += part;
  }
  return json;
}
