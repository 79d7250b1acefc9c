// The runtime matrix of `npm test`: the vitest suite again on Deno and on Bun (both pinned dev
// dependencies, their binaries from the npm registry: node_modules/.bin/deno and bun), after the
// Node run. Vitest itself runs on each runtime, and so do the test files, their worker_threads
// workers and the processes they start (process.execPath is that runtime). Left out: the browser
// tests (they drive Chromium and Firefox from Node) and the checks of the repository's text that
// run no pageframe code (listed below). Prints each run's own summary, then one line per runtime
// and a closing line; exits nonzero if any run failed.
//
//   node test/runtimes/run.js [deno|bun ...] [-- vitest arguments]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const VITEST = fileURLToPath(new URL('../../node_modules/vitest/vitest.mjs', import.meta.url));

/** How to run vitest on each runtime. */
const RUNTIMES = {
  // --bun: Bun runs vitest (and its forks) itself, not the Node the script's shebang names.
  bun: { bin: 'node_modules/.bin/bun', args: ['--bun', VITEST] },
  // -A: the suite reads and writes files, starts workers and processes, listens on loopback.
  deno: { bin: 'node_modules/.bin/deno', args: ['run', '-A', VITEST] },
};

/** Test files that only read the repository (sources, docs, models, the packed file list): the Node run covers them. */
const NOT_RUNTIME = [
  'test/browser/**', // Chromium and Firefox, driven from Node
  'test/region/notes.test.ts', // ORDER/OWNER notes in the source text
  'test/waits.test.ts', // docs/waits.md against the source text
  'test/paths.test.ts', // paths named in docs and comments
  'test/dts.test.ts', // the published .d.ts, type-checked by tsc
  'test/pack.test.ts', // npm pack, the tarball installed into a project and imported by Node and tsc
  'test/verify/constants.test.ts', // the SPIN models' constants against the source
];

const argv = process.argv.slice(2);
const dash = argv.indexOf('--');
const names = dash < 0 ? argv : argv.slice(0, dash);
const extra = dash < 0 ? [] : argv.slice(dash + 1);
const chosen = names.length === 0 ? Object.keys(RUNTIMES) : names;
const unknown = chosen.filter((n) => !(n in RUNTIMES));
if (unknown.length > 0) {
  console.error(`unknown runtime ${unknown.join(', ')}: one of ${Object.keys(RUNTIMES).join(', ')}`);
  process.exit(2);
}

/** @type {{ name: string, ok: boolean, seconds: number }[]} */
const results = [];
for (const name of chosen) {
  const rt = RUNTIMES[/** @type {keyof typeof RUNTIMES} */ (name)];
  const bin = fileURLToPath(new URL(`../../${rt.bin}`, import.meta.url));
  if (!existsSync(bin)) {
    console.error(`${name}: ${bin} is missing: run npm ci (${name} is a dev dependency; its binary comes from the npm registry)`);
    results.push({ name, ok: false, seconds: 0 });
    continue;
  }
  const version = spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0].trim();
  console.log(`\n=== vitest on ${name} ${version}`);
  const start = performance.now();
  const r = spawnSync(bin, [...rt.args, 'run', ...NOT_RUNTIME.flatMap((p) => ['--exclude', p]), ...extra], {
    cwd: ROOT,
    stdio: 'inherit',
    env: { ...process.env, NO_COLOR: '1' },
  });
  const seconds = (performance.now() - start) / 1000;
  if (r.error !== undefined) console.error(`${name}: ${r.error.message}`);
  results.push({ name, ok: r.status === 0, seconds });
}

console.log('\n=== runtime matrix');
for (const r of results) console.log(`${r.name}: ${r.ok ? 'passed' : 'FAILED'} in ${r.seconds.toFixed(0)} s`);
const failed = results.filter((r) => !r.ok).length;
console.log(`runtimes: ${results.length - failed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
