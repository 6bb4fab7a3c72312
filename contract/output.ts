/**
 * The observer's core, shared by the observer (kubernetes runtime) and the local runtime: after the
 * function exits, read $PONTOON_DIR/output.json, enforce the size limit, parse it, and say how the
 * attempt ended.
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { type AttemptFailure, failure, LIMITS } from '../core/execution.ts';
import { OUTPUT_FILE } from './env.ts';

export interface ObservedResult {
  output?: unknown;
  failure?: AttemptFailure;
}

/** What reading a file a function wrote gave: its bytes, nothing there, or why it was not read. */
export type FileRead = { bytes: Buffer } | { missing: true } | { problem: string; size?: number };

/**
 * Reads a file a function may have made, without trusting it: a symbolic link is not followed
 * (unless `follow`), a FIFO or device is not waited on (O_NONBLOCK, then only regular files are
 * read), one of another owner than `owner` is not read (the local runtime's other user: a hard link
 * to a file it cannot read itself), and at most `maxBytes` are read (`size` says how many it holds).
 */
export async function readRegularFile(
  file: string,
  maxBytes: number,
  opts: { follow?: boolean; owner?: number } = {},
): Promise<FileRead> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(
      file,
      constants.O_RDONLY | constants.O_NONBLOCK | (opts.follow ? 0 : constants.O_NOFOLLOW),
    );
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { missing: true };
    if (code === 'ELOOP') return { problem: 'is a symbolic link, which is not followed' };
    return { problem: `cannot be read (${code ?? (err as Error).message})` };
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) return { problem: 'is not a regular file' };
    if (opts.owner !== undefined && st.uid !== opts.owner)
      return { problem: `belongs to uid ${st.uid}, not to the function's user (uid ${opts.owner})` };
    if (st.size > maxBytes) return { problem: `is ${st.size} bytes`, size: st.size };
    const buf = Buffer.alloc(maxBytes + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buf, length, buf.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > maxBytes) return { problem: `is over ${maxBytes} bytes`, size: length };
    }
    return { bytes: buf.subarray(0, length) };
  } finally {
    await handle.close();
  }
}

/**
 * Reads output.json after an exit with code 0; a missing file is a null output. Never follows a
 * link or waits on a FIFO; with `owner`, only a file of that uid is read.
 */
export async function readOutput(
  dir: string,
  maxBytes: number = LIMITS.outputBytes,
  opts: { owner?: number } = {},
): Promise<ObservedResult> {
  const read = await readRegularFile(path.join(dir, OUTPUT_FILE), maxBytes, opts);
  if ('missing' in read) return { output: null };
  if ('problem' in read) {
    if (read.size !== undefined) {
      return {
        failure: failure(
          'OutputTooLarge',
          `output.json is ${read.size} bytes; the limit is ${maxBytes} bytes (write large results to storage and return a reference)`,
        ),
      };
    }
    return { failure: failure('OutputInvalid', `output.json ${read.problem}; write a regular file`) };
  }
  const text = read.bytes.toString('utf8');
  if (text.trim() === '') return { output: null };
  try {
    return { output: JSON.parse(text) };
  } catch (err) {
    return { failure: failure('OutputInvalid', `output.json is not valid JSON: ${(err as Error).message}`) };
  }
}

/** The last `maxBytes` of a log file, starting at a line boundary when one is near. */
export async function readLogTail(file: string, maxBytes: number = LIMITS.logTailBytes): Promise<string> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    // Not a link, not a FIFO (a function can replace its log when it runs as the worker's user).
    handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
    const st = await handle.stat();
    if (!st.isFile()) return '';
    const { size } = st;
    const start = Math.max(0, size - maxBytes);
    const buf = Buffer.alloc(size - start);
    await handle.read(buf, 0, buf.length, start);
    let text = buf.toString('utf8');
    if (start > 0) {
      const nl = text.indexOf('\n');
      text = nl >= 0 && nl < 200 ? text.slice(nl + 1) : text.replace(/^[\uFFFD]+/, '');
    }
    return text;
  } catch {
    return '';
  } finally {
    await handle?.close();
  }
}
