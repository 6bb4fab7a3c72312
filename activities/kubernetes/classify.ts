/**
 * How an attempt pod ended, read from its status alone (pure; unit-tested). The runtime adds what
 * the status cannot say: timeouts, deletion from outside, and for how long a Pending problem lasted.
 */
import type { V1ContainerStatus, V1Pod } from '@kubernetes/client-node';
import { exitFailure } from '../../contract/exit.ts';
import { type AttemptFailure, failure } from '../../core/execution.ts';
import { FUNCTION_CONTAINER, OBSERVER_CONTAINER } from '../../kube/names.ts';

export type PodState =
  | { state: 'pending'; problem?: PendingProblem }
  | { state: 'running' }
  | {
      state: 'finished';
      exitCode: number | null;
      /** Absent on success: the observer's report decides then. */
      failure?: AttemptFailure;
      /** The observer's termination message (its report). */
      report?: string;
      /** The function container's termination message (the kubelet's log tail on a non-zero exit). */
      functionMessage?: string;
    };

/** Something keeping a pod Pending that may never resolve by itself. */
export interface PendingProblem {
  kind: 'image' | 'config' | 'unschedulable';
  reason: string;
  message: string;
  /** Fail at once (no point waiting for a retry of the pull). */
  immediate: boolean;
}

const IMAGE_REASONS = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull']);
const IMAGE_FATAL = new Set(['InvalidImageName', 'ErrImageNeverPull']);
const CONFIG_REASONS = new Set(['CreateContainerConfigError', 'CreateContainerError']);

function statuses(pod: V1Pod): V1ContainerStatus[] {
  return [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
}

export function pendingProblem(pod: V1Pod): PendingProblem | undefined {
  for (const cs of statuses(pod)) {
    const w = cs.state?.waiting;
    if (!w?.reason) continue;
    const message = `container ${cs.name} (${cs.image}): ${w.reason}${w.message ? `: ${w.message}` : ''}`;
    if (IMAGE_REASONS.has(w.reason))
      return { kind: 'image', reason: w.reason, message, immediate: IMAGE_FATAL.has(w.reason) };
    if (CONFIG_REASONS.has(w.reason)) return { kind: 'config', reason: w.reason, message, immediate: false };
    if (w.reason === 'CrashLoopBackOff' && cs.name === OBSERVER_CONTAINER) {
      // The sidecar exits before the function starts only when it cannot hand over the request
      // (observer/main.ts writes why to its termination message); the kubelet would restart it forever.
      const last = cs.lastState?.terminated;
      const why = last
        ? `exited with code ${last.exitCode}${last.message ? `: ${last.message}` : ''}`
        : w.reason;
      return {
        kind: 'config',
        reason: w.reason,
        message: `the observer sidecar (${cs.image}) ${why}`,
        immediate: true,
      };
    }
  }
  const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
  if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') {
    return {
      kind: 'unschedulable',
      reason: 'Unschedulable',
      message: scheduled.message ?? 'no node fits the pod',
      immediate: false,
    };
  }
  return undefined;
}

/** Pod-level reasons meaning the pod was taken away, not that the function failed. */
const DISRUPTED = new Set([
  'Evicted',
  'NodeLost',
  'Terminated',
  'Shutdown',
  'NodeShutdown',
  'UnexpectedAdmissionError',
  'Preempting',
  'OutOfcpu',
  'OutOfmemory',
  'OutOfpods',
  'NodeAffinity',
]);

export function classifyPod(pod: V1Pod, nonRetryableExitCodes: readonly number[]): PodState {
  const phase = pod.status?.phase;
  const fnStatus = pod.status?.containerStatuses?.find((c) => c.name === FUNCTION_CONTAINER);
  const obsStatus = statuses(pod).find((c) => c.name === OBSERVER_CONTAINER);
  const report = obsStatus?.state?.terminated?.message ?? obsStatus?.lastState?.terminated?.message;
  const term = fnStatus?.state?.terminated;
  const functionMessage = term?.message;
  const extra = { ...(report ? { report } : {}), ...(functionMessage ? { functionMessage } : {}) };

  if (phase === 'Succeeded') {
    // An observer beside the function that ended before the function started reported nothing of
    // it: the function container was set up (its input.json mount target made), failed, and was
    // created again by the kubelet later (a runtime whose failed create is retried, e.g. CRI-O; with
    // containerd a failed start is a StartError, never retried under restartPolicy Never).
    const reportedAt = obsStatus?.state?.terminated?.finishedAt;
    const startedAt = term?.startedAt;
    if (reportedAt && startedAt && new Date(reportedAt).getTime() < new Date(startedAt).getTime()) {
      return {
        state: 'finished',
        exitCode: term?.exitCode ?? 0,
        failure: failure(
          'KubernetesTransient',
          `the observer reported at ${new Date(reportedAt).toISOString()}, before the function started (${new Date(startedAt).toISOString()}): its report cannot hold the function's output`,
        ),
        ...extra,
      };
    }
    return { state: 'finished', exitCode: term?.exitCode ?? 0, ...extra };
  }
  if (phase === 'Unknown') {
    return {
      state: 'finished',
      exitCode: null,
      failure: failure(
        'KubernetesTransient',
        `node lost: the pod's state is Unknown (node ${pod.spec?.nodeName ?? '?'} stopped reporting)`,
      ),
    };
  }
  if (phase === 'Failed') {
    const reason = pod.status?.reason;
    const podMessage = pod.status?.message ? `: ${pod.status.message}` : '';
    if (reason === 'DeadlineExceeded') {
      return {
        state: 'finished',
        exitCode: term?.exitCode ?? null,
        failure: failure(
          'AttemptTimedOut',
          `the pod ran past activeDeadlineSeconds and was stopped${podMessage}`,
        ),
        ...extra,
      };
    }
    if (reason && DISRUPTED.has(reason)) {
      return {
        state: 'finished',
        exitCode: term?.exitCode ?? null,
        failure: failure(
          'KubernetesTransient',
          `the pod was ${reason === 'Evicted' ? 'evicted' : `stopped (${reason})`}${podMessage}`,
        ),
        ...extra,
      };
    }
    if (term) {
      const code = term.exitCode;
      if (term.reason === 'OOMKilled') {
        const limit = pod.spec?.containers.find((c) => c.name === FUNCTION_CONTAINER)?.resources?.limits
          ?.memory;
        return {
          state: 'finished',
          exitCode: code,
          failure: failure(
            'FunctionExit',
            `killed for running out of memory (OOMKilled${limit ? `, memory limit ${limit}` : ''}); raise spec.resources.limits.memory`,
          ),
          ...extra,
        };
      }
      if (term.reason === 'ContainerCannotRun' || term.reason === 'StartError') {
        return {
          state: 'finished',
          exitCode: code,
          failure: failure(
            'LaunchFailed',
            `the function container could not start (${term.reason})${term.message ? `: ${term.message}` : ''}`,
          ),
          ...extra,
        };
      }
      if (code !== 0) {
        return {
          state: 'finished',
          exitCode: code,
          failure: exitFailure(code, nonRetryableExitCodes),
          ...extra,
        };
      }
    }
    // An init container failed, or the observer beside the function (whose report is then missing),
    // or the pod failed before the function ran.
    const init = pod.status?.initContainerStatuses?.find(
      (c) => c.state?.terminated && c.state.terminated.exitCode !== 0,
    );
    const other =
      init ??
      pod.status?.containerStatuses?.find(
        (c) => c.name !== FUNCTION_CONTAINER && c.state?.terminated && c.state.terminated.exitCode !== 0,
      );
    if (other?.state?.terminated) {
      const t = other.state.terminated;
      const why = `exited with code ${t.exitCode}${t.message ? `: ${t.message}` : ''}`;
      return {
        state: 'finished',
        exitCode: term?.exitCode ?? null,
        // The observer failing (out of memory, an image of another version) is not the function's
        // fault: retried, as a missing report is (collect.ts).
        failure:
          other.name === OBSERVER_CONTAINER
            ? failure(
                'KubernetesTransient',
                `the observer (${other.image}) ${why}; its report of the function's output is missing`,
              )
            : failure('LaunchFailed', `${init ? 'init container' : 'container'} ${other.name} ${why}`),
        ...extra,
      };
    }
    return {
      state: 'finished',
      exitCode: term?.exitCode ?? null,
      failure: failure('KubernetesTransient', `the pod failed${reason ? ` (${reason})` : ''}${podMessage}`),
      ...extra,
    };
  }
  if (phase === 'Running' && (term?.reason === 'ContainerCannotRun' || term?.reason === 'StartError')) {
    // The function could not start, and the observer beside it, never told of it, still runs: the
    // attempt is over (finishing it deletes the pod).
    return {
      state: 'finished',
      exitCode: term.exitCode,
      failure: failure(
        'LaunchFailed',
        `the function container could not start (${term.reason})${term.message ? `: ${term.message}` : ''}`,
      ),
      ...extra,
    };
  }
  if (phase === 'Running') return { state: 'running' };
  const problem = pendingProblem(pod);
  return problem ? { state: 'pending', problem } : { state: 'pending' };
}
