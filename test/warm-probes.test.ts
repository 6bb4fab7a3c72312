/**
 * The warm Deployment's probes (pure builder, no cluster): a replica that stops answering /healthz is
 * restarted by the kubelet (liveness, SIGTERM then SIGKILL after the kill grace) and leaves the ready
 * count meanwhile (readiness) — the Kubernetes side of issue 16 §3, with the same health-check
 * numbers as the local pools (WARM_HEALTH_CHECK). The example is the reported case, warm-hang.
 */
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildWarmDeployment, WARM_PORT } from '../activities/kubernetes/warm.ts';
import { WARM_HEALTH_CHECK } from '../contract/warm-invoke.ts';
import { loadSpecs } from '../core/load.ts';
import type { FunctionSpec } from '../core/schema.ts';
import { FIXTURE_FUNCTIONS } from './helpers.ts';

let spec: FunctionSpec;
beforeAll(async () => {
  spec = (await loadSpecs([path.join(FIXTURE_FUNCTIONS, 'warm-hang.yaml')])).specs[0]!.spec;
});

const opts = {
  namespace: 'fns',
  observerImage: 'registry.example/observer:1',
  temporal: { address: 'temporal:7233', namespace: 'default' },
};
const httpGet = { path: '/healthz', port: WARM_PORT };

describe('buildWarmDeployment probes', () => {
  it('the function container is probed on /healthz: startup, liveness with the kill grace, readiness', () => {
    const d = buildWarmDeployment(spec, 1, { ...opts, killGraceSeconds: 2 });
    const pod = d.spec!.template.spec!;
    const fn = pod.containers.find((c) => c.name === 'function')!;
    expect(fn.startupProbe).toEqual({ httpGet, periodSeconds: 2, timeoutSeconds: 2, failureThreshold: 30 });
    expect(fn.livenessProbe).toEqual({
      httpGet,
      periodSeconds: 10,
      timeoutSeconds: 5,
      failureThreshold: 3,
      terminationGracePeriodSeconds: 2,
    });
    expect(fn.readinessProbe).toEqual({ httpGet, periodSeconds: 5, timeoutSeconds: 5, failureThreshold: 2 });
    // Same numbers as the local runtime's health checks.
    expect(fn.livenessProbe!.periodSeconds! * 1000).toBe(WARM_HEALTH_CHECK.periodMs);
    expect(fn.livenessProbe!.timeoutSeconds! * 1000).toBe(WARM_HEALTH_CHECK.timeoutMs);
    expect(fn.livenessProbe!.failureThreshold).toBe(WARM_HEALTH_CHECK.failureThreshold);
    // The pod's own grace drains a scale-down: the 3 s attempt timeout + 5 s.
    expect(pod.terminationGracePeriodSeconds).toBe(8);
    // The observer is not probed: a restart of it would not unstick the function.
    const observer = pod.containers.find((c) => c.name === 'observer')!;
    expect(observer.livenessProbe).toBeUndefined();
  });

  it('the liveness kill grace defaults to 5 s (PONTOON_KILL_GRACE) and is at least 1 s', () => {
    const live = (killGraceSeconds?: number) =>
      buildWarmDeployment(spec, 1, {
        ...opts,
        ...(killGraceSeconds !== undefined ? { killGraceSeconds } : {}),
      }).spec!.template.spec!.containers[0]!.livenessProbe!.terminationGracePeriodSeconds;
    expect(live()).toBe(5);
    expect(live(0.5)).toBe(1);
    expect(live(0)).toBe(1);
    expect(live(30)).toBe(30);
  });
});
