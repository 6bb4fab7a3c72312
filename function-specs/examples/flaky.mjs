import { writeOutput } from './contract.mjs';

const attempt = Number(process.env.PONTOON_ATTEMPT);
if (attempt < 3) {
  console.error(`attempt ${attempt}: simulated transient failure`);
  process.exit(1);
}
console.log(`attempt ${attempt}: success`);
writeOutput({ succeededOnAttempt: attempt });
