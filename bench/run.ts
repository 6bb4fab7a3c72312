/** `npm run bench -- [scenario…] [--quick]`: runs benchmark scenarios and prints their figures. */
import { benchKube } from './kube.ts';
import { benchSchedules } from './schedules.ts';
import { benchWarm } from './warm.ts';

const SCENARIOS: Record<string, (o: { quick: boolean }) => Promise<unknown>> = {
  warm: benchWarm,
  schedules: benchSchedules,
  kube: benchKube,
};

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const wanted = args.filter((a) => !a.startsWith('--'));
const unknown = wanted.filter((w) => !(w in SCENARIOS));
if (unknown.length) {
  console.error(`unknown scenario(s) ${unknown.join(', ')}; available: ${Object.keys(SCENARIOS).join(', ')}`);
  process.exit(2);
}
for (const name of wanted.length ? wanted : Object.keys(SCENARIOS)) {
  console.log(`\n== ${name}${quick ? ' (quick)' : ''}`);
  await SCENARIOS[name]!({ quick });
}
process.exit(0);
