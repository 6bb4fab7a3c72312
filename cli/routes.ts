/**
 * Every route of the API's OpenAPI document and the `pontoon` command that calls it. The CLI is the
 * way people use the API, so a route without a command is a gap: test/cli-first-hour.test.ts fails
 * when the API has a route missing here, or when a command named here is not in the CLI's help.
 * Keys are "METHOD /path" as in /openapi.json; values are the command after `pontoon`.
 */
export const ROUTE_COMMANDS: Readonly<Record<string, string>> = {
  'GET /healthz': 'status',
  'GET /readyz': 'status',
  'GET /v1/functions': 'get functions',
  'PUT /v1/functions/{name}': 'apply -f',
  'GET /v1/functions/{name}': 'describe function',
  'GET /v1/functions/{name}/openapi.json': 'describe function --openapi',
  'DELETE /v1/functions/{name}': 'delete function',
  'POST /v1/functions/{name}/invocations': 'invoke',
  'GET /v1/functions/{name}/schedules': 'schedules list',
  'POST /v1/functions/{name}/schedules/{schedule}/pause': 'schedules pause',
  'POST /v1/functions/{name}/schedules/{schedule}/unpause': 'schedules unpause',
  'POST /v1/functions/{name}/schedules/{schedule}/trigger': 'schedules trigger',
  'POST /v1/functions/{name}/schedules/{schedule}/backfill': 'schedules backfill',
  'GET /v1/executions': 'get executions',
  'GET /v1/executions/{id}': 'describe execution',
  'POST /v1/executions/{id}/cancel': 'cancel',
  'GET /v1/executions/{id}/logs': 'logs',
  'POST /v1/executions/{id}/redrive': 'redrive',
  'GET /v1/dead-letters': 'dead-letters',
  'POST /v1/dead-letters/redrive': 'redrive --function',
};
