/**
 * Every identifier a user sees in the Temporal Web UI or in Kubernetes, in one place.
 * Pure module: imported by workflows, activities, the worker, the CLI and the API.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Function names become Kubernetes names and labels: `<name>-<10 char execution hash>-<attempt>` for
 * pods and `pontoon-warm-<name>` for Deployments. 40 characters keeps both under the 63 of a DNS label.
 */
export const MAX_FUNCTION_NAME = 40;

/**
 * A DNS-1123 label (RFC 1123): lower-case letters, digits and "-", starting and ending with a letter
 * or digit. Function names (at most MAX_FUNCTION_NAME characters) and schedule names are such labels.
 */
export const DNS_LABEL_PATTERN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * A function name: a DNS-1123 label of at most MAX_FUNCTION_NAME characters — the one rule the spec
 * schema, the API (path and query) and the workflows apply.
 */
export function isFunctionName(name: unknown): name is string {
  return typeof name === 'string' && name.length <= MAX_FUNCTION_NAME && DNS_LABEL_PATTERN.test(name);
}

/** Task queue of the Pontoon worker (workflows and on-demand attempt activities). */
export const TASK_QUEUE = 'pontoon';

/** Task queue served by the warm replicas of one function. */
export const warmTaskQueue = (fn: string): string => `pontoon-warm-${fn}`;

export const WorkflowType = {
  execute: 'executeFunction',
  controller: 'functionController',
} as const;

export const controllerWorkflowId = (fn: string): string => `fn:${fn}`;
export const executionWorkflowId = (fn: string, key: string): string => `exec:${fn}:${key}`;
export const scheduleId = (fn: string, schedule: string): string => `fn:${fn}:${schedule}`;

/**
 * The workflow id of the redrive of `originalId`, derived from it so that redriving one execution
 * twice names the same execution (started once): `exec:<function>:<key>` → `exec:<function>:<key>.redrive`.
 * A redrive that failed is redriven by its own id (`….redrive.redrive`).
 */
export const redriveWorkflowId = (originalId: string): string => `${originalId}.redrive`;

/** Parses `exec:<function>:<key>`; undefined for workflow ids started by other conventions. */
export function parseExecutionWorkflowId(id: string): { function: string; key: string } | undefined {
  const m = /^exec:([a-z0-9-]+):(.+)$/.exec(id);
  return m ? { function: m[1]!, key: m[2]! } : undefined;
}

/** Parses `fn:<function>:<schedule>`, the id of a Temporal Schedule made from a spec. */
export function parseScheduleId(id: string): { function: string; schedule: string } | undefined {
  const m = /^fn:([a-z0-9-]+):([a-z0-9-]+)$/.exec(id);
  return m ? { function: m[1]!, schedule: m[2]! } : undefined;
}

/** Search attributes set on every execution so the Web UI can filter by them. */
export const SearchAttr = {
  function: defineSearchAttributeKey('PontoonFunction', SearchAttributeType.KEYWORD),
  trigger: defineSearchAttributeKey('PontoonTrigger', SearchAttributeType.KEYWORD),
  priority: defineSearchAttributeKey('PontoonPriority', SearchAttributeType.INT),
  /**
   * How a failed execution ended (its failure type, e.g. FunctionExit), set by the workflow when it
   * fails: dead letters are listed by it (GET /v1/dead-letters). Absent on executions that did not fail.
   */
  failureType: defineSearchAttributeKey('PontoonFailureType', SearchAttributeType.KEYWORD),
  /** The execution a redrive re-runs (its execution id), set by the redrive when it starts one. */
  redriveOf: defineSearchAttributeKey('PontoonRedriveOf', SearchAttributeType.KEYWORD),
} as const;

/** Name → Temporal type, as `temporal server start-dev --search-attribute` and the operator API take them. */
export const SEARCH_ATTRIBUTE_TYPES: Record<string, 'Keyword' | 'Int'> = {
  PontoonFunction: 'Keyword',
  PontoonTrigger: 'Keyword',
  PontoonPriority: 'Int',
  PontoonFailureType: 'Keyword',
  PontoonRedriveOf: 'Keyword',
};

/** Triggers that are not schedule names. */
export const Trigger = { api: 'api', cli: 'cli', sdk: 'sdk' } as const;

/** Kubernetes labels put on every object Pontoon creates. */
export const Label = {
  function: 'pontoon.dev/function',
  execution: 'pontoon.dev/execution',
  attempt: 'pontoon.dev/attempt',
  managedBy: 'app.kubernetes.io/managed-by',
  /** `warm` on a warm pool's Deployment and its pods. */
  role: 'pontoon.dev/role',
} as const;

/** Deployment of a function's warm replicas (function names are ≤ 40 characters: ≤ 53 in all). */
export const warmDeploymentName = (fn: string): string => `pontoon-warm-${fn}`;

/** Pontoon's version: the tag of its own images (equal to package.json's version; a test checks). */
export const PONTOON_VERSION = '0.1.0';
/** The embedded OCI registry's address (dev/registry/up.sh), the default PONTOON_REGISTRY. */
export const DEFAULT_REGISTRY = '127.0.0.1:5001';

/** Repositories of Pontoon's own images under a registry prefix (`npm run images` pushes them). */
export const OwnImage = {
  /** The observer sidecar (observer/main.ts). */
  observer: 'pontoon/observer',
  /** The worker, API and CLI (`pontoon worker|api|…`). */
  pontoon: 'pontoon/pontoon',
} as const;
/** <registry prefix>/<repository>:<PONTOON_VERSION>, e.g. 127.0.0.1:5001/pontoon/observer:0.1.0. */
export const ownImageRef = (registryPrefix: string, image: keyof typeof OwnImage): string =>
  `${registryPrefix.replace(/\/+$/, '')}/${OwnImage[image]}:${PONTOON_VERSION}`;
