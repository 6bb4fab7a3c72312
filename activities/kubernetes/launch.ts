/**
 * Launch: the attempt's pod created, or an existing one of this attempt adopted (the deterministic
 * pod name is the idempotency key: AlreadyExists → adopt). Refuses, without a request, a spec with
 * no image or asking for more than functions may use here (core/function-access.ts), ensures the
 * spec's egress NetworkPolicy first, and waits out a pod of this name that is being deleted or was
 * left by an earlier run of the execution.
 */
import type { CoreV1Api, V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { imageNotBuiltMessage } from '../../core/build.ts';
import {
  type AttemptFailure,
  type AttemptOutcome,
  type AttemptRequest,
  failure,
} from '../../core/execution.ts';
import {
  accessProblemsText,
  type FunctionAccess,
  functionAccessProblems,
} from '../../core/function-access.ts';
import { egressRules } from '../../core/network.ts';
import { EXECUTION_ID_ANNOTATION, RUN_ID_ANNOTATION } from '../../kube/names.ts';
import { apiError, isTransient, type RequestCounter } from '../../kube/requests.ts';
import type { EgressPolicies } from './network.ts';
import { buildAttemptPod, type PodPlacement } from './pod.ts';
import type { PodWatcher } from './pod-watcher.ts';
import type { PodCalls } from './pods.ts';

/** Whether a pod names a run of its execution other than `runId` (unknown on either side: no). */
export function ofAnotherRun(pod: V1Pod, runId: string | undefined): boolean {
  const podRunId = pod.metadata?.annotations?.[RUN_ID_ANNOTATION];
  return Boolean(podRunId && runId && podRunId !== runId);
}

/** What a launch found before any create: the attempt's record, or a live pod to adopt. */
export type Recorded = { outcome: AttemptOutcome } | { pod: V1Pod } | undefined;

export type LaunchResult =
  | { name: string; created: boolean; pod: V1Pod }
  | { failure: AttemptFailure }
  | { recorded: AttemptOutcome };

/**
 * Creates the attempt's pod or adopts it. `recorded` (a retried activity): asked before every
 * create; a live pod of the attempt it finds is adopted without a create (a predecessor still
 * alive could store its record and delete the pod between that read and a create), and a pod
 * found gone or going is never created again when its attempt left a record.
 */
export type LaunchAttemptPod = (
  req: AttemptRequest,
  signal?: AbortSignal,
  recorded?: () => Promise<Recorded>,
  runId?: string,
) => Promise<LaunchResult>;

export function createLauncher(o: {
  core: CoreV1Api;
  namespace: string;
  observerImage: string;
  placement: PodPlacement | undefined;
  killGraceMs: number;
  access: FunctionAccess;
  egress: EgressPolicies;
  requests: RequestCounter;
  logger: Logger;
  calls: Pick<PodCalls, 'retrying' | 'getPod' | 'deletePod'>;
  watcher: () => PodWatcher;
  /** Resolves once no pod of this name is left (or after timeoutMs: false). */
  waitGone: (name: string, timeoutMs: number, signal?: AbortSignal) => Promise<boolean>;
  /** Counted here: pods created, and pods found existing and adopted. */
  launches: { created: number; adopted: number };
}): LaunchAttemptPod {
  const { core, namespace, access, egress, requests, logger, calls, launches } = o;

  return async function launchAttemptPod(req, signal, recorded, runId) {
    // Not retryable: another attempt would find the same spec.
    if (!req.spec.spec.image) return { failure: failure('ImageUnavailable', imageNotBuiltMessage(req.spec)) };
    // What the spec may use here (the API refused it at apply; a spec that reached Temporal another
    // way, or an allowlist narrowed since, stops here). Not retryable: the same spec would ask again.
    const refused = functionAccessProblems(req.spec, access);
    if (refused.length) {
      return {
        failure: failure(
          'LaunchFailed',
          `the spec asks for what functions may not use in namespace ${namespace}: ${accessProblemsText(refused)}`,
        ),
      };
    }
    let egressHash: string | undefined;
    const { rules } = egressRules(req.spec.spec.network, access.egressAllow);
    if (rules.length) {
      try {
        egressHash = await calls.retrying(
          'create the egress NetworkPolicy',
          () => egress.ensure(rules),
          signal,
        );
      } catch (err) {
        if (isTransient(err)) throw err;
        return {
          failure: failure(
            'LaunchFailed',
            `could not create the NetworkPolicy of the function's egress: ${apiError(err).message}`,
          ),
        };
      }
    }
    const body = buildAttemptPod(req.spec, req, {
      namespace,
      observerImage: o.observerImage,
      killGraceSeconds: o.killGraceMs / 1000,
      ...(o.placement ? { placement: o.placement } : {}),
      ...(egressHash ? { egress: egressHash } : {}),
      ...(runId ? { runId } : {}),
    });
    const name = body.metadata!.name!;
    for (;;) {
      const found = await recorded?.();
      if (found && 'outcome' in found) return { recorded: found.outcome };
      if (found) {
        launches.adopted++;
        return { name, created: false, pod: found.pod };
      }
      try {
        const pod = await calls.retrying(
          `create pod ${name}`,
          () => {
            requests.count('create');
            return core.createNamespacedPod({ namespace, body });
          },
          signal,
        );
        launches.created++;
        return { name, created: true, pod };
      } catch (err) {
        const e = apiError(err);
        if (e.code === 409 && e.reason === 'AlreadyExists') {
          const existing = o.watcher().get(name) ?? (await calls.getPod(name));
          if (!existing) continue; // deleted in between: create it again
          if (existing.metadata?.annotations?.[EXECUTION_ID_ANNOTATION] !== req.executionId) {
            return {
              failure: failure(
                'LaunchFailed',
                `pod ${name} exists but belongs to execution ${existing.metadata?.annotations?.[EXECUTION_ID_ANNOTATION] ?? '(unknown)'}`,
              ),
            };
          }
          if (ofAnotherRun(existing, runId)) {
            // Left by an earlier run of this execution id (only one run is open at a time, so that
            // one has closed): never this attempt's. Deleted, then this attempt's pod is created.
            logger.warn(
              { pod: name, runId, podRunId: existing.metadata?.annotations?.[RUN_ID_ANNOTATION] },
              'deleting a pod left by an earlier run of this execution',
            );
            await calls.deletePod(name, existing.metadata?.uid, undefined, logger);
          }
          if (existing.metadata?.deletionTimestamp || ofAnotherRun(existing, runId)) {
            // A pod of this attempt being deleted (e.g. swept): wait until it is gone, then launch anew.
            await o.waitGone(name, 30_000, signal);
            if (signal?.aborted) throw err;
            continue;
          }
          launches.adopted++;
          return { name, created: false, pod: existing };
        }
        if (e.code === 422 || (e.code === 403 && /PodSecurity|violates/i.test(e.message))) {
          return { failure: failure('LaunchFailed', `the apiserver refused pod ${name}: ${e.message}`) };
        }
        throw err;
      }
    }
  };
}
