/**
 * The pod of one on-demand attempt, built by a pure function from the spec and the attempt request
 * (no I/O; unit-tested in test/kubernetes-pod.test.ts). The runtime only sends it.
 *
 * Shape: a bare Pod (restartPolicy Never: Temporal owns retries, not the kubelet) whose function
 * container and observer share an emptyDir at /pontoon and one process namespace
 * (shareProcessNamespace). Every container satisfies Pod Security "restricted". Two layouts:
 *
 * - **beside** (the request fits in an annotation, INPUT_ANNOTATION_BUDGET_BYTES; nearly always):
 *     containers: function  (the spec's image, command, args, env, resources; started first), reads
 *                           /pontoon/input.json from a downward API volume of the pod's
 *                           pontoon.dev/input annotation
 *                 observer  (observer image, `observer beside`: an ordinary container that reports
 *                           once the function's processes are gone, or on SIGTERM)
 *   Nothing runs before the function, so it starts as early as a bare pod's container would.
 * - **sidecar** (a larger request):
 *     initContainers: observer  (native sidecar, `observer on-demand`: restartPolicy Always; writes
 *                               /pontoon/input.json from env chunks before its postStart hook lets the
 *                               function start, then reports as above)
 *     containers:     function
 */
import type {
  V1Container,
  V1EnvVar,
  V1Pod,
  V1PodSpec,
  V1ResourceRequirements,
  V1SecurityContext,
  V1Toleration,
} from '@kubernetes/client-node';
import { attemptContractEnv, INPUT_FILE, POD_DIR } from '../../contract/env.ts';
import { DEFAULT_KILL_GRACE_MS } from '../../contract/exit.ts';
import { splitInput } from '../../contract/termination.ts';
import { containerCommand, functionImage } from '../../core/build.ts';
import { type AttemptRequest, functionRequestJson, LIMITS } from '../../core/execution.ts';
import { Label } from '../../core/names.ts';
import type { FunctionSpec } from '../../core/schema.ts';
import {
  attemptPodName,
  EGRESS_LABEL,
  EXECUTION_ID_ANNOTATION,
  executionHash,
  FUNCTION_CONTAINER,
  INPUT_ANNOTATION,
  MANAGED_BY,
  OBSERVER_CONTAINER,
  RUN_ID_ANNOTATION,
} from '../../kube/names.ts';

/** PONTOON_DIR of an attempt pod (contract/env.ts). */
export const PONTOON_DIR = POD_DIR;
/**
 * Non-root uid/gid when the spec does not say: images built to run as root still start under
 * runAsNonRoot (65532 is distroless' "nonroot").
 */
export const DEFAULT_UID = 65532;
/** Slack on activeDeadlineSeconds over the attempt timeout: the worker stops the pod first; the kubelet is the backstop. */
export const DEADLINE_SLACK_SECONDS = 15;

/**
 * Where function pods go, set by the worker for all functions (PONTOON_POD_NODE_SELECTOR,
 * PONTOON_POD_TOLERATIONS): e.g. nodes reserved for functions by a taint. A spec's own
 * nodeSelector adds to (and wins over) this one.
 */
export interface PodPlacement {
  nodeSelector?: Record<string, string>;
  tolerations?: V1Toleration[];
}

export interface PodBuildOptions {
  namespace: string;
  observerImage: string;
  placement?: PodPlacement;
  /** terminationGracePeriodSeconds: SIGTERM → SIGKILL on deletion (cancel, timeout). */
  killGraceSeconds?: number;
  /** Hash of the spec's egress NetworkPolicy (network.ts), set as the pod's pontoon.dev/egress label. */
  egress?: string;
  /** Temporal run id of the execution (RUN_ID_ANNOTATION), when known. */
  runId?: string;
}

/**
 * Most bytes of annotations, keys and values and the request's own included, with which the request
 * rides in the pod's INPUT_ANNOTATION (the beside layout); a larger request takes the sidecar layout
 * (env chunks, which only the pod's size limits). Far below what the apiserver allows (256 KiB in all,
 * k8s.io/apimachinery ValidateAnnotationsSize) because the kubelet copies every pod annotation into
 * the pod's CRI sandbox (seen on the test cluster's real node: `crictl pods -o json` lists them all),
 * and the container runtime returns them all in each ListPodSandbox of the
 * kubelet's relist, whose answer the kubelet caps at 16 MiB (kubernetes/kubernetes#64672; #77138 is
 * a relist failing on it): at 16 KiB a pod, a node's 110 pods and their not yet removed sandboxes
 * stay well under it.
 */
export const INPUT_ANNOTATION_BUDGET_BYTES = 16 * 1024;

/** Volume of the beside layout's input: a downward API file of the INPUT_ANNOTATION. */
const INPUT_VOLUME = 'pontoon-input';

/** The request JSON the function reads from $PONTOON_DIR/input.json (same as the local runtime's). */
export function inputJson(req: AttemptRequest): string {
  return functionRequestJson(req);
}

export const RESTRICTED: V1SecurityContext = {
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
  runAsNonRoot: true,
  seccompProfile: { type: 'RuntimeDefault' },
};

function quantities(list: { cpu?: string | number; memory?: string | number } | undefined) {
  if (!list) return undefined;
  const out: Record<string, string> = {};
  if (list.cpu !== undefined) out.cpu = String(list.cpu);
  if (list.memory !== undefined) out.memory = String(list.memory);
  return Object.keys(out).length ? out : undefined;
}

export function functionResources(spec: FunctionSpec): V1ResourceRequirements | undefined {
  const r = spec.spec.resources;
  const requests = quantities(r?.requests);
  const limits = quantities(r?.limits);
  if (!requests && !limits) return undefined;
  return { ...(requests ? { requests } : {}), ...(limits ? { limits } : {}) };
}

/** Where the observer image keeps its program (`npm run images`; observer/Dockerfile puts it there too). */
export const OBSERVER_ENTRY = '/app/observer.mjs';

export const OBSERVER_RESOURCES: V1ResourceRequirements = {
  requests: { cpu: '10m', memory: '32Mi' },
  limits: { memory: '128Mi' },
};

/** The spec's env for the function container, leaving out names the contract sets (they win). */
export function userEnvVars(spec: FunctionSpec, reserved: Set<string>): V1EnvVar[] {
  return spec.spec.env
    .filter((e) => !reserved.has(e.name))
    .map((e) =>
      e.secretRef
        ? { name: e.name, valueFrom: { secretKeyRef: { name: e.secretRef.name, key: e.secretRef.key } } }
        : { name: e.name, value: e.value ?? '' },
    );
}

/** Pod-level settings shared by attempt pods and warm replicas: identity, placement, "restricted". */
export function functionPodSettings(spec: FunctionSpec, placement: PodPlacement = {}): Partial<V1PodSpec> {
  const s = spec.spec;
  const nodeSelector = { ...placement.nodeSelector, ...s.nodeSelector };
  return {
    automountServiceAccountToken: s.automountServiceAccountToken ?? false,
    ...(s.serviceAccountName ? { serviceAccountName: s.serviceAccountName } : {}),
    ...(Object.keys(nodeSelector).length ? { nodeSelector } : {}),
    ...(placement.tolerations?.length ? { tolerations: placement.tolerations } : {}),
    enableServiceLinks: false,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: DEFAULT_UID,
      runAsGroup: DEFAULT_UID,
      fsGroup: DEFAULT_UID,
      seccompProfile: { type: 'RuntimeDefault' },
    },
  };
}

/** Bytes the apiserver counts for a pod's annotations: each key's and value's UTF-8 length. */
export function annotationBytes(annotations: Record<string, string>): number {
  let n = 0;
  for (const [k, v] of Object.entries(annotations)) n += Buffer.byteLength(k) + Buffer.byteLength(v);
  return n;
}

export function buildAttemptPod(spec: FunctionSpec, req: AttemptRequest, opts: PodBuildOptions): V1Pod {
  const s = spec.spec;
  const name = attemptPodName(req.function, req.executionId, req.attempt);
  const mount = [{ name: 'pontoon', mountPath: PONTOON_DIR }];

  const contract: V1EnvVar[] = attemptContractEnv(req, PONTOON_DIR);
  const reserved = new Set(contract.map((e) => e.name));
  const userEnv = userEnvVars(spec, reserved);

  const annotations: Record<string, string> = {
    ...(s.podAnnotations ?? {}),
    [EXECUTION_ID_ANNOTATION]: req.executionId,
    ...(opts.runId ? { [RUN_ID_ANNOTATION]: opts.runId } : {}),
  };
  const json = inputJson(req);
  const beside =
    annotationBytes(annotations) + annotationBytes({ [INPUT_ANNOTATION]: json }) <=
    INPUT_ANNOTATION_BUDGET_BYTES;
  if (beside) annotations[INPUT_ANNOTATION] = json;

  const observerEnv: V1EnvVar[] = [
    { name: 'PONTOON_DIR', value: PONTOON_DIR },
    { name: 'PONTOON_OUTPUT_LIMIT', value: String(LIMITS.outputBytes) },
  ];
  const observerBase = {
    name: OBSERVER_CONTAINER,
    image: opts.observerImage,
    volumeMounts: mount,
    resources: OBSERVER_RESOURCES,
    terminationMessagePolicy: 'File',
    securityContext: { ...RESTRICTED, readOnlyRootFilesystem: true },
  } satisfies V1Container;
  let observer: V1Container;
  if (beside) {
    // An ordinary container, listed after the function: the kubelet starts containers in order, so
    // the function starts first, as a bare pod's would. Whatever the order, the observer tells "not
    // started yet" from "already gone" by the function's input.json mount target (observer/function-exit.ts).
    observer = { ...observerBase, args: ['beside'], env: observerEnv };
  } else {
    const chunks = splitInput(json);
    observer = {
      ...observerBase,
      args: ['on-demand'],
      // Native sidecar: starts before the function; exits by itself once the function's processes are
      // gone, or on the SIGTERM the kubelet sends once the function container has exited.
      restartPolicy: 'Always',
      // The function starts only once this hook returns: when the sidecar handles SIGTERM (observer/main.ts).
      lifecycle: { postStart: { exec: { command: ['node', OBSERVER_ENTRY, 'ready'] } } },
      env: [
        ...observerEnv,
        { name: 'PONTOON_INPUT_CHUNKS', value: String(chunks.length) },
        ...chunks.map((value, i) => ({ name: `PONTOON_INPUT_${i}`, value })),
      ],
    };
  }
  const resources = functionResources(spec);
  const fn: V1Container = {
    name: FUNCTION_CONTAINER,
    image: functionImage(spec),
    ...containerCommand(s),
    ...(s.args ? { args: s.args } : {}),
    env: [...userEnv, ...contract],
    volumeMounts: beside
      ? [
          ...mount,
          // One file of the downward API volume over the shared folder: the kubelet writes it before
          // any container starts.
          {
            name: INPUT_VOLUME,
            mountPath: `${PONTOON_DIR}/${INPUT_FILE}`,
            subPath: INPUT_FILE,
            readOnly: true,
          },
        ]
      : mount,
    ...(resources ? { resources } : {}),
    // On a non-zero exit the kubelet puts the end of the log here: a log tail without pods/log.
    terminationMessagePolicy: 'FallbackToLogsOnError',
    securityContext: RESTRICTED,
  };

  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: opts.namespace,
      labels: {
        [Label.function]: req.function,
        [Label.execution]: executionHash(req.executionId),
        [Label.attempt]: String(req.attempt),
        [Label.managedBy]: MANAGED_BY,
        ...(opts.egress ? { [EGRESS_LABEL]: opts.egress } : {}),
      },
      annotations,
    },
    spec: {
      restartPolicy: 'Never',
      activeDeadlineSeconds: Math.ceil(req.timeoutMs / 1000) + DEADLINE_SLACK_SECONDS,
      terminationGracePeriodSeconds: Math.max(
        1,
        Math.ceil(opts.killGraceSeconds ?? DEFAULT_KILL_GRACE_MS / 1000),
      ),
      ...functionPodSettings(spec, opts.placement),
      // One process namespace for the pod: the observer sees the function's processes end and exits
      // with them, so one kubelet relist sees both containers done (observer/function-exit.ts).
      shareProcessNamespace: true,
      ...(beside
        ? {
            volumes: [
              { name: 'pontoon', emptyDir: {} },
              {
                name: INPUT_VOLUME,
                downwardAPI: {
                  items: [
                    {
                      path: INPUT_FILE,
                      fieldRef: { fieldPath: `metadata.annotations['${INPUT_ANNOTATION}']` },
                    },
                  ],
                },
              },
            ],
            containers: [fn, observer],
          }
        : {
            volumes: [{ name: 'pontoon', emptyDir: {} }],
            initContainers: [observer],
            containers: [fn],
          }),
    },
  };
}
