/**
 * The `dir` log store: `<dir>/runs/<execution id>/attempt-<n>/log`, the layout the local runtime
 * writes while a function runs (so on the local runtime the live log and the stored log are the same
 * file). The kubernetes runtime can use it too, on a volume all workers and API replicas mount.
 * Retention: the sweeper deletes attempt folders whose log was last written more than
 * `retentionMs` ago (never a folder with a `pid` file: that attempt is still running).
 */
import { createReadStream } from 'node:fs';
import { link, mkdir, open, readdir, rm, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { capLog, type LogLimits, type LogStore, TRUNCATION_MARKER } from './store.ts';

export function attemptDir(dir: string, executionId: string, attempt: number): string {
  return path.join(dir, 'runs', encodeURIComponent(executionId), `attempt-${attempt}`);
}

export function attemptLogPath(dir: string, executionId: string, attempt: number): string {
  return path.join(attemptDir(dir, executionId, attempt), 'log');
}

async function startsWithMarker(file: string): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const buf = Buffer.alloc(TRUNCATION_MARKER.length);
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    return buf.subarray(0, bytesRead).toString('utf8') === TRUNCATION_MARKER;
  } finally {
    await handle.close();
  }
}

export function createDirLogStore(dir: string, limits: LogLimits): LogStore {
  return {
    kind: 'dir',
    where: dir,

    async put(key, text, opts) {
      const file = attemptLogPath(dir, key.executionId, key.attempt);
      await mkdir(path.dirname(file), { recursive: true });
      const capped = capLog(text, limits.maxBytes, opts);
      // Write aside, then link into place: readers never see half a file, and a second put keeps the first.
      const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
      await writeFile(tmp, capped.text);
      try {
        await link(tmp, file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      } finally {
        await unlink(tmp).catch(() => undefined);
      }
    },

    async get(key) {
      const file = attemptLogPath(dir, key.executionId, key.attempt);
      let mtime: Date;
      try {
        mtime = (await stat(file)).mtime;
      } catch {
        return undefined;
      }
      return {
        body: createReadStream(file),
        truncated: await startsWithMarker(file).catch(() => false),
        storedAt: mtime.toISOString(),
      };
    },

    async sweep(now = Date.now()) {
      const runs = path.join(dir, 'runs');
      let deleted = 0;
      let executions: string[];
      try {
        executions = await readdir(runs);
      } catch {
        return 0;
      }
      for (const execution of executions) {
        const execDir = path.join(runs, execution);
        let attempts: string[];
        try {
          attempts = await readdir(execDir);
        } catch {
          continue;
        }
        let left = attempts.length;
        for (const attempt of attempts) {
          const folder = path.join(execDir, attempt);
          const running = await stat(path.join(folder, 'pid')).then(
            () => true,
            () => false,
          );
          if (running) continue;
          const written = await stat(path.join(folder, 'log'))
            .catch(() => stat(folder))
            .then(
              (s) => s.mtimeMs,
              () => undefined,
            );
          if (written === undefined || now - written <= limits.retentionMs) continue;
          await rm(folder, { recursive: true, force: true });
          deleted++;
          left--;
        }
        if (left === 0) await rmdir(execDir).catch(() => undefined);
      }
      return deleted;
    },
  };
}
