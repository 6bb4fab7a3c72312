/** Connections to Temporal from a TemporalConfig (plain, TLS, mTLS or API key). */
import { readFileSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import type { TLSConfig } from '@temporalio/common/lib/internal-non-workflow/index.js';
import type { NativeConnection } from '@temporalio/worker';
import type { TemporalConfig } from './config.ts';

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
