// The `pageframe` command line: its commands (demo, bench, map), their options, help and
// errors. Arguments are parsed with Node's built-in `util.parseArgs` (strict: an unknown option
// or a stray argument is a usage error). Exit status: 0 success, 1 failure, 2 usage error.
//
// The commands load the library from the build (dist/) lazily, so `--help` and `--version` work
// before `npm run build`, and a missing build is reported as such.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The runtimes `pageframe bench --runtime` runs bench/run.js on: this Node, or the repository's
 * pinned Deno and Bun (dev dependencies; their binaries come from the npm registry).
 * @type {Record<string, { bin?: string, args: string[] }>}
 */
const BENCH_RUNTIMES = {
  node: { args: [] },
  deno: { bin: 'node_modules/.bin/deno', args: ['run', '-A'] },
  bun: { bin: 'node_modules/.bin/bun', args: [] },
};

/** A mistake in the command line: reported with the usage, exit status 2. */
export class UsageError extends Error {
  /** @param {string} message @param {string} [command] */
  constructor(message, command) {
    super(message);
    this.command = command;
  }
}

/** A failure the user can act on: reported without a stack, exit status 1. */
export class CliError extends Error {}

/**
 * @typedef {object} Io
 * @property {{ write(s: string): unknown, isTTY?: boolean }} stdout
 * @property {{ write(s: string): unknown }} stderr
 */

/**
 * @typedef {import('node:util').ParseArgsConfig['options']} OptionsSpec
 * @typedef {{ [name: string]: string | boolean | (string | boolean)[] | undefined }} Values
 * @typedef {object} Command
 * @property {string} summary one line, for the command list
 * @property {string} usage the command's help text
 * @property {NonNullable<OptionsSpec>} options
 * @property {(values: Values, io: Io) => Promise<number>} run resolves to the exit status
 */

/** @type {Record<string, Command>} */
const COMMANDS = {
  demo: {
    summary: 'frames through a FrameChannel to consumer workers: throughput, statistics, a frame map',
    usage: `Usage: pageframe demo [options]

A producer (this thread) fills frames of shared memory and sends them through a FrameChannel to
consumer workers, which verify the bytes in place and drop them. Shows progress, then prints the
throughput and the memory statistics, checks the region invariant, and writes a frame map
captured at the run's busiest moment (the most frames queued; mid-run if the queue never grows).
Then runs the same through postMessage (the blocks copied, then transferred) for a baseline, and
prints the ratios.

Options:
  -n, --frames <N>    frames to send (default 100000)
  -w, --workers <N>   consumer workers, 1..32 (default: one fewer than the cores, at least 1)
      --region <N>    the most frames the region may grow to, 64..1048576 (default 262144: 1 GiB); it
                      starts at 16 frames and grows as the frames in flight need
  -m, --map <file>    where to write the frame map: .svg or .html (default demo-map.svg)
      --no-map        write no frame map
      --no-compare    skip the postMessage baseline
  -h, --help          show this help

Exit status 1 if a checksum fails, a frame is lost or the invariant does not hold.`,
    options: {
      frames: { type: 'string', short: 'n' },
      workers: { type: 'string', short: 'w' },
      region: { type: 'string' },
      map: { type: 'string', short: 'm' },
      'no-map': { type: 'boolean' },
      'no-compare': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    run: async (v, io) => {
      const frames = integer(v.frames, '--frames', 100000, 1, 2 ** 31, 'demo');
      // One thread a core: the producer and its consumers (more threads than cores make each
      // hand-off wait for a core, which is not what the demo is about).
      const workers = integer(v.workers, '--workers', Math.max(1, Math.min(32, availableParallelism() - 1)), 1, 32, 'demo');
      const region = integer(v.region, '--region', 1 << 18, 64, 1 << 20, 'demo');
      if (v['no-map'] === true && v.map !== undefined) throw new UsageError('--map and --no-map exclude each other', 'demo');
      const map = v['no-map'] === true ? null : stringValue(v.map) ?? 'demo-map.svg';
      if (map !== null) {
        if (!/\.(svg|html?)$/i.test(map)) throw new UsageError(`--map ${map}: the file must end in .svg or .html`, 'demo');
        if (!existsSync(dirname(resolve(map)))) throw new CliError(`--map ${map}: the directory ${dirname(resolve(map))} does not exist`);
      }
      const { runDemo } = await loadLibrary(() => import('./demo.js'));
      return (await runDemo({ frames, workers, region, map, compare: v['no-compare'] !== true, out: io.stdout })) ? 0 : 1;
    },
  },

  bench: {
    summary: 'the micro-benchmarks (bench/run.js; needs the repository and its dev dependencies)',
    usage: `Usage: pageframe bench [options]

Runs the repository's micro-benchmarks (bench/run.js, as npm run bench does after building):
each row timed next to its baseline, printed as a table. Writes nothing unless --out says
where. They use the development dependencies (tinybench, @thi.ng/malloc): run it in a clone of
the repository after npm ci. Uses the current build (dist/): run npm run build after changing
src/.

Options:
      --quick            a shorter run
      --runtime NAME     node (the default: this Node), deno or bun (the repository's pinned
                         dev dependencies, node_modules/.bin/deno and bun)
  -o, --out FILE.json    also write the results to FILE.json and a chart to FILE.svg (the
                         committed ones: bench/results.json, results-deno.json, results-bun.json)
  -h, --help             show this help`,
    options: {
      quick: { type: 'boolean' },
      runtime: { type: 'string' },
      out: { type: 'string', short: 'o' },
      help: { type: 'boolean', short: 'h' },
    },
    run: async (v, io) => {
      const script = fileURLToPath(new URL('../../bench/run.js', import.meta.url));
      if (!existsSync(script)) {
        throw new CliError(
          `the benchmarks are not part of this installation (no ${script}): they ship with the repository; ` +
            'clone it, then run npm ci and npm run bench',
        );
      }
      requireBuild();
      const missing = missingImports(dirname(script));
      if (missing.length > 0) {
        throw new CliError(
          `the benchmarks need development dependencies that are not installed: ${missing.join(', ')}; ` +
            `run npm ci (or npm install) in ${ROOT}`,
        );
      }
      const runtime = typeof v.runtime === 'string' ? v.runtime : 'node';
      const runner = BENCH_RUNTIMES[runtime];
      if (runner === undefined) throw new CliError(`--runtime ${runtime}: one of ${Object.keys(BENCH_RUNTIMES).join(', ')}`);
      const bin = runner.bin === undefined ? process.execPath : resolve(ROOT, runner.bin);
      if (!existsSync(bin)) throw new CliError(`--runtime ${runtime}: ${bin} is missing; run npm ci (or npm install) in ${ROOT}`);
      const out = stringValue(v.out);
      if (out !== undefined && !out.endsWith('.json')) throw new UsageError(`--out ${out}: give a file name ending in .json (the chart goes beside it, as .svg)`, 'bench');
      const args = [...(v.quick === true ? ['--quick'] : []), ...(out === undefined ? [] : ['--out', resolve(out)])];
      io.stdout.write(`running ${script}${args.map((a) => ` ${a}`).join('')} on ${runtime}\n`);
      const child = spawn(bin, [...runner.args, script, ...args], { stdio: 'inherit', cwd: ROOT });
      const [code, signal] = await new Promise((done) => child.on('exit', (c, s) => done([c, s])));
      if (signal !== null) throw new CliError(`bench/run.js was stopped by ${signal}`);
      return code ?? 1;
    },
  },

  map: {
    summary: 'a frame-map picture (SVG or HTML) of a saved map, or of a sample region',
    usage: `Usage: pageframe map [options]

Renders a frame map: one cell per frame (free, cached, raw, busy, shared by type with its
reference count, unique, in a linked list, forgotten), the fragmentation of free memory and a
legend with counts. The input is a map an application saved with
  writeFileSync('map.json', JSON.stringify(captureFrameMap(sys)))
Without --input it builds a sample region with a frame in every state and renders that.

Options:
  -i, --input <file>     a saved map (pageframe-map/1 JSON); - reads standard input
  -f, --format <fmt>     svg, html or json (default: from the --out extension, else svg);
                         json writes the captured map itself
  -o, --out <file>       where to write (default: standard output)
  -t, --title <text>     the picture's title
  -c, --columns <N>      cells per row (default 64)
  -h, --help             show this help`,
    options: {
      input: { type: 'string', short: 'i' },
      format: { type: 'string', short: 'f' },
      out: { type: 'string', short: 'o' },
      title: { type: 'string', short: 't' },
      columns: { type: 'string', short: 'c' },
      help: { type: 'boolean', short: 'h' },
    },
    run: async (v, io) => {
      const out = stringValue(v.out);
      const fromExt = out === undefined ? undefined : /\.html?$/i.test(out) ? 'html' : /\.json$/i.test(out) ? 'json' : /\.svg$/i.test(out) ? 'svg' : undefined;
      const format = stringValue(v.format) ?? fromExt ?? 'svg';
      if (format !== 'svg' && format !== 'html' && format !== 'json') throw new UsageError(`--format ${format}: use svg, html or json`, 'map');
      const columns = integer(v.columns, '--columns', 64, 1, 4096, 'map');
      const lib = await loadLibrary(() => import('../../dist/map/index.js'));
      const input = stringValue(v.input);
      /** @type {import('../../dist/map/index.js').FrameMap} */
      let map;
      let title = stringValue(v.title);
      if (input !== undefined) {
        let text;
        try {
          text = input === '-' ? readFileSync(0, 'utf8') : readFileSync(input, 'utf8');
        } catch (e) {
          throw new CliError(`cannot read ${input}: ${messageOf(e)}`);
        }
        let value;
        try {
          value = JSON.parse(text);
        } catch (e) {
          throw new CliError(`${input} is not JSON: ${messageOf(e)}`);
        }
        try {
          map = lib.parseFrameMap(value);
        } catch (e) {
          throw new CliError(`${input}: ${messageOf(e)}`);
        }
      } else {
        const { buildSampleSystem } = await loadLibrary(() => import('./sample.js'));
        const sample = buildSampleSystem();
        map = lib.captureFrameMap(sample.sys);
        title ??= 'pageframe sample region (every frame state)';
      }
      const text = format === 'json' ? `${JSON.stringify(map)}\n` : lib.renderFrameMap(map, { format, columns, ...(title !== undefined ? { title } : {}) });
      if (out === undefined) {
        io.stdout.write(text);
      } else {
        try {
          writeFileSync(out, text);
        } catch (e) {
          throw new CliError(`cannot write ${out}: ${messageOf(e)}`);
        }
        const f = map.fragmentation;
        io.stdout.write(
          `wrote ${out} (${format}): ${map.nframes} frames, ${map.nframes - map.counts.free} used, ${map.counts.free} free ` +
            `in ${f.runs} run${f.runs === 1 ? '' : 's'} (largest ${f.largestRun}; fragmentation ${f.ratio.toFixed(2)})\n`,
        );
      }
      return 0;
    },
  },
};

/** The version in package.json. */
export function version() {
  return /** @type {{ version: string }} */ (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'))).version;
}

function mainUsage() {
  const names = Object.keys(COMMANDS);
  const width = Math.max(...names.map((n) => n.length)) + 2;
  return `pageframe ${version()}: frame (physical page) management on shared memory, after Asterinas OSTD

Usage: pageframe <command> [options]

Commands:
${names.map((n) => `  ${n.padEnd(width)}${COMMANDS[n].summary}`).join('\n')}
  ${'help'.padEnd(width)}help on a command: pageframe help <command>

Options:
  -h, --help     show this help (pageframe <command> --help: a command's help)
  -v, --version  print the version

Exit status: 0 success, 1 failure, 2 usage error.`;
}

/**
 * Runs the command line `argv` (without node and the script); resolves to the exit status.
 * @param {string[]} argv
 * @param {Io} [io]
 * @returns {Promise<number>}
 */
export async function main(argv, io = { stdout: process.stdout, stderr: process.stderr }) {
  try {
    const [first, ...rest] = argv;
    if (first === undefined || first.startsWith('-')) {
      const { values } = parse(argv, { help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'v' } }, undefined);
      if (values.version === true) {
        io.stdout.write(`${version()}\n`);
        return 0;
      }
      if (values.help === true) {
        io.stdout.write(`${mainUsage()}\n`);
        return 0;
      }
      throw new UsageError('no command given');
    }
    if (first === 'help') {
      const [topic, ...extra] = rest;
      if (extra.length > 0) throw new UsageError(`unexpected argument ${extra[0]}`);
      if (topic === undefined) io.stdout.write(`${mainUsage()}\n`);
      else if (Object.hasOwn(COMMANDS, topic)) io.stdout.write(`${COMMANDS[topic].usage}\n`);
      else throw new UsageError(`unknown command ${topic}`);
      return 0;
    }
    if (!Object.hasOwn(COMMANDS, first)) throw new UsageError(`unknown command ${first}`);
    const command = COMMANDS[first];
    const { values } = parse(rest, command.options, first);
    if (values.help === true) {
      io.stdout.write(`${command.usage}\n`);
      return 0;
    }
    return await command.run(values, io);
  } catch (e) {
    if (e instanceof UsageError) {
      const usage = e.command !== undefined ? COMMANDS[e.command].usage : mainUsage();
      io.stderr.write(`pageframe${e.command !== undefined ? ` ${e.command}` : ''}: ${e.message}\n\n${usage}\n`);
      return 2;
    }
    if (e instanceof CliError) {
      io.stderr.write(`pageframe: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

/**
 * `util.parseArgs`, strict, no positionals; its errors become `UsageError`s.
 * @param {string[]} args
 * @param {NonNullable<OptionsSpec>} options
 * @param {string | undefined} command
 */
function parse(args, options, command) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false });
  } catch (e) {
    const code = /** @type {{ code?: string }} */ (e).code ?? '';
    if (!code.startsWith('ERR_PARSE_ARGS')) throw e;
    const quoted = /'([^']+)'/.exec(messageOf(e))?.[1];
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && quoted !== undefined) throw new UsageError(`unknown option ${quoted}`, command);
    if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL' && quoted !== undefined) throw new UsageError(`unexpected argument ${quoted}`, command);
    throw new UsageError(messageOf(e), command);
  }
}

/**
 * An integer option in [min, max], or `fallback` when absent.
 * @param {Values[string]} value
 * @param {string} name
 * @param {number} fallback
 * @param {number} min
 * @param {number} max
 * @param {string} command
 */
function integer(value, name, fallback, min, max, command) {
  if (value === undefined) return fallback;
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max)) throw new UsageError(`${name} ${String(value)}: expected an integer from ${min} to ${max}`, command);
  return n;
}

/** @param {Values[string]} value */
function stringValue(value) {
  return typeof value === 'string' ? value : undefined;
}

/** @param {unknown} e */
function messageOf(e) {
  return e instanceof Error ? e.message : String(e);
}

/** Throws a CliError unless the library is built. */
function requireBuild() {
  if (!existsSync(new URL('../../dist/index.js', import.meta.url))) {
    throw new CliError(`pageframe is not built (no ${fileURLToPath(new URL('../../dist/index.js', import.meta.url))}): run npm run build`);
  }
}

/**
 * Imports a module that needs the build, reporting a missing build as a CliError.
 * @template T
 * @param {() => Promise<T>} load
 * @returns {Promise<T>}
 */
async function loadLibrary(load) {
  requireBuild();
  return load();
}

/**
 * The bare module specifiers the .js files of `dir` import that do not resolve from there.
 * @param {string} dir
 */
function missingImports(dir) {
  const names = new Set();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.js'))) {
    const source = readFileSync(resolve(dir, file), 'utf8');
    for (const m of source.matchAll(/^import\s[^'"]*['"]([^'"./][^'"]*)['"]/gm)) if (!m[1].startsWith('node:')) names.add(m[1]);
  }
  const require = createRequire(resolve(dir, 'index.js'));
  return [...names].filter((name) => {
    try {
      require.resolve(name);
      return false;
    } catch (e) {
      // Only a package that is not there counts: one whose exports refuse `require` is there.
      return /** @type {{ code?: string }} */ (e).code === 'MODULE_NOT_FOUND';
    }
  });
}
