/**
 * The README as a new user reads it: it opens with what pageframe is, why (with the measured
 * numbers), when not to use it, how to install it and a complete example, in that order, with
 * the contributors' two commands first. Its examples run as written: the main-thread ```ts blocks
 * are compiled with the TypeScript compiler and run as one module against the built package, and
 * the two-file worker example (```js blocks `// main.js` and `// worker.js`) runs as a program
 * with a real worker.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('README', () => {
  it('its main-thread examples run as written and free every frame', async () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
    // Blocks that need a worker (they name one outside comments) run in test/workers.test.ts.
    const runnable = blocks.filter((b) => !/\b(worker|Worker|parentPort|workerData)\b/.test(b.replace(/\/\/.*$/gm, '')));
    expect(runnable.length).toBeGreaterThanOrEqual(4);
    const dist = pathToFileURL(join(root, 'dist/index.js')).href;
    const source =
      runnable.join('\n').replaceAll("from 'pageframe'", `from '${dist}'`) +
      '\nexport const result = { stats: sys.stats(), check: sys.checkInvariants() };\n';
    const js = ts.transpileModule(source, {
      compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ES2022 },
    }).outputText;
    const file = join(mkdtempSync(join(tmpdir(), 'pageframe-readme-')), 'readme.mjs');
    writeFileSync(file, js);
    const logs: unknown[] = [];
    const log = console.log;
    console.log = (...args: unknown[]) => logs.push(args);
    try {
      const mod = (await import(pathToFileURL(file).href)) as { result: { stats: { free: number; total: number } } };
      expect(mod.result.stats.free).toBe(mod.result.stats.total);
    } finally {
      console.log = log;
    }
    expect(logs.length).toBeGreaterThan(0); // the examples' own output (stats, onDrop) happened
    // What the examples say they print, they print.
    expect(logs).toContainEqual(['cafe', Math.PI, new Uint8Array([1, 2, 3]), 4081]); // reader/writer
    expect(logs).toContainEqual([2, 2]); // the LRU evicts key 2 and keeps 2 pages
    expect(logs).toContainEqual([7]); // the channel's segment comes back with its bytes
    expect(logs).toContainEqual(['from_raw_requires', true]); // checked mode catches a fromRaw without intoRaw
    expect(logs).toContainEqual([null]); // back-pressure: a full region answers at once, it does not wait
    expect(logs).toContainEqual([16957440]); // the metadata room a 1 GiB maxFrames reserves
    expect(logs).toContainEqual(['zero-copy']); // the stream example
  });

  it('the complete two-file example runs as written, with a real worker', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const file = (name: string): string => {
      const found = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]).filter((b) => b.startsWith(`// ${name}\n`));
      expect(found, name).toHaveLength(1);
      return found[0].replaceAll("from 'pageframe'", `from '${pathToFileURL(join(root, 'dist/index.js')).href}'`);
    };
    const dir = mkdtempSync(join(tmpdir(), 'pageframe-readme-example-'));
    try {
      writeFileSync(join(dir, 'main.js'), file('main.js'));
      writeFileSync(join(dir, 'worker.js'), file('worker.js'));
      writeFileSync(join(dir, 'package.json'), '{ "type": "module" }');
      const out = execFileSync(process.execPath, ['main.js'], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
      // What main.js says it prints: the worker's sum of the last byte of every frame, then 0 used.
      const expected = Array.from({ length: 1000 }, (_, i) => i % 256).reduce((a, b) => a + b);
      expect(file('main.js')).toContain(`console.log(sum); // ${expected}:`);
      expect(out).toBe(`${expected}\n0\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('opens with the contributors\' commands, then what, why with numbers, when not, install, a complete example', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const firstLines = readme.split('\n').slice(0, 5).join('\n');
    expect(firstLines).toContain('`npm ci && npm start`');
    expect(firstLines).toContain('`npm test`');
    const headings = [...readme.matchAll(/^## (.+)$/gm)].map((m) => m[1]);
    expect(headings.slice(0, 5)).toEqual(['Why', 'When to use it, and when not', 'Install', 'A complete example: a main thread and a worker', 'Concepts']);
    const why = readme.slice(readme.indexOf('## Why'), readme.indexOf('## When to use'));
    expect(why).toMatch(/\d+(\.\d+)? µs/); // measured figures, not adjectives
    expect(why).toContain('bench/README.md');
    expect(headings).toEqual(expect.arrayContaining(['Services', 'Troubleshooting', 'Browsers']));
    // The reference material lives in docs/ (rendered on the API site), linked from here.
    for (const doc of ['docs/design.md', 'docs/overview.md', 'docs/runtimes.md']) expect(readme).toContain(`](${doc}`);
  });
});
