/**
 * The commands on spec files that need no API: `validate` (offline checks), `build` (images of the
 * specs with spec.build, pushed to the registry) and `schema` (the spec's JSON Schema).
 */
import {
  type Command,
  guard,
  helpOption,
  outputFormat,
  outputOption,
  parseArgs,
  showHelp,
  specTools,
} from '../command.ts';
import { render } from '../format.ts';
import { Exit, UsageError } from '../output.ts';

export const validate: Command = {
  help: `Usage: pontoon validate <file|folder>…

Checks every spec (YAML, multi-document, or JSON) offline and prints each problem as
  file:line:column field.path: what is wrong, what is allowed
Exits 2 when any problem is found, 0 otherwise.

Examples:
  pontoon validate function-specs/
  pontoon validate my-fn.yaml other.yaml`,
  async run(args, io) {
    const { positionals, values } = guard(() =>
      parseArgs({ args, options: helpOption, allowPositionals: true }),
    );
    if (values.help) return showHelp(validate.help, io);
    if (positionals.length === 0) throw new UsageError('validate needs at least one file or folder');
    const { loadSpecs, formatProblem, problemCount } = await specTools();
    const result = await loadSpecs(positionals);
    for (const p of result.problems) io.err(formatProblem(p));
    // The valid ones too, when others have problems: which files need no work. A name defined
    // twice is no valid spec, wherever each one is.
    const twice = new Set(
      result.problems.flatMap((p) => /^function "([^"]+)" is defined twice/.exec(p.message)?.[1] ?? []),
    );
    const names = [...new Set(result.specs.map((s) => s.spec.metadata.name))].filter((n) => !twice.has(n));
    if (names.length || !result.problems.length)
      io.out(`${names.length} function spec${names.length === 1 ? '' : 's'} valid: ${names.join(', ')}`);
    const n = problemCount(result.problems);
    if (n) {
      io.err(`${n} problem${n === 1 ? '' : 's'} found`);
      return Exit.usage;
    }
    return Exit.ok;
  },
};

export const build: Command = {
  help: `Usage: pontoon build <file|folder>… [-o json|yaml]

Builds the image of every spec with spec.build, without a Docker daemon: the runtime's base
image (built from package registries once and cached), a dependencies layer (package-lock.json or
requirements.txt, cached by its digest) and the code layer (the context after ignore rules, at
/app). Reproducible: the same source gives the same digest, and layers the registry already holds
are not uploaded again. Prints a progress line per layer and each function's pushed reference
with its digest (REGISTRY/pontoon/<function>@sha256:…). Problems are printed as
file:line:column field: message, exit 2.

Environment:
  PONTOON_REGISTRY            host[:port][/path] images are pushed to (default 127.0.0.1:5001, the
                              embedded registry, started on first use); plain HTTP on loopback only
  PONTOON_REGISTRY_USERNAME, PONTOON_REGISTRY_PASSWORD
                              credentials; otherwise ~/.docker/config.json (or $DOCKER_CONFIG)

Examples:
  pontoon build function-specs/
  PONTOON_REGISTRY=registry.example.com/team pontoon build my-fn.yaml -o json`,
  async run(args, io) {
    const { positionals, values } = guard(() =>
      parseArgs({ args, options: { ...helpOption, ...outputOption }, allowPositionals: true }),
    );
    if (values.help) return showHelp(build.help, io);
    const out = outputFormat(values.output);
    if (positionals.length === 0) throw new UsageError('build needs at least one spec file or folder');
    const { loadSpecs, formatProblem, problemCount } = await specTools();
    const loaded = await loadSpecs(positionals);
    for (const p of loaded.problems) io.err(formatProblem(p));
    const n = problemCount(loaded.problems);
    if (n) {
      io.err(`nothing built: ${n} problem${n === 1 ? '' : 's'} found`);
      return Exit.usage;
    }
    if (!loaded.specs.some((s) => s.spec.spec.build)) {
      io.err('no spec here has spec.build: nothing to build');
      return Exit.usage;
    }
    const { buildSpecs } = await import('../../packaging/index.ts');
    const result = await buildSpecs(loaded.specs, (line) => io.err(line));
    for (const p of result.problems) io.err(formatProblem(p));
    if (out !== 'text') io.out(render(result.built, out));
    else for (const b of result.built) io.out(`${b.function}\t${b.reference}`);
    if (result.problems.length) {
      io.err(`${result.problems.length} build problem${result.problems.length === 1 ? '' : 's'}`);
      return Exit.usage;
    }
    return Exit.ok;
  },
};

export const schema: Command = {
  help: `Usage: pontoon schema

Prints the JSON Schema of a function spec (function-specs/function.schema.json is this output).`,
  async run(args, io) {
    if (args.includes('--help') || args.includes('-h')) return showHelp(schema.help, io);
    io.out((await import('../../core/json-schema.ts')).functionJsonSchemaText().trimEnd());
    return Exit.ok;
  },
};
