/**
 * Collect: a finished pod's state (classify.ts) and the observer's report (contract/termination.ts)
 * turned into the attempt's outcome, and the log kept when the function's own cannot be read. Reads
 * the observer's log only for an output too large for its report; deletes nothing.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { extractOutput, parseReport } from '../../contract/termination.ts';
import { type AttemptOutcome, failure, LIMITS } from '../../core/execution.ts';
import { FUNCTION_CONTAINER, OBSERVER_CONTAINER } from '../../kube/names.ts';
import { apiError } from '../../kube/requests.ts';
import type { PodState } from './classify.ts';
import type { FunctionLog, PodCalls } from './pods.ts';

/** A finished pod's classified state. */
export type FinishedPod = Extract<PodState, { state: 'finished' }>;

/** Milliseconds of a Kubernetes timestamp (undefined when absent or not a date). */
export function toMs(v: Date | string | undefined | null): number | undefined {
  if (!v) return undefined;
  const n = v instanceof Date ? v.getTime() : Date.parse(v);
  return Number.isNaN(n) ? undefined : n;
}

/** ISO 8601 of epoch milliseconds. */
export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** The last `maxBytes` of a text, starting at a line boundary when one is near. */
export function tail(text: string, maxBytes: number = LIMITS.logTailBytes): string {
  const buf = Buffer.from(text, 'utf8');
  if (buf.length <= maxBytes) return text;
  let out = buf.subarray(buf.length - maxBytes).toString('utf8');
  const nl = out.indexOf('\n');
  out = nl >= 0 && nl < 200 ? out.slice(nl + 1) : out.replace(/^\uFFFD+/, '');
  return out;
}

/** What is stored when the function's own log cannot be: why, and the kubelet's tail if it left one. */
export function missingLog(why: string, functionMessage?: string): { text: string; partial: boolean } {
  const kubelet = functionMessage
    ? `[pontoon] the function container's termination message (the kubelet's copy of the end of its log):\n${functionMessage}`
    : '';
  return { text: `[pontoon] ${why}\n${kubelet}`, partial: false };
}

/** The log to store: the function's as read, else why it could not be read (missingLog). */
export function logOf(read: FunctionLog, functionMessage?: string): { text: string; partial: boolean } {
  return 'text' in read
    ? read
    : missingLog(`the function container's log could not be read (pods/log: ${read.error})`, functionMessage);
}

/**
 * The outcome of a pod that finished and was then deleted before we read it (by a person or a
 * sweeper): only its last watched status is left, so no log tail.
 */
export function collectGone(name: string, st: FinishedPod, launchedAt: number): AttemptOutcome {
  const report = parseReport(st.report);
  const base = {
    exitCode: st.exitCode,
    startedAt: iso(launchedAt),
    endedAt: iso(Date.now()),
    logTail: '',
  };
  if (st.failure) return { ...base, failure: st.failure };
  if (report && 'output' in report) return { ...base, output: report.output };
  if (report && 'failure' in report)
    return { ...base, failure: failure(report.failure.type, report.failure.message) };
  return {
    ...base,
    failure: failure('KubernetesTransient', `pod ${name} was deleted before its output was collected`),
  };
}

/**
 * Turns a finished pod's state and its function log into the attempt's outcome (not deleting yet).
 * `observerImage` is named in the failure when the observer left no report.
 */
export async function collect(
  calls: Pick<PodCalls, 'readLogText'>,
  observerImage: string,
  name: string,
  pod: V1Pod,
  st: FinishedPod,
  launchedAt: number,
  log: FunctionLog,
): Promise<AttemptOutcome> {
  const fn = pod.status?.containerStatuses?.find((c) => c.name === FUNCTION_CONTAINER);
  const startedAt =
    toMs(fn?.state?.terminated?.startedAt) ??
    toMs(pod.status?.startTime) ??
    toMs(pod.metadata?.creationTimestamp) ??
    launchedAt;
  const endedAt = toMs(fn?.state?.terminated?.finishedAt) ?? Date.now();
  const logTail =
    'text' in log ? tail(log.text) : st.failure && st.functionMessage ? tail(st.functionMessage) : '';
  const base = { exitCode: st.exitCode, startedAt: iso(startedAt), endedAt: iso(endedAt), logTail };
  if (st.failure) return { ...base, failure: st.failure };
  const report = parseReport(st.report);
  if (!report) {
    return {
      ...base,
      failure: failure(
        'KubernetesTransient',
        `the observer left no report in its termination message (pod ${name}); is PONTOON_OBSERVER_IMAGE (${observerImage}) right?`,
      ),
    };
  }
  if ('failure' in report) return { ...base, failure: failure(report.failure.type, report.failure.message) };
  if ('output' in report) return { ...base, output: report.output };
  try {
    const observerLog = await calls.readLogText(name, OBSERVER_CONTAINER, {
      limitBytes: LIMITS.outputBytes * 2 + 64 * 1024,
    });
    const got = extractOutput(observerLog, report.outputRef);
    if ('output' in got) return { ...base, output: got.output };
    return {
      ...base,
      failure: failure('KubernetesTransient', `cannot collect the output of pod ${name}: ${got.error}`),
    };
  } catch (err) {
    return {
      ...base,
      failure: failure(
        'KubernetesTransient',
        `cannot read the output of pod ${name} (${report.outputRef.bytes} bytes) from the observer's log: ${apiError(err).message}`,
      ),
    };
  }
}
