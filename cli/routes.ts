import type { DocumentedRouteId } from '../api/route-table.ts';

/**
 * Every route of the API's OpenAPI document (its route table, api/route-table.ts, by id) and the
 * `pontoon` command that calls it. The CLI is the way people use the API, so a route without a
 * command is a gap: the type makes one a compile error, and test/cli-first-hour.test.ts fails when a
 * command named here is not in the CLI's help. Values are the command after `pontoon`.
 */
export const ROUTE_COMMANDS: Readonly<Record<DocumentedRouteId, string>> = {
  health: 'status',
  ready: 'status',
  listFunctions: 'get functions',
  applyFunction: 'apply -f',
  getFunction: 'describe function',
  functionOpenApi: 'describe function --openapi',
  deleteFunction: 'delete function',
  invoke: 'invoke',
  listSchedules: 'schedules list',
  pauseSchedule: 'schedules pause',
  unpauseSchedule: 'schedules unpause',
  triggerSchedule: 'schedules trigger',
  backfillSchedule: 'schedules backfill',
  listExecutions: 'get executions',
  getExecution: 'describe execution',
  cancelExecution: 'cancel',
  executionLogs: 'logs',
  redriveExecution: 'redrive',
  listDeadLetters: 'dead-letters',
  redriveDeadLetters: 'redrive --function',
};
