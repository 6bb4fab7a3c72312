/**
 * The function spec: one zod schema, the single truth for the CLI, the API, the worker and the
 * JSON Schema in function-specs/. Every field says what it means to the user. Pure module
 * (workflows import it to validate the `apply` Update).
 */
import { z } from 'zod';
import { ADMISSION_DEFAULTS } from './admission.ts';
import { BUILD_RUNTIMES, DEFAULT_BUILD_COMMANDS, RUNTIME_HELP } from './build.ts';
import { CRON_HELP, cronError } from './cron.ts';
import { DURATION_HELP, isDuration, parseDuration } from './duration.ts';
import { DNS_LABEL_PATTERN, MAX_FUNCTION_NAME } from './names.ts';
import { networkSchema } from './network.ts';
import { isTemplate, templateError } from './template.ts';
import { timeZoneProblem } from './timezone.ts';
import {
  isRequired,
  PARAMETER_LIMITS,
  PRIORITY_HELP,
  PRIORITY_LEVELS,
  PRIORITY_NAMES,
  parameterValueError,
  undeliverable,
  utf8Bytes,
} from './values.ts';
import { WARM_DEFAULTS } from './warm.ts';

export const API_VERSION = 'pontoon.dev/v1';

/** [registry[:port]/]path[:tag][@sha256:hex]; a coarse check, the registry has the last word. */
const IMAGE_REF_RE =
  /^([a-z0-9.-]+(:[0-9]+)?\/)?[a-z0-9]+([._-]+[a-z0-9]+)*(\/[a-z0-9]+([._-]+[a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$/;
export const KIND = 'Function';

export { MAX_FUNCTION_NAME } from './names.ts';

/**
 * A copy of core/names.ts's DNS_LABEL_PATTERN for zod, which resets a pattern's lastIndex: workflow
 * sandboxes freeze preloaded modules such as core/names.ts, and the controller validates specs.
 */
const DNS_LABEL_RE = new RegExp(DNS_LABEL_PATTERN);

const PARAM_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const QUANTITY_RE = /^[0-9]+(\.[0-9]+)?(m|k|Ki|M|Mi|G|Gi|T|Ti|P|Pi|E|Ei)?$/;

export {
  coerceParameter,
  PRIORITY_ALIASES,
  PRIORITY_HELP,
  parameterValueError,
  priorityNumber,
} from './values.ts';

export const PARAMETER_TYPES = ['string', 'integer', 'number', 'boolean', 'date', 'datetime'] as const;

export const OVERLAP_POLICIES = [
  'skip',
  'buffer_one',
  'buffer_all',
  'cancel_other',
  'terminate_other',
  'allow_all',
] as const;

/** Our default catch-up window, stated because Temporal's own docs disagree on theirs. */
export const DEFAULT_CATCHUP_WINDOW = '1h';

/** Events a notify hook can ask for. */
export const NOTIFY_EVENTS = ['failure', 'success', 'schedule-pause'] as const;
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];
/**
 * A spec names the worker variable holding its HMAC secret; only variables with this prefix may be
 * named, so a spec author cannot make the worker sign with an unrelated credential (TEMPORAL_API_KEY…).
 */
export const NOTIFY_SECRET_PREFIX = 'PONTOON_NOTIFY_';
/** Absolute http(s) URL without user:password (a regular expression: workflows validate specs too). */
const HTTP_URL_RE =
  /^https?:\/\/(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)(:[0-9]{1,5})?([/?#]\S*)?$/;

/**
 * Builds the zod schema. Called once per process (and once per workflow thread, by the function
 * controller's Update validator), never at import: executeFunction workflows import this module for
 * its plain helpers, and building the schema in each of their sandboxes cost ~25 ms of CPU and ~1 MiB
 * per run. Everything inside is private to the schema.
 */
function buildFunctionSpecSchema() {
  const dnsSubdomain = z
    .string()
    .max(253)
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, {
      error: 'must be a DNS-1123 subdomain (lower-case letters, digits, "-" and ".")',
    });

  const dnsLabel = (what: string, max: number) =>
    z
      .string()
      .max(max, { error: `${what} is longer than ${max} characters` })
      .regex(DNS_LABEL_RE, {
        error: `${what} must be lower-case letters, digits and "-", starting and ending with a letter or digit`,
      });

  const duration = (description: string) =>
    z
      .string()
      .refine(isDuration, { error: `must be ${DURATION_HELP}` })
      .describe(description);

  const templateString = z.string().superRefine((value, ctx) => {
    if (!isTemplate(value)) return;
    const problem = templateError(value);
    if (problem) ctx.addIssue({ code: 'custom', message: `bad template: ${problem}` });
  });

  const priority = z
    .union([z.literal(PRIORITY_LEVELS), z.enum(PRIORITY_NAMES)], {
      error: `must be ${PRIORITY_HELP}`,
    })
    .describe(
      `Priority of executions: ${PRIORITY_HELP}. Lower numbers are admitted first under the concurrency limit.`,
    );

  const quantity = z
    .union(
      [
        z.string().regex(QUANTITY_RE, {
          error: 'must be a Kubernetes quantity such as "250m", "1", "512Mi" or "2Gi"',
        }),
        z.number().positive(),
      ],
      {
        error: 'must be a Kubernetes quantity such as "250m", "1", "512Mi" or "2Gi"',
      },
    )
    .describe('A Kubernetes resource quantity.');

  const resourceList = z
    .strictObject({ cpu: quantity.optional(), memory: quantity.optional() })
    .describe('CPU and memory of the function container.');

  const envVar = z
    .strictObject({
      name: z
        .string()
        .regex(ENV_NAME_RE, { error: 'must be a valid environment variable name ([A-Za-z_][A-Za-z0-9_]*)' }),
      value: z.string().optional().describe('A literal value.'),
      secretRef: z
        .strictObject({
          name: z.string().min(1).describe('Name of the Kubernetes Secret.'),
          key: z.string().min(1).describe('Key inside the Secret.'),
        })
        .optional()
        .describe(
          "Take the value from a Secret: on Kubernetes the Secret's key; on the local runtime the file PONTOON_LOCAL_SECRETS_DIR/<name>/<key> (never the worker's own environment).",
        ),
      sensitive: z
        .boolean()
        .optional()
        .describe(
          'Whether the literal value is a secret. Unset: decided by its name and value (*_TOKEN, *_SECRET, *PASSWORD*, *_API_KEY, known token formats, …), and one that looks like a secret is refused in favour of secretRef. false: keep a value that only looks like one. true: refuse the literal.',
        ),
    })
    .refine((e) => (e.value === undefined) !== (e.secretRef === undefined), {
      error: 'set exactly one of "value" or "secretRef"',
    })
    .describe('An environment variable of the function.');

  const scalar = z.union([z.string(), z.number(), z.boolean()], {
    error: 'must be a string, number or boolean',
  });

  const parameter = z
    .strictObject({
      name: z
        .string()
        .regex(PARAM_NAME_RE, {
          error: 'must start with a letter or "_" and hold only letters, digits and "_"',
        })
        .describe('Parameter name; the function sees it as PONTOON_PARAM_<NAME> (upper-cased).'),
      type: z
        .enum(PARAMETER_TYPES)
        .default('string')
        .describe('Type the value is checked and coerced to: date is YYYY-MM-DD, datetime is RFC 3339.'),
      description: z.string().optional().describe('What the parameter means, shown by `pontoon describe`.'),
      required: z
        .boolean()
        .optional()
        .describe(
          'Whether an execution must give a value. Default: required when there is no default. A required parameter without a value is refused before any attempt (API: 400 validation_failed; other starters: ParameterInvalid); set required: false to make a parameter without a default optional (the variable is then unset).',
        ),
      default: z
        .union([templateString, z.number(), z.boolean()], {
          error: 'must be a string (template allowed), number or boolean',
        })
        .optional()
        .describe(
          "Value when none is given; strings may be templates such as \"{{ scheduledTime | tz('Europe/London') | minus('1d') | date }}\".",
        ),
      enum: z.array(scalar).min(1).optional().describe('The only values allowed.'),
      pattern: z
        .string()
        .refine(
          (p) => {
            try {
              new RegExp(p);
              return true;
            } catch {
              return false;
            }
          },
          { error: 'is not a valid regular expression' },
        )
        .optional()
        .describe('Regular expression (JavaScript syntax) the whole string value must match.'),
    })
    .superRefine((p, ctx) => {
      if (p.default === undefined || (typeof p.default === 'string' && isTemplate(p.default))) return;
      // A NUL byte is reported once, by the rule for every string of the spec.
      if (typeof p.default === 'string' && undeliverable(p.default)) return;
      const problem = parameterValueError(p, p.default);
      if (problem) ctx.addIssue({ code: 'custom', path: ['default'], message: problem });
    })
    .describe('A start-time parameter of the function.');

  const schedule = z
    .strictObject({
      name: dnsLabel('schedule name', 20).describe(
        'Schedule name, unique within the function; the trigger of its executions.',
      ),
      cron: z
        .string()
        .superRefine((value, ctx) => {
          const problem = cronError(value);
          if (problem)
            ctx.addIssue({
              code: 'custom',
              message: `bad cron expression "${value}": ${problem}; expected ${CRON_HELP}`,
            });
        })
        .optional()
        .describe(
          `When to run: ${CRON_HELP}. Day-of-month and day-of-week must BOTH match (Temporal's rule, not Vixie cron's "either").`,
        ),
      every: duration(
        'Instead of cron: run at fixed intervals counted from the Unix epoch in UTC (e.g. "30s", "15m"); the time zone does not apply.',
      ).optional(),
      offset: duration(
        'With every: shift the fire times by this much (every: 1h, offset: 15m fires at :15).',
      ).optional(),
      pauseAfterFailures: z
        .int()
        .min(1)
        .max(1000)
        .optional()
        .describe(
          'Pause this schedule after this many consecutive failed executions (the reason goes in its note).',
        ),
      timezone: z
        .string()
        .superRefine((zone, ctx) => {
          const problem = timeZoneProblem(zone);
          if (problem) ctx.addIssue({ code: 'custom', message: problem });
        })
        .default('UTC')
        .describe(
          'Time zone the cron expression is read in (DST-correct): a name from the IANA tz database, case-sensitive, as the Temporal server resolves it (e.g. Europe/London, US/Eastern; not abbreviations such as PST).',
        ),
      overlap: z
        .enum(OVERLAP_POLICIES)
        .default('skip')
        .describe('What happens when a fire comes while the previous execution still runs.'),
      catchupWindow: duration(
        `How late a missed fire (server or worker down) may still run. Default ${DEFAULT_CATCHUP_WINDOW}.`,
      ).default(DEFAULT_CATCHUP_WINDOW),
      jitter: duration('Random delay up to this much added to each fire, to spread load.').default('0s'),
      paused: z.boolean().default(false).describe('Create the schedule paused.'),
      note: z.string().max(1000).optional().describe('Why the schedule is paused (shown in the Web UI).'),
      startAt: z.iso
        .datetime({ offset: true })
        .optional()
        .describe('RFC 3339 time before which the schedule does not fire.'),
      endAt: z.iso
        .datetime({ offset: true })
        .optional()
        .describe('RFC 3339 time after which the schedule does not fire.'),
      parameters: z
        .record(z.string(), z.union([templateString, z.number(), z.boolean()]))
        .default({})
        .describe('Parameter values for executions started by this schedule (templates allowed).'),
    })
    .superRefine((sch, ctx) => {
      if ((sch.cron === undefined) === (sch.every === undefined)) {
        ctx.addIssue({ code: 'custom', path: ['cron'], message: 'set exactly one of "cron" or "every"' });
      }
      if (sch.offset !== undefined && sch.every === undefined) {
        ctx.addIssue({ code: 'custom', path: ['offset'], message: 'is only allowed with "every"' });
      }
      if (sch.every !== undefined && isDuration(sch.every) && parseDuration(sch.every) < 1000) {
        ctx.addIssue({ code: 'custom', path: ['every'], message: 'must be at least 1s' });
      }
    })
    .describe(
      'A schedule of the function (cron or fixed interval); becomes the Temporal Schedule fn:<function>:<name>.',
    );

  const retry = z
    .strictObject({
      maxAttempts: z
        .int()
        .min(1)
        .max(100)
        .default(3)
        .describe('Attempts in all, the first included. 1 means no retry.'),
      initialInterval: duration('Wait before the second attempt.').default('1s'),
      backoffCoefficient: z
        .number()
        .min(1)
        .max(10)
        .default(2)
        .describe('Each wait is the previous one times this.'),
      maxInterval: duration('Longest wait between attempts.').default('5m'),
      nonRetryableExitCodes: z
        .array(z.int().min(1).max(255))
        .default([])
        .describe('Exit codes that end the execution at once, without retry.'),
    })
    .superRefine((r, ctx) => {
      // Runs even when a field failed its own check: only compare durations that parsed.
      if (!isDuration(r.initialInterval) || !isDuration(r.maxInterval)) return;
      if (parseDuration(r.maxInterval) < parseDuration(r.initialInterval)) {
        ctx.addIssue({
          code: 'custom',
          path: ['maxInterval'],
          message: 'must not be shorter than initialInterval',
        });
      }
    })
    .describe('Durable retry policy, run by the execution workflow: one new process or pod per attempt.');

  const execution = z
    .strictObject({
      mode: z
        .enum(['on-demand', 'warm'])
        .default('on-demand')
        .describe(
          'on-demand starts a process or pod per attempt; warm sends attempts to long-lived replicas.',
        ),
      timeout: duration('Longest one attempt may run before it is killed (and retried per policy).').default(
        '10m',
      ),
      deadline: duration('Longest the whole execution may take, retries and waits included.').optional(),
      priority: priority.default('normal'),
      concurrency: z
        .int()
        .min(1)
        .max(10_000)
        .optional()
        .describe(
          'Most executions of this function running at once; more wait in a priority queue. Unset: no limit.',
        ),
      priorityAging: duration(
        'With a concurrency limit: a queued execution gains one priority level per this much waiting, so a priority-5 request is treated as priority 1 after 4 × this.',
      ).default(ADMISSION_DEFAULTS.priorityAging),
      slotLease: duration(
        'With a concurrency limit: an admitted execution renews its slot every third of this; a slot not renewed for this long (the execution died) is freed.',
      ).default(ADMISSION_DEFAULTS.slotLease),
      retry: retry.default(() => retry.parse({})),
    })
    .superRefine((e, ctx) => {
      if (isDuration(e.slotLease) && parseDuration(e.slotLease) < 3000) {
        ctx.addIssue({ code: 'custom', path: ['slotLease'], message: 'must be at least 3s' });
      }
      if (isDuration(e.priorityAging) && parseDuration(e.priorityAging) < 1000) {
        ctx.addIssue({ code: 'custom', path: ['priorityAging'], message: 'must be at least 1s' });
      }
      if (!isDuration(e.timeout) || (e.deadline !== undefined && !isDuration(e.deadline))) return;
      if (parseDuration(e.timeout) < 1000)
        ctx.addIssue({ code: 'custom', path: ['timeout'], message: 'must be at least 1s' });
      if (e.deadline && parseDuration(e.deadline) < parseDuration(e.timeout)) {
        ctx.addIssue({
          code: 'custom',
          path: ['deadline'],
          message: 'must not be shorter than timeout (one attempt could never finish)',
        });
      }
    })
    .describe('How executions run.');

  const warm = z
    .strictObject({
      minReplicas: z
        .int()
        .min(0)
        .max(1000)
        .default(WARM_DEFAULTS.minReplicas)
        .describe('Replicas kept running when idle.'),
      maxReplicas: z
        .int()
        .min(1)
        .max(1000)
        .default(WARM_DEFAULTS.maxReplicas)
        .describe('Most replicas the Scalar scales up to.'),
      concurrencyPerReplica: z
        .int()
        .min(1)
        .max(1000)
        .default(WARM_DEFAULTS.concurrencyPerReplica)
        .describe('Invocations one replica serves at once.'),
      scaleDownDelay: duration('Idle time before the Scalar removes a replica.').default(
        WARM_DEFAULTS.scaleDownDelay,
      ),
      fallback: z
        .enum(['on-demand', 'none'])
        .default(WARM_DEFAULTS.fallback)
        .describe(
          'kubernetes runtime: when no warm replica starts an attempt within fallbackAfter (pool at 0, replicas unhealthy), on-demand runs it in a pod of its own instead (recorded in the attempt); none keeps it waiting for a replica.',
        ),
      fallbackAfter: duration(
        'kubernetes runtime: how long a warm attempt may wait for a replica before the fallback applies.',
      ).default(WARM_DEFAULTS.fallbackAfter),
    })
    .refine((w) => w.minReplicas <= w.maxReplicas, {
      error: 'minReplicas must not exceed maxReplicas',
      path: ['minReplicas'],
    })
    .describe('Warm pool settings (execution.mode: warm).');

  const local = z
    .strictObject({
      command: z
        .array(z.string())
        .min(1)
        .optional()
        .describe('Command for the local runtime; defaults to spec.command followed by spec.args.'),
      cwd: z
        .string()
        .optional()
        .describe(
          "Working directory; relative paths are taken from the worker's PONTOON_LOCAL_ROOT (default: its cwd).",
        ),
      env: z
        .record(z.string(), z.string())
        .default({})
        .describe('Extra environment for the local runtime only.'),
    })
    .describe('How the local runtime (npm start, pontoon dev) runs the function as a child process.');

  const build = z
    .strictObject({
      context: z
        .string()
        .min(1)
        .describe(
          "Folder holding the function's source, relative to the spec file. Its files (minus ignore patterns and .pontoonignore) become the image's code layer at /app.",
        ),
      runtime: z
        .enum(BUILD_RUNTIMES, { error: `must be one of ${BUILD_RUNTIMES.join(', ')} (${RUNTIME_HELP})` })
        .describe(`Base runtime: ${RUNTIME_HELP}.`),
      base: z
        .string()
        .min(1)
        .max(512)
        .regex(IMAGE_REF_RE, {
          error: 'must be an image reference such as node:24-slim or registry.example.com/team/base@sha256:…',
        })
        .optional()
        .describe(
          "Base image to build on instead of the runtime's own (e.g. node:24-slim, or your team's base image). It must hold what command needs.",
        ),
      command: z
        .array(z.string().min(1))
        .min(1)
        .optional()
        .describe(
          `What runs, in /app (the image entrypoint; the local runtime runs it in the context folder). Default per runtime: ${Object.entries(
            DEFAULT_BUILD_COMMANDS,
          )
            .map(([r, c]) => `${r}: ${JSON.stringify(c)}`)
            .join('; ')}.`,
        ),
      ignore: z
        .array(z.string().min(1))
        .default([])
        .describe(
          'Files of the context left out of the image, .dockerignore syntax (a .pontoonignore file in the context adds more). .git, .pontoonignore and, for node, node_modules are always left out.',
        ),
    })
    .describe("Build the function's image from source (pontoon build / pontoon apply).");

  const typedIo = (which: 'input' | 'output') =>
    z
      .strictObject({
        schema: z
          .union([z.record(z.string(), z.unknown()), z.boolean()], {
            error: 'must be a JSON Schema (draft 2020-12): a mapping, or true/false',
          })
          .optional()
          .describe(
            which === 'input'
              ? "JSON Schema (draft 2020-12) the execution's `input` must match. Checked at apply time (a schema that does not compile is refused at its line); an invocation whose input does not match is refused before any attempt, with the JSON Pointer of each problem (API: 400 validation_failed; other starters: InputInvalid)."
              : "JSON Schema (draft 2020-12) the function's result (output.json, or the warm reply) must match. A result that does not is an OutputInvalid failure, not retried, naming the JSON Pointer of each problem.",
          ),
        schemaFile: z
          .string()
          .min(1)
          .optional()
          .describe(
            'The schema in a JSON (or YAML) file beside the spec instead, relative to the spec file: `pontoon validate` and `pontoon apply` read it and send it inline as schema (the API takes inline schemas only).',
          ),
      })
      .refine((io) => io.schema !== undefined || io.schemaFile !== undefined, {
        error: 'set "schema" (inline) or "schemaFile" (a file beside the spec)',
      })
      .describe(
        which === 'input'
          ? "The type of an execution's input (typed inputs)."
          : "The type of the function's result (typed results).",
      );

  const notifyHook = z
    .strictObject({
      url: z
        .string()
        .max(2000)
        .regex(HTTP_URL_RE, {
          error:
            'must be an absolute http:// or https:// URL without user:password (e.g. https://hooks.example.com/pontoon)',
        })
        .describe(
          'Where the JSON event is POSTed. Any 2xx answer delivers it; 5xx, 408, 429 and network errors are retried; other answers stop.',
        ),
      on: z
        .array(z.enum(NOTIFY_EVENTS))
        .min(1)
        .refine((events) => new Set(events).size === events.length, { error: 'lists an event twice' })
        .default(['failure'])
        .describe(
          'Events sent to this hook: failure (an execution failed or timed out), success (an execution succeeded), schedule-pause (pauseAfterFailures paused a schedule). Default [failure].',
        ),
      secretEnv: z
        .string()
        .regex(new RegExp(`^${NOTIFY_SECRET_PREFIX}[A-Z0-9_]+$`), {
          error: `must name a worker environment variable starting with ${NOTIFY_SECRET_PREFIX} (e.g. ${NOTIFY_SECRET_PREFIX}SLACK)`,
        })
        .optional()
        .describe(
          `Worker environment variable (${NOTIFY_SECRET_PREFIX}*) holding the HMAC-SHA256 secret: each request carries X-Pontoon-Signature: sha256=<hex HMAC of the body>. Unset: requests are unsigned.`,
        ),
    })
    .describe('A webhook notified of executions and schedule pauses, durably (retried by Temporal).');

  return z
    .strictObject({
      apiVersion: z
        .literal(API_VERSION, { error: `must be "${API_VERSION}"` })
        .describe('Spec format version.'),
      kind: z.literal(KIND, { error: `must be "${KIND}"` }),
      metadata: z.strictObject({
        name: dnsLabel('function name', MAX_FUNCTION_NAME).describe(
          `Function name: a DNS-1123 label of at most ${MAX_FUNCTION_NAME} characters.`,
        ),
        description: z.string().max(2000).optional().describe('What the function does.'),
        labels: z.record(z.string(), z.string()).optional().describe('Free-form labels.'),
      }),
      spec: z.strictObject({
        image: z
          .string()
          .min(1)
          .optional()
          .describe(
            'Container image of the function (kubernetes runtime). Unset with spec.build: `pontoon apply` builds the image and records it here by digest (REGISTRY/pontoon/<function>@sha256:…). Unset without build: the function runs on the local runtime only (spec.local.command).',
          ),
        build: build.optional(),
        command: z
          .array(z.string())
          .min(1)
          .optional()
          .describe(
            'Container entrypoint; the image default when unset. With spec.build, use build.command.',
          ),
        args: z.array(z.string()).optional().describe('Arguments after the command.'),
        env: z
          .array(envVar)
          .superRefine(unique((e) => e.name, 'environment variable'))
          .default([])
          .describe('Environment of the function.'),
        resources: z
          .strictObject({ requests: resourceList.optional(), limits: resourceList.optional() })
          .optional()
          .describe('Requests and limits of the function container.'),
        parameters: z
          .array(parameter)
          .superRefine(unique((p) => p.name, 'parameter'))
          .superRefine((items, ctx) => {
            // dryRun and dryrun would both reach the function as PONTOON_PARAM_DRYRUN.
            const seen = new Map<string, number>();
            items.forEach((p, i) => {
              const env = `PONTOON_PARAM_${p.name.toUpperCase()}`;
              const first = seen.get(env);
              if (first === undefined) seen.set(env, i);
              else if (items[first]!.name !== p.name) {
                ctx.addIssue({
                  code: 'custom',
                  path: [i, 'name'],
                  message: `reaches the function as ${env}, like parameter "${items[first]!.name}" (index ${first}); rename one`,
                });
              }
            });
          })
          .default([])
          .describe('Start-time parameters.'),
        input: typedIo('input').optional(),
        output: typedIo('output').optional(),
        schedules: z
          .array(schedule)
          .superRefine(unique((p) => p.name, 'schedule'))
          .default([])
          .describe('Cron schedules.'),
        execution: execution.default(() => execution.parse({})),
        serviceAccountName: dnsSubdomain
          .optional()
          .describe(
            'Kubernetes ServiceAccount the pod runs as (kubernetes runtime): one the operator allows (PONTOON_FUNCTION_SERVICE_ACCOUNTS), never one of Pontoon. Default: the namespace default, with no API token mounted.',
          ),
        automountServiceAccountToken: z
          .boolean()
          .optional()
          .describe(
            'Mount the ServiceAccount token into the function container (kubernetes runtime). Off unless the function calls the Kubernetes API; only for a ServiceAccount the operator lists with ":token".',
          ),
        nodeSelector: z
          .record(z.string(), z.string())
          .optional()
          .describe('Node labels the pod must be scheduled on (kubernetes runtime).'),
        podAnnotations: z
          .record(z.string(), z.string())
          .refine(
            (a) =>
              Object.keys(a).every((k) => !k.startsWith('pontoon.dev/') || k.startsWith('pontoon.dev/sim-')),
            {
              error: 'keys under pontoon.dev/ are reserved for Pontoon (pontoon.dev/sim-* excepted)',
            },
          )
          .optional()
          .describe(
            'Annotations added to every attempt pod (kubernetes runtime), e.g. for service meshes or log shippers. Keys under pontoon.dev/ other than pontoon.dev/sim-* (the simulated cluster) are reserved.',
          ),
        network: networkSchema().optional(),
        warm: warm.optional(),
        local: local.optional(),
        notify: z
          .array(notifyHook)
          .max(10)
          .superRefine((hooks, ctx) => {
            const seen = new Map<string, number>();
            hooks.forEach((h, i) => {
              const first = seen.get(h.url);
              if (first === undefined) seen.set(h.url, i);
              else
                ctx.addIssue({
                  code: 'custom',
                  path: [i, 'url'],
                  message: `duplicate hook URL (first at index ${first}); list every event in one hook's "on"`,
                });
            });
          })
          .optional()
          .describe('Webhooks told when executions fail or succeed and when a schedule pauses itself.'),
      }),
    })
    .superRefine((fn, ctx) => {
      const s = fn.spec;
      // One rule for every string of a spec (commands, env, defaults, schedule values, …): none
      // may hold a NUL byte, which no process can receive.
      for (const [path, text] of strings(fn)) {
        const problem = undeliverable(text);
        if (problem) ctx.addIssue({ code: 'custom', path, message: problem });
      }
      // Environment values have the limit of parameter values (they reach the process the same way).
      const envValues: [(string | number)[], string][] = [
        ...s.env.flatMap((e, i): [(string | number)[], string][] =>
          e.value !== undefined ? [[['spec', 'env', i, 'value'], e.value]] : [],
        ),
        ...Object.entries(s.local?.env ?? {}).map(([k, v]): [(string | number)[], string] => [
          ['spec', 'local', 'env', k],
          v,
        ]),
      ];
      for (const [path, value] of envValues) {
        const bytes = utf8Bytes(value);
        if (bytes > PARAMETER_LIMITS.valueBytes) {
          ctx.addIssue({
            code: 'custom',
            path,
            message: `is ${bytes} bytes; an environment value may hold at most ${PARAMETER_LIMITS.valueBytes} bytes (mount larger data as a file or pass it as the execution's input)`,
          });
        }
      }
      const known = new Set(s.parameters.map((p) => p.name));
      s.schedules.forEach((sch, i) => {
        for (const [key, value] of Object.entries(sch.parameters)) {
          const p = s.parameters.find((q) => q.name === key);
          if (!p) {
            ctx.addIssue({
              code: 'custom',
              path: ['spec', 'schedules', i, 'parameters', key],
              message: `unknown parameter "${key}"; declared: ${[...known].join(', ') || '(none)'}`,
            });
          } else if (!(typeof value === 'string' && isTemplate(value))) {
            const problem = parameterValueError(p, value);
            if (problem)
              ctx.addIssue({
                code: 'custom',
                path: ['spec', 'schedules', i, 'parameters', key],
                message: problem,
              });
          }
        }
        if (sch.startAt && sch.endAt && Date.parse(sch.startAt) >= Date.parse(sch.endAt)) {
          ctx.addIssue({
            code: 'custom',
            path: ['spec', 'schedules', i, 'endAt'],
            message: 'must be after startAt',
          });
        }
      });
      // A schedule fires without anyone to give a value: a required parameter needs one in the spec.
      s.schedules.forEach((sch, i) => {
        for (const p of s.parameters) {
          if (isRequired(p) && !Object.hasOwn(sch.parameters ?? {}, p.name)) {
            ctx.addIssue({
              code: 'custom',
              path: ['spec', 'schedules', i, 'parameters'],
              message: `must set parameter "${p.name}": it has no default${p.required === undefined ? ' (or declare it required: false)' : ''}, and a scheduled execution has no one to give it`,
            });
          }
        }
      });
      if (s.build && s.command) {
        ctx.addIssue({
          code: 'custom',
          path: ['spec', 'command'],
          message: "is not used with spec.build: set build.command (the built image's entrypoint)",
        });
      }
      // Without an image or a build, a function runs on the local runtime only (the kubernetes
      // runtime refuses it with ImageUnavailable, and a warm apply there with a 400 on spec.image).
      if (!s.build && !s.image && !s.local?.command) {
        ctx.addIssue({
          code: 'custom',
          path: ['spec'],
          message:
            'needs "image" (an image reference), "build" (source Pontoon packages into an image), or "local.command" (a function that runs on the local runtime only)',
        });
      }
      if (s.warm && s.execution.mode !== 'warm') {
        ctx.addIssue({
          code: 'custom',
          path: ['spec', 'warm'],
          message: 'is only allowed with execution.mode: warm',
        });
      }
    });
}

type Schema = ReturnType<typeof buildFunctionSpecSchema>;
let built: Schema | undefined;

/** The function spec schema (built on first use, then shared). */
export function functionSpecSchema(): Schema {
  built ??= buildFunctionSpecSchema();
  return built;
}

/** A function spec as the user wrote it (defaults optional). */
export type FunctionSpecInput = z.input<Schema>;
/** A validated function spec with every default filled in: what the controller stores. */
export type FunctionSpec = z.output<Schema>;
export type ParameterSpec = FunctionSpec['spec']['parameters'][number];
export type ScheduleSpec = FunctionSpec['spec']['schedules'][number];
export type RetrySpec = FunctionSpec['spec']['execution']['retry'];
export { BUILD_RUNTIMES, type BuildRuntime, DEFAULT_BUILD_COMMANDS } from './build.ts';
export type BuildSpec = NonNullable<FunctionSpec['spec']['build']>;

function unique<T>(key: (t: T) => string, what: string) {
  return (items: T[], ctx: z.RefinementCtx): void => {
    const seen = new Map<string, number>();
    items.forEach((item, i) => {
      const k = key(item);
      const first = seen.get(k);
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [i, 'name'],
          message: `duplicate ${what} "${k}" (first declared at index ${first})`,
        });
      } else {
        seen.set(k, i);
      }
    });
  };
}

/** Parses a spec object (already loaded from YAML or JSON). */
export function parseFunctionSpec(data: unknown) {
  return functionSpecSchema().safeParse(data);
}

/** Every string in a value (keys included), with its path. */
function* strings(value: unknown, path: (string | number)[] = []): Generator<[(string | number)[], string]> {
  if (typeof value === 'string') yield [path, value];
  else if (Array.isArray(value)) for (const [i, v] of value.entries()) yield* strings(v, [...path, i]);
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k.includes('\u0000')) yield [[...path, k], k];
      yield* strings(v, [...path, k]);
    }
  }
}
