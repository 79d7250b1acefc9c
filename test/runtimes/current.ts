/**
 * Which JavaScript runtime runs the test file (`npm test` runs the suite on Node, Deno and Bun:
 * see run.js here), and how to start a module script on that same runtime.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The runtime running this file. */
export const RUNTIME: 'node' | 'deno' | 'bun' = 'Deno' in globalThis ? 'deno' : 'Bun' in globalThis ? 'bun' : 'node';

/**
 * Runs `script` (an ES module's text; top-level await allowed) in a new process of this runtime
 * and returns what it printed. `exposeGc` gives it `globalThis.gc`. Throws as `execFileSync`
 * does for a nonzero exit: Node's 13 for a top-level await that never settles, Deno's 1.
 */
export function runModule(script: string, options: { exposeGc?: boolean; timeout?: number } = {}): string {
  const timeout = options.timeout ?? 60_000;
  if (RUNTIME !== 'deno') {
    return execFileSync(process.execPath, [...(options.exposeGc === true ? ['--expose-gc'] : []), '--input-type=module', '-e', script], { encoding: 'utf8', timeout });
  }
  // Deno runs a file, with its own flags (it does not take Node's --input-type or --expose-gc).
  const dir = mkdtempSync(join(tmpdir(), 'pageframe-script-'));
  try {
    const file = join(dir, 'script.mjs');
    writeFileSync(file, script);
    return execFileSync(process.execPath, ['run', '-A', ...(options.exposeGc === true ? ['--v8-flags=--expose-gc'] : []), file], { encoding: 'utf8', timeout });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
