/** Unit tests of the pure parts of the kubernetes runtime: pod builder, classifier, observer report. */
import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { classifyPod, pendingProblem } from '../activities/kubernetes/classify.ts';
import { tail } from '../activities/kubernetes/collect.ts';
import { buildEgressPolicy, EGRESS_LABEL, egressHash } from '../activities/kubernetes/network.ts';
import {
  annotationBytes,
  buildAttemptPod,
  INPUT_ANNOTATION_BUDGET_BYTES,
  inputJson,
  OBSERVER_RESOURCES,
  RESTRICTED,
} from '../activities/kubernetes/pod.ts';
import {
  extractOutput,
  joinInput,
  parseReport,
  reportFor,
  splitInput,
  TERMINATION_MESSAGE_BYTES,
} from '../contract/termination.ts';
import type { AttemptRequest } from '../core/execution.ts';
import { Label } from '../core/names.ts';
import { egressRules } from '../core/network.ts';
import {
  type FunctionSpec,
  functionSpecSchema,
  MAX_FUNCTION_NAME,
  parseFunctionSpec,
} from '../core/schema.ts';
import { attemptPodName, EXECUTION_ID_ANNOTATION, executionHash, INPUT_ANNOTATION } from '../kube/names.ts';

function spec(s: Record<string, unknown> = {}, name = 'report'): FunctionSpec {
  return functionSpecSchema().parse({
    apiVersion: 'pontoon.dev/v1',
    kind: 'Function',
    metadata: { name },
    spec: { image: 'registry.example/report:1', ...s },
  });
}

function request(fs: FunctionSpec, over: Partial<AttemptRequest> = {}): AttemptRequest {
  return {
    executionId: 'exec:report:2026-11-24',
    function: fs.metadata.name,
    attempt: 2,
    spec: fs,
    parameters: { date: '2026-11-23', limit: 10 },
    input: { region: 'eu' },
    scheduledTime: '2026-11-24T02:30:00.000Z',
    trigger: 'nightly',
    timeoutMs: 300_000,
    ...over,
  };
}

const opts = { namespace: 'fns', observerImage: 'registry.example/observer:1', killGraceSeconds: 5 };

describe('buildAttemptPod', () => {
  const fs = spec({
    command: ['node', '/app/report.mjs'],
    args: ['--fast'],
    env: [
      { name: 'MODE', value: 'full' },
      { name: 'DB_PASSWORD', secretRef: { name: 'db', key: 'password' } },
      { name: 'PONTOON_ATTEMPT', value: 'spoofed' },
    ],
    resources: { requests: { cpu: '250m', memory: '256Mi' }, limits: { memory: '1Gi', cpu: 2 } },
    serviceAccountName: 'reporter',
    nodeSelector: { pool: 'batch' },
    podAnnotations: { 'pontoon.dev/sim-duration': '2s', 'example.com/team': 'data' },
    execution: { timeout: '5m' },
  });
  const req = request(fs);
  const pod = buildAttemptPod(fs, req, opts);
  const podSpec = pod.spec!;
  const [fn, observer, ...others] = podSpec.containers;

  it('names the pod deterministically from execution and attempt, within 63 characters', () => {
    expect(pod.metadata!.name).toBe(`report-${executionHash(req.executionId)}-2`);
    expect(pod.metadata!.name).toBe(attemptPodName('report', req.executionId, 2));
    expect(attemptPodName('report', req.executionId, 2)).not.toBe(
      attemptPodName('report', req.executionId, 3),
    );
    expect(attemptPodName('report', req.executionId, 2)).not.toBe(
      attemptPodName('report', `${req.executionId}x`, 2),
    );
    const longest = attemptPodName('a'.repeat(MAX_FUNCTION_NAME), 'exec:x:y', 100);
    expect(longest.length).toBeLessThanOrEqual(63);
    expect(longest).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
  });

  it('labels function, hashed execution, attempt and managed-by; the full id is an annotation', () => {
    expect(pod.metadata!.labels).toEqual({
      [Label.function]: 'report',
      [Label.execution]: executionHash(req.executionId),
      [Label.attempt]: '2',
      [Label.managedBy]: 'pontoon',
    });
    for (const v of Object.values(pod.metadata!.labels!)) expect(v.length).toBeLessThanOrEqual(63);
    expect(pod.metadata!.annotations).toEqual({
      'pontoon.dev/sim-duration': '2s',
      'example.com/team': 'data',
      [EXECUTION_ID_ANNOTATION]: req.executionId,
      [INPUT_ANNOTATION]: inputJson(req),
    });
    expect(pod.metadata!.namespace).toBe('fns');
  });

  it('runs the observer as an ordinary container after the function, no init container, sharing /pontoon and one process namespace', () => {
    expect(podSpec.restartPolicy).toBe('Never');
    // The observer sees the function's processes end and exits with them (observer/function-exit.ts).
    expect(podSpec.shareProcessNamespace).toBe(true);
    expect(podSpec.initContainers).toBeUndefined();
    expect(others).toEqual([]);
    expect(fn!.name).toBe('function'); // first: the kubelet starts containers in this order
    expect(observer).toEqual({
      name: 'observer',
      image: opts.observerImage,
      args: ['beside'],
      env: [
        { name: 'PONTOON_DIR', value: '/pontoon' },
        { name: 'PONTOON_OUTPUT_LIMIT', value: String(256 * 1024) },
      ],
      volumeMounts: [{ name: 'pontoon', mountPath: '/pontoon' }],
      resources: OBSERVER_RESOURCES,
      terminationMessagePolicy: 'File',
      securityContext: { ...RESTRICTED, readOnlyRootFilesystem: true },
    });
    expect(podSpec.volumes).toEqual([
      { name: 'pontoon', emptyDir: {} },
      {
        name: 'pontoon-input',
        downwardAPI: {
          items: [
            { path: 'input.json', fieldRef: { fieldPath: "metadata.annotations['pontoon.dev/input']" } },
          ],
        },
      },
    ]);
    expect(fn!.volumeMounts).toEqual([
      { name: 'pontoon', mountPath: '/pontoon' },
      { name: 'pontoon-input', mountPath: '/pontoon/input.json', subPath: 'input.json', readOnly: true },
    ]);
  });

  it('hands the request JSON to the function in the pontoon.dev/input annotation, exactly', () => {
    expect(pod.metadata!.annotations![INPUT_ANNOTATION]).toBe(inputJson(req));
    expect(JSON.parse(pod.metadata!.annotations![INPUT_ANNOTATION]!)).toEqual({
      function: 'report',
      executionId: req.executionId,
      attempt: 2,
      scheduledTime: req.scheduledTime,
      trigger: 'nightly',
      parameters: { date: '2026-11-23', limit: 10 },
      input: { region: 'eu' },
    });
  });

  it('takes the sidecar layout when the request does not fit in the annotations budget, counting the other annotations', () => {
    // Just fits: every annotation byte counted, keys included (the apiserver's rule).
    const base = annotationBytes({ ...pod.metadata!.annotations!, [INPUT_ANNOTATION]: '' });
    const room = INPUT_ANNOTATION_BUDGET_BYTES - base;
    const fits = request(fs, { input: { region: 'x'.repeat(room - inputJson(req).length + 2) } });
    expect(annotationBytes(buildAttemptPod(fs, fits, opts).metadata!.annotations!)).toBe(
      INPUT_ANNOTATION_BUDGET_BYTES,
    );
    expect(buildAttemptPod(fs, fits, opts).spec!.initContainers).toBeUndefined();
    // One more byte (a two-byte character in place of one) and it takes the sidecar layout.
    const over = request(fs, { input: { region: `é${'x'.repeat(room - inputJson(req).length + 1)}` } });
    const side = buildAttemptPod(fs, over, opts);
    expect(side.metadata!.annotations![INPUT_ANNOTATION]).toBeUndefined();
    expect(side.spec!.containers.map((c) => c.name)).toEqual(['function']);
    const [sidecar, ...more] = side.spec!.initContainers!;
    expect(more).toEqual([]);
    expect(sidecar).toMatchObject({
      name: 'observer',
      image: opts.observerImage,
      args: ['on-demand'],
      restartPolicy: 'Always',
      lifecycle: { postStart: { exec: { command: ['node', '/app/observer.mjs', 'ready'] } } },
    });
    expect(side.spec!.shareProcessNamespace).toBe(true);
    expect(side.spec!.volumes).toEqual([{ name: 'pontoon', emptyDir: {} }]);
    for (const c of [sidecar!, side.spec!.containers[0]!])
      expect(c.volumeMounts).toEqual([{ name: 'pontoon', mountPath: '/pontoon' }]);
    const env = Object.fromEntries(sidecar!.env!.map((e) => [e.name, e.value]));
    expect(joinInput(env)).toBe(inputJson(over));
  });

  it('sets the function container: image, command, args, env with secret refs, contract env, resources', () => {
    expect(fn).toMatchObject({
      name: 'function',
      image: 'registry.example/report:1',
      command: ['node', '/app/report.mjs'],
      args: ['--fast'],
      resources: { requests: { cpu: '250m', memory: '256Mi' }, limits: { memory: '1Gi', cpu: '2' } },
    });
    expect(fn!.env).toEqual([
      { name: 'MODE', value: 'full' },
      { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } },
      { name: 'PONTOON_EXECUTION_ID', value: req.executionId },
      { name: 'PONTOON_FUNCTION', value: 'report' },
      { name: 'PONTOON_ATTEMPT', value: '2' },
      { name: 'PONTOON_SCHEDULED_TIME', value: req.scheduledTime },
      { name: 'PONTOON_TRIGGER', value: 'nightly' },
      { name: 'PONTOON_DIR', value: '/pontoon' },
      { name: 'PONTOON_PARAM_DATE', value: '2026-11-23' },
      { name: 'PONTOON_PARAM_LIMIT', value: '10' },
    ]);
  });

  it('sets service account, no token by default, node selector and activeDeadlineSeconds from the timeout', () => {
    expect(podSpec).toMatchObject({
      serviceAccountName: 'reporter',
      automountServiceAccountToken: false,
      nodeSelector: { pool: 'batch' },
      activeDeadlineSeconds: 300 + 15,
      terminationGracePeriodSeconds: 5,
      enableServiceLinks: false,
    });
    const withToken = buildAttemptPod(spec({ automountServiceAccountToken: true }), req, opts);
    expect(withToken.spec!.automountServiceAccountToken).toBe(true);
  });

  it('meets Pod Security "restricted" in every container', () => {
    expect(podSpec.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    for (const c of [observer!, fn!]) {
      expect(c.securityContext).toMatchObject({
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
        runAsNonRoot: true,
        seccompProfile: { type: 'RuntimeDefault' },
      });
    }
    const hostish = podSpec as unknown as Record<string, unknown>;
    expect(hostish.hostNetwork ?? hostish.hostPID ?? hostish.hostIPC).toBeUndefined();
  });

  it('is pure: same input, same pod', () => {
    expect(buildAttemptPod(fs, req, opts)).toEqual(pod);
  });

  it('splits a 256 KiB input into env chunks each under the 128 KiB Linux limit', () => {
    const big = { blob: 'é€😀'.repeat(30_000) };
    const r = request(fs, { input: big });
    const p = buildAttemptPod(fs, r, opts);
    expect(p.metadata!.annotations![INPUT_ANNOTATION]).toBeUndefined(); // over the annotations budget
    const env = p.spec!.initContainers![0]!.env!;
    const chunks = env.filter((e) => /^PONTOON_INPUT_\d+$/.test(e.name));
    expect(chunks.length).toBeGreaterThan(1);
    for (const c of chunks) expect(Buffer.byteLength(c.value!, 'utf8')).toBeLessThan(128 * 1024);
    expect(JSON.parse(joinInput(Object.fromEntries(env.map((e) => [e.name, e.value]))))).toEqual(
      JSON.parse(inputJson(r)),
    );
    expect(splitInput('😀😀', 3)).toEqual(['😀', '😀']);
  });

  it('rejects reserved pod annotations in the spec', () => {
    const r = parseFunctionSpec({
      apiVersion: 'pontoon.dev/v1',
      kind: 'Function',
      metadata: { name: 'x' },
      spec: { image: 'i', podAnnotations: { 'pontoon.dev/execution-id': 'forged' } },
    });
    expect(r.success).toBe(false);
  });

  it('labels the pod with its egress policy (the spec declares some) and not otherwise', () => {
    expect(buildAttemptPod(fs, req, opts).metadata!.labels![EGRESS_LABEL]).toBeUndefined();
    const labelled = buildAttemptPod(fs, req, { ...opts, egress: '0123456789abcdef' });
    expect(labelled.metadata!.labels![EGRESS_LABEL]).toBe('0123456789abcdef');
    // The policy selects exactly that label (and Pontoon's own pods): its content is named by its hash.
    const rules = egressRules({ egress: [{ cidr: '0.0.0.0/0', ports: [443] }] }, []).rules;
    const policy = buildEgressPolicy(rules, 'fns');
    const hash = egressHash(rules);
    expect(policy.metadata).toMatchObject({ name: `pontoon-egress-${hash}`, namespace: 'fns' });
    expect(policy.spec!.podSelector).toEqual({
      matchLabels: { [Label.managedBy]: 'pontoon', [EGRESS_LABEL]: hash },
    });
    expect(policy.spec!.egress![0]!.to![0]!.ipBlock!.except).toContain('169.254.0.0/16');
    expect(egressHash(egressRules({ egress: [{ cidr: '0.0.0.0/0', ports: [80] }] }, []).rules)).not.toBe(
      hash,
    );
  });
});

function pod(status: V1Pod['status'], extra: Partial<V1Pod['spec']> = {}): V1Pod {
  return {
    metadata: { name: 'p' },
    spec: {
      containers: [{ name: 'function', image: 'f', resources: { limits: { memory: '64Mi' } } }],
      ...extra,
    },
    status,
  };
}
const term = (name: string, exitCode: number, reason: string, message?: string) => ({
  name,
  image: 'i',
  imageID: '',
  ready: false,
  restartCount: 0,
  state: { terminated: { exitCode, reason, ...(message ? { message } : {}) } },
});
const waiting = (name: string, reason: string, message?: string) => ({
  name,
  image: 'registry.example/f:1',
  imageID: '',
  ready: false,
  restartCount: 0,
  state: { waiting: { reason, ...(message ? { message } : {}) } },
});

describe('classifyPod', () => {
  it('success carries the observer report', () => {
    const st = classifyPod(
      pod({
        phase: 'Succeeded',
        initContainerStatuses: [term('observer', 0, 'Completed', '{"v":1,"output":1}')],
        containerStatuses: [term('function', 0, 'Completed')],
      }),
      [],
    );
    expect(st).toMatchObject({ state: 'finished', exitCode: 0, report: '{"v":1,"output":1}' });
    expect('failure' in st && st.failure).toBeFalsy();
  });

  it('an observer beside the function: its report is read from the containers, and its failure names it', () => {
    const ok = classifyPod(
      pod({
        phase: 'Succeeded',
        containerStatuses: [
          term('function', 0, 'Completed'),
          term('observer', 0, 'Completed', '{"v":1,"output":2}'),
        ],
      }),
      [],
    );
    expect(ok).toEqual({ state: 'finished', exitCode: 0, report: '{"v":1,"output":2}' });
    const broken = classifyPod(
      pod({
        phase: 'Failed',
        containerStatuses: [
          term('function', 0, 'Completed'),
          term('observer', 1, 'Error', 'observer: EACCES: permission denied, open /dev/termination-log'),
        ],
      }),
      [],
    );
    expect(broken).toEqual({
      state: 'finished',
      exitCode: 0,
      failure: {
        type: 'KubernetesTransient',
        retryable: true,
        message:
          "the observer (i) exited with code 1: observer: EACCES: permission denied, open /dev/termination-log; its report of the function's output is missing",
      },
      report: 'observer: EACCES: permission denied, open /dev/termination-log',
    });
  });

  it('a function container that could not start ends the attempt at once, though the observer beside it still runs', () => {
    const st = classifyPod(
      pod({
        phase: 'Running',
        containerStatuses: [
          term('function', 128, 'StartError', 'failed to create containerd task: exec: "nope": not found'),
          { ...waiting('observer', ''), state: { running: {} } },
        ],
      }),
      [],
    );
    expect(st).toEqual({
      state: 'finished',
      exitCode: 128,
      failure: {
        type: 'LaunchFailed',
        retryable: false,
        message:
          'the function container could not start (StartError): failed to create containerd task: exec: "nope": not found',
      },
      functionMessage: 'failed to create containerd task: exec: "nope": not found',
    });
  });

  it('an observer that reported before the function started (the function container created again) fails the attempt as retryable', () => {
    const at = (iso: string) => new Date(iso);
    const st = (obsEnd: string, fnStart: string) =>
      classifyPod(
        pod({
          phase: 'Succeeded',
          containerStatuses: [
            {
              ...term('function', 0, 'Completed'),
              state: {
                terminated: {
                  exitCode: 0,
                  reason: 'Completed',
                  startedAt: at(fnStart),
                  finishedAt: at(fnStart),
                },
              },
            },
            {
              ...term('observer', 0, 'Completed', '{"v":1,"output":null}'),
              state: {
                terminated: {
                  exitCode: 0,
                  reason: 'Completed',
                  message: '{"v":1,"output":null}',
                  startedAt: at(obsEnd),
                  finishedAt: at(obsEnd),
                },
              },
            },
          ],
        }),
        [],
      );
    expect(st('2026-12-05T10:00:01Z', '2026-12-05T10:00:12Z')).toMatchObject({
      state: 'finished',
      failure: {
        type: 'KubernetesTransient',
        retryable: true,
        message:
          "the observer reported at 2026-12-05T10:00:01.000Z, before the function started (2026-12-05T10:00:12.000Z): its report cannot hold the function's output",
      },
    });
    // The same second (the status has whole seconds) or later: the report stands.
    expect(st('2026-12-05T10:00:12Z', '2026-12-05T10:00:12Z')).not.toHaveProperty('failure');
    expect(st('2026-12-05T10:00:13Z', '2026-12-05T10:00:12Z')).not.toHaveProperty('failure');
  });

  it('exit codes: retryable unless declared non-retryable', () => {
    const failed = (code: number) =>
      classifyPod(pod({ phase: 'Failed', containerStatuses: [term('function', code, 'Error')] }), [3]);
    expect(failed(1)).toMatchObject({ exitCode: 1, failure: { type: 'FunctionExit', retryable: true } });
    expect(failed(3)).toMatchObject({
      exitCode: 3,
      failure: { type: 'FunctionExitNonRetryable', retryable: false },
    });
  });

  it('OOMKilled, deadline, eviction, node lost, start errors', () => {
    expect(
      classifyPod(pod({ phase: 'Failed', containerStatuses: [term('function', 137, 'OOMKilled')] }), []),
    ).toMatchObject({
      failure: { type: 'FunctionExit', message: expect.stringContaining('memory limit 64Mi') },
    });
    expect(classifyPod(pod({ phase: 'Failed', reason: 'DeadlineExceeded' }), [])).toMatchObject({
      failure: { type: 'AttemptTimedOut' },
    });
    expect(
      classifyPod(
        pod({ phase: 'Failed', reason: 'Evicted', message: 'The node was low on resource: memory.' }),
        [],
      ),
    ).toMatchObject({
      failure: { type: 'KubernetesTransient', retryable: true, message: expect.stringContaining('evicted') },
    });
    expect(classifyPod(pod({ phase: 'Unknown' }), [])).toMatchObject({
      failure: { type: 'KubernetesTransient', message: expect.stringContaining('node lost') },
    });
    expect(
      classifyPod(
        pod({ phase: 'Failed', containerStatuses: [term('function', 128, 'StartError', 'exec: "nope"')] }),
        [],
      ),
    ).toMatchObject({ failure: { type: 'LaunchFailed', retryable: false } });
    expect(
      classifyPod(
        pod({ phase: 'Failed', initContainerStatuses: [term('prepare', 1, 'Error', 'bad input')] }),
        [],
      ),
    ).toMatchObject({ failure: { type: 'LaunchFailed', message: expect.stringContaining('prepare') } });
  });

  it('pending problem: an observer that cannot hand over the request crash-loops; the attempt fails at once with its message', () => {
    const crashed = {
      ...waiting('observer', 'CrashLoopBackOff', 'back-off 10s restarting failed container=observer'),
      restartCount: 2,
      lastState: {
        terminated: { exitCode: 1, reason: 'Error', message: 'observer: PONTOON_INPUT_1 is missing' },
      },
    };
    expect(pendingProblem(pod({ phase: 'Pending', initContainerStatuses: [crashed] }))).toEqual({
      kind: 'config',
      reason: 'CrashLoopBackOff',
      message:
        'the observer sidecar (registry.example/f:1) exited with code 1: observer: PONTOON_INPUT_1 is missing',
      immediate: true,
    });
    // The function's own crash loop is not a pending problem (restartPolicy Never: it never loops).
    expect(
      pendingProblem(pod({ phase: 'Pending', containerStatuses: [waiting('function', 'CrashLoopBackOff')] })),
    ).toBeUndefined();
  });

  it('pending problems: image pulls (fatal at once or after a grace), config errors, unschedulable', () => {
    expect(
      pendingProblem(
        pod({ phase: 'Pending', containerStatuses: [waiting('function', 'ErrImagePull', 'not found')] }),
      ),
    ).toMatchObject({
      kind: 'image',
      immediate: false,
      message: expect.stringContaining('ErrImagePull: not found'),
    });
    expect(
      pendingProblem(
        pod({ phase: 'Pending', initContainerStatuses: [waiting('observer', 'InvalidImageName')] }),
      ),
    ).toMatchObject({
      kind: 'image',
      immediate: true,
    });
    expect(
      pendingProblem(
        pod({
          phase: 'Pending',
          containerStatuses: [waiting('function', 'CreateContainerConfigError', 'secret "db" not found')],
        }),
      ),
    ).toMatchObject({ kind: 'config' });
    expect(
      pendingProblem(
        pod({
          phase: 'Pending',
          conditions: [
            {
              type: 'PodScheduled',
              status: 'False',
              reason: 'Unschedulable',
              message: '0/3 nodes are available',
            },
          ],
        }),
      ),
    ).toMatchObject({ kind: 'unschedulable', message: '0/3 nodes are available' });
    expect(classifyPod(pod({ phase: 'Running' }), [])).toEqual({ state: 'running' });
    expect(
      classifyPod(
        pod({ phase: 'Pending', containerStatuses: [waiting('function', 'ContainerCreating')] }),
        [],
      ),
    ).toEqual({
      state: 'pending',
    });
  });
});

describe('observer report', () => {
  it('inlines output that fits in the termination message', () => {
    const { report, stdout } = reportFor({ output: { a: 1 } });
    expect(stdout).toBeUndefined();
    expect(parseReport(report)).toEqual({ v: 1, output: { a: 1 } });
  });

  it('moves larger output to stdout with a digest, verified on the way back', () => {
    const output = { rows: 'x'.repeat(10_000) };
    const { report, stdout } = reportFor({ output });
    expect(Buffer.byteLength(report)).toBeLessThanOrEqual(TERMINATION_MESSAGE_BYTES);
    const parsed = parseReport(report);
    expect(parsed && 'outputRef' in parsed).toBe(true);
    if (!parsed || !('outputRef' in parsed)) return;
    const log = `observer: watching /pontoon\n${stdout}`;
    expect(extractOutput(log, parsed.outputRef)).toEqual({ output });
    expect(extractOutput(log.replace('xxxx', 'xxxy'), parsed.outputRef)).toMatchObject({
      error: expect.stringContaining('digest'),
    });
    expect(extractOutput('truncated', parsed.outputRef)).toMatchObject({ error: expect.any(String) });
  });

  it('carries failures, and rejects what is not a report', () => {
    const { report } = reportFor({
      failure: { type: 'OutputTooLarge', message: 'too big', retryable: false },
    });
    expect(parseReport(report)).toEqual({ v: 1, failure: { type: 'OutputTooLarge', message: 'too big' } });
    expect(parseReport(undefined)).toBeUndefined();
    expect(parseReport('plain text')).toBeUndefined();
    expect(parseReport('{"v":2,"output":1}')).toBeUndefined();
    expect(parseReport('{"v":1,"failure":{"type":"Bogus","message":"x"}}')).toBeUndefined();
  });

  it('keeps the last 4 KiB of a log from a line boundary', () => {
    const lines = Array.from({ length: 500 }, (_, i) => `line ${i}`).join('\n');
    const t = tail(lines);
    expect(Buffer.byteLength(t)).toBeLessThanOrEqual(4096);
    expect(t.startsWith('line ')).toBe(true);
    expect(t.endsWith('line 499')).toBe(true);
  });
});
