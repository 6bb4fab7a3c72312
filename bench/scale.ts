/**
 * B5 scale: N on-demand executions of one function on kwok (N = 1,000; 75 with --quick), started
 * at 50/s (a batch arriving over N/50 s), each pod running D = 25 s (6 s quick), so that all N are
 * in flight together. Measured: executions in flight and pods Running at once (a watch of the
 * driver's), the worker process's peak RSS (sampled every 250 ms; VmHWM too) with a heap
 * breakdown, apiserver requests per pod launched (the worker's own counter, and the apiserver's
 * count of every client's requests), failures, and the time to drain: last start → last result,
 * awaited at most D + 100 s (+60 s quick); what is left then is terminated and counted unfinished.
 * Baseline: N bare pods (create → Succeeded → delete) at the same pace, same D, same nodes.
 */
import { Label } from '../core/names.ts';
import { apiserverRequests, barePods, podCounter } from './cluster.ts';
import { type ScenarioContext, type ScenarioResult, sleep, summaryRow } from './lib.ts';
import { memoryOf } from './memory.ts';
import { apply, kubeNoop, pontoonJob, startPontoon } from './specs.ts';

type Started = (() => Promise<void>) & { abandon?: () => Promise<void> };

/**
 * Starts `count` jobs at `rate` per second on a fixed timetable (not waiting for earlier ones),
 * then waits for all of them, at most `capMs` after the last start: jobs still running then are
 * abandoned (terminated) and counted as unfinished, so a system that cannot drain does not hold up
 * the run. Failures are counted, not thrown.
 */
async function paced(count: number, rate: number, capMs: number, start: () => Promise<Started>) {
  const t0 = performance.now();
  let inFlight = 0;
  let peakInFlight = 0;
  let lastDone = t0;
  const errors: string[] = [];
  const waits: Promise<void>[] = [];
  const running = new Set<Started>();
  let abandoning = false;
  for (let i = 0; i < count; i++) {
    const due = t0 + (i * 1000) / rate;
    const now = performance.now();
    if (due > now) await sleep(due - now);
    waits.push(
      (async () => {
        let job: Started | undefined;
        try {
          job = await start();
          running.add(job);
          peakInFlight = Math.max(peakInFlight, ++inFlight);
          try {
            await job();
            lastDone = performance.now();
          } finally {
            inFlight--;
            running.delete(job);
          }
        } catch (err) {
          if (!abandoning) errors.push(String((err as Error)?.message ?? err));
        }
      })(),
    );
  }
  const allSubmitted = performance.now();
  const all = Promise.all(waits);
  const drained = await Promise.race([all.then(() => true), sleep(capMs).then(() => false)]);
  const unfinished = drained ? 0 : running.size;
  if (!drained) {
    abandoning = true;
    const left = [...running];
    for (let i = 0; i < left.length; i += 50) {
      await Promise.all(left.slice(i, i + 50).map((j) => j.abandon?.().catch(() => undefined)));
    }
    await all;
  }
  return {
    t0,
    allSubmitted,
    end: drained ? lastDone : allSubmitted + capMs,
    drained,
    unfinished,
    peakInFlight,
    failed: errors.length,
    errors: errors.slice(0, 3),
  };
}

export async function benchScale(ctx: ScenarioContext): Promise<ScenarioResult> {
  const n = ctx.quick ? 75 : 1000;
  const rate = 50;
  // Pods outlive the submission (n / rate seconds) by a margin, so all n are in flight together.
  const runS = ctx.quick ? 6 : 25;
  // The drain is awaited at most this long after the last start; what is left is terminated.
  const capMs = (runS + (ctx.quick ? 60 : 100)) * 1000;
  const kube = await ctx.kube();
  const lease = await ctx.stacks.kube('bench-b5', { maxConcurrentAttempts: n + 100 });
  const { stack, namespace: ns } = lease;
  const fn = 'scale';
  try {
    await apply(stack.client, stack.taskQueue, kubeNoop(fn, runS, kube.nodeSelector));
    await apply(stack.client, stack.taskQueue, kubeNoop('scale-warmup', 0, kube.nodeSelector));
    for (let i = 0; i < 3; i++) await pontoonJob(stack.client, stack.taskQueue, 'scale-warmup')();

    const idle = await stack.worker.stats();
    let peakRss = idle.rssMiB;
    let atPeak = idle;
    let sampling = Promise.resolve();
    const sampler = setInterval(() => {
      const m = memoryOf(stack.worker.pid);
      if (m) peakRss = Math.max(peakRss, m.rssMiB);
      // The heap breakdown every 2 s (an IPC round trip), kept for the largest RSS seen.
      if (Date.now() % 2000 < 250)
        sampling = sampling.then(async () => {
          const s = await stack.worker.stats();
          if (s.rssMiB >= atPeak.rssMiB) atPeak = s;
        });
    }, 250);
    const pods = await podCounter(kube.kc, kube.core, ns, `${Label.function}=${fn}`);
    // Diagnosis only (it pauses the worker for seconds): heap snapshots of the worker's threads once
    // every execution has started, when all are in flight.
    const snapshotDir = process.env.PONTOON_BENCH_HEAP_SNAPSHOTS;
    const snapshotTimer = snapshotDir
      ? setTimeout(
          () =>
            void stack.worker
              .snapshot(snapshotDir)
              .then((files) => ctx.log(`[scale] heap snapshots: ${files.join(', ')}`)),
          (n / rate) * 1000 + 2000,
        )
      : undefined;
    const statsBefore = await stack.worker.stats();
    const before = statsBefore.requests ?? {};
    const apiBefore = await apiserverRequests(kube.kc);
    const ours = await ctx.cpu.phase(`pontoon, ${n} executions of ${runS} s`, stack.processes, () =>
      paced(n, rate, capMs, () => startPontoon(stack.client, stack.taskQueue, fn)),
    );
    clearInterval(sampler);
    clearTimeout(snapshotTimer);
    await sampling;
    const apiPontoon = (await apiserverRequests(kube.kc)) - apiBefore;
    const statsAfter = await stack.worker.stats();
    const after = statsAfter.requests ?? {};
    // Per execution that launched a pod (one that failed before its pod made no request).
    const launched =
      (statsAfter.launches?.created ?? 0) +
      (statsAfter.launches?.adopted ?? 0) -
      (statsBefore.launches?.created ?? 0) -
      (statsBefore.launches?.adopted ?? 0);
    const hwm = memoryOf(stack.worker.pid)?.hwmMiB ?? Number.NaN;
    const perVerb = Object.fromEntries(
      Object.keys(after).map((k) => [k, ((after[k] ?? 0) - (before[k] ?? 0)) / launched]),
    );
    const peakRunning = pods.peakRunning();
    pods.stop();
    const drainS = (ours.end - ours.allSubmitted) / 1000;
    ctx.log(
      `[scale] pontoon: ${n} executions, ${ours.failed} failed${ours.failed ? ` (${ours.errors[0]})` : ''}, ${ours.unfinished} unfinished; ${ours.drained ? 'drained' : 'not drained'} ${drainS.toFixed(1)} s after the last start; peak ${peakRunning} pods Running; worker RSS peak ${peakRss.toFixed(0)} MiB (HWM ${hwm.toFixed(0)})`,
    );

    // Baseline: as many bare pods, same pace, same run time, same nodes.
    const bare = await barePods(kube.kc, kube.core, ns, {
      nodeSelector: kube.nodeSelector,
      tolerations: kube.tolerations,
    });
    await bare.run(0);
    const apiBareBefore = await apiserverRequests(kube.kc);
    const theirs = await ctx.cpu.phase(`bare pods, ${n} of ${runS} s`, stack.processes, () =>
      paced(n, rate, capMs, () => bare.start(runS)),
    );
    const apiBare = (await apiserverRequests(kube.kc)) - apiBareBefore;
    const barePeak = bare.peakRunning();
    bare.stop();
    const bareDrainS = (theirs.end - theirs.allSubmitted) / 1000;
    ctx.log(
      `[scale] bare pods: ${theirs.failed} failed, ${theirs.unfinished} unfinished; ${bareDrainS.toFixed(1)} s after the last start; peak ${barePeak} Running`,
    );
    // Let kwok finish deleting before the next scenario.
    await sleep(2000);

    return {
      scenario: 'scale',
      title: 'B5 scale',
      summary: [
        summaryRow(
          {
            scenario: 'B5',
            figure: `worker RSS peak, ${n} in flight (peak ${peakRunning} pods Running at once)`,
            unit: 'MiB',
            pontoon: peakRss,
            target: n >= 1000 ? '≤ 512 MiB' : '≤ 512 MiB (at 1,000)',
          },
          { better: 'lower', of: 'value', limit: 512 },
        ),
        summaryRow(
          {
            scenario: 'B5',
            figure: `apiserver requests by the worker per pod launched, pods run ${runS} s`,
            unit: 'req',
            pontoon: perVerb.total ?? Number.NaN,
            target: '≤ 4',
          },
          { better: 'lower', of: 'value', limit: 4 },
        ),
        summaryRow({
          scenario: 'B5',
          figure: 'apiserver requests, all clients, per pod launched',
          unit: 'req',
          pontoon: apiPontoon / launched,
          baseline: apiBare / n,
          baselineName: 'bare pod lifecycle',
        }),
        summaryRow({
          scenario: 'B5',
          figure: `time to drain: last start → last result (pods run ${runS} s)${ours.drained ? '' : `; ${ours.unfinished} not done after ${capMs / 1000} s`}`,
          unit: 's',
          pontoon: drainS,
          baseline: bareDrainS,
          baselineName: `${n} bare pods`,
        }),
        summaryRow(
          {
            scenario: 'B5',
            figure: `executions failed or unfinished, of ${n}`,
            unit: '',
            pontoon: ours.failed + ours.unfinished,
            baseline: theirs.failed + theirs.unfinished,
            baselineName: 'bare pods',
            target: '0',
          },
          { better: 'lower', of: 'value', limit: 0 },
        ),
      ],
      details: {
        executions: n,
        startedPerSecond: rate,
        podRunSeconds: runS,
        peakPodsRunning: { pontoon: peakRunning, bare: barePeak },
        peakExecutionsInFlight: { pontoon: ours.peakInFlight, bare: theirs.peakInFlight },
        failed: { pontoon: ours.failed, bare: theirs.failed, errors: [...ours.errors, ...theirs.errors] },
        unfinishedAfterCap: { pontoon: ours.unfinished, bare: theirs.unfinished, capSeconds: capMs / 1000 },
        podsLaunchedByPontoon: launched,
        workerRssMiB: { idle: idle.rssMiB, peak: peakRss, hwm },
        workerMemoryAtIdle: idle,
        workerMemoryNearPeak: atPeak,
        workerApiRequestsPerPod: perVerb,
        apiserverRequestsAllClientsPerPod: { pontoon: apiPontoon / launched, bare: apiBare / n },
        secondsFirstStartToLastResult: {
          pontoon: (ours.end - ours.t0) / 1000,
          bare: (theirs.end - theirs.t0) / 1000,
        },
        drainSecondsAfterLastStart: { pontoon: drainS, bare: bareDrainS },
      },
    };
  } finally {
    await lease.release();
  }
}
