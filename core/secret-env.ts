/**
 * What looks like a credential in an environment variable, by its name or by its value. One rule,
 * used wherever a variable reaches a function:
 *
 * - a spec's literal values (`spec.env[].value`, `spec.local.env`) that look like secrets are
 *   refused in favour of `secretRef` (`literalSecretProblems`, at `pontoon validate`, `apply` and the
 *   function controller's Update validator): a literal is stored in plain text in Temporal history
 *   and in every attempt's input, and every viewer reads it;
 * - the local runtime passes a worker variable on to functions only when it is not one
 *   (`inheritable`, activities/local/env.ts), and never looks up `secretRef` in the worker's
 *   environment.
 *
 * Names: a strong name (`*_TOKEN`, `*_SECRET`, `*PASSWORD*`, `*_API_KEY`, …) makes any non-empty
 * literal a secret; a weak one (`*_KEY`, `*_AUTH`) only a value that looks random. Values: known
 * token formats (GitHub, GitLab, Slack, Stripe, OpenAI/Anthropic, AWS, Google, npm, PyPI, Hugging
 * Face, SendGrid, JWTs), PEM private keys and URLs with a password are secrets under any name. A
 * value that only looks like one is kept with `sensitive: false` on its `spec.env` entry.
 *
 * Pure, no Node APIs: the function controller's validator (a workflow) imports it.
 */

/** Words after which a name describes a secret rather than holding one (DB_PASSWORD_FILE, …). */
const ABOUT_A_SECRET =
  /_(FILE|PATH|DIR|NAME|ID|URL|ENDPOINT|LENGTH|LEN|MIN|MAX|POLICY|RULES?|TTL|EXPIRY|AGE|HINT|PROMPT|REQUIRED|ENABLED|HEADER|FIELD|PARAM)$/;

/** Why a name marks its value as a secret whatever the value: strong names. */
function strongName(name: string): string | undefined {
  const n = name.toUpperCase();
  let m = /(?:^|_)(TOKEN|SECRET|PASSPHRASE|CREDENTIALS?|APIKEY)$/.exec(n);
  if (m) return `its name ends in ${m[1]}`;
  m = /(API|PRIVATE|SECRET|ACCESS|SIGNING|ENCRYPTION|MASTER|CLIENT)_?KEY$/.exec(n);
  if (m) return `its name ends in ${m[0]}`;
  if (/_PWD$/.test(n)) return 'its name ends in _PWD';
  m = /PASSW(?:OR)?D/.exec(n);
  if (m && !ABOUT_A_SECRET.test(n)) return `its name holds ${m[0]}`;
  return undefined;
}

/** Weak names: a secret only when the value looks random too (CACHE_KEY=v1 is not one). */
function weakName(name: string): string | undefined {
  const m = /(?:^|_)(KEY|AUTH)$/.exec(name.toUpperCase());
  return m ? `its name ends in ${m[1]}` : undefined;
}

/** Known formats of credentials, anywhere in a value (a header value "Bearer ghp_…" included). */
const KNOWN_FORMATS: [RegExp, string][] = [
  [/-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----/, 'a PEM private key'],
  [/(?:^|[^A-Za-z0-9_])gh[pousr]_[A-Za-z0-9]{36,}/, 'a GitHub token'],
  [/(?:^|[^A-Za-z0-9_])github_pat_[A-Za-z0-9_]{22,}/, 'a GitHub token'],
  [/(?:^|[^A-Za-z0-9_])glpat-[A-Za-z0-9_-]{20,}/, 'a GitLab token'],
  [/(?:^|[^A-Za-z0-9_])xox[abposr]-[A-Za-z0-9-]{10,}/, 'a Slack token'],
  [/(?:^|[^A-Za-z0-9_])[sr]k_(?:live|test)_[A-Za-z0-9]{16,}/, 'a Stripe key'],
  [/(?:^|[^A-Za-z0-9_])sk-(?:proj-|ant-|svcacct-)?[A-Za-z0-9_-]{32,}/, 'an OpenAI or Anthropic key'],
  [/(?:^|[^A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])/, 'an AWS access key'],
  [/(?:^|[^A-Za-z0-9_])AIza[0-9A-Za-z_-]{35}/, 'a Google API key'],
  [/(?:^|[^A-Za-z0-9_])npm_[A-Za-z0-9]{36}/, 'an npm token'],
  [/(?:^|[^A-Za-z0-9_])pypi-AgE[A-Za-z0-9_-]{40,}/, 'a PyPI token'],
  [/(?:^|[^A-Za-z0-9_])hf_[A-Za-z0-9]{30,}/, 'a Hugging Face token'],
  [/(?:^|[^A-Za-z0-9_.])SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}/, 'a SendGrid key'],
  [/(?:^|[^A-Za-z0-9_])eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/, 'a JWT'],
  // scheme://user:password@host, any scheme (postgres, redis, amqp, https, …).
  [/[A-Za-z][A-Za-z0-9+.-]*:\/\/[^\s/:@]*:[^\s/@]+@/, 'a URL with a password'],
];

/** Bits per character of a string's own character distribution. */
function entropy(s: string): number {
  const counts = new Map<string, number>();
  for (const c of s) counts.set(c, (counts.get(c) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) {
    const p = n / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}

/** A value that looks like a random key: long, one token of key characters, letters and digits, high entropy. */
function looksRandom(value: string): boolean {
  if (!/^[A-Za-z0-9+/=_-]{20,}$/.test(value)) return false;
  if (!/[A-Za-z]/.test(value) || !/[0-9]/.test(value)) return false;
  return entropy(value) >= 3.5;
}

/** Why a value is a secret under any name (a known credential format), if it is one. */
export function secretValueReason(value: string): string | undefined {
  for (const [re, what] of KNOWN_FORMATS) if (re.test(value)) return `its value is ${what}`;
  return undefined;
}

/**
 * Why a variable with this literal value looks like a secret, or undefined. An empty value never
 * does (there is nothing to hide).
 */
export function secretReason(name: string, value: string): string | undefined {
  if (value === '') return undefined;
  const byValue = secretValueReason(value);
  if (byValue) return byValue;
  const strong = strongName(name);
  if (strong) return strong;
  const weak = weakName(name);
  if (weak && looksRandom(value)) return `${weak} and its value looks like a random key`;
  return undefined;
}

/**
 * Names of worker variables that are Pontoon's or Temporal's own configuration, or give access to
 * the developer's agents: never passed to functions, whatever their value.
 */
const WORKER_ONLY_RE = /^(PONTOON_|TEMPORAL_)|^(SSH_AUTH_SOCK|GPG_AGENT_INFO|XAUTHORITY)$/i;
/** Broad name words: a worker variable holding any of them is not passed on (a false positive costs nothing there). */
const CREDENTIAL_WORD_RE = /TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|PRIVATE|CREDENTIAL/i;

/**
 * Whether a variable of the worker's own environment may reach a function on the local runtime:
 * not Pontoon's or Temporal's configuration, no credential word in its name, and neither its name
 * nor its value looks like a secret by the rule specs are held to.
 */
export function inheritable(name: string, value: string): boolean {
  if (WORKER_ONLY_RE.test(name) || CREDENTIAL_WORD_RE.test(name)) return false;
  if (strongName(name) || weakName(name)) return false;
  return secretValueReason(value) === undefined;
}

export interface LiteralSecretProblem {
  path: (string | number)[];
  message: string;
}

interface EnvHolder {
  spec: {
    env: { name: string; value?: string | undefined; sensitive?: boolean | undefined }[];
    local?: { env?: Record<string, string> | undefined } | undefined;
  };
}

const STORED =
  "a literal is stored in plain text in Temporal history and every attempt's input, and viewers read it";

/**
 * Literal environment values of a spec that look like secrets (or are marked `sensitive: true`),
 * each with its field path, as refused at validate and apply time.
 */
export function literalSecretProblems(fn: EnvHolder): LiteralSecretProblem[] {
  const problems: LiteralSecretProblem[] = [];
  fn.spec.env.forEach((e, i) => {
    if (e.value === undefined || e.sensitive === false) return;
    const why = e.sensitive === true ? 'it is marked sensitive: true' : secretReason(e.name, e.value);
    if (!why) return;
    problems.push({
      path: ['spec', 'env', i, 'value'],
      message: `looks like a secret (${why}): ${STORED}; use secretRef (locally the file PONTOON_LOCAL_SECRETS_DIR/<name>/<key>), or sensitive: false if it is not a secret`,
    });
  });
  for (const [name, value] of Object.entries(fn.spec.local?.env ?? {})) {
    const why = secretReason(name, value);
    if (!why) continue;
    problems.push({
      path: ['spec', 'local', 'env', name],
      message: `looks like a secret (${why}): ${STORED}; move it to spec.env with secretRef (locally the file PONTOON_LOCAL_SECRETS_DIR/<name>/<key>), or with sensitive: false if it is not a secret`,
    });
  }
  return problems;
}

/** What a viewer sees instead of a literal value that looks like a secret. */
export const REDACTED = '(redacted: looks like a secret; use secretRef)';

/**
 * The spec with every literal value that looks like a secret replaced by REDACTED: what roles below
 * admin are shown of specs applied before such values were refused. `sensitive: false` values stay.
 */
export function redactLiteralSecrets<T extends EnvHolder>(fn: T): T {
  const problems = literalSecretProblems(fn);
  if (problems.length === 0) return fn;
  const copy = structuredClone(fn);
  for (const p of problems) {
    if (p.path[1] === 'env') copy.spec.env[p.path[2] as number]!.value = REDACTED;
    else if (copy.spec.local?.env) copy.spec.local.env[p.path[3] as string] = REDACTED;
  }
  return copy;
}
