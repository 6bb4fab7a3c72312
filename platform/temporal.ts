/** Connections to Temporal from a TemporalConfig (plain, TLS, mTLS or API key). */
import { readFileSync } from 'node:fs';
import { Client, Connection, type ConnectionLike } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import type { TLSConfig } from '@temporalio/common/lib/internal-non-workflow/index.js';
import proto from '@temporalio/proto';
import type { NativeConnection } from '@temporalio/worker';
import type { Logger } from 'pino';
import { SEARCH_ATTRIBUTE_TYPES } from '../core/names.ts';
import { ConfigError, type TemporalConfig } from './config.ts';
import { AesGcmPayloadCodec } from './payload-codec.ts';

/**
 * The data converter of every Temporal client and worker Pontoon creates from `config`: the default
 * payload converter, then the AES-256-GCM payload codec (platform/payload-codec.ts). With no keys the
 * codec passes payloads through and refuses to read encrypted ones, naming the key they need.
 * Never a payloadConverterPath: the codec runs outside the workflow sandbox.
 */
export function dataConverterOf(config: Pick<TemporalConfig, 'payloadKeys'>): DataConverter {
  return { payloadCodecs: [new AesGcmPayloadCodec(config.payloadKeys)] };
}

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
  return new Client({ connection, namespace: config.namespace, dataConverter: dataConverterOf(config) });
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

/** gRPC status codes (grpc.io status codes), as the Temporal client's errors carry them in `code`. */
const GRPC = { INVALID_ARGUMENT: 3, PERMISSION_DENIED: 7, UNIMPLEMENTED: 12 } as const;

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
 * A server that refuses the operator API (PERMISSION_DENIED, e.g. a Temporal Cloud API key without
 * operator rights; UNIMPLEMENTED) is asked through visibility instead (presence only); when that is
 * refused too, 'unchecked' with a warning. Throws ConfigError naming every missing or mistyped
 * attribute, or when the listing fails otherwise (unreachable server, unknown namespace).
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
    const code = (err as { code?: number }).code;
    if (code !== GRPC.PERMISSION_DENIED && code !== GRPC.UNIMPLEMENTED) {
      throw new ConfigError(
        `could not list the search attributes of namespace ${namespace}: ${(err as Error).message}`,
      );
    }
    // Not allowed to list them (e.g. a Temporal Cloud API key without operator rights): a
    // visibility count naming each one needs only read access and is refused for an unknown name.
    return probeSearchAttributes(connection, namespace, logger, (err as Error).message);
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

/**
 * The fallback of checkSearchAttributes when the operator API is refused: CountWorkflowExecutions
 * with a query comparing each attribute to a value of its type; INVALID_ARGUMENT means the namespace
 * does not know it or has it with another type. Throws ConfigError for missing ones; a probe refused otherwise
 * leaves them unchecked, with a warning.
 */
export async function probeSearchAttributes(
  connection: ConnectionLike,
  namespace: string,
  logger: Logger,
  why: string,
): Promise<'checked' | 'unchecked'> {
  const missing: string[] = [];
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTE_TYPES)) {
    try {
      await connection.workflowService.countWorkflowExecutions({
        namespace,
        query: `${name} = ${type === 'Int' ? '0' : "'pontoon-probe'"}`,
      });
    } catch (err) {
      if ((err as { code?: number }).code === GRPC.INVALID_ARGUMENT) {
        missing.push(
          `  ${name} (${type}) is missing or has another type: temporal operator search-attribute create --namespace ${namespace} --name ${name} --type ${type}`,
        );
        continue;
      }
      logger.warn(
        { err: (err as Error).message, listing: why, namespace },
        `could not check the namespace's search attributes; make sure it has ${Object.keys(SEARCH_ATTRIBUTE_TYPES).join(', ')} (deploy/README.md, step 1)`,
      );
      return 'unchecked';
    }
  }
  if (missing.length) {
    throw new ConfigError(
      `namespace ${namespace} lacks search attributes Pontoon sets (an execution setting one would hang):\n${missing.join('\n')}`,
    );
  }
  return 'checked';
}
