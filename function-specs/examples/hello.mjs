import { readRequest, writeOutput } from './contract.mjs';

const request = readRequest();
const name = process.env.PONTOON_PARAM_NAME ?? 'world';
console.log(`greeting ${name} (execution ${request.executionId}, attempt ${request.attempt})`);
writeOutput({ greeting: `Hello, ${name}!` });
