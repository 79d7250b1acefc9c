// The heap benchmark's thread-safe peer, @daneren2005/shared-memory-objects 0.0.4 (a dev
// dependency), made runnable on Node, Deno and Bun here, not in the library: it ships TypeScript
// only, reads `import.meta.env.MODE` (a bundler's setting) and its lock asks `'WorkerGlobalScope'
// in self`. `buildSharedMemoryObjects` transpiles its sources with the `typescript` package into
// a temporary folder, with the bundler's part done as Vite would (`MODE` is 'production', the
// imports get their `.js`); `shimWorkerGlobals` gives a thread the two globals its lock reads.
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isMainThread } from 'node:worker_threads';
import ts from 'typescript';

/**
 * Transpiles the peer's `src/` into a new temporary folder; returns the URL of its entry (for
 * `import()`, in this thread and in workers) and a function that removes the folder.
 * @returns {{ entry: string, remove: () => void }}
 */
export function buildSharedMemoryObjects() {
  const src = join(dirname(fileURLToPath(import.meta.resolve('@daneren2005/shared-memory-objects'))));
  const prettyBytes = import.meta.resolve('pretty-bytes'); // its one dependency, by absolute URL
  const out = mkdtempSync(join(tmpdir(), 'pageframe-bench-smo-'));
  /** @param {string} rel */
  const walk = (rel) => {
    for (const entry of readdirSync(join(src, rel), { withFileTypes: true })) {
      const path = join(rel, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== '__tests__') walk(path);
        continue;
      }
      mkdirSync(join(out, rel), { recursive: true });
      if (entry.name.endsWith('.js')) copyFileSync(join(src, path), join(out, path));
      if (!entry.name.endsWith('.ts') || entry.name.endsWith('.d.ts')) continue;
      const js = ts.transpileModule(readFileSync(join(src, path), 'utf8'), {
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false },
      }).outputText
        .replaceAll('import.meta.env.MODE', JSON.stringify('production')) // Vite's `define`
        .replace(/(from\s+|import\s*\(\s*)(['"])(\.{1,2}\/[^'"]+?)(\.js)?\2/g, '$1$2$3.js$2') // bundlers resolve extensionless imports
        .replace(/(['"])pretty-bytes\1/g, JSON.stringify(prettyBytes));
      writeFileSync(join(out, path.replace(/\.ts$/, '.js')), js);
    }
  };
  walk('');
  return { entry: pathToFileURL(join(out, 'main.js')).href, remove: () => rmSync(out, { recursive: true, force: true }) };
}

/**
 * The globals the peer's lock reads: `self` (every thread), and in a worker thread
 * `WorkerGlobalScope`, so that a contended lock sleeps in `Atomics.wait` as it does in a browser
 * worker (on a main thread it spins, as in a browser's).
 */
export function shimWorkerGlobals() {
  const g = /** @type {Record<string, unknown>} */ (globalThis);
  g.self ??= globalThis;
  if (!isMainThread) g.WorkerGlobalScope ??= class WorkerGlobalScope {};
}
