/**
 * The kubernetes runtime on the real apiserver + kwok (dev/cluster) and the real Temporal dev
 * server, with a real worker: results from the observer's termination message, exit codes,
 * retries with a new pod per attempt, launch idempotency, a retried activity adopting its lost
 * predecessor's record (also beside a predecessor still alive), cancellation, deletion from outside,
 * image pull errors, OOM, timeouts, and Pod Security "restricted" admission.
 */
import { WorkflowFailedError } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAttemptPod } from '../activities/kubernetes/pod.ts';
import { createKubernetesRuntime } from '../activities/kubernetes/runtime.ts';
import type { AttemptRequest, ExecutionResult } from '../core/execution.ts';
import { Label } from '../core/names.ts';
import type { FunctionSpec } from '../core/schema.ts';
import { attemptPodName, RUN_ID_ANNOTATION } from '../kube/names.ts';
import { createSecretLogStore } from '../logs/secret.ts';
import { createLogger } from '../platform/logger.ts';
import { executionOpen } from '../worker/worker.ts';
import { apply, uniqueName, waitFor } from './helpers.ts';
import {
  coreApi,
  createNamespace,
  failureOf,
  type KubeWorker,
  kubeConfig,
  kubeSpec,
  podsOf,
  recordPods,
  simReport,
  startKubeWorker,
  TEST_OBSERVER_IMAGE,
} from './kube-helpers.ts';

let ns: Awaited<ReturnType<typeof createNamespace>>;
let w: KubeWorker;

beforeAll(async () => {
  ns = await createNamespace('pontoon-rt');
  w = await startKubeWorker(ns.name);
});
afterAll(async () => {
  await w?.stop();
  await ns?.remove();
});

async function run(spec: ReturnType<typeof kubeSpec>, id = `k8s-${spec.metadata.name}`) {
  await apply(w.client, spec, w.config.taskQueue);
  return w.client.workflow.start('executeFunction', {
    taskQueue: w.config.taskQueue,
    workflowId: id,
    args: [{ function: spec.metadata.name, input: { hello: 'world' } }],
  });
}

/** Attempt 1 of `executionId` for `spec`, as the runAttempt activity passes it (no parameters or input). */
function attemptRequest(executionId: string, spec: FunctionSpec): AttemptRequest {
  return {
    executionId,
    function: spec.metadata.name,
    attempt: 1,
    spec,
    parameters: {},
    input: null,
    scheduledTime: new Date().toISOString(),
    trigger: 'sdk',
    timeoutMs: 60_000,
  };
}

async function noPodsLeft(fn: string) {
  await waitFor(
    `no pods of ${fn} left`,
    async () => (await podsOf(ns.name, fn)).length === 0 || undefined,
    15_000,
  );
}

describe('kubernetes runtime', () => {
  it('succeeds with the result from the observer termination message, then deletes the pod', async () => {
    const name = uniqueName('k-ok');
    const output = { rows: 3, from: 'kwok' };
    const spec = kubeSpec(name, { duration: '300ms', 'termination-message': simReport(output) });
    const rec = await recordPods(ns.name);
    const handle = await run(spec);
    const result = (await handle.result()) as ExecutionResult;
    rec.stop();
    expect(result).toMatchObject({ status: 'succeeded', output });
    expect(result.attempts).toHaveLength(1);
    expect(result.attempts[0]).toMatchObject({ attempt: 1, exitCode: 0 });
    const pod = rec.seen.get(attemptPodName(name, handle.workflowId, 1));
    expect(pod?.metadata?.labels).toMatchObject({
      [Label.function]: name,
      [Label.attempt]: '1',
      [Label.managedBy]: 'pontoon',
    });
    await noPodsLeft(name);
  });

  it('a pod whose result breaks the output schema ends OutputInvalid after one attempt, with the pointer', async () => {
    const name = uniqueName('k-typed');
    const spec = kubeSpec(
      name,
      { duration: '200ms', 'termination-message': simReport({ rows: 'three' }) },
      {
        execution: { retry: { maxAttempts: 3, initialInterval: '1s' } },
        output: {
          schema: { type: 'object', properties: { rows: { type: 'integer' } }, required: ['rows'] },
        },
      },
    );
    const { failure, result } = await failureOf((await run(spec)).result());
    expect(failure.type).toBe('OutputInvalid');
    expect(failure.message).toContain('/rows');
    expect(result.attempts).toHaveLength(1);
    await noPodsLeft(name);
  });

  it('fails after one attempt on an exit code declared non-retryable', async () => {
    const name = uniqueName('k-exit3');
    const spec = kubeSpec(
      name,
      { duration: '200ms', 'exit-code': '3' },
      { execution: { retry: { maxAttempts: 3, initialInterval: '1s', nonRetryableExitCodes: [3] } } },
    );
    const { failure, result } = await failureOf((await run(spec)).result());
    expect(failure.type).toBe('FunctionExitNonRetryable');
    expect(result.attempts).toHaveLength(1);
    expect(result.attempts[0]).toMatchObject({ exitCode: 3 });
    await noPodsLeft(name);
  });

  it('retries a retryable failure with a new pod per attempt (distinct names), and leaves no pod', async () => {
    const name = uniqueName('k-retry');
    const spec = kubeSpec(
      name,
      { duration: '200ms', 'exit-code': '1' },
      { execution: { retry: { maxAttempts: 2, initialInterval: '1s' } } },
    );
    const rec = await recordPods(ns.name);
    const handle = await run(spec);
    const { failure, result } = await failureOf(handle.result());
    rec.stop();
    expect(failure.type).toBe('FunctionExit');
    expect(result.attempts.map((a) => a.exitCode)).toEqual([1, 1]);
    const names = [...rec.seen.values()]
      .filter((p) => p.metadata?.labels?.[Label.function] === name)
      .map((p) => p.metadata!.name!);
    expect(names.sort()).toEqual([
      attemptPodName(name, handle.workflowId, 1),
      attemptPodName(name, handle.workflowId, 2),
    ]);
    await noPodsLeft(name);
  });

  it('launches idempotently: two launches (and two runs) of one attempt make one pod', async () => {
    const name = uniqueName('k-idem');
    const spec = kubeSpec(name, { duration: '500ms', 'termination-message': simReport({ once: true }) });
    const req = attemptRequest(`exec:${name}:idem`, spec);
    const before = { ...w.runtime.launches };
    const [a, b] = await Promise.all([w.runtime.launchAttemptPod(req), w.runtime.launchAttemptPod(req)]);
    expect(a).toMatchObject({ name: attemptPodName(name, req.executionId, 1) });
    expect(b).toMatchObject({ name: attemptPodName(name, req.executionId, 1) });
    expect([a, b].filter((r) => 'created' in r && r.created)).toHaveLength(1);
    expect(await podsOf(ns.name, name)).toHaveLength(1);
    // The activity itself, twice at once for the same attempt (a retried activity beside a lost one):
    const control = { heartbeat() {}, signal: new AbortController().signal };
    const [r1, r2] = await Promise.all([
      w.runtime.runAttempt(req, control),
      w.runtime.runAttempt(req, control),
    ]);
    expect(r1.output).toEqual({ once: true });
    expect(r2.output).toEqual({ once: true });
    expect(w.runtime.launches.created - before.created).toBe(1);
    expect(w.runtime.launches.adopted - before.adopted).toBe(3);
    await noPodsLeft(name);
  });

  it('a retried activity adopts the outcome its lost predecessor recorded, after the pod is gone, and creates nothing', async () => {
    // As the runAttempt activity calls the runtime: the first try returned its outcome, its record
    // was stored and its pod deleted, but its worker was lost before Temporal recorded the outcome.
    const name = uniqueName('k-record');
    const spec = kubeSpec(name, { duration: '200ms', 'termination-message': simReport({ recorded: 1 }) });
    const req = attemptRequest(`exec:${name}:record`, spec);
    const control = (activityAttempt: number, runId: string) => ({
      heartbeat() {},
      signal: new AbortController().signal,
      activityAttempt,
      runId,
    });
    const first = await w.runtime.runAttempt(req, control(1, 'run-a'));
    expect(first.output).toEqual({ recorded: 1 });
    await w.runtime.settled!();
    await noPodsLeft(name);
    const before = { ...w.runtime.launches };
    const requests = w.runtime.requests.snapshot();
    const retried = await w.runtime.runAttempt(req, control(2, 'run-a'));
    expect(retried).toEqual(first);
    expect(w.runtime.launches).toEqual(before);
    const after = w.runtime.requests.snapshot();
    // Two reads (the pod, then the record), nothing created.
    expect({ create: after.create - requests.create, get: after.get - requests.get }).toEqual({
      create: 0,
      get: 2,
    });
    // Another run of the same execution id does not adopt this run's record: its attempt runs.
    const other = await w.runtime.runAttempt(req, control(2, 'run-b'));
    expect(other.output).toEqual({ recorded: 1 });
    expect(w.runtime.launches.created - before.created).toBe(1);
    await w.runtime.settled!();
    await noPodsLeft(name);
  });

  it('a retry beside its predecessor still alive (which records the pod, then deletes it at once) reports the same outcome from the one pod', async () => {
    // The predecessor is another runtime (another worker) that stalled past its heartbeat timeout
    // and then finishes: it stores the record and deletes the pod with no delay, while the retry
    // has adopted the pod. Whichever way the retry sees the end (the pod, or the pod gone and the
    // record), it never creates a second pod.
    const name = uniqueName('k-stalled');
    const spec = kubeSpec(name, { duration: '1s', 'termination-message': simReport({ stalled: 1 }) });
    const req = attemptRequest(`exec:${name}:stalled`, spec);
    const logger = createLogger('silent');
    const predecessor = createKubernetesRuntime({
      kubeConfig: kubeConfig(),
      namespace: ns.name,
      observerImage: TEST_OBSERVER_IMAGE,
      logger,
      deleteDelayMs: 0,
      // The worker's own store: PONTOON_LOG_NAMESPACE defaults to the functions' namespace.
      logStore: createSecretLogStore({
        core: coreApi(),
        namespace: ns.name,
        logger,
        maxBytes: 64 * 1024,
        retentionMs: 3600_000,
      }),
    });
    const before = w.runtime.launches.created;
    try {
      const control = (activityAttempt: number) => ({
        heartbeat() {},
        signal: new AbortController().signal,
        activityAttempt,
        runId: 'run-s',
      });
      const first = predecessor.runAttempt(req, control(1));
      await waitFor('the pod', async () => (await podsOf(ns.name, name)).length > 0 || undefined);
      const [a, b] = await Promise.all([first, w.runtime.runAttempt(req, control(2))]);
      expect(a.output).toEqual({ stalled: 1 });
      expect(b.output).toEqual({ stalled: 1 });
      await predecessor.settled!();
      await w.runtime.settled!();
      await noPodsLeft(name);
      // One pod created, by the predecessor; the retry created none (it adopted the pod or its record).
      expect(predecessor.launches.created + w.runtime.launches.created - before).toBe(1);
    } finally {
      await predecessor.close();
    }
  });

  it('a pod left by an earlier run of the same execution id is never adopted: deleted, and this run gets its own pod', async () => {
    // Same execution id, same attempt, so the same pod name: a workflow id used again after its first
    // run closed (idempotency keys, reset). The pod names its run (pontoon.dev/run-id).
    const name = uniqueName('k-run');
    const req = attemptRequest(
      `exec:${name}:run`,
      kubeSpec(name, { duration: '200ms', 'termination-message': simReport({ run: 'b' }) }),
    );
    const earlier = buildAttemptPod(
      kubeSpec(name, { duration: '10m', 'termination-message': simReport({ run: 'a' }) }),
      req,
      { namespace: ns.name, observerImage: TEST_OBSERVER_IMAGE, runId: 'run-a' },
    );
    expect(earlier.metadata?.annotations?.[RUN_ID_ANNOTATION]).toBe('run-a');
    await coreApi().createNamespacedPod({ namespace: ns.name, body: earlier });
    const rec = await recordPods(ns.name);
    const before = { ...w.runtime.launches };
    const control = {
      heartbeat() {},
      signal: new AbortController().signal,
      activityAttempt: 2,
      runId: 'run-b',
    };
    const outcome = await w.runtime.runAttempt(req, control);
    rec.stop();
    expect(outcome.output, JSON.stringify(outcome)).toEqual({ run: 'b' });
    expect(w.runtime.launches.created - before.created).toBe(1);
    expect(w.runtime.launches.adopted - before.adopted).toBe(0);
    expect(rec.seen.get(attemptPodName(name, req.executionId, 1))?.metadata?.annotations).toMatchObject({
      [RUN_ID_ANNOTATION]: 'run-b',
    });
    await w.runtime.settled!();
    await noPodsLeft(name);
  });

  it('the sweeper keeps a finished pod whose record cannot be stored while its execution is open, and deletes it once it has closed', async () => {
    // A lost attempt's pod, finished, nobody collecting it, and a log store that refuses (here: its
    // namespace does not exist). Deleting the pod would leave a retry of that attempt neither pod
    // nor record, so it would run the function again: the pod stays until Temporal says the
    // execution is closed (a real workflow on the real server, with no worker for its queue).
    const sweepNs = await createNamespace('pontoon-sweep');
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });
    const name = uniqueName('k-swp');
    const execution = await w.client.workflow.start('nobodyRunsThis', {
      taskQueue: `nobody-${name}`,
      workflowId: `exec:${name}:sweep`,
    });
    const runId = execution.firstExecutionRunId;
    const req = attemptRequest(
      execution.workflowId,
      kubeSpec(name, { duration: '100ms', 'termination-message': simReport({ swept: 1 }) }),
    );
    const sweeper = createKubernetesRuntime({
      kubeConfig: kubeConfig(),
      namespace: sweepNs.name,
      observerImage: TEST_OBSERVER_IMAGE,
      logger,
      sweepIntervalMs: 200,
      sweepAfterMs: 100,
      logStore: createSecretLogStore({
        core: coreApi(),
        namespace: `${sweepNs.name}-missing`,
        logger,
        maxBytes: 64 * 1024,
        retentionMs: 3600_000,
      }),
      executionOpen: (id, run) => executionOpen(w.client, id, run),
    });
    try {
      const pod = buildAttemptPod(req.spec, req, {
        namespace: sweepNs.name,
        observerImage: TEST_OBSERVER_IMAGE,
        runId,
      });
      await coreApi().createNamespacedPod({ namespace: sweepNs.name, body: pod });
      sweeper.watcher(); // starts the watch and the sweeper
      const kept = () =>
        lines.some((l) => l.includes('keeping a finished pod whose record could not be stored'));
      await waitFor('the sweeper to keep the unrecorded pod', async () => kept() || undefined, 60_000);
      expect(await podsOf(sweepNs.name, name)).toHaveLength(1);
      expect(await executionOpen(w.client, execution.workflowId, runId)).toBe(true);
      expect(await executionOpen(w.client, `${execution.workflowId}-never-started`)).toBe(false);
      await execution.terminate('the test closes the execution');
      expect(await executionOpen(w.client, execution.workflowId, runId)).toBe(false);
      await waitFor(
        'the sweeper to delete the pod of the closed execution',
        async () => (await podsOf(sweepNs.name, name)).length === 0 || undefined,
        60_000,
      );
      const deleted = lines.find((l) => l.includes('its execution is closed'));
      expect(JSON.parse(deleted ?? '{}')).toMatchObject({
        executionId: execution.workflowId,
        runId,
        pod: pod.metadata?.name,
      });
    } finally {
      await sweeper.close();
      await execution.terminate().catch(() => undefined);
      await sweepNs.remove();
    }
  });

  it('deletes the running pod when the execution is cancelled', async () => {
    const name = uniqueName('k-cancel');
    const spec = kubeSpec(name, { duration: '120s' });
    const handle = await run(spec);
    const podName = attemptPodName(name, handle.workflowId, 1);
    await waitFor('the pod running', async () => {
      const pods = await podsOf(ns.name, name);
      return pods.find((p) => p.metadata?.name === podName && p.status?.phase === 'Running');
    });
    await handle.cancel();
    const err = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    await waitFor(
      'the pod gone',
      async () => (await podsOf(ns.name, name)).length === 0 || undefined,
      10_000,
    );
  });

  it('retries an attempt whose pod was deleted from outside', async () => {
    const name = uniqueName('k-outside');
    const spec = kubeSpec(
      name,
      { duration: '3s', 'termination-message': simReport('second time lucky') },
      { execution: { retry: { maxAttempts: 3, initialInterval: '1s' } } },
    );
    const handle = await run(spec);
    const first = attemptPodName(name, handle.workflowId, 1);
    await waitFor('attempt 1 running', async () =>
      (await podsOf(ns.name, name)).find((p) => p.metadata?.name === first && p.status?.phase === 'Running'),
    );
    await coreApi().deleteNamespacedPod({ name: first, namespace: ns.name });
    const result = (await handle.result()) as ExecutionResult;
    expect(result.status).toBe('succeeded');
    expect(result.output).toBe('second time lucky');
    expect(result.attempts).toHaveLength(2);
    expect(result.attempts[0]!.failure).toMatchObject({ type: 'KubernetesTransient', retryable: true });
    expect(result.attempts[0]!.failure!.message).toContain('deleted or evicted from outside');
    await noPodsLeft(name);
  });

  it('fails with ImageUnavailable and the kubelet message when the image cannot be pulled', async () => {
    const name = uniqueName('k-image');
    const spec = kubeSpec(
      name,
      { 'image-pull-error': 'ErrImagePull' },
      { execution: { retry: { maxAttempts: 3, initialInterval: '1s' } } },
    );
    const { failure, result } = await failureOf((await run(spec)).result());
    expect(failure.type).toBe('ImageUnavailable');
    expect(result.attempts).toHaveLength(1);
    expect(result.failure?.message).toMatch(/ErrImagePull: Failed to pull image/);
    await noPodsLeft(name);
  });

  it('reports OOMKilled as a retryable failure naming the memory limit', async () => {
    const name = uniqueName('k-oom');
    const spec = kubeSpec(
      name,
      { duration: '200ms', reason: 'OOMKilled' },
      { resources: { limits: { memory: '64Mi' } }, execution: { retry: { maxAttempts: 1 } } },
    );
    const { failure, result } = await failureOf((await run(spec)).result());
    expect(failure.type).toBe('FunctionExit');
    expect(result.attempts[0]).toMatchObject({ exitCode: 137 });
    expect(result.failure?.message).toMatch(/OOMKilled, memory limit 64Mi/);
  });

  it('stops a pod that runs past the timeout (kwok does not enforce activeDeadlineSeconds)', async () => {
    const name = uniqueName('k-timeout');
    const spec = kubeSpec(
      name,
      { duration: '120s' },
      { execution: { timeout: '2s', retry: { maxAttempts: 1 } } },
    );
    const { failure } = await failureOf((await run(spec)).result());
    expect(failure.type).toBe('AttemptTimedOut');
    await noPodsLeft(name);
  });

  it("admits the builder's pods under Pod Security restricted, and the namespace really enforces it", async () => {
    const core = coreApi();
    const ok = buildAttemptPod(
      kubeSpec('psa', {}),
      {
        executionId: 'exec:psa:1',
        function: 'psa',
        attempt: 1,
        spec: kubeSpec('psa', {}),
        parameters: {},
        input: null,
        scheduledTime: new Date().toISOString(),
        trigger: 'sdk',
        timeoutMs: 10_000,
      },
      { namespace: ns.name, observerImage: TEST_OBSERVER_IMAGE },
    );
    await core.createNamespacedPod({ namespace: ns.name, body: ok, dryRun: 'All' });
    const bad = structuredClone(ok);
    bad.metadata!.name = 'psa-bad';
    delete bad.spec!.containers[0]!.securityContext;
    const err = await core.createNamespacedPod({ namespace: ns.name, body: bad, dryRun: 'All' }).then(
      () => undefined,
      (e: unknown) => e as { code?: number; body?: string },
    );
    expect(err?.code).toBe(403);
    expect(String(err?.body)).toMatch(/violates PodSecurity .*restricted:latest.*allowPrivilegeEscalation/);
  });
});
