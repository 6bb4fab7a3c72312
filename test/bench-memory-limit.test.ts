import { describe, expect, it } from 'vitest';
import { benchWorkerMemoryLimit, deployedWorkerMemoryLimit, memoryBytes } from '../bench/memory-limit.ts';

describe('bench: the worker memory limit B5 measures under', () => {
  it('reads binary memory quantities and refuses others', () => {
    expect(memoryBytes('1Gi')).toBe(1073741824);
    expect(memoryBytes('512Mi')).toBe(536870912);
    expect(memoryBytes('1024')).toBe(1024);
    expect(() => memoryBytes('1G')).toThrow('expected <integer>[Ki|Mi|Gi|Ti]');
    expect(() => memoryBytes('1.5Gi')).toThrow('memory quantity "1.5Gi"');
  });

  it("takes the deployed worker container's limit, unless the environment says otherwise", () => {
    expect(deployedWorkerMemoryLimit()).toEqual({ quantity: '1Gi', bytes: 1073741824 });
    expect(benchWorkerMemoryLimit({})).toEqual({
      quantity: '1Gi',
      bytes: 1073741824,
      from: 'deploy/worker-deployment.yaml',
    });
    expect(benchWorkerMemoryLimit({ PONTOON_BENCH_WORKER_MEMORY_LIMIT: '512Mi' })?.bytes).toBe(536870912);
    expect(benchWorkerMemoryLimit({ PONTOON_BENCH_WORKER_MEMORY_LIMIT: 'none' })).toBeUndefined();
  });
});
