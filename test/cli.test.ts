/**
 * The `pageframe` command line, run as a user runs it (`node bin/pageframe.js …`, against the
 * build): help and version, usage errors (exit 2), `map` of the sample region, of a saved map and
 * of standard input, `demo` with its frame map, `bench`'s clear errors when it cannot run, and
 * the progress indicator on a terminal and in a log.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Progress } from '../bin/lib/progress.js';
import { FrameAllocOptions, defineMeta } from '../src/index.js';
import { captureFrameMap } from '../src/map/capture.js';
import { MockMeta, makeSystem } from './helpers.js';
import { allElements, byClass, linesOf, parseXml, textOf } from './map/xml.js';
import { STATE_FILL } from '../src/map/palette.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin', 'pageframe.js');
const tmp = mkdtempSync(join(tmpdir(), 'pageframe-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function run(args: string[], options: { input?: string; bin?: string } = {}) {
  const r = spawnSync(process.execPath, [options.bin ?? BIN, ...args], { cwd: tmp, encoding: 'utf8', timeout: 60_000, input: options.input });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Legend counts of a rendered map, by key (types by name). */
function legendOf(svgText: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of byClass(parseXml(svgText), 'legend-item')) {
    const count = item.attrs['data-count'];
    if (count !== undefined) out[item.attrs['data-key'] === 'type' ? `type:${item.attrs['data-name']}` : item.attrs['data-key']] = Number(count);
  }
  return out;
}

describe('pageframe: help, version, usage errors', () => {
  it('--help lists the commands; a command has its own help', () => {
    for (const args of [['--help'], ['-h'], ['help']]) {
      const r = run(args);
      expect(r.status).toBe(0);
      expect(r.stdout).toContain('Usage: pageframe <command> [options]');
      for (const c of ['demo', 'bench', 'map']) expect(r.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
    }
    for (const args of [['map', '--help'], ['help', 'map'], ['map', '-h']]) {
      const r = run(args);
      expect(r.status).toBe(0);
      expect(r.stdout).toContain('Usage: pageframe map [options]');
      expect(r.stdout).toContain('--input <file>');
    }
    expect(run(['demo', '--help']).stdout).toContain('--workers <N>');
    expect(run(['bench', '--help']).stdout).toContain('--quick');
    expect(run(['bench', '--help']).stdout).toContain('--runtime NAME');
  });

  it('--version prints the version of package.json', () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-v']) {
      const r = run([flag]);
      expect(r.status).toBe(0);
      expect(r.stdout).toBe(`${version}\n`);
    }
  });

  it('an unknown option, command or value: a message, the usage, exit status 2', () => {
    const cases: [string[], RegExp, string][] = [
      [['map', '--bogus'], /^pageframe map: unknown option --bogus\n/, 'Usage: pageframe map'],
      [['demo', '-x'], /^pageframe demo: unknown option -x\n/, 'Usage: pageframe demo'],
      [['--bogus'], /^pageframe: unknown option --bogus\n/, 'Usage: pageframe <command>'],
      [['frobnicate'], /^pageframe: unknown command frobnicate\n/, 'Usage: pageframe <command>'],
      [[], /^pageframe: no command given\n/, 'Usage: pageframe <command>'],
      [['demo', 'now'], /^pageframe demo: unexpected argument now\n/, 'Usage: pageframe demo'],
      [['demo', '--frames', 'many'], /--frames many: expected an integer from 1 to/, 'Usage: pageframe demo'],
      [['demo', '--workers', '0'], /--workers 0: expected an integer from 1 to 32/, 'Usage: pageframe demo'],
      [['demo', '--map', 'out.png'], /must end in \.svg or \.html/, 'Usage: pageframe demo'],
      [['demo', '--map', 'a.svg', '--no-map'], /exclude each other/, 'Usage: pageframe demo'],
      [['demo', '--frames'], /--frames/, 'Usage: pageframe demo'],
      [['map', '--format', 'png'], /--format png: use svg, html or json/, 'Usage: pageframe map'],
      [['help', 'frobnicate'], /unknown command frobnicate/, 'Usage: pageframe <command>'],
    ];
    for (const [args, message, usage] of cases) {
      const r = run(args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(message);
      expect(r.stderr, args.join(' ')).toContain(usage);
      expect(r.stdout).toBe('');
    }
  });
});

describe('pageframe map', () => {
  it('without --input: the sample region, with a frame in every state, to a file', () => {
    const out = join(tmp, 'sample.svg');
    const r = run(['map', '--out', out]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^wrote .*sample\.svg \(svg\): 512 frames, \d+ used, \d+ free in \d+ runs/);
    const text = readFileSync(out, 'utf8');
    const legend = legendOf(text);
    for (const key of ['shared', 'unique', 'inList', 'forgotten', 'raw', 'cached', 'free', 'untyped']) expect(legend[key], key).toBeGreaterThan(0);
    for (const name of ['app.page', 'app.inode', 'app.buffer', 'pageframe.untyped']) expect(legend[`type:${name}`], name).toBeGreaterThan(0);
    expect(legend.shared + legend.unique + legend.raw + legend.free + legend.busy).toBe(512);
    expect(textOf(parseXml(text))).toContain('pageframe sample region (every frame state)');
    // Shared frames with several references are numbered.
    expect(byClass(parseXml(text), 'cell').some((c) => /^[2-9]$/.test(textOf(c)))).toBe(true);
    // Fragmented free memory: several runs.
    expect(Number(/in (\d+) runs/.exec(r.stdout)![1])).toBeGreaterThan(5);
  });

  it('to standard output by default; HTML by --format or by the extension', () => {
    const r = run(['map']);
    expect(r.status).toBe(0);
    expect(r.stdout.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<svg')).toBe(true);
    parseXml(r.stdout);
    const html = run(['map', '--format', 'html', '--title', 'T & <co>']);
    expect(html.stdout.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(allElements(parseXml(html.stdout)).find((e) => e.name === 'h1')?.text).toBe('T & <co>');
    const byExt = run(['map', '-o', join(tmp, 'sample.html')]);
    expect(byExt.status).toBe(0);
    expect(readFileSync(join(tmp, 'sample.html'), 'utf8').startsWith('<!DOCTYPE html>')).toBe(true);
  });

  it('--input: a map an application captured and saved as JSON (also from standard input)', () => {
    const sys = makeSystem({ frames: 96, checked: true, leakStacks: false });
    const Cache = defineMeta('test.cli.cache & <co>', { key: 'u32' });
    const held = [sys.allocFrame(Cache, { key: 1 }), sys.allocFrame(MockMeta, { value: 2 })];
    held.push(held[0].clone());
    const unique = new FrameAllocOptions(sys).allocUnique(MockMeta, { value: 3 });
    const json = join(tmp, 'app-map.json');
    const map = captureFrameMap(sys);
    writeFileSync(json, JSON.stringify(map));

    const out = join(tmp, 'app-map.html');
    const r = run(['map', '--input', json, '--out', out]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`wrote ${out} (html): 96 frames, 3 used, 93 free`);
    const html = parseXml(readFileSync(out, 'utf8'));
    const svg = allElements(html).find((e) => e.name === 'svg')!;
    expect(byClass(svg, 'cell')).toHaveLength(96);
    const legend = legendOf(readFileSync(out, 'utf8'));
    expect(legend['type:test.cli.cache & <co>']).toBe(1);
    expect(legend).toEqual(expect.objectContaining({ shared: map.stats.shared, unique: 1, free: map.stats.free }));

    const piped = run(['map', '--input', '-', '--format', 'svg', '--columns', '16'], { input: JSON.stringify(map) });
    expect(piped.status).toBe(0);
    expect(byClass(parseXml(piped.stdout), 'cell')).toHaveLength(96);

    // --format json writes the map itself: the sample, then rendered from it.
    const saved = join(tmp, 'sample.json');
    expect(run(['map', '--format', 'json', '--out', saved]).status).toBe(0);
    expect(JSON.parse(readFileSync(saved, 'utf8')).format).toBe('pageframe-map/1');
    expect(run(['map', '--input', saved, '--out', join(tmp, 'again.svg')]).status).toBe(0);
    for (const f of held) f.drop();
    unique.drop();
  });

  it('a bad or missing input: a clear message, exit status 1', () => {
    writeFileSync(join(tmp, 'not.json'), '{ nope');
    writeFileSync(join(tmp, 'other.json'), JSON.stringify({ format: 'something/2' }));
    const cases: [string, RegExp][] = [
      ['not.json', /^pageframe: not\.json is not JSON: /],
      ['other.json', /^pageframe: other\.json: not a pageframe-map\/1 frame map: its format is 'something\/2'/],
      ['missing.json', /^pageframe: cannot read missing\.json: ENOENT/],
    ];
    for (const [file, message] of cases) {
      const r = run(['map', '--input', file]);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(r.stdout).toBe('');
    }
  });
});

describe('pageframe demo', () => {
  it('--frames 2000 --workers 2 --map: every frame verified, statistics, the frame map written', () => {
    const out = join(tmp, 'demo.svg');
    const r = run(['demo', '--frames', '2000', '--workers', '2', '--map', out]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('pageframe demo: 2000 frames of 4 KiB through a FrameChannel to 2 consumer workers');
    expect(r.stdout).toMatch(/^ {2}consumer 1: \d+ frames verified$/m);
    expect(r.stdout).toMatch(/^throughput: \d+ frames\/s, [\d.]+ MiB\/s \([\d.]+ s\), checksum errors: 0$/m);
    const end = /^memory at the end: \{"total":(\d+),"free":(\d+),"used":0,.*the region grew to (\d+) frames/m.exec(r.stdout);
    expect(end).not.toBeNull(); // the region started at 16 frames and grew as the frames in flight needed
    expect(Number(end![1])).toBe(Number(end![2]));
    expect(Number(end![1])).toBe(Number(end![3]));
    expect(Number(end![1])).toBeGreaterThan(16);
    expect(r.stdout).toContain('every frame is back in the allocator: true');
    expect(r.stdout).toMatch(new RegExp(`^frame map: ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}, captured (at the busiest moment|mid-run)`, 'm'));
    // Not a terminal: plain lines, no carriage returns.
    expect(r.stdout).not.toContain('\r');
    expect(r.stdout).toContain('  sent 2000/2000 in ');
    const svg = parseXml(readFileSync(out, 'utf8'));
    // One cell a frame the region had when captured: it had grown past its first 16, as needed.
    const cells = byClass(svg, 'cell').length;
    expect(cells).toBeGreaterThan(16);
    expect(cells).toBeLessThan(1024);
    expect(linesOf(svg)).toContain(`may grow to ${1 << 18} frames (${(1 << 18) - cells} reserved, not in the memory yet)`);
    // The title counts what the picture shows: the frames in use, then how many of them are queued.
    const title = /pageframe demo (?:at its busiest moment|mid-run): (\d+) frames in use, (\d+) of them queued, after \d+ of 2000 were sent/.exec(linesOf(svg));
    expect(title).not.toBeNull();
    const inUse = byClass(svg, 'cell').filter((c) => allElements(c).some((e) => e.name === 'rect' && e.attrs.fill !== STATE_FILL.free && e.attrs.fill !== STATE_FILL.cached)).length;
    expect(Number(title![1])).toBe(inUse);
    expect(Number(title![2])).toBeLessThanOrEqual(inUse);
    const legend = legendOf(readFileSync(out, 'utf8'));
    expect(legend['type:pageframe.channel']).toBe(1); // the channel's own frame
  });

  it('--no-map writes none; --no-compare runs no baseline', () => {
    const dir = join(tmp, 'nomap');
    mkdirSync(dir);
    const r = spawnSync(process.execPath, [BIN, 'demo', '--frames', '300', '--workers', '1', '--no-map', '--no-compare'], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).not.toContain('frame map:');
    expect(r.stdout).not.toContain('through postMessage'); // --no-compare: no baseline run
    expect(existsSync(join(dir, 'demo-map.svg'))).toBe(false);
  });
});

describe('pageframe bench, when it cannot run', () => {
  /** A copy of the package's bin/ beside a stub build, and the given bench/run.js (or none). */
  function fakePackage(name: string, bench: string | undefined, built = true): string {
    const dir = join(tmp, name);
    cpSync(join(ROOT, 'bin'), join(dir, 'bin'), { recursive: true });
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'pageframe', version: '9.9.9', type: 'module' }));
    if (built) {
      mkdirSync(join(dir, 'dist'));
      writeFileSync(join(dir, 'dist', 'index.js'), 'export {};\n');
    }
    if (bench !== undefined) {
      mkdirSync(join(dir, 'bench'));
      writeFileSync(join(dir, 'bench', 'run.js'), bench);
    }
    return join(dir, 'bin', 'pageframe.js');
  }

  it('without its dev dependencies: names them and says to run npm ci', () => {
    const bin = fakePackage('nodeps', "import { Bench } from 'pageframe-test-missing-dep';\nimport { x } from './chart.js';\nimport { cpus } from 'node:os';\n");
    const r = run(['bench', '--quick'], { bin });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^pageframe: the benchmarks need development dependencies that are not installed: pageframe-test-missing-dep; run npm ci \(or npm install\) in /);
  });

  it('--runtime: an unknown runtime, or one whose binary is not installed, is refused with what to do; deno and bun run bench/run.js themselves', () => {
    const bin = fakePackage('runtimes', "console.log(JSON.stringify({ deno: typeof Deno, bun: typeof Bun }));\n");
    const unknown = run(['bench', '--runtime', 'firefox'], { bin });
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toBe('pageframe: --runtime firefox: one of node, deno, bun\n');
    const missing = run(['bench', '--runtime', 'deno'], { bin });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/^pageframe: --runtime deno: .*node_modules\/\.bin\/deno is missing; run npm ci \(or npm install\) in /);
    // With the repository's own binaries in the fake package's node_modules/.bin:
    mkdirSync(join(tmp, 'runtimes', 'node_modules', '.bin'), { recursive: true });
    for (const rt of ['deno', 'bun']) symlinkSync(join(ROOT, 'node_modules', '.bin', rt), join(tmp, 'runtimes', 'node_modules', '.bin', rt));
    const deno = run(['bench', '--runtime', 'deno', '--quick'], { bin });
    expect(deno.status).toBe(0);
    expect(deno.stdout).toContain('{"deno":"object","bun":"undefined"}');
    const bun = run(['bench', '--runtime', 'bun'], { bin });
    expect(bun.status).toBe(0);
    expect(bun.stdout).toContain('{"deno":"undefined","bun":"object"}');
  });

  it('writes results only where --out says (resolved from the caller\'s directory); without it, nothing', () => {
    const bin = fakePackage('out', 'console.log(JSON.stringify(process.argv.slice(2)));\n');
    const plain = run(['bench', '--quick'], { bin });
    expect(plain.status).toBe(0);
    expect(plain.stdout).toContain('["--quick"]');
    const asked = run(['bench', '--out', 'mine.json'], { bin });
    expect(asked.status).toBe(0);
    expect(asked.stdout).toContain(JSON.stringify(['--out', join(tmp, 'mine.json')]));
    const bad = run(['bench', '--out', 'mine.svg'], { bin });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^pageframe bench: --out mine\.svg: give a file name ending in \.json/);
  });

  it('outside the repository (an installed package has no bench/), or before the build', () => {
    const installed = run(['bench'], { bin: fakePackage('installed', undefined) });
    expect(installed.status).toBe(1);
    expect(installed.stderr).toMatch(/the benchmarks are not part of this installation .*clone it, then run npm ci and npm run bench/);
    const unbuilt = fakePackage('unbuilt', "import 'node:os';\n", false);
    for (const args of [['bench'], ['map'], ['demo', '--frames', '10']]) {
      const r = run(args, { bin: unbuilt });
      expect(r.status, args.join(' ')).toBe(1);
      expect(r.stderr).toMatch(/^pageframe: pageframe is not built \(no .*dist\/index\.js\): run npm run build/);
    }
    // Help and version need no build.
    expect(run(['--version'], { bin: unbuilt }).stdout).toBe('9.9.9\n');
  });
});

describe('Progress', () => {
  function fake(tty: boolean) {
    let t = 0;
    const written: string[] = [];
    const p = new Progress({ write: (s: string) => written.push(s), isTTY: tty }, { now: () => t });
    return { p, written, advance: (ms: number) => (t += ms) };
  }

  it('on a terminal: one line rewritten in place, at most every 100 ms, replaced by the final line', () => {
    const { p, written, advance } = fake(true);
    expect(p.update('a')).toBe(false); // too soon
    advance(100);
    expect(p.update('b')).toBe(true);
    advance(50);
    expect(p.update('c')).toBe(false);
    advance(60);
    expect(p.update('d')).toBe(true);
    p.log('note');
    p.finish('done');
    expect(written).toEqual(['\rb\x1b[K', '\rd\x1b[K', '\r\x1b[K', 'note\n', 'done\n']);
  });

  it('in a log: plain lines at most once a second, no carriage return', () => {
    const { p, written, advance } = fake(false);
    for (let i = 0; i < 25; i++) {
      advance(100);
      p.update(`step ${i}`);
    }
    p.finish('done');
    expect(written).toEqual(['step 9\n', 'step 19\n', 'done\n']);
  });

  it('a text given as a function is made only when a line is due', () => {
    const { p, written, advance } = fake(false);
    let made = 0;
    const text = (): string => `line ${++made}`;
    for (let i = 0; i < 1000; i++) {
      advance(3);
      p.update(text);
    }
    expect(made).toBe(2);
    expect(written).toEqual(['line 1\n', 'line 2\n']);
  });
});
