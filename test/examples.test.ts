/**
 * The examples run as written, against the built package: the piscina worker pool and the demo
 * that `npm start` runs (with fewer frames).
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const example = (name: string): string => fileURLToPath(new URL(`../examples/${name}`, import.meta.url));

describe('examples', () => {
  it('piscina.js: a pool squares frames in place, every frame comes back, pool workers are reclaimed', () => {
    const out = execFileSync(process.execPath, [example('piscina.js')], { encoding: 'utf8', timeout: 60_000 });
    expect(out).toMatch(/64 frames squared in place by the pool; every sum is 4101: true/);
    expect(out).toMatch(/reclaimed [12] pool worker\(s\)/);
    expect(out).toMatch(/frames free again: true/);
  });

  it('demo.js (npm start): every frame verified, none lost', () => {
    const out = execFileSync(process.execPath, [example('demo.js'), '3000', '2'], { encoding: 'utf8', timeout: 60_000 });
    expect(out).toMatch(/checksum errors: 0/);
    expect(out).toMatch(/every frame is back in the allocator: true/);
  });
});
