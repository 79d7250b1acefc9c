/**
 * The package as a user gets it. The package's sources are copied to a temporary directory
 * without `dist/` (a clone that was never built), `npm pack` runs there, scripts and all
 * (`prepack` builds `dist/`; a tarball without it fails at install time with
 * ERR_MODULE_NOT_FOUND), and the tarball is installed, offline, into a fresh project, which then
 * imports the package from ESM, `require`s it from CommonJS (Node >= 20.19, as `engines` says),
 * and type-checks against it under a strict tsconfig without the DOM lib (`lib: ["ES2022",
 * "ESNext.Disposable"]`, `@types/node` only, `skipLibCheck: false`). Nothing tracked is written.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'pageframe-pack-'));
const clone = join(work, 'clone');
const app = join(work, 'app');
let tarball = '';
let packed: string[] = [];
let builtBefore = true;

beforeAll(() => {
  mkdirSync(clone);
  for (const f of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md', 'LICENSE', 'src', 'bin']) {
    cpSync(join(ROOT, f), join(clone, f), { recursive: true });
  }
  symlinkSync(join(ROOT, 'node_modules'), join(clone, 'node_modules'), 'dir');
  builtBefore = existsSync(join(clone, 'dist'));
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: clone, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const [info] = JSON.parse(out.slice(out.indexOf('['))) as { filename: string; files: { path: string }[] }[];
  tarball = join(work, info.filename);
  packed = info.files.map((f) => f.path);

  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, type: 'module' }));
  execFileSync('npm', ['install', tarball, '--offline', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: app, stdio: ['ignore', 'pipe', 'pipe'] });
}, 120_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('npm pack from a clone that was never built, installed into a fresh project', () => {
  it('the clone had no dist/; the tarball holds dist/, bin/, LICENSE and no sources, tests or source maps', () => {
    expect(builtBefore).toBe(false);
    expect(packed).toEqual(expect.arrayContaining(['dist/index.js', 'dist/index.d.ts', 'bin/pageframe.js', 'package.json', 'LICENSE', 'README.md']));
    expect(packed.filter((f) => f.startsWith('src/') || f.startsWith('test/') || f.endsWith('.map'))).toEqual([]);
    expect(readFileSync(join(app, 'node_modules/pageframe/LICENSE'), 'utf8')).toMatch(/^Mozilla Public License Version 2\.0/);
  });

  it('imports from ESM and requires from CommonJS; package.json is importable', () => {
    writeFileSync(
      join(app, 'esm.mjs'),
      `import { FrameSystem } from 'pageframe';
import pkg from 'pageframe/package.json' with { type: 'json' };
const sys = FrameSystem.create({ frames: 16 });
const frame = sys.allocFrame();
frame.fill(7);
console.log(pkg.name, frame.bytes()[4095], sys.stats().used);
frame.drop();
sys.close();
`,
    );
    writeFileSync(
      join(app, 'cjs.cjs'),
      `const { FrameSystem, PAGE_SIZE } = require('pageframe');
const sys = FrameSystem.create({ frames: 4 });
console.log(PAGE_SIZE, sys.stats().free, require('pageframe/package.json').engines.node);
sys.close();
`,
    );
    const run = (file: string) => execFileSync(process.execPath, ['--no-warnings', file], { cwd: app, encoding: 'utf8' }).trim();
    expect(run('esm.mjs')).toBe('pageframe 7 1');
    expect(run('cjs.cjs')).toBe('4096 4 >=20.19');
  });

  it('its command line runs from the installed package (the demo, with its baseline)', () => {
    const bin = join(app, 'node_modules/.bin/pageframe');
    const out = execFileSync(bin, ['demo', '--frames', '300', '--workers', '1', '--no-map'], { cwd: app, encoding: 'utf8', timeout: 60_000 });
    expect(out).toContain('checksum errors: 0');
    expect(out).toContain('every frame is back in the allocator: true');
    expect(out).toMatch(/the same run through postMessage: copied/);
  });

  it('type-checks in a strict TypeScript project without the DOM lib (ES2022 + ESNext.Disposable, @types/node, skipLibCheck false)', () => {
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          lib: ['ES2022', 'ESNext.Disposable'],
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          skipLibCheck: false,
          noEmit: true,
          types: ['node'],
          typeRoots: [join(ROOT, 'node_modules/@types')],
        },
        files: ['app.ts'],
      }),
    );
    writeFileSync(
      join(app, 'app.ts'),
      `import { FrameSystem, Frame, defineMeta, type SharedMemory, type Untyped } from 'pageframe';
const Page = defineMeta('app.page', { owner: 'u32' });
const sys = FrameSystem.create({ frames: 16 });
const memory: SharedMemory = sys.handle.memory;
{
  using frame: Frame<Untyped> = sys.allocFrame();
  frame.bytes().set([1, 2, 3]);
  const typed = sys.allocFrame(Page, { owner: 7 });
  const owner: number = typed.meta.owner;
  typed.drop();
  console.log(owner, memory);
}
sys.close();
`,
    );
    // The consumer's own tsc would do; this repository's is the one at hand offline.
    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
    let output = '';
    try {
      execFileSync(process.execPath, [tsc, '-p', app], { cwd: app, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      output = String((e as { stdout?: string }).stdout ?? e);
    }
    expect(output).toBe('');
    // The declarations tsc read were the installed package's.
    expect(readdirSync(join(app, 'node_modules/pageframe/dist')).filter((f) => f.endsWith('.d.ts'))).toContain('system.d.ts');
  });
});
