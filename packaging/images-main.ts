/**
 * `npm run images [-- observer|pontoon]`: builds Pontoon's own images and pushes them to
 * PONTOON_REGISTRY (default the embedded registry on 127.0.0.1:5001, started when needed). Prints
 * each pushed reference with its digest on stdout, progress on stderr.
 */
import { craneRunner, ensureCrane } from './crane.ts';
import { buildObserverImage, buildPontoonImage } from './own-images.ts';
import { ensureEmbeddedRegistry, registryFromEnv } from './registry.ts';

const which = process.argv.slice(2);
const progress = (line: string) => process.stderr.write(`[images] ${line}\n`);
try {
  const reg = registryFromEnv();
  await ensureEmbeddedRegistry(reg, progress);
  const crane = craneRunner(await ensureCrane(progress), reg.craneEnv);
  for (const [name, build] of [
    ['observer', buildObserverImage],
    ['pontoon', buildPontoonImage],
  ] as const) {
    if (which.length && !which.includes(name)) continue;
    const r = await build(reg, crane, progress);
    progress(`${name}: built and pushed in ${r.seconds.toFixed(1)} s`);
    process.stdout.write(`${r.tag}\t${r.reference}\n`);
  }
} catch (err) {
  process.stderr.write(`[images] ERROR: ${(err as Error).message}\n`);
  process.exitCode = 2;
}
