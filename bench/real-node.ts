/**
 * The cluster's REAL node (dev/cluster: kubelet + containerd + runc on this machine, beside kwok's
 * fake nodes) as benchmarks use it: the observer image and the function image built once per run
 * (the same paths as test/global-setup.ts and test/kubernetes-real-node.test.ts), the bare-pod
 * baseline on that node, a watch that timestamps each pod's milestones, and a closed-loop load.
 *
 * The bare pod is Pontoon's own attempt pod (buildAttemptPod: same image by digest, same node
 * selector and toleration, same security context, emptyDir, env and grace period) without the
 * `observer` container (and the request's annotation and downward API volume): its one container writes the request to
 * $PONTOON_DIR/input.json itself (in the same node process) and imports the function's main.mjs.
 * The bench creates it, waits for Succeeded through one shared watch, then deletes it (default
 * grace, like Pontoon's delete of a finished pod).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { CoreV1Api, KubeConfig, V1Pod } from '@kubernetes/client-node';
import { buildAttemptPod, inputJson } from '../activities/kubernetes/pod.ts';
import { APP_DIR } from '../core/build.ts';
import { loadSpecs } from '../core/load.ts';
import { type FunctionSpec, functionSpecSchema } from '../core/schema.ts';
import { FUNCTION_CONTAINER, OBSERVER_CONTAINER } from '../kube/names.ts';
import { craneRunner, ensureCrane } from '../packaging/crane.ts';
import { buildSpecs } from '../packaging/index.ts';
import { buildObserverImage } from '../packaging/own-images.ts';
import { ensureEmbeddedRegistry, registryAnswers, registryFromEnv } from '../packaging/registry.ts';
import { type KubeEnv, watchPods } from './cluster.ts';
import { percentile, REPO_ROOT, sleep } from './lib.ts';
import type { Job } from './load.ts';

const FIXTURE_SPEC = path.join(REPO_ROOT, 'test', 'fixtures', 'real-node', 'fn.yaml');
const FIXTURE_CONTEXT = path.join(REPO_ROOT, 'test', 'fixtures', 'real-node', 'fn');
const NODE_SELECTOR = { 'pontoon.dev/real-node': 'true' };
const TOLERATION = 'pontoon.dev/real-node=true:NoSchedule';
/** PONTOON_KILL_GRACE's default (5 s): the attempt pod's terminationGracePeriodSeconds. */
const KILL_GRACE_SECONDS = 5;

export interface RealNodeEnv {
  node: string;
  observerImage: string;
  functionImage: string;
  /** Extra environment of a Pontoon worker whose pods go to the real node. */
  workerEnv: Record<string, string>;
  /** Seconds spent building + pushing each image (once per run, before any measurement). */
  buildSeconds: { observer: number; function: number };
}

function readEnvFile(file: string): Record<string, string> {
  return Object.fromEntries(
    readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => /^[A-Z_]+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

/**
 * The real node's facts (real-node.env beside the kubeconfig), the observer image built and pushed
 * as `npm run images` does, and the fixture function packaged from source as `pontoon build` does.
 */
export async function realNodeEnv(kube: KubeEnv, log: (l: string) => void): Promise<RealNodeEnv> {
  const envFile = path.join(path.dirname(kube.kubeconfig), 'real-node.env');
  let facts: Record<string, string>;
  try {
    facts = readEnvFile(envFile);
  } catch {
    throw new Error(
      `the cluster has no real node (${envFile} is missing): run \`npm run cluster:up\` without PONTOON_REAL_NODE=0 (see dev/cluster/README.md)`,
    );
  }
  const node = facts.REAL_NODE_NAME!;
  const n = await kube.core.readNode({ name: node });
  if (!n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
    throw new Error(`the real node ${node} is not Ready`);
  const reg = registryFromEnv({});
  await ensureEmbeddedRegistry(reg, log);
  if (!(await registryAnswers(reg))) throw new Error(`the OCI registry does not answer on ${reg.prefix}`);
  const crane = craneRunner(await ensureCrane(log), reg.craneEnv);
  const observer = await buildObserverImage(reg, crane, log);
  const t0 = performance.now();
  const loaded = await loadSpecs([FIXTURE_SPEC]);
  if (loaded.problems.length) throw new Error(`fixture spec: ${JSON.stringify(loaded.problems)}`);
  const built = await buildSpecs(loaded.specs, log);
  if (built.problems.length)
    throw new Error(`building the fixture function: ${JSON.stringify(built.problems)}`);
  const functionImage = built.built[0]!.reference;
  log(`[real-node] ${node}: observer ${observer.reference}, function ${functionImage}`);
  return {
    node,
    observerImage: observer.reference,
    functionImage,
    workerEnv: {
      PONTOON_OBSERVER_IMAGE: observer.reference,
      PONTOON_POD_NODE_SELECTOR: Object.entries(NODE_SELECTOR)
        .map(([k, v]) => `${k}=${v}`)
        .join(','),
      PONTOON_POD_TOLERATIONS: TOLERATION,
      // A finished pod is deleted as soon as its record is stored, as the bare pods are: B2r waits
      // for every pod's deletion between calls (the 5 s default would add 5 s to each call's wait,
      // not to what it measures), and B3r's two sides then leave the node equally soon.
      PONTOON_POD_DELETE_DELAY: '0s',
    },
    buildSeconds: { observer: observer.seconds, function: (performance.now() - t0) / 1000 },
  };
}

/**
 * The fixture function (test/fixtures/real-node/fn) with the built image, its `mode` parameter
 * defaulting to `mode` (ok: exits at once; sleep:<ms>), one attempt (a failure must show, not be
 * retried away).
 */
export function realFunction(name: string, env: RealNodeEnv, mode: string): FunctionSpec {
  return functionSpecSchema().parse({
    apiVersion: 'pontoon.dev/v1',
    kind: 'Function',
    metadata: { name },
    spec: {
      build: { context: FIXTURE_CONTEXT, runtime: 'node', command: ['node', 'main.mjs'] },
      image: env.functionImage,
      parameters: [
        { name: 'mode', default: mode },
        { name: 'name', default: 'world' },
        { name: 'delayMs', type: 'integer', default: 0 },
      ],
      execution: { timeout: '60s', retry: { maxAttempts: 1, initialInterval: '1s' } },
    },
  });
}

export const BARE_LABEL = 'app.kubernetes.io/managed-by';
export const BARE_VALUE = 'bench-real';

/** Milestones of one pod, as the driver's watch saw them (performance.now() ms). */
export interface PodMilestones {
  added?: number;
  scheduled?: number;
  observerStarted?: number;
  functionRunning?: number;
  functionDone?: number;
  finished?: number;
  phase?: string;
  deleted?: number;
  /** A Pontoon pod whose observer is an ordinary container beside the function (no init container). */
  beside?: boolean;
}

function containerState(pod: V1Pod, name: string) {
  return [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])].find(
    (c) => c.name === name,
  );
}

/**
 * One watch of a namespace's pods (a label selector) that timestamps, per pod, the first time each
 * milestone is seen: ADDED, bound to a node, observer started, function running,
 * function exited, pod Succeeded/Failed, DELETED. Also counts pods that exist (peak).
 */
export async function podMilestones(kc: KubeConfig, core: CoreV1Api, namespace: string, selector: string) {
  const pods = new Map<string, PodMilestones>();
  let existing = 0;
  let peakExisting = 0;
  const waiters = new Map<string, (m: PodMilestones) => void>();
  const watch = await watchPods(kc, core, namespace, selector, (type, pod) => {
    const now = performance.now();
    const name = pod.metadata?.name ?? '';
    if (type === 'BOOKMARK' || !name) return;
    let m = pods.get(name);
    if (!m) {
      if (type === 'DELETED') return;
      m = { added: now };
      pods.set(name, m);
      peakExisting = Math.max(peakExisting, ++existing);
    }
    if (type === 'DELETED') {
      if (m.deleted === undefined) {
        m.deleted = now;
        existing--;
      }
      return;
    }
    if (pod.spec?.nodeName) m.scheduled ??= now;
    m.beside ??= pod.spec?.containers.some((c) => c.name === OBSERVER_CONTAINER) ?? false;
    const obs = containerState(pod, OBSERVER_CONTAINER);
    if (obs?.started || obs?.state?.running || obs?.state?.terminated) m.observerStarted ??= now;
    const fn = containerState(pod, FUNCTION_CONTAINER)?.state;
    if (fn?.running || fn?.terminated) m.functionRunning ??= now;
    if (fn?.terminated) m.functionDone ??= now;
    const phase = pod.status?.phase;
    if ((phase === 'Succeeded' || phase === 'Failed') && m.finished === undefined) {
      m.finished = now;
      m.phase = phase;
      const w = waiters.get(name);
      waiters.delete(name);
      w?.(m);
    }
  });
  return {
    pods,
    /** Resolves when the pod has Succeeded or Failed (already, or later). */
    finished(name: string): Promise<PodMilestones> {
      const m = pods.get(name);
      if (m?.finished !== undefined) return Promise.resolve(m);
      return new Promise((resolve) => waiters.set(name, resolve));
    },
    existing: () => existing,
    peakExisting: () => peakExisting,
    resetPeak: () => {
      peakExisting = existing;
    },
    /** The first pod added at or after `t` (sequential calls: the call's own pod). */
    addedAfter(t: number): [string, PodMilestones] | undefined {
      return [...pods].find(([, m]) => (m.added ?? -1) >= t);
    },
    stop: () => watch.stop(),
  };
}

export type Milestones = Awaited<ReturnType<typeof podMilestones>>;

/** Waits until no watched pod exists (at most `ms`). */
export async function untilNoPods(watches: Milestones[], ms = 60_000): Promise<void> {
  const until = performance.now() + ms;
  while (watches.some((w) => w.existing() > 0) && performance.now() < until) await sleep(100);
}

/**
 * The bare-pod baseline on the real node: Pontoon's attempt pod for the same spec without the
 * observer (and the process namespace shared with it); create → Succeeded (watch) → delete.
 */
export async function bareRealPods(
  kc: KubeConfig,
  core: CoreV1Api,
  namespace: string,
  env: RealNodeEnv,
  spec: FunctionSpec,
) {
  const watch = await podMilestones(kc, core, namespace, `${BARE_LABEL}=${BARE_VALUE}`);
  const prefix = `bare-${Date.now().toString(36)}`;
  let seq = 0;
  const parameters = Object.fromEntries(spec.spec.parameters.map((p) => [p.name, p.default])) as Record<
    string,
    string | number
  >;
  const podFor = (name: string): V1Pod => {
    const pod = buildAttemptPod(
      spec,
      {
        executionId: name,
        function: spec.metadata.name,
        attempt: 1,
        spec,
        parameters,
        input: { from: 'bench' },
        scheduledTime: new Date().toISOString(),
        trigger: 'bench',
        timeoutMs: 60_000,
      },
      {
        namespace,
        observerImage: env.observerImage,
        placement: {
          nodeSelector: NODE_SELECTOR,
          tolerations: [
            { key: 'pontoon.dev/real-node', operator: 'Equal', value: 'true', effect: 'NoSchedule' },
          ],
        },
        killGraceSeconds: KILL_GRACE_SECONDS,
      },
    );
    const fn = pod.spec!.containers.find((c) => c.name === FUNCTION_CONTAINER)!;
    const dir = fn.env!.find((e) => e.name === 'PONTOON_DIR')!.value!;
    // What the observer does first (the request into input.json), then the function itself, in one process.
    const request = inputJson({
      executionId: name,
      function: spec.metadata.name,
      attempt: 1,
      spec,
      parameters,
      input: { from: 'bench' },
      scheduledTime: new Date().toISOString(),
      trigger: 'bench',
      timeoutMs: 60_000,
    });
    fn.command = [
      'node',
      '-e',
      `require('node:fs').writeFileSync(${JSON.stringify(`${dir}/input.json`)}, ${JSON.stringify(request)}); import(${JSON.stringify(`${APP_DIR}/main.mjs`)});`,
    ];
    pod.metadata = { name, namespace, labels: { [BARE_LABEL]: BARE_VALUE } };
    // The function container alone, its input.json written by its own command.
    delete pod.spec!.initContainers;
    pod.spec!.containers = [fn];
    pod.spec!.volumes = pod.spec!.volumes!.filter((v) => v.emptyDir);
    fn.volumeMounts = fn.volumeMounts!.filter((v) => v.mountPath === dir);
    delete pod.spec!.shareProcessNamespace; // there only for the observer (observer/function-exit.ts)
    return pod;
  };
  return {
    watch,
    /** create → Succeeded (seen by the watch) → delete accepted; throws if the pod Failed. */
    async run(): Promise<{ name: string; createdMs: number }> {
      const name = `${prefix}-${seq++}`;
      const body = podFor(name);
      const t0 = performance.now();
      await core.createNamespacedPod({ namespace, body });
      const createdMs = performance.now() - t0;
      const m = await watch.finished(name);
      await core.deleteNamespacedPod({ name, namespace });
      if (m.phase !== 'Succeeded') throw new Error(`bare pod ${name} ${m.phase}`);
      return { name, createdMs };
    },
    stop: () => watch.stop(),
  };
}

/** Segments (ms) of a pod's life from `t0` (the call's start) to `t1` (its end), milestones filled forward. */
export function segments(t0: number, t1: number, m: PodMilestones | undefined, pontoon: boolean) {
  if (!m) return undefined;
  // A pod whose observer starts beside the function (not before it) has the bare pod's milestones.
  const sidecar = pontoon && !m.beside;
  const order = sidecar
    ? (['added', 'observerStarted', 'functionRunning', 'functionDone', 'finished'] as const)
    : (['added', 'functionRunning', 'functionDone', 'finished'] as const);
  const at: number[] = [];
  for (let i = order.length - 1, next = t1; i >= 0; i--) {
    const v = m[order[i]!] ?? next;
    at[i] = Math.min(v, next);
    next = at[i]!;
  }
  const names = sidecar
    ? [
        'start → pod created (workflow, activity, create)',
        'created → observer started (schedule, sandbox, pull check, observer start)',
        'observer started → function running (input.json written, ready hook)',
        'function running → exited (the function)',
        'function exited → pod Succeeded (observer report + exit)',
        'pod Succeeded → result (log read, activity + workflow done, result poll)',
      ]
    : pontoon
      ? [
          'start → pod created (workflow, activity, create)',
          'created → function running (schedule, sandbox, start; observer beside)',
          'function running → exited (the function)',
          'function exited → pod Succeeded (observer start if later, report + exit)',
          'pod Succeeded → result (log read, activity + workflow done, result poll)',
        ]
      : [
          'create request → pod created',
          'created → function running (schedule, sandbox, start)',
          'function running → exited (the function)',
          'function exited → pod Succeeded',
          'pod Succeeded → delete accepted',
        ];
  const points = [t0, ...at, t1];
  return Object.fromEntries(names.map((n, i) => [n, points[i + 1]! - points[i]!]));
}

/** Per segment, p50 and p99 over calls. */
export function segmentStats(list: (Record<string, number> | undefined)[]) {
  const ok = list.filter((x): x is Record<string, number> => Boolean(x));
  if (!ok.length) return {};
  return Object.fromEntries(
    Object.keys(ok[0]!).map((k) => {
      const v = ok.map((x) => x[k]!);
      return [k, { p50: Math.round(percentile(v, 50)), p99: Math.round(percentile(v, 99)) }];
    }),
  );
}

export interface ClosedLoopResult {
  concurrency: number;
  warmupMs: number;
  windowMs: number;
  /** Jobs that finished (successfully) inside the measured window. */
  completed: number;
  /** Jobs that finished successfully at all (warm-up and drain included): for CPU per call. */
  completedTotal: number;
  perSec: number;
  /** Calls that failed, warm-up and drain included (any failure is a finding). */
  failed: number;
  errors: string[];
  latencyP50Ms: number;
  latencyP99Ms: number;
  /** Jobs still running when the window closed, awaited (not counted). */
  drainedMs: number;
}

/**
 * `concurrency` callers, each running the job again as soon as it ends, for `warmupMs` (not
 * counted: the pipeline fills) then `windowMs` (counted: jobs that finished inside it).
 */
export async function closedLoop(
  job: Job,
  concurrency: number,
  warmupMs: number,
  windowMs: number,
): Promise<ClosedLoopResult> {
  const t0 = performance.now();
  const from = t0 + warmupMs;
  const end = from + windowMs;
  const done: [number, number][] = [];
  let failed = 0;
  const errors: string[] = [];
  const caller = async () => {
    while (performance.now() < end) {
      const s = performance.now();
      try {
        await job();
        const f = performance.now();
        done.push([f, f - s]);
      } catch (err) {
        failed++;
        if (errors.length < 5) errors.push(String((err as Error)?.message ?? err));
      }
    }
  };
  const callers = Array.from({ length: concurrency }, () => caller());
  await sleep(Math.max(0, end - performance.now()));
  const closed = performance.now();
  await Promise.all(callers);
  const counted = done.filter(([f]) => f >= from && f <= end);
  const lat = counted.map(([, ms]) => ms);
  return {
    concurrency,
    warmupMs,
    windowMs,
    completed: counted.length,
    completedTotal: done.length,
    perSec: counted.length / (windowMs / 1000),
    failed,
    errors,
    latencyP50Ms: percentile(lat, 50),
    latencyP99Ms: percentile(lat, 99),
    drainedMs: performance.now() - closed,
  };
}
