/** Reads spec files and folders from disk and parses them with parse.ts. */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import {
  MAX_SPEC_BYTES,
  type ParseResult,
  parseSchemaFileText,
  parseSpecText,
  type SpecProblem,
} from './parse.ts';

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
      const entries: string[] = [];
      // *.schema.json is the JSON Schema kept beside specs (function-specs/), not a spec.
      for (const e of (await readdir(input)).sort()) {
        if (!SPEC_EXTENSIONS.has(path.extname(e)) || e.endsWith('.schema.json')) continue;
        if ((await stat(path.join(input, e)).catch(() => undefined))?.isFile()) entries.push(e);
      }
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
  // The same file named twice (a folder and a file in it) is read once.
  const seen = new Set<string>();
  const unique = files.filter((f) => {
    const abs = path.resolve(f);
    if (seen.has(abs)) return false;
    seen.add(abs);
    return true;
  });
  return { files: unique, problems };
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
        message: `file is ${info.size} bytes; the limit is ${MAX_SPEC_BYTES} bytes (1 MiB) per spec file`,
      });
      continue;
    }
    const text = await readFile(file, 'utf8');
    const parsed = parseSpecText(text, file);
    result.problems.push(...parsed.problems);
    for (const s of parsed.specs) {
      const prev = names.get(s.spec.metadata.name);
      if (prev && !prev.startsWith(`${s.file}:`)) {
        result.problems.push({
          file: s.file,
          line: s.line,
          column: 1,
          path: 'metadata.name',
          message: `function "${s.spec.metadata.name}" is defined twice (also at ${prev})`,
        });
        continue;
      }
      names.set(s.spec.metadata.name, `${s.file}:${s.line}`);
      // Typed inputs and results: a schemaFile is read here, relative to the spec file, and travels
      // inline as schema (the API and the worker never read files); schemaFile stays as a note.
      let schemaProblems = 0;
      for (const which of ['input', 'output'] as const) {
        const io = s.spec.spec[which];
        if (!io?.schemaFile) continue;
        const at = (field: string[]) => s.locate?.(field) ?? { line: s.line, column: 1 };
        const field = ['spec', which, 'schemaFile'];
        if (io.schema !== undefined) {
          result.problems.push({
            file: s.file,
            ...at(field),
            path: field.join('.'),
            message: 'set either schema (inline) or schemaFile (a file beside the spec), not both',
          });
          schemaProblems++;
          continue;
        }
        const schemaPath = path.resolve(path.dirname(path.resolve(file)), io.schemaFile);
        const info = await stat(schemaPath).catch(() => undefined);
        if (!info?.isFile() || info.size > MAX_SPEC_BYTES) {
          result.problems.push({
            file: s.file,
            ...at(field),
            path: field.join('.'),
            message: !info
              ? `schema file ${schemaPath} does not exist; schemaFile is relative to the spec file`
              : !info.isFile()
                ? `${schemaPath} is not a file`
                : `${schemaPath} is ${info.size} bytes; the limit is ${MAX_SPEC_BYTES} bytes`,
          });
          schemaProblems++;
          continue;
        }
        const parsed = parseSchemaFileText(
          await readFile(schemaPath, 'utf8'),
          path.join(path.dirname(file), io.schemaFile),
        );
        result.problems.push(...parsed.problems);
        schemaProblems += parsed.problems.length;
        if (parsed.schema !== undefined) io.schema = parsed.schema as Record<string, unknown> | boolean;
      }
      if (schemaProblems) continue;
      // build.context is relative to the spec file; the rest of Pontoon (the packager, the local
      // runtime) sees it absolute.
      const b = s.spec.spec.build;
      if (b) {
        b.context = path.resolve(path.dirname(path.resolve(file)), b.context);
        const at = (field: string[]) => s.locate?.(field) ?? { line: s.line, column: 1 };
        const folder = await stat(b.context).catch(() => undefined);
        if (!folder?.isDirectory()) {
          result.problems.push({
            file: s.file,
            ...at(['spec', 'build', 'context']),
            path: 'spec.build.context',
            message: folder
              ? `${b.context} is not a folder`
              : `context folder ${b.context} does not exist; build.context is relative to the spec file`,
          });
          continue;
        }
        // In a file, image and build contradict each other (pontoon apply sets image from the build).
        if (s.spec.spec.image) {
          result.problems.push({
            file: s.file,
            ...at(['spec', 'image']),
            path: 'spec.image',
            message: 'set either image (a prebuilt image) or build (Pontoon packages the source), not both',
          });
          continue;
        }
      }
      result.specs.push(s);
    }
  }
  return result;
}
