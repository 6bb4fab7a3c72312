/**
 * Pure helpers of `spec.build` shared by the schema, the runtimes and the packager (no zod, no I/O).
 * The catalogue's base images (where each runtime comes from) are in packaging/runtimes.ts.
 */
import type { FunctionSpec } from './schema.ts';

/** Runtimes `spec.build` can package. */
export const BUILD_RUNTIMES = ['node', 'python', 'static'] as const;
export type BuildRuntime = (typeof BUILD_RUNTIMES)[number];

export const RUNTIME_HELP =
  'node (Node.js 24 LTS on Debian 12), python (Python 3.11 on Debian 12), static (a self-contained executable on an empty base)';

/**
 * What a built image runs when build.command is unset (its entrypoint, in /app), and what the local
 * runtime runs in the context folder.
 */
export const DEFAULT_BUILD_COMMANDS: Record<BuildRuntime, string[]> = {
  // `node .` runs package.json's "main" (index.js when there is none).
  node: ['node', '.'],
  python: ['python3', 'main.py'],
  static: ['./main'],
};

/** Where a built image holds the context's files (and its working directory). */
export const APP_DIR = '/app';

type Spec = FunctionSpec['spec'];

/** The command (entrypoint) of a built image: build.command, else the runtime's default. */
export function buildCommand(b: NonNullable<Spec['build']>): string[] {
  return b.command ?? DEFAULT_BUILD_COMMANDS[b.runtime];
}

/**
 * The command the local runtime runs for a spec: `local.command`, else the build command followed by
 * args, else `command` + `args`. Empty when there is none.
 */
export function localCommand(s: Spec): string[] {
  if (s.local?.command) return s.local.command;
  if (s.build) return [...buildCommand(s.build), ...(s.args ?? [])];
  return [...(s.command ?? []), ...(s.args ?? [])];
}

/**
 * The local runtime's working directory (relative ones are taken from PONTOON_LOCAL_ROOT):
 * `local.cwd`, else the build context (the loader makes it absolute), else the root itself.
 */
export function localCwd(s: Spec): string {
  return s.local?.cwd ?? s.build?.context ?? '.';
}

/**
 * The container's `command` for a spec: `command`, else for built images the build command (set
 * explicitly, so a build.base image's own CMD never becomes arguments of it), else none (the
 * image's entrypoint).
 */
export function containerCommand(s: Spec): { command?: string[] } {
  if (s.command) return { command: s.command };
  if (s.build) return { command: buildCommand(s.build) };
  return {};
}

/** Thrown when a spec with `build` reaches a runtime that needs an image before it was built. */
export class ImageNotBuiltError extends Error {
  override name = 'ImageNotBuiltError';
}

/**
 * The image a pod runs for a spec: `spec.image` (after `pontoon apply` of a spec with build, the
 * pushed reference with its digest). Throws ImageNotBuiltError when there is none.
 */
export function functionImage(fn: FunctionSpec): string {
  if (fn.spec.image) return fn.spec.image;
  throw new ImageNotBuiltError(imageNotBuiltMessage(fn));
}

/** Why a spec without an image cannot run in a pod, and what to do. */
export function imageNotBuiltMessage(fn: FunctionSpec): string {
  if (!fn.spec.build)
    return `function ${fn.metadata.name} has no image: it runs on the local runtime only (spec.local.command). To run it on Kubernetes, set spec.image, or spec.build and apply it with \`pontoon apply\``;
  return `function ${fn.metadata.name} has spec.build but no image: it was applied without building (the API, \`pontoon apply --no-build\` and \`pontoon dev\` on the local runtime do not build). Apply it with \`pontoon apply\`, which builds, pushes and records the image by digest, or set spec.image`;
}
