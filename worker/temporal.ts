/** Connections to Temporal from a TemporalConfig (plain, TLS, mTLS or API key). */
import { readFileSync } from 'node:fs';
import { Client, Connection, type ConnectionLike } from '@temporalio/client';
import type { TLSConfig } from '@temporalio/common/lib/internal-non-workflow/index.js';
import proto from '@temporalio/proto';
import type { NativeConnection } from '@temporalio/worker';
import type { Logger } from 'pino';
import { SEARCH_ATTRIBUTE_TYPES } from '../spec/names.ts';
import { ConfigError, type TemporalConfig } from './config.ts';

function tlsOptions(config: TemporalConfig): TLSConfig | undefined {
  if (!config.tls) return undefined;
  const { clientCertPath, clientKeyPath, serverCaCertPath, serverName } = config.tls;
  return {
    ...(serverName ? { serverNameOverride: serverName } : {}),
    ...(serverCaCertPath ? { serverRootCACertificate: readFileSync(serverCaCertPath) } : {}),
    ...(clientCertPath && clientKeyPath
      ? { clientCertPair: { crt: readFileSync(clientCertPath), key: readFileSync(clientKeyPath) } }
      : {}),
  };
}

export async function connectClient(
  config: TemporalConfig,
  connectTimeout: string | number = '10s',
): Promise<Client> {
  const connection = await Connection.connect({
    address: config.address,
    connectTimeout,
    tls: tlsOptions(config) ?? (config.tls ? true : undefined),
    ...(config.apiKey ? { apiKey: config.apiKey } : {}),
  });
  return new Client({ connection, namespace: config.namespace });
}

/** A worker's connection. The worker package (native core) is loaded here only: clients never load it. */
export async function connectNative(config: TemporalConfig): Promise<NativeConnection> {
  const { NativeConnection } = await import('@temporalio/worker');
  return NativeConnection.connect({
    address: config.address,
    tls: tlsOptions(config) ?? (config.tls ? true : undefined),
    ...(config.apiKey ? { apiKey: config.apiKey } : {}),
  });
}

// A CommonJS package: Node's ESM loader sees only its default export (a named import works under
// vitest and fails under node and tsx).
const { IndexedValueType } = proto.temporal.api.enums.v1;

const INDEXED_TYPE: Record<'Keyword' | 'Int', proto.temporal.api.enums.v1.IndexedValueType> = {
  Keyword: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  Int: IndexedValueType.INDEXED_VALUE_TYPE_INT,
};

/**
 * Checks, before a worker polls, that the namespace has every search attribute Pontoon sets
 * (SEARCH_ATTRIBUTE_TYPES, with its type). Without one, a workflow task that upserts it fails and is
 * retried forever (the execution hangs instead of failing), so a missing attribute refuses the start.
 * The embedded dev server registers them itself; other clusters need
 * `temporal operator search-attribute create`, which the error spells out per attribute.
 *
 * Returns what it could not check: a server that refuses the operator API (Temporal Cloud without
 * the permission, an older server: PERMISSION_DENIED, UNIMPLEMENTED) is logged as a warning and
 * not fatal. Throws ConfigError naming every missing or mistyped attribute.
 */
export async function checkSearchAttributes(
  connection: ConnectionLike,
  namespace: string,
  logger: Logger,
): Promise<'checked' | 'unchecked'> {
  let custom: Record<string, proto.temporal.api.enums.v1.IndexedValueType>;
  try {
    const answer = await connection.operatorService.listSearchAttributes({ namespace });
    custom = (answer.customAttributes ?? {}) as Record<string, proto.temporal.api.enums.v1.IndexedValueType>;
  } catch (err) {
    logger.warn(
      { err: (err as Error).message, namespace },
      `could not list the namespace's search attributes; make sure it has ${Object.keys(SEARCH_ATTRIBUTE_TYPES).join(', ')} (deploy/README.md, step 1)`,
    );
    return 'unchecked';
  }
  const problems = Object.entries(SEARCH_ATTRIBUTE_TYPES).flatMap(([name, type]) => {
    const has = custom[name];
    if (has === INDEXED_TYPE[type]) return [];
    const fix = `temporal operator search-attribute create --namespace ${namespace} --name ${name} --type ${type}`;
    return has === undefined
      ? [`  ${name} (${type}) is missing: ${fix}`]
      : [`  ${name} has type ${IndexedValueType[has] ?? has}, not ${type}`];
  });
  if (problems.length) {
    throw new ConfigError(
      `namespace ${namespace} lacks search attributes Pontoon sets (an execution setting one would hang):\n${problems.join('\n')}`,
    );
  }
  return 'checked';
}
