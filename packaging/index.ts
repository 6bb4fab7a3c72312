/**
 * Builds every loaded spec that has `spec.build` (pontoon build, pontoon apply): problems come back
 * located in the spec files, like validation problems, so nothing is applied when one build fails.
 */
import { formatPath, type LoadedSpec, type SpecProblem } from '../core/parse.ts';
import { type BuiltImage, buildFunctionImage } from './build.ts';
import { CraneError, craneRunner, ensureCrane } from './crane.ts';
import { PackagingError } from './errors.ts';
import { ensureEmbeddedRegistry, RegistryConfigError, registryFromEnv } from './registry.ts';

export { type BuiltImage, IMAGE_LABELS } from './build.ts';
export { PackagingError } from './errors.ts';

export interface BuildSpecsResult {
  built: BuiltImage[];
  problems: SpecProblem[];
}

/**
 * Builds and pushes the image of each spec with `build` (others are skipped), in order. Every
 * spec is tried, so one run reports every problem. Specs that built get `spec.image` set to the
 * pushed reference with its digest.
 */
export async function buildSpecs(
  specs: LoadedSpec[],
  progress: (line: string) => void = () => {},
): Promise<BuildSpecsResult> {
  const targets = specs.filter((s) => s.spec.spec.build);
  const result: BuildSpecsResult = { built: [], problems: [] };
  if (targets.length === 0) return result;
  const at = (s: LoadedSpec, field: (string | number)[], message: string): SpecProblem => ({
    file: s.file,
    ...(s.locate?.(field) ?? { line: s.line, column: 1 }),
    path: formatPath(field),
    message,
  });
  let crane: ReturnType<typeof craneRunner>;
  let registry: ReturnType<typeof registryFromEnv>;
  try {
    registry = registryFromEnv();
    await ensureEmbeddedRegistry(registry, progress);
    crane = craneRunner(await ensureCrane(progress), registry.craneEnv);
  } catch (err) {
    if (err instanceof RegistryConfigError || err instanceof CraneError) {
      result.problems.push(...targets.map((s) => at(s, ['spec', 'build'], (err as Error).message)));
      return result;
    }
    throw err;
  }
  for (const s of targets) {
    try {
      const built = await buildFunctionImage(s.spec, { registry, crane, progress });
      s.spec.spec.image = built.reference;
      result.built.push(built);
    } catch (err) {
      if (err instanceof PackagingError) result.problems.push(at(s, err.field, err.message));
      else if (err instanceof CraneError) result.problems.push(at(s, ['spec', 'build'], err.message));
      else throw err;
    }
  }
  return result;
}
