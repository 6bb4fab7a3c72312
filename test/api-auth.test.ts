/** API key configuration and credential redaction in request logs. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { buildApi } from '../api/app.ts';
import { AuthConfigError, hashKey, newApiKey } from '../api/auth.ts';
import { ApiConfigError, parseApiConfig } from '../api/config.ts';
import { REDACT_PATHS } from '../platform/logger.ts';
import { type RunningWorker, startWorker } from './helpers.ts';

let w: RunningWorker;
beforeAll(async () => {
  w = await startWorker();
});
afterAll(async () => {
  await w?.stop();
});

it('refuses to start without keys unless PONTOON_AUTH=none, and reads keys from env and file', () => {
  expect(() => parseApiConfig({})).toThrow(ApiConfigError);
  expect(() => parseApiConfig({})).toThrow(/no API keys configured/);
  expect(parseApiConfig({ PONTOON_AUTH: 'none' }).auth).toEqual({ mode: 'open' });
  const a = newApiKey('ci', 'invoker');
  const env = parseApiConfig({ PONTOON_API_KEYS: `ci:invoker:${a.entry.sha256}` });
  expect(env.auth).toEqual({ mode: 'keys', keys: [a.entry] });
  expect(a.entry.sha256).toBe(hashKey(a.token));
  const dir = mkdtempSync(path.join(inject('testDir'), 'keys-'));
  const file = path.join(dir, 'keys.yaml');
  writeFileSync(file, `keys:\n  - { name: ops, role: admin, sha256: ${a.entry.sha256} }\n`);
  expect(parseApiConfig({ PONTOON_API_KEYS_FILE: file }).auth).toMatchObject({
    mode: 'keys',
    keys: [{ name: 'ops', role: 'admin' }],
  });
  writeFileSync(file, 'keys:\n  - { name: ops, role: root, sha256: abc }\n');
  expect(() => parseApiConfig({ PONTOON_API_KEYS_FILE: file })).toThrow(AuthConfigError);
  expect(() => parseApiConfig({ PONTOON_API_KEYS: 'ci:invoker' })).toThrow(/expected name:role:sha256/);
});

it('never writes the bearer key to the request log', async () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  const logger = pino({ level: 'trace', redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, sink);
  const key = newApiKey('ops', 'admin');
  const app = await buildApi({
    client: w.client,
    logger,
    taskQueue: w.config.taskQueue,
    dataDir: w.config.dataDir,
    auth: { mode: 'keys', keys: [key.entry] },
  });
  await app.inject({
    method: 'GET',
    url: '/v1/functions',
    headers: { authorization: `Bearer ${key.token}` },
  });
  await app.inject({
    method: 'GET',
    url: '/v1/functions',
    headers: { authorization: 'Bearer pk_not_a_real_key_123' },
  });
  await app.close();
  const log = lines.join('');
  expect(log).toContain('/v1/functions');
  expect(log).not.toContain(key.token);
  expect(log).not.toContain('pk_not_a_real_key_123');
});
