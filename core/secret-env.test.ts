/** What looks like a credential (core/secret-env.ts): few false positives, the common secrets caught. */
import { describe, expect, it } from 'vitest';
import {
  inheritable,
  literalSecretProblems,
  REDACTED,
  redactLiteralSecrets,
  secretReason,
} from './secret-env.ts';

describe('secretReason', () => {
  it.each([
    ['GITHUB_TOKEN', 'x', 'its name ends in TOKEN'],
    ['SLACK_SIGNING_SECRET', 'abc', 'its name ends in SECRET'],
    ['DB_PASSWORD', 'hunter2', 'its name holds PASSWORD'],
    ['PGPASSWORD', 'postgres', 'its name holds PASSWORD'],
    ['MYSQL_PWD', 'root', 'its name ends in _PWD'],
    ['DB_PASSWORD_PROD', 'x', 'its name holds PASSWORD'],
    ['STRIPE_API_KEY', 'x', 'its name ends in API_KEY'],
    ['OPENAI_APIKEY', 'x', 'its name ends in APIKEY'],
    ['AWS_SECRET_ACCESS_KEY', 'x', 'its name ends in ACCESS_KEY'],
    ['DJANGO_SECRET_KEY', 'x', 'its name ends in SECRET_KEY'],
    ['GCP_CREDENTIALS', '{}', 'its name ends in CREDENTIALS'],
    ['SESSION_KEY', 'q8Zr2XvN5pLk7TfW3yHcJ9bD', 'its name ends in KEY and its value looks like a random key'],
    ['GREETING', 'ghp_0123456789abcdefghijABCDEFGHIJ012345', 'its value is a GitHub token'],
    ['AUTH_HEADER', 'Bearer ghp_0123456789abcdefghijABCDEFGHIJ012345', 'its value is a GitHub token'],
    ['SLACK', 'xoxb-1234567890-abcdefghij', 'its value is a Slack token'],
    ['PAYMENTS', 'sk_live_0123456789abcdefABCD', 'its value is a Stripe key'],
    ['LLM', 'sk-proj-0123456789abcdefghijklmnopqrstuvwxyzAB', 'its value is an OpenAI or Anthropic key'],
    ['AWS_ID', 'AKIAIOSFODNN7EXAMPLE', 'its value is an AWS access key'],
    ['DATABASE_URL', 'postgres://app:s3cret@db:5432/app', 'its value is a URL with a password'],
    ['CACHE', 'redis://:s3cret@cache:6379/0', 'its value is a URL with a password'],
    ['CERT', '-----BEGIN RSA PRIVATE KEY-----\nMIIE…', 'its value is a PEM private key'],
    [
      'SAMPLE',
      'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N',
      'its value is a JWT',
    ],
  ])('%s=%s: %s', (name, value, reason) => {
    expect(secretReason(name, value)).toBe(reason);
  });

  it.each([
    ['MAX_TOKENS', '4096'],
    ['TOKEN_URL', 'https://auth.example.com/oauth/token'],
    ['TOKEN_TTL', '3600'],
    ['SECRET_NAME', 'prod/reports/db'],
    ['DB_PASSWORD_FILE', '/run/secrets/db-password'],
    ['PASSWORD_MIN_LENGTH', '12'],
    ['CACHE_KEY', 'reports-v2'],
    ['S3_KEY', 'reports/2026/01/daily.csv'],
    ['PARTITION_KEY', 'tenant_id'],
    ['PUBLIC_KEY', '-----BEGIN PUBLIC KEY-----\nMFkw…'],
    ['BUILD_SHA', '3f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39'],
    ['SERVICE_URL', 'https://api.example.com:8443/v1?x=1@2'],
    ['GIT_REMOTE', 'git@github.com:org/repo.git'],
    ['MONKEY', 'banana'],
    ['PWD', '/work'],
    ['EMPTY_SECRET', ''],
    ['LOG_LEVEL', 'debug'],
  ])('%s=%s is not a secret', (name, value) => {
    expect(secretReason(name, value)).toBeUndefined();
  });
});

describe('inheritable (the worker environment a local function gets)', () => {
  it('leaves out Pontoon, Temporal, credential names, agent sockets and secret-looking values', () => {
    for (const [name, value] of [
      ['TEMPORAL_API_KEY', 'k'],
      ['TEMPORAL_ADDRESS', 'localhost:7233'],
      ['PONTOON_API_KEYS', 'x'],
      ['GITHUB_TOKEN', 'x'],
      ['AWS_SESSION_TOKEN', 'x'],
      ['MAX_TOKENS', '4096'],
      ['PRIVATE_REGISTRY', 'r.example'],
      ['GOOGLE_APPLICATION_CREDENTIALS', '/k.json'],
      ['SSH_AUTH_SOCK', '/tmp/ssh-x/agent.1'],
      ['GPG_KEY', 'A035C8C19219BA821ECEA86B64E628F8D684696D'],
      ['DATABASE_URL', 'postgres://u:p@db/app'],
      ['NOTES', 'ghp_0123456789abcdefghijABCDEFGHIJ012345'],
    ])
      expect(inheritable(name!, value!), name).toBe(false);
    for (const [name, value] of [
      ['PATH', '/usr/bin:/bin'],
      ['HOME', '/root'],
      ['LANG', 'C.UTF-8'],
      ['NODE_EXTRA_CA_CERTS', '/etc/ssl/certs/ca-certificates.crt'],
      ['GIT_AUTHOR_NAME', 'Ada'],
    ])
      expect(inheritable(name!, value!), name).toBe(true);
  });
});

describe('literal values in a spec', () => {
  const spec = {
    spec: {
      env: [
        { name: 'API_TOKEN', value: 'abc' },
        { name: 'FIXTURE_PASSWORD', value: 'not-real', sensitive: false },
        { name: 'MODE', value: 'fast' },
        { name: 'DB_PASSWORD', secretRef: { name: 'db', key: 'password' } },
      ],
      local: { env: { LOCAL_SECRET: 'x', LEVEL: 'debug' } },
    },
  };

  it('refuses secret-looking literals with their paths; sensitive: false keeps one', () => {
    expect(literalSecretProblems(spec).map((p) => p.path)).toEqual([
      ['spec', 'env', 0, 'value'],
      ['spec', 'local', 'env', 'LOCAL_SECRET'],
    ]);
  });

  it('redacts them for viewers, nothing else', () => {
    const r = redactLiteralSecrets(spec);
    expect(r.spec.env.map((e) => e.value)).toEqual([REDACTED, 'not-real', 'fast', undefined]);
    expect(r.spec.local.env).toEqual({ LOCAL_SECRET: REDACTED, LEVEL: 'debug' });
    expect(spec.spec.env[0]!.value).toBe('abc');
    const clean = { spec: { env: [{ name: 'MODE', value: 'fast' }] } };
    expect(redactLiteralSecrets(clean)).toBe(clean);
  });
});
