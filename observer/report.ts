/**
 * The observer's core, shared by the sidecar (kubernetes runtime) and the local runtime: after the
 * function exits, read $PONTOON_DIR/output.json, enforce the size limit, parse it, and say how the
 * attempt ended.
 */
import { open, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { type AttemptFailure, failure, LIMITS } from '../spec/execution.ts';

export interface ObservedResult {
  output?: unknown;
  failure?: AttemptFailure;
}

/** Reads output.json after an exit with code 0; a missing file is a null output. */
export async function readOutput(
  dir: string,
  maxBytes: number = LIMITS.outputBytes,
): Promise<ObservedResult> {
  const file = path.join(dir, 'output.json');
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch {
    return { output: null };
  }
  if (size > maxBytes) {
    return {
      failure: failure(
        'OutputTooLarge',
        `output.json is ${size} bytes; the limit is ${maxBytes} bytes (write large results to storage and return a reference)`,
      ),
    };
  }
  const text = await readFile(file, 'utf8');
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
    handle = await open(file, 'r');
    const { size } = await handle.stat();
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
