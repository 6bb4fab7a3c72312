import { readRequest, writeOutput } from './contract.mjs';

const { parameters, scheduledTime } = readRequest();
console.log(`reporting on ${parameters.date} for region ${parameters.region} (scheduled ${scheduledTime})`);
writeOutput({ date: parameters.date, region: parameters.region, rows: 42 });
