/**
 * The README's examples run as written: the main-thread code blocks are compiled with the
 * TypeScript compiler and run as one module against the built package. (The worker example is
 * exercised by test/workers.test.ts.)
 */
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
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
  });
});
