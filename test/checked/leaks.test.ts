/**
 * Checked mode's leak detection: a handle garbage-collected without `drop` is reported with its
 * frame, type and allocation stack. Runs a script under `node --expose-gc` to force collection.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const script = fileURLToPath(new URL('./leak-script.js', import.meta.url));

describe('leak detection (checked mode)', () => {
  it('reports handles collected without drop, with frame, type and stack, and nothing else', () => {
    const out = execFileSync(process.execPath, ['--expose-gc', script], { encoding: 'utf8', timeout: 30_000 });
    const result = JSON.parse(out) as {
      leaked: number[];
      forgotten: number;
      reports: { kind: string; paddr: number; nframes: number; type: string; stack: string }[];
      unchecked: number;
      light: { kind: string; stack: string }[];
      leakedOfMany: number;
      many: { kind: string; paddr: number; stack: string }[];
      stats: { shared: number };
    };
    const byKind = new Map(result.reports.map((r) => [r.kind, r]));
    expect(result.reports).toHaveLength(2);
    expect(byKind.get('Frame')).toEqual(expect.objectContaining({ paddr: result.leaked[0], nframes: 1, type: 'test.leaks.tagged' }));
    expect(byKind.get('Segment')).toEqual(expect.objectContaining({ paddr: result.leaked[1], nframes: 3, type: 'pageframe.untyped' }));
    for (const r of result.reports) expect(r.stack).toContain('leakSomeFrames');
    // The intoRaw'd frame is not a leak, nor the dropped ones; leaks are reported, not freed.
    expect(result.reports.some((r) => r.paddr === result.forgotten)).toBe(false);
    expect(result.unchecked).toBe(0);
    expect(result.light).toEqual([expect.objectContaining({ kind: 'Frame', stack: expect.stringMatching(/not captured/) })]);
    // Handles registered late (after a flush), dropped out of order or registered then dropped:
    // only the one never dropped is reported, with the stack of the function that made it.
    expect(result.many).toEqual([expect.objectContaining({ kind: 'Frame', paddr: result.leakedOfMany, stack: expect.stringContaining('leakOneOfMany') })]);
    expect(result.stats.shared).toBe(1 + 3 + 1); // the leaked frame and segment, and the forgotten frame
  });
});
