/** Loads the worker's Kubernetes credentials: a kubeconfig file when given, else the defaults. */
import type https from 'node:https';
import tls from 'node:tls';
import type { Cluster, Configuration, RequestContext, SecurityAuthentication } from '@kubernetes/client-node';
import {
  createConfiguration,
  KubeConfig,
  ServerConfiguration,
  setHeaderMiddleware,
  UndiciAgent,
} from './client-node.ts';

/**
 * `path` (KUBECONFIG) wins; otherwise @kubernetes/client-node's defaults: $KUBECONFIG, the
 * in-cluster service account (a worker running as a Deployment), then ~/.kube/config.
 */
export function loadKubeConfig(path?: string): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  if (!kc.getCurrentCluster()) {
    throw new Error(
      `no Kubernetes cluster in ${path ?? 'the default kubeconfig'}: set KUBECONFIG, or run the worker in a pod with a service account`,
    );
  }
  return kc;
}

type Dispatcher = NonNullable<ReturnType<RequestContext['getDispatcher']>>;

/** How long one pooled connection set is used before a fresh one picks up rotated certificates. */
const DISPATCHER_MAX_AGE_MS = 10 * 60_000;

/**
 * Connections one API client opens to the apiserver at most; more requests at once wait for one.
 * undici's Agent has no limit by default, so a burst of attempts finishing together opened one TLS
 * connection per request in flight (87 at once in B5, 2026-12-05; 120 for 120 requests at once in
 * test/kubernetes-client-pool.test.ts), each with its own TLS session and buffers (~35 MiB of the
 * worker's native memory at B5's traced peak, heaptrack). At ~4 ms per request over a kept-alive
 * connection, 32 connections carry thousands of requests a second. Long-lived streams (pod watches,
 * followed logs) do not go through these clients (client-node's Watch and Log), so none holds a
 * connection for long.
 */
export const MAX_CONNECTIONS_PER_CLIENT = 32;

/**
 * How long an idle pooled connection is kept, in ms. undici's default (4 s) closed connections
 * between bursts of attempts, and every new one paid a TLS handshake (bench B3 on kwok,
 * 2026-12-05: ~3 ms of worker CPU per execution in connecting). The kube-apiserver closes a
 * connection after 90 s idle (IdleTimeout in k8s.io/apiserver/pkg/server/secure_serving.go);
 * 30 s stays under it and under the 60 s idle timeout common to cloud load balancers, so the
 * client, not the server, closes an idle connection. Behind a proxy that closes sooner, a request
 * written as the proxy closes fails with a socket error, which has no HTTP status: retryTransient
 * (kube/requests.ts) retries it, and a retried pod creation adopts the pod if the first one landed.
 */
export const IDLE_CONNECTION_MS = 30_000;

/**
 * A dispatcher with the KubeConfig's TLS settings and at most `MAX_CONNECTIONS_PER_CLIENT`
 * connections, built the way @kubernetes/client-node 2.0.1 builds its own (its public
 * `createDispatcherOptions`); undefined for what it builds otherwise (proxies, plain HTTP), whose
 * own dispatcher is then used. Its connections share one TLS secure context (the CA, client
 * certificate and key parsed once): given only the PEM options, Node's tls.connect builds a new
 * context, parsing the key again, for every connection (`setKey` was the largest TLS cost in the
 * kwok worker's profile).
 */
async function cappedDispatcher(kc: KubeConfig, cluster: Cluster): Promise<Dispatcher | undefined> {
  const o: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(o);
  const opts = kc.createDispatcherOptions(cluster, {
    ca: o.ca,
    cert: o.cert,
    key: o.key,
    pfx: o.pfx,
    passphrase: o.passphrase,
    ...(o.rejectUnauthorized !== undefined ? { rejectUnauthorized: o.rejectUnauthorized } : {}),
    ...(o.servername !== undefined ? { servername: o.servername } : {}),
  });
  if (opts.type !== 'agent') return undefined;
  const secureContext = tls.createSecureContext({
    ...(o.ca !== undefined ? { ca: o.ca } : {}),
    ...(o.cert !== undefined ? { cert: o.cert } : {}),
    ...(o.key !== undefined ? { key: o.key } : {}),
    ...(o.pfx !== undefined ? { pfx: o.pfx } : {}),
    ...(o.passphrase !== undefined ? { passphrase: o.passphrase } : {}),
  });
  return new UndiciAgent({
    connect: { ...opts.connect, secureContext },
    connections: MAX_CONNECTIONS_PER_CLIENT,
    keepAliveTimeout: IDLE_CONNECTION_MS,
  }) as unknown as Dispatcher;
}

/**
 * `kc.makeApiClient(type)` whose requests reuse their TLS connections. @kubernetes/client-node 2.0.1
 * builds a new undici dispatcher, so a new connection and TLS handshake, for every request: about
 * 11 ms per apiserver call on the development machine against 4 ms over a kept-alive connection
 * (measured with create/get/pods-log/delete, 20 of each). The KubeConfig still authenticates every
 * request (tokens from files or exec plugins are re-read as before); only its connection pool is
 * kept, and replaced every 10 minutes so a rotated client certificate or CA is picked up.
 */
export function makePooledApiClient<T>(kc: KubeConfig, apiClientType: new (config: Configuration) => T): T {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('No active cluster!');
  let pooled: { dispatcher: Promise<Dispatcher>; since: number } | undefined;
  const auth: SecurityAuthentication = {
    getName: () => 'kubeconfig authentication (pooled connections)',
    async applySecurityAuthentication(context: RequestContext) {
      await kc.applySecurityAuthentication(context);
      const fresh = context.getDispatcher();
      if (!fresh) return; // plain http or no TLS options: fetch's global pool already reuses connections
      if (!pooled || Date.now() - pooled.since > DISPATCHER_MAX_AGE_MS) {
        // The old pool finishes its in-flight requests, then closes. The new one is set before any
        // await, so requests arriving together share it.
        const old = pooled;
        pooled = {
          dispatcher: cappedDispatcher(kc, cluster)
            .catch((err: unknown) => {
              // The request still runs (client-node's own dispatcher, which reports the same TLS
              // problem on the request itself), but without the pool: say so once per pool.
              process.emitWarning(
                `Kubernetes API connections are not pooled: ${(err as Error)?.message ?? String(err)}`,
                { code: 'PONTOON_KUBE_POOL' },
              );
              return undefined;
            })
            .then((capped) => {
              if (!capped) return fresh;
              void fresh.close().catch(() => undefined);
              return capped;
            }),
          since: Date.now(),
        };
        void old?.dispatcher.then((d) => d.close()).catch(() => undefined);
      } else {
        void fresh.close().catch(() => undefined);
      }
      context.setDispatcher(await pooled.dispatcher);
    },
  };
  return new apiClientType(
    createConfiguration({
      baseServer: new ServerConfiguration(cluster.server, {}),
      authMethods: { default: auth },
      middleware: [setHeaderMiddleware('User-Agent', 'pontoon')],
    }),
  );
}
