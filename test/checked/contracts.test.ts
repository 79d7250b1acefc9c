/**
 * Checked mode: each of the seed's contracts broken on purpose (by writing the slot as a bug or
 * a rogue worker would) is caught as a ContractError naming the contract and the frame.
 */
import { describe, expect, it } from 'vitest';
import { ContractError, Frame, FrameAllocOptions, PAGE_SIZE, UniqueFrame, defineMeta } from '../../src/index.js';
import { RC_UNUSED, S_AUX, S_LIST, S_STORAGE, S_TYPE } from '../../src/region/meta.js';
import { computeLayout } from '../../src/region/geometry.js';
import { MockMeta, makeSystem } from '../helpers.js';

const Other = defineMeta('test.contracts.other', { x: 'u16' });

function slot(sys: ReturnType<typeof makeSystem>, paddr: number): number {
  return sys._region.metaWord + (paddr / PAGE_SIZE) * 16;
}

/** Runs `fn`, expects ContractError `contract` at `paddr`. */
function broken(fn: () => unknown, contract: string, paddr: number): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(ContractError);
  expect((caught as ContractError).contract).toBe(contract);
  expect((caught as ContractError).paddr).toBe(paddr);
  expect((caught as ContractError).code).toBe('Contract');
}

describe('checked mode contracts', () => {
  it('from_unused_requires: an unused slot that is not clean', () => {
    const sys = makeSystem({ checked: true });
    const raw = sys.allocator.alloc(1, 1)!;
    const w = slot(sys, raw);
    sys._region.mem.i32[w + S_STORAGE] = 5; // stale metadata left in an unused slot
    broken(() => Frame.fromUnused(sys, raw, MockMeta), 'from_unused_requires', raw);
    expect(sys._region.mem.i32[w]).toBe(RC_UNUSED); // not claimed
    sys._region.mem.i32[w + S_STORAGE] = 0;
    Frame.fromUnused(sys, raw, MockMeta).drop();
    sys.checkInvariants();
  });

  it.each([
    ['a shared WebAssembly.Memory (the fast path)', () => makeSystem({ checked: true })],
    ['a SharedArrayBuffer', () => makeSystem({ checked: true, memory: new SharedArrayBuffer(computeLayout(64, 0).totalBytes) })],
  ])('from_unused_requires: a cached frame whose slot is not clean is not taken from the cache unchecked (%s)', (_, make) => {
    const sys = make();
    sys.allocFrame(MockMeta).drop(); // registers the type: its allocations take the cache's fast path
    const raw = new FrameAllocOptions(sys).zeroed(false);
    const allocs = [() => raw.allocFrameWith(MockMeta), () => raw.allocUnique(MockMeta, { value: 1 }), () => sys.allocFrame(MockMeta)];
    for (const [word, value] of [[S_STORAGE + 3, 9], [S_TYPE, 1], [S_LIST, 2]]) {
      for (const alloc of allocs) {
        const f = sys.allocFrame();
        const paddr = f.paddr;
        f.drop(); // on top of this worker's cache
        const w = slot(sys, paddr);
        sys._region.mem.i32[w + word] = value; // a stray write to a free frame's slot
        broken(alloc, 'from_unused_requires', paddr);
        expect(sys._region.mem.i32[w]).toBe(RC_UNUSED); // not claimed: left raw
        sys._region.mem.i32[w + word] = 0;
        Frame.fromUnused(sys, paddr, MockMeta).drop(); // clean again: the raw frame goes back
        alloc().drop();
      }
    }
    sys.checkInvariants();
    expect(sys.stats().free).toBe(64);
  });

  it('from_unused_ensures: metadata written outside its storage (a broken type) is caught', () => {
    const sys = makeSystem({ checked: true });
    const Broken = defineMeta('test.contracts.broken-write', { v: 'u32' });
    const write = Broken._write.bind(Broken);
    Broken._write = (mem, at, init) => {
      write(mem, at, init);
      mem.i32[(at >> 2) - S_STORAGE + S_LIST] = 3; // scribbles on in_list
    };
    let paddr = -1;
    const spy = sys.allocator.alloc(1, 1)!;
    sys.allocator.dealloc(spy, 1);
    paddr = spy;
    broken(() => sys.allocFrame(Broken, { v: 1 }), 'from_unused_ensures', paddr);
  });

  it('from_raw_requires: a fromRaw with no matching intoRaw, and a second one', () => {
    const sys = makeSystem({ checked: true });
    const f = sys.allocFrame(MockMeta);
    broken(() => Frame.fromRaw(sys, f.paddr), 'from_raw_requires', f.paddr);
    const p = f.intoRaw();
    Frame.fromRaw(sys, p).drop();
    broken(() => Frame.fromRaw(sys, p), 'from_raw_requires', p);
  });

  it('into_raw_requires: a handle whose reference is gone', () => {
    const sys = makeSystem({ checked: true });
    const f = sys.allocFrame(MockMeta);
    const w = slot(sys, f.paddr);
    sys._region.mem.i32[w] = RC_UNUSED; // a rogue free under the handle
    broken(() => f.intoRaw(), 'into_raw_requires', f.paddr);
    expect(f.paddr).toBeGreaterThanOrEqual(0);
    sys._region.mem.i32[w] = 1;
    f.drop();
  });

  it('into_raw_ensures: more forgotten references than references', () => {
    const sys = makeSystem({ checked: true });
    const f = sys.allocFrame(MockMeta);
    const w = slot(sys, f.paddr);
    sys._region.mem.i32[w + S_AUX] = 1; // already one forgotten for the only reference
    broken(() => f.intoRaw(), 'into_raw_ensures', f.paddr);
    expect(sys._region.mem.i32[w + S_AUX]).toBe(1); // the failed call took its own record back
    sys._region.mem.i32[w + S_AUX] = 0;
    f.drop(); // the handle is still alive
    sys.checkInvariants();
  });

  it('meta_requires: the slot no longer holds the handle type', () => {
    const sys = makeSystem({ checked: true });
    const f = sys.allocFrame(MockMeta, { value: 1 });
    sys.allocFrame(Other).drop(); // registers Other
    const w = slot(sys, f.paddr);
    const id = sys._region.mem.i32[w + S_TYPE];
    sys._region.mem.i32[w + S_TYPE] = id + 1;
    broken(() => f.meta, 'meta_requires', f.paddr);
    sys._region.mem.i32[w + S_TYPE] = id;
    expect(f.meta.value).toBe(1);
    const u = new FrameAllocOptions(sys).allocUnique(MockMeta);
    sys._region.mem.i32[slot(sys, u.paddr)] = 1; // no longer unique
    broken(() => u.metaMut, 'meta_requires', u.paddr);
    sys._region.mem.i32[slot(sys, u.paddr)] = -2;
    u.drop();
    f.drop();
  });

  it('start_paddr_requires: a handle made for an address outside the region', () => {
    const sys = makeSystem({ checked: true });
    broken(() => new Frame(sys, slot(sys, 0), sys.maxPaddr, MockMeta), 'start_paddr_requires', sys.maxPaddr);
    broken(() => new UniqueFrame(sys, slot(sys, 0), 100, MockMeta), 'start_paddr_requires', 100);
  });

  it('drop_requires: dropping a reference that is not there', () => {
    const sys = makeSystem({ checked: true });
    const f = sys.allocFrame(MockMeta);
    const w = slot(sys, f.paddr);
    sys._region.mem.i32[w] = RC_UNUSED;
    broken(() => f.drop(), 'drop_requires', f.paddr);
    expect(sys._region.mem.i32[w]).toBe(RC_UNUSED); // the decrement was undone
    sys._region.mem.i32[w] = 0;
    sys._region.mem.i32[w + S_TYPE] = 0;
    sys._region.mem.i32[w + S_STORAGE] = 0;
    sys._region.mem.i32[w] = RC_UNUSED;
    sys.allocator.dealloc(f.paddr, 1);
    sys.checkInvariants();
  });

  it('drop_last_in_place_requires: the last drop of a frame that says it is in a list', () => {
    const sys = makeSystem({ checked: true });
    const f = sys.allocFrame(MockMeta);
    const w = slot(sys, f.paddr);
    sys._region.mem.i32[w + S_LIST] = 4;
    broken(() => f.drop(), 'drop_last_in_place_requires', f.paddr);
    // A segment's frames: the run's drop (the fast path's `dropRun` too) leaves each last
    // reference to the contracts.
    const seg = sys.allocSegment(3);
    const middle = seg.startPaddr + PAGE_SIZE;
    sys._region.mem.i32[slot(sys, middle) + S_LIST] = 4;
    broken(() => seg.drop(), 'drop_last_in_place_requires', middle);
  });

  it('the unique frame contracts: into_frame, repurpose, reset_as_unused and drop need UNIQUE', () => {
    const sys = makeSystem({ checked: true });
    const cases: [string, (u: UniqueFrame<typeof MockMeta>) => unknown][] = [
      ['into_frame_requires', (u) => u.intoFrame()],
      ['repurpose_requires', (u) => u.repurpose(Other)],
      ['reset_as_unused_requires', (u) => u.resetAsUnused()],
      ['drop_requires', (u) => u.drop()],
      ['into_raw_requires', (u) => u.intoRaw()],
    ];
    for (const [contract, op] of cases) {
      const u = new FrameAllocOptions(sys).allocUnique(MockMeta);
      const w = slot(sys, u.paddr);
      sys._region.mem.i32[w] = 1; // someone made it shared under the unique handle
      broken(() => op(u), contract, u.paddr);
      sys._region.mem.i32[w] = -2;
      if (u._live) u.drop();
    }
    sys.checkInvariants();
    expect(sys.stats().free).toBe(64);
  });

  it('unchecked mode does not check contracts (it reports plain FrameUseErrors where it can)', () => {
    const sys = makeSystem();
    const f = sys.allocFrame(MockMeta);
    expect(() => Frame.fromRaw(sys, f.paddr, MockMeta)).not.toThrow(); // no forgotten-reference tracking
    sys._region.mem.i32[slot(sys, f.paddr)] = 2;
    f.drop();
    sys._region.mem.i32[slot(sys, f.paddr)] = 1;
    Frame.fromRaw(sys, f.paddr).drop();
    sys.checkInvariants();
  });
});
