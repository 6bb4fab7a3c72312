/** Reads spec files and folders from disk and parses them with parse.ts. */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { MAX_SPEC_BYTES, type ParseResult, parseSpecText, type SpecProblem } from './parse.ts';

const SPEC_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

/** Expands folders (non-recursively into *.yaml, *.yml, *.json) and checks each path exists. */
export async function expandSpecPaths(
  inputs: string[],
): Promise<{ files: string[]; problems: SpecProblem[] }> {
  const files: string[] = [];
  const problems: SpecProblem[] = [];
  for (const input of inputs) {
    let info: Awaited<ReturnType<typeof stat>>;
    try {
      info = await stat(input);
    } catch {
      problems.push({ file: input, line: 1, column: 1, path: '', message: 'no such file or folder' });
      continue;
    }
    if (info.isDirectory()) {
      const entries = (await readdir(input)).filter((e) => SPEC_EXTENSIONS.has(path.extname(e))).sort();
      if (entries.length === 0) {
        problems.push({
          file: input,
          line: 1,
          column: 1,
          path: '',
          message: 'folder holds no *.yaml, *.yml or *.json spec',
        });
      }
      files.push(...entries.map((e) => path.join(input, e)));
    } else {
      files.push(input);
    }
  }
  return { files, problems };
}

/** Loads every spec under the given files and folders; problems from all of them are reported together. */
export async function loadSpecs(inputs: string[]): Promise<ParseResult> {
  const { files, problems } = await expandSpecPaths(inputs);
  const result: ParseResult = { specs: [], problems };
  const names = new Map<string, string>();
  for (const file of files) {
    const info = await stat(file);
    if (info.size > MAX_SPEC_BYTES) {
      result.problems.push({
        file,
        line: 1,
        column: 1,
        path: '',
        message: `file is ${(info.size / 1024 / 1024).toFixed(1)} MiB; the limit is ${MAX_SPEC_BYTES / 1024 / 1024} MiB per spec file`,
      });
      continue;
    }
    const text = await readFile(file, 'utf8');
    const parsed = parseSpecText(text, file);
    result.problems.push(...parsed.problems);
    for (const s of parsed.specs) {
      const prev = names.get(s.spec.metadata.name);
      if (prev && prev !== s.file) {
        result.problems.push({
          file: s.file,
          line: s.line,
          column: 1,
          path: 'metadata.name',
          message: `function "${s.spec.metadata.name}" is defined twice (also in ${prev})`,
        });
        continue;
      }
      names.set(s.spec.metadata.name, s.file);
      result.specs.push(s);
    }
  }
  return result;
}
