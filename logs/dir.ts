/**
 * The `dir` log store: `<dir>/runs/<execution id>/attempt-<n>/log`, the layout the local runtime
 * writes while a function runs (so on the local runtime the live log and the stored log are the same
 * file). The kubernetes runtime can use it too, on a volume all workers and API replicas mount.
 * Each folder also keeps the attempt's record (RECORD_FILE), which a retried activity adopts.
 * Retention: the sweeper deletes attempt folders whose log and record were last written more than
 * `retentionMs` ago (never a folder with a `pid` file: that attempt is still running).
 */
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { link, mkdir, open, readdir, rename, rm, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { readRegularFile } from '../contract/output.ts';
import {
  type AttemptRecord,
  capLog,
  type LogLimits,
  type LogStore,
  parseAttemptRecord,
  TRUNCATION_MARKER,
} from './store.ts';

/**
 * The attempt's record (store.ts AttemptRecord) in its folder, JSON. Dot-named and written by the
 * worker (never followed as a link, and on the local runtime only believed when the worker's user
 * owns it): a function writing into its own folder cannot pass off an outcome of its own.
 */
export const RECORD_FILE = '.pontoon-outcome.json';
/** Largest record read back: an output of 256 KiB, JSON-escaped at worst, plus the log tail. */
const RECORD_MAX_BYTES = 2 * 1024 * 1024;

/**
 * Writes an attempt's record into its folder: aside (a new file, O_EXCL, so never through a link a
 * function planted), then renamed into place, so a reader sees the whole record or none.
 */
export async function writeRecordFile(folder: string, record: AttemptRecord): Promise<void> {
  const file = path.join(folder, RECORD_FILE);
  const tmp = `${file}.${process.pid}.${randomUUID()}.tmp`;
  const handle = await open(tmp, 'wx', 0o600);
  try {
    await handle.writeFile(JSON.stringify(record));
  } finally {
    await handle.close();
  }
  try {
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

/**
 * The record in an attempt's folder, if there is a readable one. `owner`: only a file of this uid is
 * believed (the local runtime passes the worker's own).
 */
export async function readRecordFile(
  folder: string,
  opts: { owner?: number } = {},
): Promise<AttemptRecord | undefined> {
  const read = await readRegularFile(path.join(folder, RECORD_FILE), RECORD_MAX_BYTES, opts);
  if (!('bytes' in read)) return undefined;
  try {
    return parseAttemptRecord(JSON.parse(read.bytes.toString('utf8')));
  } catch {
    return undefined;
  }
}

/**
 * In a running attempt's folder on the local runtime: the pgid of its process group, written by the
 * worker when the process starts and removed once its group is gone. Retention never deletes a
 * folder that has one; the reap of a lost worker's attempt reads it (activities/local/sweep.ts).
 */
export const PID_FILE = 'pid';

/** The folder of one execution's attempts: `<dir>/runs/<execution id, URI-encoded>`. */
export function executionDir(dir: string, executionId: string): string {
  return path.join(dir, 'runs', encodeURIComponent(executionId));
}

/** The folder of one attempt (the local runtime's PONTOON_DIR): `<dir>/runs/<execution id>/attempt-<n>`. */
export function attemptDir(dir: string, executionId: string, attempt: number): string {
  return path.join(executionDir(dir, executionId), `attempt-${attempt}`);
}

/** An attempt's log in its folder: on the local runtime, the function's stdout and stderr as it runs. */
export const LOG_FILE = 'log';

/** An attempt's log file: `<attempt folder>/log`. */
export function attemptLogPath(dir: string, executionId: string, attempt: number): string {
  return path.join(attemptDir(dir, executionId, attempt), LOG_FILE);
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
      if (opts?.record) await writeRecordFile(path.dirname(file), opts.record);
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

    async getRecord(key) {
      return readRecordFile(attemptDir(dir, key.executionId, key.attempt));
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
          const running = await stat(path.join(folder, PID_FILE)).then(
            () => true,
            () => false,
          );
          if (running) continue;
          // The newest of the log and the record: a silent function's log may be older than its end.
          const mtimes = await Promise.all(
            [LOG_FILE, RECORD_FILE].map((f) =>
              stat(path.join(folder, f)).then(
                (s) => s.mtimeMs,
                () => undefined,
              ),
            ),
          );
          const known = mtimes.filter((m): m is number => m !== undefined);
          const written = known.length
            ? Math.max(...known)
            : await stat(folder).then(
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
