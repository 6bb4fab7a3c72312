/**
 * Resolves an execution's parameters from the spec, the values given at start and the start-time
 * variables. Pure and deterministic: run inside the execution workflow, so the resolved values are
 * recorded in its history.
 */
import type { FunctionSpec } from './schema.ts';
import { isTemplate, renderTemplate, type TemplateVariables } from './template.ts';
import { coerceParameter, isRequired, PARAMETER_LIMITS, parameterValueError, utf8Bytes } from './values.ts';

export type ParameterValue = string | number | boolean;
export type ParameterValues = Record<string, ParameterValue>;

export interface ResolvedParameters {
  values: ParameterValues;
  /** One line per problem, naming the parameter; empty when every value is valid. */
  problems: string[];
}

/**
 * Given values win over schedule values, which win over defaults. Templates in any of them are
 * rendered, then every value is coerced to its declared type and checked against enum and pattern.
 */
export function resolveParameters(
  spec: FunctionSpec,
  given: Record<string, unknown> | undefined,
  vars: TemplateVariables,
  scheduleValues: Record<string, unknown> = {},
): ResolvedParameters {
  const values: ParameterValues = {};
  const problems: string[] = [];
  const declared = new Map(spec.spec.parameters.map((p) => [p.name, p]));
  for (const name of Object.keys(given ?? {})) {
    if (!declared.has(name)) {
      const known = [...declared.keys()];
      problems.push(`unknown parameter "${name}"; declared: ${known.length ? known.join(', ') : '(none)'}`);
    }
  }
  for (const p of spec.spec.parameters) {
    const raw = pick(given, p.name) ?? pick(scheduleValues, p.name) ?? p.default;
    if (raw === undefined || raw === null) {
      if (isRequired(p))
        problems.push(
          `parameter "${p.name}" is required${p.required === undefined ? ' (it has no default; declare required: false to make it optional)' : ''}`,
        );
      continue;
    }
    let value: unknown = raw;
    if (typeof raw === 'string' && isTemplate(raw)) {
      try {
        value = renderTemplate(raw, vars);
      } catch (err) {
        problems.push(`parameter "${p.name}": bad template: ${(err as Error).message}`);
        continue;
      }
    }
    const problem = parameterValueError(p, value);
    if (problem) {
      problems.push(`parameter "${p.name}": ${problem}`);
      continue;
    }
    const coerced = coerceParameter(p, value);
    if ('value' in coerced) values[p.name] = coerced.value;
  }
  const total = Object.entries(values).reduce(
    (n, [name, v]) => n + utf8Bytes(parameterEnvName(name)) + 1 + utf8Bytes(String(v)),
    0,
  );
  if (total > PARAMETER_LIMITS.totalBytes) {
    problems.push(
      `the parameters take ${total} bytes as environment variables; the limit is ${PARAMETER_LIMITS.totalBytes} bytes (pass larger data as the execution's input)`,
    );
  }
  return { values, problems };
}

function pick(obj: Record<string, unknown> | undefined, key: string): unknown {
  return obj && Object.hasOwn(obj, key) ? obj[key] : undefined;
}

/** The environment variable a parameter reaches the function as. */
export function parameterEnvName(name: string): string {
  return `PONTOON_PARAM_${name.toUpperCase()}`;
}
