#!/usr/bin/env node
// The `pontoon` command: the compiled CLI in dist/, or its sources in a checkout edited since the
// last build (bin/entry.mjs).
import { load } from './entry.mjs';

const { main } = await load('cli/main');
process.exitCode = await main(process.argv.slice(2));
