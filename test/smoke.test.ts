import { describe, expect, it } from 'vitest';
import { Frame, PAGE_SIZE } from '../src/index.js';
import { MockMeta, makeSystem } from './helpers.js';

describe('using', () => {
  it('drops a frame at the end of its scope', () => {
    const sys = makeSystem();
    let paddr = -1;
    {
      using f = sys.allocFrame(MockMeta, { value: 1 });
      paddr = f.paddr;
      expect(f.referenceCount).toBe(1);
    }
    expect(() => Frame.fromInUse(sys, paddr)).toThrow(/Unused/);
    expect(sys.stats().free).toBe(64);
    expect(PAGE_SIZE).toBe(4096);
  });
});
