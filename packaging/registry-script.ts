/**
 * Runs one of dev/registry's scripts (build.sh: crane and the registry from the Go module proxy; up.sh: the
 * embedded registry) for the packager; they ship in the npm package (package.json `files`): resolves when it exits 0,
 * else rejects with `fail(message)` where the message holds the exit code and the end of its stderr.
 */
import { spawn } from 'node:child_process';
import { packagePath } from '../platform/package-root.ts';

export function runRegistryScript(
  script: 'build.sh' | 'up.sh',
  fail: (message: string) => Error,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const child = spawn('bash', [packagePath('dev', 'registry', script)], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.once('error', reject);
    child.once('close', (code) =>
      code === 0
        ? resolve()
        : reject(
            fail(
              `bash dev/registry/${script} exited ${code}: ${err.trim().split('\n').slice(-5).join(' | ')}`,
            ),
          ),
    );
  });
}
