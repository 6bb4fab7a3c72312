import { readRequest, writeOutput } from './contract.mjs';

// The input was checked against greet.input.schema.json before this attempt started.
const { input } = readRequest();
const greetings = Array.from({ length: input.times ?? 1 }, () => `Hello, ${input.name}!`);
console.log(`greeting ${input.name} ${greetings.length} time(s)`);
writeOutput({ greetings });
