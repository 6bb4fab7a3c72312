/**
 * High availability under injected faults: two workers and two API instances per runtime against
 * one Temporal dev server, while executions run on the local runtime and on the simulated cluster
 * (kube-apiserver + kwok). At least 200 real faults of four kinds: SIGKILL of a worker process,
 * SIGKILL of an API process (each restarted after a moment, as a Deployment would), SIGKILL +
 * restart of the file-backed Temporal dev server (same database file, same port), and — most of
 * them — attempts caught at the completion boundary: a worker SIGKILLed right after their outcomes,
 * before Temporal records them (PONTOON_FAULT_KILL_AFTER_OUTCOME, worker/faults.ts: an armed worker
 * holds the outcomes that come back in 6 s, then dies with all of them, so one restart catches
 * several; half the kills once the worker's after-outcome work is done: on kubernetes the records
 * stored and the pods already deleted, PONTOON_POD_DELETE_DELAY=0s). Each such attempt's retried
 * activity must adopt its outcome (the pod, or the record kept with the attempt), never run it again.
 *
 * Layout. A worker process has one runtime, and an execution runs on the task queue it is started
 * on, which the API takes from its own PONTOON_TASK_QUEUE. So there are two HA stacks sharing one
 * Temporal: "local" (2 local-runtime workers + 2 API instances on one queue, one shared data folder
 * as on one machine) and "kube" (2 kubernetes-runtime workers + 2 API instances on another queue,
 * pods in one namespace). Each stack is what one production deployment looks like; nothing in the
 * product was changed to route one API to two runtimes.
 *
 * Clients submit through both API instances of a stack (alternating), each execution with its own
 * idempotency key; a request that fails (connection refused or reset by a killed API, 5xx while
 * Temporal restarts) is retried with the same key on the other instance until acknowledged, so a
 * retry can never create a second execution.
 *
 * What is counted (printed as one `[ha]` line, then asserted):
 * - acknowledged: executions an API answered 200/202 for (the client's "started").
 * - a *run* is one execution of the function body: local, a pid's "start" line in the marks file
 *   (test/fixtures/functions/ha-marks.mjs); kube, one pod (by uid) the test's own watch of the
 *   namespace saw, with the execution id annotation and attempt label.
 *   A run *completed* when it finished its work: local, its "end" line (written after output.json);
 *   kube, its pod reached phase Succeeded or Failed.
 * - duplicate attempts: for one execution and attempt number, every completed local run beyond the
 *   first, every pod beyond the first; plus every attempt record in an execution's result that
 *   does not match the evidence (no completed run/pod for it, a different exit code, an output
 *   whose pid is not the completed run's pid) and every completed run whose attempt the result
 *   does not list. A run killed before it completed (a worker SIGKILLed mid-attempt leaves an
 *   orphan, which the retried activity kills before it starts the attempt again) is an
 *   *interrupted run*, not a duplicate. A run that completed after its worker was killed is the
 *   attempt's one completed run: the retried activity must report it (local: the exit status the
 *   run recorded; kube: the pod, adopted by its deterministic name), not run the function again.
 *   Must be 0.
 * - lost: acknowledged executions that did not end with status succeeded (or not at all: the drain
 *   waits while results keep arriving and gives up after 90 s without one). Must be 0.
 * - completed exactly once: acknowledged, succeeded, and no duplicate or mismatch in its evidence.
 * Also asserted: every submission was acknowledged, no API ever answered a 4xx, Temporal holds
 * exactly the acknowledged executions of each function (no extra ones), the test's pod watch had no
 * gap (no 410), and every fault hit while executions were in flight.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import {
  appendFileSync,
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
} from 'node:fs';
import path from 'node:path';
import { CoreV1Api, type V1Pod, Watch } from '@kubernetes/client-node';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { waitForResult } from '../client/functions.ts';
import type { ExecutionResult } from '../core/execution.ts';
import { Label } from '../core/names.ts';
import { type DevServer, freePort, portOpen, startDevServer } from '../dev/temporal.ts';
import { EXECUTION_ID_ANNOTATION } from '../kube/names.ts';
import { connectClient } from '../platform/temporal.ts';
import { FIXTURE_FUNCTIONS, REPO_ROOT, uniqueName, waitFor } from './helpers.ts';
import {
  createNamespace,
  kubeConfig,
  kubeconfigPath,
  simReport,
  TEST_OBSERVER_IMAGE,
} from './kube-helpers.ts';

/**
 * Faults injected by the test, in this order of kinds (a Temporal restart every seventh fault): at
 * least FAULTS, then more until the completion-boundary faults the workers inject themselves bring
 * the total to MIN_FAULTS (how many those catch depends on the machine's load), at most MAX_FAULTS.
 */
const FAULTS = 24;
const MAX_FAULTS = 60;
/** No fault starts after this long (a slow machine's faults take ~10 s each). */
const FAULT_PHASE_MAX_MS = 480_000;
/**
 * Probability that an outcome arms a worker's completion-boundary kill (both stacks): the worker
 * then holds every first-try outcome of the next 6 s and dies with them. Each worker arms every ~4
 * outcomes, so it spends about a third of its time holding; each kill catches a few attempts.
 */
const KILL_AFTER_OUTCOME = 0.25;
/** At least this many faults in all (attempts caught at the boundary count one each), and per stack. */
const MIN_FAULTS = 200;
const MIN_BOUNDARY_FAULTS_PER_STACK = 40;
/** What worker/faults.ts writes to stderr (the worker's log file here): per attempt lost, per kill. */
const FAULT_LINE = '[pontoon] fault injected: SIGKILL after the outcome';
const KILL_LINE = '[pontoon] fault injected: SIGKILL of the worker';
/** Pause between faults; executions keep being submitted throughout. */
const FAULT_GAP_MS = 3500;
/** One submission per stack this often while faults are injected… */
const SUBMIT_EVERY_MS = 600;
/**
 * …while fewer than this many of the stack's executions are open; else the submitter waits. A quiet
 * run keeps ~55 open per stack; on a loaded machine (a CI run beside a CPU hog and other tests) the
 * backlog grew to ~450 and the drain could not finish it in DRAIN_MAX_MS: the bound keeps the work,
 * and so the drain, the same size whatever the load.
 */
const MAX_OPEN_PER_STACK = 80;
/** How long the local function runs, and the simulated pod run time. */
const LOCAL_RUN_MS = 1500;
const POD_RUN = '2s';
/** Every third local execution fails its first attempt, so results hold retried attempts too. */
const FAIL_FIRST_EVERY = 3;

type StackName = 'local' | 'kube';
type Kind = 'worker' | 'api';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Set at the end: crashed processes are no longer restarted. */
let stopping = false;

// ------------------------------------------------------------------------------- processes

/** A worker or API process the test starts, SIGKILLs and restarts (what a Deployment would do). */
class Managed {
  child: ChildProcess | undefined;
  state: 'down' | 'starting' | 'up' = 'down';
  /** Killed by the test (expected) vs exits nobody asked for. */
  killedByTest = false;
  unexpectedExits = 0;
  /** Exits of a worker that killed itself at the completion boundary (its fault line says so). */
  injectedKills = 0;
  starts = 0;
  /** Where this start's output begins in the log file. */
  logOffset = 0;
  partner!: Managed;

  constructor(
    readonly name: string,
    readonly kind: Kind,
    readonly stack: StackName,
    readonly env: Record<string, string>,
    readonly logFile: string,
    readonly port?: number,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Spawns the process and waits until it serves; a start that dies is retried (a crash loop). */
  async start(): Promise<void> {
    this.state = 'starting';
    for (let tries = 1; ; tries++) {
      const offset = fileSize(this.logFile);
      this.logOffset = offset;
      const fd = openSync(this.logFile, 'a');
      this.killedByTest = false;
      const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'pontoon.mjs'), this.kind], {
        cwd: REPO_ROOT,
        env: { ...process.env, ...this.env },
        stdio: ['ignore', fd, fd],
      });
      closeSync(fd);
      this.child = child;
      this.starts++;
      let exited = false;
      child.once('exit', () => {
        exited = true;
        if (this.child !== child) return;
        if (!this.killedByTest && this.state === 'up') {
          // Died on its own while serving: an injected fault (its line is in this start's output)
          // or not; either way restarted as a Deployment would, until it serves again.
          if (readFrom(this.logFile, this.logOffset).includes(FAULT_LINE)) this.injectedKills++;
          else this.unexpectedExits++;
          this.state = 'down';
          void this.restartUntilUp();
        }
      });
      const ready = await waitFor(
        `${this.name} to serve`,
        async () => {
          if (exited) return 'exited';
          if (this.kind === 'api') {
            const ok = await fetch(`${this.url}/healthz`, { signal: AbortSignal.timeout(1000) }).then(
              (r) => r.ok,
              () => false,
            );
            return ok ? 'up' : undefined;
          }
          return readFrom(this.logFile, offset).includes('"msg":"worker running"') ? 'up' : undefined;
        },
        // Generous: eight processes start at once at set-up, and a loaded machine starts node slowly.
        180_000,
      );
      if (ready === 'up') {
        this.state = 'up';
        return;
      }
      if (tries >= 5) throw new Error(`${this.name} exited at start ${tries} times; see ${this.logFile}`);
      await sleep(500);
    }
  }

  /** Restarts after a crash, however long it takes (Temporal may be restarting meanwhile). */
  async restartUntilUp(): Promise<void> {
    while (!stopping) {
      try {
        await this.start();
        return;
      } catch {
        await sleep(2000);
      }
    }
  }

  /** SIGKILL: no graceful drain, in-flight work is lost with the process. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    this.killedByTest = true;
    this.state = 'down';
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await gone;
  }
}

function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

function readFrom(file: string, offset: number): string {
  try {
    return readFileSync(file).subarray(offset).toString('utf8');
  } catch {
    return '';
  }
}

// ------------------------------------------------------------------------------- pod evidence

interface PodRecord {
  uid: string;
  name: string;
  executionId: string;
  attempt: number;
  phases: Set<string>;
}

/**
 * The test's own list+watch of the namespace, keeping every pod by uid (a pod deleted and created
 * again under the same name is two records). Resumes each stream from the last resourceVersion; a
 * 410 would mean events may have been missed, so it is counted as a gap and the test fails.
 */
async function recordPodsByUid(namespace: string) {
  const kc = kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const pods = new Map<string, PodRecord>();
  let gaps = 0;
  let stopped = false;
  let abort: AbortController | undefined;
  const note = (pod: V1Pod) => {
    const uid = pod.metadata?.uid;
    if (!uid) return;
    let r = pods.get(uid);
    if (!r) {
      r = {
        uid,
        name: pod.metadata?.name ?? '',
        executionId: pod.metadata?.annotations?.[EXECUTION_ID_ANNOTATION] ?? '',
        attempt: Number(pod.metadata?.labels?.[Label.attempt]),
        phases: new Set(),
      };
      pods.set(uid, r);
    }
    if (pod.status?.phase) r.phases.add(pod.status.phase);
  };
  const list = async () => {
    const l = await core.listNamespacedPod({ namespace });
    for (const p of l.items) note(p);
    return l.metadata?.resourceVersion;
  };
  let rv = await list();
  const loop = (async () => {
    while (!stopped) {
      const outcome = await new Promise<'ok' | 'gone' | 'error'>((resolve) => {
        let gone = false;
        new Watch(kc)
          .watch(
            `/api/v1/namespaces/${namespace}/pods`,
            { resourceVersion: rv, allowWatchBookmarks: true, timeoutSeconds: 20 },
            (type: string, obj: V1Pod & { code?: number }) => {
              if (type === 'ERROR') {
                if (obj.code === 410) gone = true;
                return;
              }
              if (obj.metadata?.resourceVersion) rv = obj.metadata.resourceVersion;
              if (type !== 'BOOKMARK') note(obj);
            },
            (err: unknown) => {
              const status = (err as { statusCode?: number } | null)?.statusCode;
              resolve(gone || status === 410 ? 'gone' : err && !stopped ? 'error' : 'ok');
            },
          )
          .then(
            (c) => {
              abort = c;
              if (stopped) c.abort();
            },
            () => resolve('error'),
          );
      });
      if (stopped) break;
      if (outcome === 'gone') {
        gaps++;
        rv = await list().catch(() => rv);
      } else if (outcome === 'error') {
        await sleep(250);
      }
    }
  })();
  return {
    pods,
    gaps: () => gaps,
    async stop() {
      stopped = true;
      abort?.abort();
      await loop;
    },
  };
}

// ------------------------------------------------------------------------------- local evidence

interface LocalRun {
  pid: number;
  executionId: string;
  attempt: number;
  startedAt: number;
  end?: { at: number; code: number };
}

function readRuns(file: string): LocalRun[] {
  // Keyed by execution, attempt and pid: over a long run on a busy machine pids are reused (Linux's
  // pid_max is 32,768), and keying by pid alone let a later run hide an earlier one's marks (seen in
  // a hog run: two executions' attempts both ran as pid 18523).
  const runs = new Map<string, LocalRun>();
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  for (const line of text.split('\n')) {
    const [kind, executionId, attempt, pid, at, code] = line.split(' ');
    if (!kind || !executionId) continue;
    const key = `${executionId} ${attempt} ${pid}`;
    if (kind === 'start') {
      runs.set(key, {
        pid: Number(pid),
        executionId,
        attempt: Number(attempt),
        startedAt: Number(at),
      });
    } else if (kind === 'end') {
      const r = runs.get(key);
      if (r) r.end = { at: Number(at), code: Number(code) };
    }
  }
  return [...runs.values()];
}

// ------------------------------------------------------------------------------- the run

const testDir = mkdtempSync(path.join(inject('testDir'), 'ha-'));
const marksFile = path.join(testDir, 'marks.log');
const dbFile = path.join(testDir, 'temporal.db');
const serverLog = path.join(testDir, 'temporal-server.log');
/** Both local workers' PONTOON_DATA_DIR: they stand for one machine. */
const localDataDir = path.join(testDir, 'local-data');
let setupStartedAt = 0;
const procs: Managed[] = [];
const localFn = uniqueName('ha-local');
const kubeFn = uniqueName('ha-kube');
let serverPort = 0;
let server: DevServer | undefined;
let client: Client | undefined;
let ns: Awaited<ReturnType<typeof createNamespace>> | undefined;
let podRecorder: Awaited<ReturnType<typeof recordPodsByUid>> | undefined;

/** Never leave a process behind, even when the test process itself dies. */
function killEverything() {
  stopping = true;
  for (const p of procs) {
    p.killedByTest = true;
    if (p.child && p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  }
  server?.process.kill('SIGKILL');
  // Local function runs live in their own process groups (led by the attempt's sh, whose pid is in
  // the attempt folder's pid file while it runs); none may outlive the test.
  const kill = (pid: number) => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  };
  const runsDir = path.join(localDataDir, 'runs');
  for (const execution of safeReaddir(runsDir)) {
    for (const attempt of safeReaddir(path.join(runsDir, execution))) {
      const pgid = Number(readFrom(path.join(runsDir, execution, attempt, 'pid'), 0).trim());
      if (pgid > 1) kill(-pgid);
    }
  }
  for (const r of readRuns(marksFile)) if (!r.end) kill(r.pid);
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
process.once('exit', killEverything);

async function startServer(): Promise<DevServer> {
  const s = await startDevServer({
    cli: inject('temporalCli'),
    port: serverPort,
    dbFile,
    logFile: serverLog,
  });
  return s;
}

beforeAll(async () => {
  setupStartedAt = Date.now();
  serverPort = await freePort();
  server = await startServer();
  client = await connectClient({ address: server.address, namespace: 'default' });
  ns = await createNamespace('pontoon-ha');
  podRecorder = await recordPodsByUid(ns.name);
  mkdirSync(localDataDir, { recursive: true });
  const common = {
    TEMPORAL_ADDRESS: server.address,
    PONTOON_WORKFLOW_BUNDLE: inject('workflowBundlePath'),
    PONTOON_LOG_LEVEL: 'info',
    PONTOON_AUTH: 'none',
    // Read by workers only: the completion-boundary faults.
    PONTOON_FAULT_KILL_AFTER_OUTCOME: String(KILL_AFTER_OUTCOME),
  };
  const stacks: Record<StackName, Record<string, string>> = {
    local: {
      ...common,
      PONTOON_TASK_QUEUE: `ha-local-${process.pid}`,
      PONTOON_RUNTIME: 'local',
      // Both local workers stand for one machine: the retried attempt must find the lost one's orphan.
      PONTOON_DATA_DIR: localDataDir,
      PONTOON_LOCAL_ROOT: REPO_ROOT,
      PONTOON_KILL_GRACE: '2s',
    },
    kube: {
      ...common,
      PONTOON_TASK_QUEUE: `ha-kube-${process.pid}`,
      PONTOON_RUNTIME: 'kubernetes',
      KUBECONFIG: kubeconfigPath(),
      PONTOON_KUBE_NAMESPACE: ns.name,
      PONTOON_OBSERVER_IMAGE: TEST_OBSERVER_IMAGE,
      PONTOON_IMAGE_PULL_GRACE: '2s',
      PONTOON_DATA_DIR: path.join(testDir, 'kube-data'),
      // A collected pod goes as soon as its record is stored: a retry that comes later finds only
      // the record (exactly-once must not depend on the pod staying a while).
      PONTOON_POD_DELETE_DELAY: '0s',
    },
  };
  for (const stack of ['local', 'kube'] as const) {
    for (const kind of ['worker', 'api'] as const) {
      const pair: Managed[] = [];
      for (const i of [1, 2]) {
        const name = `${stack}-${kind}-${i}`;
        const port = kind === 'api' ? await freePort() : undefined;
        const env = { ...stacks[stack], ...(port ? { PONTOON_API_PORT: String(port) } : {}) };
        pair.push(new Managed(name, kind, stack, env, path.join(testDir, `${name}.log`), port));
      }
      pair[0]!.partner = pair[1]!;
      pair[1]!.partner = pair[0]!;
      procs.push(...pair);
    }
  }
  await Promise.all(procs.map((p) => p.start()));

  // Apply each function through an API of its stack: its controller lives on that stack's queue.
  await putSpec(api('local', 0), {
    apiVersion: 'pontoon.dev/v1',
    kind: 'Function',
    metadata: { name: localFn },
    spec: {
      image: 'pontoon/test:0',
      parameters: [
        { name: 'marks', default: marksFile },
        { name: 'ms', type: 'integer', default: LOCAL_RUN_MS },
        { name: 'failUntil', type: 'integer', default: 1 },
      ],
      execution: { timeout: '1m', retry: { maxAttempts: 3, initialInterval: '1s' } },
      local: { command: ['node', path.join(FIXTURE_FUNCTIONS, 'ha-marks.mjs')] },
    },
  });
  await putSpec(api('kube', 0), {
    apiVersion: 'pontoon.dev/v1',
    kind: 'Function',
    metadata: { name: kubeFn },
    spec: {
      image: 'example.invalid/functions/test:1',
      podAnnotations: {
        'pontoon.dev/sim-duration': POD_RUN,
        'pontoon.dev/sim-termination-message': simReport({ ok: true }),
      },
      execution: { timeout: '1m' },
    },
  });
}, 300_000);

afterAll(async () => {
  await podRecorder?.stop();
  killEverything();
  await client?.connection.close();
  await ns?.remove();
});

function api(stack: StackName, i: number): Managed {
  return procs.filter((p) => p.stack === stack && p.kind === 'api')[i]!;
}

async function putSpec(via: Managed, spec: unknown): Promise<void> {
  const name = (spec as { metadata: { name: string } }).metadata.name;
  const res = await fetch(`${via.url}/v1/functions/${name}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(spec),
  });
  if (!res.ok) throw new Error(`PUT /v1/functions/${name}: ${res.status} ${await res.text()}`);
}

interface Ack {
  stack: StackName;
  key: string;
  executionId: string;
  /** false: an earlier request had started it, but its answer was lost (e.g. the API was killed). */
  created: boolean;
  requests: number;
}

const refused: string[] = [];

/** Submits one execution through the stack's APIs until one acknowledges it, always with the same key. */
async function submit(stack: StackName, index: number): Promise<Ack> {
  const fn = stack === 'local' ? localFn : kubeFn;
  const key = `${stack}-${index}`;
  const body = {
    idempotencyKey: key,
    ...(stack === 'local' && index % FAIL_FIRST_EVERY === 0 ? { parameters: { failUntil: 2 } } : {}),
  };
  const since = Date.now();
  for (let requests = 1; ; requests++) {
    // Alternate instances: a client-side balancer that moves on from an instance that failed.
    const via = api(stack, (index + requests) % 2);
    try {
      const res = await fetch(`${via.url}/v1/functions/${fn}/invocations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(15_000),
      });
      const text = await res.text();
      if (res.status === 200 || res.status === 202) {
        const j = JSON.parse(text) as { executionId: string; created: boolean };
        return { stack, key, executionId: j.executionId, created: j.created, requests };
      }
      // 5xx (Temporal restarting, a query to a killed worker timing out) is retried; a 4xx is a
      // wrong answer under faults, recorded and asserted to be zero, then retried too.
      if (res.status < 500) refused.push(`${via.name} ${res.status} ${text.slice(0, 200)}`);
    } catch {
      // Connection refused or reset: the instance is down. Retry elsewhere.
    }
    if (Date.now() - since > 120_000) throw new Error(`execution ${key} not acknowledged in 120 s`);
    await sleep(200);
  }
}

/** The drain gives up when no result has arrived for this long (a stall, not a slow machine). */
const DRAIN_STALL_MS = 90_000;
/** …or after this long in all. */
const DRAIN_MAX_MS = 420_000;

it('loses and duplicates no execution across 200+ faults: SIGKILLs of workers (also right after an outcome) and APIs, and Temporal restarts', {
  // Set-up and faults take ~4 min quiet, up to FAULT_PHASE_MAX_MS (+ the first FAULTS) loaded; the
  // drain up to DRAIN_MAX_MS more.
  timeout: 1_200_000,
}, async () => {
  const t0 = Date.now();
  const c = client!;
  const faultTimes: number[] = [];
  const faults = { worker: 0, api: 0, temporal: 0 };
  const restarts: Promise<void>[] = [];
  const faultLog = path.join(testDir, 'faults.log');
  const noteFault = (kind: string, victim: string) => {
    faultTimes.push(Date.now());
    appendFileSync(faultLog, `${Date.now()} ${kind} ${victim}\n`);
  };

  // Submitters: one execution per stack every SUBMIT_EVERY_MS until the faults are done.
  let submitting = true;
  const acks: Promise<Ack>[] = [];
  const heldBackMs: Record<StackName, number> = { local: 0, kube: 0 };
  /** Waits while MAX_OPEN_PER_STACK of the stack's executions are open (visibility; on error: goes on). */
  const roomFor = async (stack: StackName) => {
    const fn = stack === 'local' ? localFn : kubeFn;
    const since = Date.now();
    while (submitting) {
      const open = await c.workflow
        .count(`PontoonFunction = "${fn}" AND ExecutionStatus = "Running"`)
        .then((r) => r.count)
        .catch(() => 0); // Temporal restarting: submitting then is part of the test
      if (open < MAX_OPEN_PER_STACK) break;
      await sleep(500);
    }
    heldBackMs[stack] += Date.now() - since;
  };
  const submitters = (['local', 'kube'] as const).map(async (stack) => {
    for (let i = 1; submitting; i++) {
      await roomFor(stack);
      if (!submitting) break;
      const ack = submit(stack, i);
      ack.catch(() => {}); // awaited below; no unhandled rejection meanwhile
      acks.push(ack);
      await sleep(SUBMIT_EVERY_MS);
    }
  });

  // Faults: a Temporal restart every seventh, otherwise worker and API kills in turn; victims in
  // rotation across both stacks, never an API whose partner is down (one failure at a time per
  // pair). Workers also kill themselves at the completion boundary, so a worker victim only needs
  // to be up: both of a pair are down at once now and then, which the executions must survive too.
  const rotation: Record<Kind, number> = { worker: 0, api: 0 };
  await sleep(3000);
  // Boundary faults so far, read from the workers' logs while the test runs (counted again at the end).
  const boundarySoFar = (s: StackName) =>
    procs
      .filter((p) => p.stack === s && p.kind === 'worker')
      .map((p) => readFrom(p.logFile, 0).split(FAULT_LINE).length - 1)
      .reduce((x, y) => x + y, 0);
  const enough = () => {
    const local = boundarySoFar('local');
    const kube = boundarySoFar('kube');
    const injected = faults.worker + faults.api + faults.temporal;
    return injected + local + kube >= MIN_FAULTS && Math.min(local, kube) >= MIN_BOUNDARY_FAULTS_PER_STACK;
  };
  // The time cap holds for the first FAULTS too: on a machine slow enough to need it, the workers'
  // boundary faults alone pass MIN_FAULTS (two loaded runs: 202 each), and the test must end in time.
  const inTime = () => Date.now() - t0 < FAULT_PHASE_MAX_MS;
  for (let n = 1; n <= MAX_FAULTS && inTime() && (n <= FAULTS || !enough()); n++) {
    const kind: Kind | 'temporal' = n % 7 === 4 ? 'temporal' : n % 2 ? 'worker' : 'api';
    if (kind === 'temporal') {
      // Let pending restarts finish first: a process starting against a dead server would crash-loop.
      await Promise.all(restarts);
      const s = server!;
      const gone = new Promise((r) => s.process.once('exit', r));
      noteFault('temporal', 'dev server');
      s.process.kill('SIGKILL');
      await gone;
      faults.temporal++;
      await sleep(1000);
      server = await startServer();
      await waitFor('Temporal to answer', () => portOpen(serverPort) || undefined, 30_000);
    } else {
      const candidates = procs.filter((p) => p.kind === kind);
      let victim: Managed | undefined;
      await waitFor(
        `a ${kind} to kill`,
        () => {
          for (let k = 0; k < candidates.length; k++) {
            const p = candidates[(rotation[kind] + k) % candidates.length]!;
            if (p.state === 'up' && (kind === 'worker' || p.partner.state === 'up')) {
              victim = p;
              rotation[kind] = (rotation[kind] + k + 1) % candidates.length;
              return true;
            }
          }
          return undefined;
        },
        60_000,
      );
      const v = victim!;
      noteFault(kind, `${v.name} pid ${v.child?.pid}`);
      await v.kill();
      faults[kind]++;
      const restart = sleep(500 + Math.random() * 1500).then(() => v.start());
      restart.catch(() => {}); // awaited below
      restarts.push(restart);
    }
    await sleep(FAULT_GAP_MS);
  }
  submitting = false;
  await Promise.all(submitters);
  await Promise.all(restarts);
  const faultsEndedAt = Date.now();
  const acked = await Promise.all(acks);

  // Drain: every acknowledged execution's result, from Temporal (the system of record). A loaded
  // machine drains slowly, not wrongly: the drain goes on while results keep arriving and gives up
  // when none has arrived for DRAIN_STALL_MS (or after DRAIN_MAX_MS in all).
  const results = new Map<string, ExecutionResult | Error>();
  const drainStartedAt = Date.now();
  let lastResultAt = drainStartedAt;
  let stallTimer: NodeJS.Timeout | undefined;
  const stalled = new Promise<Error>((resolve) => {
    stallTimer = setInterval(() => {
      const now = Date.now();
      if (now - lastResultAt > DRAIN_STALL_MS || now - drainStartedAt > DRAIN_MAX_MS) {
        resolve(new Error('no result in the drain period'));
      }
    }, 1000);
  });
  const queue = [...acked];
  try {
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        for (let a = queue.shift(); a; a = queue.shift()) {
          const ack = a;
          const r = await Promise.race([
            waitForResult(c, ack.executionId).then(
              (v) => {
                lastResultAt = Date.now();
                return v;
              },
              (e: Error) => e,
            ),
            stalled,
          ]);
          results.set(ack.executionId, r);
        }
      }),
    );
  } finally {
    clearInterval(stallTimer);
  }
  const drainedAt = Date.now();

  // Evidence. Pods: wait until the test's watch shows the final pod of each kube execution finished.
  const pods = podRecorder!.pods;
  const podsOfAttempt = (id: string, attempt: number) =>
    [...pods.values()].filter((p) => p.executionId === id && p.attempt === attempt);
  const finished = (p: PodRecord) => p.phases.has('Succeeded') || p.phases.has('Failed');
  await waitFor(
    'the pod watch to catch up',
    () =>
      acked
        .filter((a) => a.stack === 'kube')
        .every((a) => {
          const r = results.get(a.executionId);
          if (!r || r instanceof Error) return true;
          const last = r.attempts.at(-1);
          return !last || podsOfAttempt(a.executionId, last.attempt).some(finished);
        }) || undefined,
    15_000,
  ).catch(() => {});
  const runs = readRuns(marksFile);

  let duplicates = 0;
  const duplicatesOf: Record<StackName, number> = { local: 0, kube: 0 };
  let mismatches = 0;
  let lost = 0;
  let exactlyOnce = 0;
  const problems: string[] = [];
  for (const ack of acked) {
    const id = ack.executionId;
    const r = results.get(id);
    let clean = true;
    const problem = (what: string) => {
      clean = false;
      if (problems.length < 20) problems.push(`${id}: ${what}`);
    };
    if (!r || r instanceof Error || r.status !== 'succeeded') {
      lost++;
      problem(`lost: ${r instanceof Error ? r.message : (r?.status ?? 'no result')}`);
      continue;
    }
    const listed = new Set(r.attempts.map((x) => x.attempt));
    const out = r.output as { pid?: number; attempt?: number } | null;
    // Per attempt number: extra completed runs are duplicates; the result's record must match one
    // completed run (a mismatch is counted once, apart from the extra runs).
    const check = (attempt: number, completed: number, matches: boolean, evidence: () => string) => {
      if (completed > 1) {
        duplicates += completed - 1;
        duplicatesOf[ack.stack] += completed - 1;
        problem(`attempt ${attempt} ran to completion ${completed} times: ${evidence()}`);
      }
      const record = r.attempts.find((x) => x.attempt === attempt);
      if ((record && !matches) || (!record && completed > 0)) {
        mismatches++;
        problem(`result attempt ${attempt} ${JSON.stringify(record ?? null)} vs ${evidence()}`);
      }
    };
    if (ack.stack === 'local') {
      const mine = runs.filter((x) => x.executionId === id);
      for (const attempt of new Set([...mine.map((x) => x.attempt), ...listed])) {
        const done = mine.filter((x) => x.attempt === attempt && x.end);
        const record = r.attempts.find((x) => x.attempt === attempt);
        const isLast = record !== undefined && record === r.attempts.at(-1);
        const matches = done.some(
          (run) =>
            run.end!.code === record?.exitCode &&
            (!isLast || (out?.pid === run.pid && out?.attempt === attempt)),
        );
        check(attempt, done.length, matches, () => `completed runs ${JSON.stringify(done)}`);
      }
    } else {
      const mine = [...pods.values()].filter((p) => p.executionId === id);
      for (const attempt of new Set([...mine.map((p) => p.attempt), ...listed])) {
        const of = mine.filter((p) => p.attempt === attempt);
        const record = r.attempts.find((x) => x.attempt === attempt);
        const phase = record?.exitCode === 0 ? 'Succeeded' : 'Failed';
        check(
          attempt,
          // Every pod counts as a run: a pod name is never reused by a different attempt.
          of.length,
          of.some((p) => p.phases.has(phase)),
          () => `pods ${JSON.stringify(of.map((p) => ({ ...p, phases: [...p.phases] })))}`,
        );
      }
    }
    if (clean) exactlyOnce++;
  }

  // Temporal holds exactly the acknowledged executions, no more.
  const inTemporal = new Map<string, { start: number; close?: number }>();
  for await (const w of c.workflow.list({
    query: `PontoonFunction = "${localFn}" OR PontoonFunction = "${kubeFn}"`,
  })) {
    inTemporal.set(w.workflowId, { start: w.startTime.getTime(), close: w.closeTime?.getTime() });
  }
  const ackedIds = new Set(acked.map((a) => a.executionId));
  const extra = [...inTemporal.keys()].filter((id) => !ackedIds.has(id));
  // Executions in flight (started, not closed) at each fault.
  const inFlight = faultTimes.map(
    (t) => [...inTemporal.values()].filter((w) => w.start <= t && (w.close ?? Infinity) > t).length,
  );
  const interrupted = runs.filter((x) => !x.end).length;
  // Local attempts whose worker was lost after the function finished: the retry adopted the outcome.
  const adopted = procs
    .filter((p) => p.stack === 'local' && p.kind === 'worker')
    .map((p) => readFrom(p.logFile, 0).split('adopted the outcome of this attempt').length - 1)
    .reduce((x, y) => x + y, 0);
  const retriedSubmissions = acked.filter((a) => a.requests > 1).length;
  // Completion-boundary faults: the workers' own fault lines (early: at once; late: after the
  // record was stored and, on kubernetes, the pod deleted), and the retries that adopted a record.
  const workerLogs = (s: StackName) =>
    procs.filter((p) => p.stack === s && p.kind === 'worker').map((p) => readFrom(p.logFile, 0));
  const occurrences = (s: StackName, text: string) =>
    workerLogs(s)
      .map((l) => l.split(text).length - 1)
      .reduce((x, y) => x + y, 0);
  const boundary = {
    local: occurrences('local', FAULT_LINE),
    kube: occurrences('kube', FAULT_LINE),
    late: occurrences('local', `${FAULT_LINE} (late)`) + occurrences('kube', `${FAULT_LINE} (late)`),
  };
  const kubeAdoptedRecords = occurrences('kube', 'adopted the outcome of this attempt recorded by');
  const injectedKills = occurrences('local', KILL_LINE) + occurrences('kube', KILL_LINE);
  const restartsSeen = procs.reduce((n, p) => n + p.injectedKills, 0);
  const foundStarted = acked.filter((a) => !a.created).length;
  const unexpected = procs.filter((p) => p.unexpectedExits).map((p) => `${p.name}×${p.unexpectedExits}`);
  const count = (s: StackName) => acked.filter((a) => a.stack === s).length;
  const totalFaults = faults.worker + faults.api + faults.temporal + boundary.local + boundary.kube;

  console.log(
    `[ha] faults ${totalFaults} (worker SIGKILL ${faults.worker}, API SIGKILL ${faults.api}, Temporal restart ${faults.temporal}, ` +
      `worker SIGKILL at the completion boundary ${boundary.local + boundary.kube}: local ${boundary.local}, kube ${boundary.kube}, after the record/pod deletion ${boundary.late}; in ${injectedKills} kills, ${restartsSeen} restarts seen); ` +
      `executions acknowledged ${acked.length} (local ${count('local')}, kube ${count('kube')}), ` +
      `completed exactly once ${exactlyOnce}; duplicate attempts ${duplicates + mismatches} ` +
      `(extra runs ${duplicates}: local ${duplicatesOf.local}, kube ${duplicatesOf.kube}; result/evidence mismatches ${mismatches}); lost ${lost}; ` +
      `in flight at faults min ${Math.min(...inFlight)} avg ${(inFlight.reduce((a, b) => a + b, 0) / inFlight.length).toFixed(1)}; ` +
      `local runs interrupted ${interrupted}, adopted after a lost worker ${adopted}; kube records adopted ${kubeAdoptedRecords}; submissions retried ${retriedSubmissions} (already started ${foundStarted}); ` +
      `pods ${pods.size}; unexpected process exits ${unexpected.length ? unexpected.join(' ') : 0}; ` +
      `set-up ${((t0 - setupStartedAt) / 1000).toFixed(0)} s, faults ${((faultsEndedAt - t0) / 1000).toFixed(0)} s, drain ${((drainedAt - faultsEndedAt) / 1000).toFixed(0)} s; ` +
      `submissions held back (${MAX_OPEN_PER_STACK} open) local ${(heldBackMs.local / 1000).toFixed(0)} s, kube ${(heldBackMs.kube / 1000).toFixed(0)} s`,
  );
  if (problems.length) {
    console.log(
      `[ha] problems (faults in ${faultLog}, process logs in ${testDir}):\n  ${problems.join('\n  ')}`,
    );
  }
  if (refused.length) console.log(`[ha] 4xx answers:\n  ${refused.slice(0, 10).join('\n  ')}`);

  expect(totalFaults).toBeGreaterThanOrEqual(MIN_FAULTS);
  expect(Math.min(faults.worker, faults.api, faults.temporal)).toBeGreaterThan(0);
  expect(Math.min(boundary.local, boundary.kube)).toBeGreaterThanOrEqual(MIN_BOUNDARY_FAULTS_PER_STACK);
  // Some retries came after the pod was gone and had only the record to go by.
  expect(kubeAdoptedRecords).toBeGreaterThan(0);
  expect(count('local')).toBeGreaterThan(0);
  expect(count('kube')).toBeGreaterThan(0);
  expect(Math.min(...inFlight)).toBeGreaterThan(0);
  expect(podRecorder!.gaps()).toBe(0);
  expect(refused).toEqual([]);
  expect(extra).toEqual([]);
  expect({ duplicates: duplicates + mismatches, lost }).toEqual({ duplicates: 0, lost: 0 });
  expect(exactlyOnce).toBe(acked.length);
});
