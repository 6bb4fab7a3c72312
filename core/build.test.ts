import { describe, expect, it } from 'vitest';
import { buildAttemptPod } from '../activities/kubernetes/pod.ts';
import { ConfigError } from '../platform/config.ts';
import { parseConfig } from '../worker/config.ts';
import { containerCommand, functionImage, ImageNotBuiltError, localCommand, localCwd } from './build.ts';
import { parseSpecText } from './parse.ts';

const doc = (spec: string) =>
  `apiVersion: pontoon.dev/v1\nkind: Function\nmetadata:\n  name: b\nspec:\n${spec
    .trim()
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n')}\n`;

describe('spec.build', () => {
  it('needs image, build or local.command, and refuses command beside build', () => {
    const none = parseSpecText(doc('parameters: []'), 'f.yaml');
    expect(none.problems.map((p) => `${p.line}:${p.column} ${p.path}: ${p.message}`)).toEqual([
      '6:3 spec: needs "image" (an image reference), "build" (source Pontoon packages into an image), or "local.command" (a function that runs on the local runtime only)',
    ]);
    // Local only (issue 18): valid; in a pod it is ImageUnavailable with what to do.
    const local = parseSpecText(doc('local: {command: [node, x.js]}'), 'f.yaml');
    expect(local.problems).toEqual([]);
    expect(() => functionImage(local.specs[0]!.spec)).toThrow(
      'function b has no image: it runs on the local runtime only (spec.local.command). To run it on Kubernetes, set spec.image, or spec.build and apply it with `pontoon apply`',
    );
    const both = parseSpecText(doc('build: {context: src, runtime: node}\ncommand: [node, x.js]'), 'f.yaml');
    expect(both.problems.map((p) => `${p.path}: ${p.message}`)).toEqual([
      "spec.command: is not used with spec.build: set build.command (the built image's entrypoint)",
    ]);
    const base = parseSpecText(doc('build: {context: src, runtime: node, base: "Not An Image"}'), 'f.yaml');
    expect(base.problems[0]?.path).toBe('spec.build.base');
  });

  it('runs the same command on both runtimes: the local runtime in the context, pods as the command', () => {
    const parsed = parseSpecText(doc('build: {context: /src/fn, runtime: python}\nargs: [--fast]'), 'f.yaml');
    const s = parsed.specs[0]!.spec;
    expect(localCommand(s.spec)).toEqual(['python3', 'main.py', '--fast']);
    expect(localCwd(s.spec)).toBe('/src/fn');
    expect(containerCommand(s.spec)).toEqual({ command: ['python3', 'main.py'] });
    expect(() => functionImage(s)).toThrow(ImageNotBuiltError);
    s.spec.image = 'reg.example/pontoon/b@sha256:' + 'a'.repeat(64);
    expect(functionImage(s)).toBe(s.spec.image);
  });
});

describe('function pod placement (PONTOON_POD_NODE_SELECTOR, PONTOON_POD_TOLERATIONS)', () => {
  const base = { TEMPORAL_ADDRESS: 'localhost:7233' };
  it('parses kubectl label and taint syntax, and the pod carries both (a spec nodeSelector adds to it)', () => {
    const c = parseConfig({
      ...base,
      PONTOON_POD_NODE_SELECTOR: 'pontoon.dev/real-node=true, pool=functions',
      PONTOON_POD_TOLERATIONS: 'pontoon.dev/real-node=true:NoSchedule,dedicated:NoExecute',
    });
    expect(c.kubernetes.placement).toEqual({
      nodeSelector: { 'pontoon.dev/real-node': 'true', pool: 'functions' },
      tolerations: [
        { key: 'pontoon.dev/real-node', operator: 'Equal', value: 'true', effect: 'NoSchedule' },
        { key: 'dedicated', operator: 'Exists', effect: 'NoExecute' },
      ],
    });
    const spec = parseSpecText(doc('image: x:1\nnodeSelector: {zone: a}'), 'f.yaml').specs[0]!.spec;
    const pod = buildAttemptPod(
      spec,
      {
        executionId: 'exec:b:1',
        function: 'b',
        attempt: 1,
        spec,
        parameters: {},
        input: null,
        scheduledTime: '2026-11-30T00:00:00Z',
        trigger: 'api',
        timeoutMs: 1000,
      },
      { namespace: 'ns', observerImage: 'o:1', placement: c.kubernetes.placement },
    );
    expect(pod.spec?.nodeSelector).toEqual({ 'pontoon.dev/real-node': 'true', pool: 'functions', zone: 'a' });
    expect(pod.spec?.tolerations).toEqual(c.kubernetes.placement.tolerations);
  });

  it('refuses malformed values at start with the variable and an example', () => {
    expect(() => parseConfig({ ...base, PONTOON_POD_NODE_SELECTOR: 'novalue' })).toThrow(ConfigError);
    expect(() => parseConfig({ ...base, PONTOON_POD_NODE_SELECTOR: 'novalue' })).toThrow(
      /PONTOON_POD_NODE_SELECTOR: "novalue" is not key=value/,
    );
    expect(() => parseConfig({ ...base, PONTOON_POD_TOLERATIONS: 'k=v:Sometimes' })).toThrow(
      /PONTOON_POD_TOLERATIONS: "k=v:Sometimes" is not key\[=value\]:NoSchedule\|PreferNoSchedule\|NoExecute/,
    );
  });
});
