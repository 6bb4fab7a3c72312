/**
 * Typed inputs (issue 21 §1): the check of an execution's `input` against `spec.input.schema`, run
 * for every execution of a typed function before any attempt, whoever started it (API, CLI,
 * schedule, `temporal` CLI, an SDK). A local activity: the workflow cannot run Ajv (generated code,
 * and a heavy library its sandbox must not load), and the worker keeps each compiled schema for
 * every later execution (core/io-schema.ts).
 */
import { ApplicationFailure } from '@temporalio/activity';
import { FailureType } from '../core/failures.ts';
import { type SchemaProblem, schemaProblems } from '../core/io-schema.ts';

export function createTypedIoActivities() {
  return {
    /**
     * What is wrong with an execution's input against its function's input schema: an empty list
     * when it matches, else each problem with its JSON Pointer (into `input`). Fails SpecInvalid
     * (non-retryable) when the schema does not compile or was never read from its schemaFile (a spec
     * applied around `pontoon apply` and the API, which check both).
     */
    async checkExecutionInput(args: {
      function: string;
      schema?: unknown;
      schemaFile?: string;
      input: unknown;
    }): Promise<{ problems: SchemaProblem[] }> {
      if (args.schema === undefined) {
        throw ApplicationFailure.create({
          type: FailureType.SpecInvalid,
          nonRetryable: true,
          message: `spec.input of "${args.function}" names schemaFile ${JSON.stringify(args.schemaFile)} but holds no schema: apply it with pontoon apply, which reads the file, or send the schema inline`,
        });
      }
      try {
        return { problems: schemaProblems(args.schema, args.input ?? null) };
      } catch (err) {
        throw ApplicationFailure.create({
          type: FailureType.SpecInvalid,
          nonRetryable: true,
          message: `spec.input.schema of "${args.function}" does not compile: ${(err as Error).message}`,
        });
      }
    },
  };
}
