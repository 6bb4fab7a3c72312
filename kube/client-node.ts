/**
 * Every value Pontoon's processes take from @kubernetes/client-node, imported from here (types may
 * still be imported from the package: they cost nothing at run time). From the sources (tsx,
 * vitest) this re-exports the package. In the compiled tree `npm run build` replaces this module's
 * JavaScript with one tree-shaken, self-contained bundle of these names (dev/bundle-kube-client.mjs):
 * the package's entry point evaluates all its ~60 generated API groups (24 MB of JavaScript whose
 * source V8 keeps: +84 MiB of RSS and +31 MiB of heap for `import '@kubernetes/client-node'` in a bare
 * node 20), the bundle only the three groups below, their models, the package's runtime and its
 * dependencies (7.3 MB: +30 MiB of RSS, +21 MiB of heap).
 * test/kubernetes-client-bundle.test.ts checks that no other module imports a value from the package.
 */
export {
  AppsV1Api,
  CoreV1Api,
  createConfiguration,
  KubeConfig,
  Log,
  NetworkingV1Api,
  PatchStrategy,
  ServerConfiguration,
  setHeaderMiddleware,
  setHeaderOptions,
  Watch,
} from '@kubernetes/client-node';
// The undici the package itself uses (one copy: package.json pins it for Node 20), bundled with it.
export { Agent as UndiciAgent } from 'undici';
