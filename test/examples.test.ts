/**
 * The examples run as written, against the built package: the piscina worker pool and the demo
 * that `npm start` runs (`pageframe demo`, with fewer frames), with its postMessage baseline.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const example = (name: string): string => fileURLToPath(new URL(`../examples/${name}`, import.meta.url));

describe('examples', () => {
  it('piscina.js: a pool squares frames in place, every frame comes back, pool workers are reclaimed', () => {
    const out = execFileSync(process.execPath, [example('piscina.js')], { encoding: 'utf8', timeout: 60_000 });
    expect(out).toMatch(/64 frames squared in place by the pool; every sum is 4101: true/);
    expect(out).toMatch(/reclaimed ([1-9]\d*) pool worker\(s\) of \1 thread\(s\), by watch/);
    expect(out).toMatch(/frames free again: true/);
  });

  it('the demo (npm start: pageframe demo): every frame verified, none lost', () => {
    const bin = fileURLToPath(new URL('../bin/pageframe.js', import.meta.url));
    const out = execFileSync(process.execPath, [bin, 'demo', '--frames', '3000', '--workers', '2', '--no-map'], { encoding: 'utf8', timeout: 60_000 });
    expect(out).toMatch(/checksum errors: 0/);
    expect(out).toMatch(/every frame is back in the allocator: true/);
    // The baseline: the same run through postMessage, copied and transferred, as ratios, explained.
    expect(out).toMatch(/the same run through postMessage: copied \d+\.\d MiB\/s, transferred \d+\.\d MiB\/s; FrameChannel \d+\.\d MiB\/s = \d+\.\d\d× copy, \d+\.\d\d× transfer/);
    expect(out).toMatch(/what this means: .*npm run bench/);
  });
});
