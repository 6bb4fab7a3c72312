/** The JSON Schema of a function spec, generated from the zod schema (editors and CI linters use it). */
import { z } from 'zod';
import { functionSpecSchema } from './schema.ts';

export function functionJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(functionSpecSchema(), {
    io: 'input',
    unrepresentable: 'any',
    target: 'draft-2020-12',
  });
  return {
    ...schema,
    $id: 'https://pontoon.dev/schemas/function.v1.json',
    title: 'Pontoon Function',
    description:
      'A Pontoon function spec (apiVersion pontoon.dev/v1, kind Function). Generated from core/schema.ts by `npm run schema`; do not edit.',
  };
}

export function functionJsonSchemaText(): string {
  return `${JSON.stringify(functionJsonSchema(), null, 2)}\n`;
}
