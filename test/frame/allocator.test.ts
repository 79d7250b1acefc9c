/**
 * `FrameAllocOptions`: zeroing, the five allocation methods, argument errors, `NoMemory` with its
 * numbers, all-or-nothing metadata initialisation, and a custom `GlobalFrameAllocator`.
 */
import { describe, expect, it } from 'vitest';
import {
  AllocError,
  Frame,
  FrameAllocOptions,
  FrameSystem,
  FrameUseError,
  GetFrameError,
  PAGE_SIZE,
  REF_COUNT_UNIQUE,
  UniqueFrame,
  Untyped,
  defineMeta,
  type AnyMeta,
  type GlobalFrameAllocator,
  type Paddr,
} from '../../src/index.js';
import { expectAllFree, expectNoChange, expectThrown, makeSystem, MockMeta, MockUMeta } from '../helpers.js';

/** Uses the type once so it is registered in `sys` (registration is not what these tests watch). */
function register(sys: FrameSystem, meta: AnyMeta): void {
  sys.allocFrame(meta).drop();
}

class InitFailure extends Error {}

describe('zeroing', () => {
  it('zeroed(true) is the default: a reused frame comes back all zero', () => {
    const sys = makeSystem();
    const options = new FrameAllocOptions(sys);
    const dirty = options.allocFrame();
    dirty.fill(0xab);
    expect(dirty.bytes().every((b) => b === 0xab)).toBe(true);
    const paddr = dirty.paddr;
    dirty.drop();
    const frame = options.allocFrame();
    expect(frame.paddr).toBe(paddr); // the same frame, so the zeros were written by the allocation
    expect(frame.bytes().every((b) => b === 0)).toBe(true);
    frame.drop();
    expectAllFree(sys);
  });

  it('zeroed(false) leaves the old bytes', () => {
    const sys = makeSystem();
    const dirty = sys.allocFrame();
    dirty.fill(0xab);
    const paddr = dirty.paddr;
    dirty.drop();
    const frame = new FrameAllocOptions(sys).zeroed(false).allocFrame();
    expect(frame.paddr).toBe(paddr);
    expect(frame.bytes().every((b) => b === 0xab)).toBe(true);
    frame.drop();
    expectAllFree(sys);
  });

  it('zeroed() with no argument and chaining turn zeroing back on', () => {
    const sys = makeSystem();
    const options = new FrameAllocOptions(sys);
    expect(options.zeroed(false)).toBe(options);
    const dirty = options.allocFrame();
    dirty.fill(0x11);
    const paddr = dirty.paddr;
    dirty.drop();
    const frame = options.zeroed().allocFrame();
    expect(frame.paddr).toBe(paddr);
    expect(frame.bytes().every((b) => b === 0)).toBe(true);
    frame.drop();
    expectAllFree(sys);
  });

  it('segments, unique frames and typed frames are zeroed too, and only their own bytes', () => {
    const sys = makeSystem();
    const frameBytes = (p: Paddr): Uint8Array => sys._region.mem.u8.subarray(sys._region.frameByte + p, sys._region.frameByte + p + PAGE_SIZE);
    const all = sys.allocSegment(64); // every frame dirty before the allocations below
    all.fill(0xab);
    all.drop();
    const seg = new FrameAllocOptions(sys).allocSegment(3);
    const unique = new FrameAllocOptions(sys).allocUnique(MockUMeta, { value: 1 });
    const typed = new FrameAllocOptions(sys).allocFrameWith(MockMeta, { value: 2 });
    const raw = new FrameAllocOptions(sys).zeroed(false).allocSegmentWith(2, MockUMeta);
    expect(seg.bytes().every((b) => b === 0)).toBe(true);
    expect(unique.bytes().every((b) => b === 0)).toBe(true);
    expect(frameBytes(typed.paddr).every((b) => b === 0)).toBe(true);
    expect(raw.bytes().every((b) => b === 0xab)).toBe(true);
    // Every other frame was left as it was.
    const zeroed = new Set([seg.startPaddr, seg.startPaddr + PAGE_SIZE, seg.startPaddr + 2 * PAGE_SIZE, unique.paddr, typed.paddr]);
    for (let p = 0; p < sys.maxPaddr; p += PAGE_SIZE) {
      if (!zeroed.has(p)) expect(frameBytes(p).every((b) => b === 0xab), `frame ${p}`).toBe(true);
    }
    seg.drop();
    unique.drop();
    typed.drop();
    raw.drop();
    expectAllFree(sys);
  });

  it('the sys.allocFrame / sys.allocSegment shorthands zero', () => {
    const sys = makeSystem();
    const all = sys.allocSegment(64);
    all.fill(0xcd);
    all.drop();
    const seg = sys.allocSegment(2);
    expect(seg.bytes().every((b) => b === 0)).toBe(true);
    const frame = sys.allocFrame();
    expect(frame.bytes().every((b) => b === 0)).toBe(true);
    seg.drop();
    frame.drop();
    expectAllFree(sys);
  });
});

describe('allocation methods', () => {
  it('allocFrame: one untyped frame, count 1', () => {
    const sys = makeSystem();
    const frame = new FrameAllocOptions(sys).allocFrame();
    expect(frame).toBeInstanceOf(Frame);
    expect(frame.metaType).toBe(Untyped);
    expect(frame.referenceCount).toBe(1);
    expect(frame.size).toBe(PAGE_SIZE);
    expect(frame.mapLevel).toBe(1);
    expect(frame.bytes().length).toBe(PAGE_SIZE);
    expect(sys.stats().free).toBe(63);
    expect(sys.stats().byType).toEqual({ [Untyped.name]: 1 });
    frame.drop();
    expectAllFree(sys);
  });

  it('allocFrameWith (kernel frame_allocation): metadata, count, size, level', () => {
    const sys = makeSystem();
    const options = new FrameAllocOptions(sys);
    const frame = options.allocFrameWith(MockMeta, { value: 42 });
    expect(frame.meta.value).toBe(42);
    expect(frame.metaType).toBe(MockMeta);
    expect(frame.referenceCount).toBe(1);
    expect(frame.size).toBe(PAGE_SIZE);
    expect(frame.mapLevel).toBe(1);
    const other = options.allocFrameWith(MockMeta);
    expect(other.meta.value).toBe(0); // missing fields start at zero
    expect(other.paddr).not.toBe(frame.paddr);
    expect(sys.stats().byType).toEqual({ [MockMeta.name]: 2 });
    frame.drop();
    other.drop();
    expectAllFree(sys);
  });

  it('allocUnique: a unique frame whose metadata is writable, and that no one can share', () => {
    const sys = makeSystem();
    const unique = new FrameAllocOptions(sys).allocUnique(MockMeta, { value: 5 });
    expect(unique).toBeInstanceOf(UniqueFrame);
    expect(unique.referenceCount).toBe(REF_COUNT_UNIQUE);
    expect(unique.meta.value).toBe(5);
    expectThrown(() => Frame.fromInUse(sys, unique.paddr), GetFrameError, 'Unique');
    unique.metaMut.value = 6;
    expect(unique.meta.value).toBe(6);
    expect(sys.stats().unique).toBe(1);
    const frame = unique.intoFrame();
    expect(frame.referenceCount).toBe(1);
    expect(frame.meta.value).toBe(6);
    frame.drop();
    expectAllFree(sys);
  });

  it('allocSegment: n contiguous untyped frames, one reference each', () => {
    const sys = makeSystem();
    const seg = new FrameAllocOptions(sys).allocSegment(5);
    expect(seg.nframes).toBe(5);
    expect(seg.size).toBe(5 * PAGE_SIZE);
    expect(seg.metaType).toBe(Untyped);
    expect(sys.stats().free).toBe(59);
    expect(sys.stats().shared).toBe(5);
    const frames = [...seg];
    expect(frames.map((f) => f.paddr)).toEqual([0, 1, 2, 3, 4].map((k) => seg.startPaddr + k * PAGE_SIZE));
    expect(frames.map((f) => f.referenceCount)).toEqual([1, 1, 1, 1, 1]);
    for (const f of frames) f.drop();
    expectAllFree(sys);
  });

  it('allocSegmentWith: init is called once per frame, in order, with its paddr', () => {
    const sys = makeSystem();
    const calls: Paddr[] = [];
    const seg = new FrameAllocOptions(sys).allocSegmentWith(4, MockMeta, (p) => {
      calls.push(p);
      return { value: (p / PAGE_SIZE) * 2 };
    });
    expect(calls).toEqual([0, 1, 2, 3].map((k) => seg.startPaddr + k * PAGE_SIZE));
    const values = [...seg].map((f) => {
      const v = f.meta.value;
      f.drop();
      return v;
    });
    expect(values).toEqual(calls.map((p) => (p / PAGE_SIZE) * 2));
    expectAllFree(sys);
  });

  it('allocSegment(0), (-1), (1.5), (NaN) are InvalidArgs and change nothing', () => {
    const sys = makeSystem();
    register(sys, MockMeta);
    const options = new FrameAllocOptions(sys);
    for (const n of [0, -1, 1.5, NaN, Infinity]) {
      expectNoChange(sys, () => options.allocSegment(n), AllocError, 'InvalidArgs');
      let called = false;
      expectNoChange(
        sys,
        () =>
          options.allocSegmentWith(n, MockMeta, () => {
            called = true;
            return { value: 1 };
          }),
        AllocError,
        'InvalidArgs',
      );
      expect(called).toBe(false);
      expectNoChange(sys, () => sys.allocSegment(n), AllocError, 'InvalidArgs');
    }
    expectAllFree(sys);
  });
});

describe('NoMemory', () => {
  it('when exhausted: requested and free are right, and the message names both', () => {
    const sys = makeSystem();
    const held = sys.allocSegment(60);
    const options = new FrameAllocOptions(sys);
    const e = expectNoChange(sys, () => options.allocSegment(10), AllocError, 'NoMemory') as AllocError;
    expect(e.requested).toBe(10);
    expect(e.free).toBe(4);
    expect(e.message).toMatch(/\b10\b/);
    expect(e.message).toMatch(/\b4\b/);
    const rest = options.allocSegment(4);
    const e2 = expectNoChange(sys, () => options.allocFrame(), AllocError, 'NoMemory') as AllocError;
    expect(e2.requested).toBe(1);
    expect(e2.free).toBe(0);
    expect(e2.message).toMatch(/\b1\b/);
    expect(e2.message).toMatch(/\b0\b/);
    expectNoChange(sys, () => options.allocUnique(MockMeta), AllocError, 'NoMemory');
    expectNoChange(sys, () => options.allocFrameWith(MockMeta, { value: 1 }), AllocError, 'NoMemory');
    rest.drop();
    held.drop();
    expectAllFree(sys);
  });

  it('more than the region holds is NoMemory, not InvalidArgs', () => {
    const sys = makeSystem();
    const e = expectNoChange(sys, () => sys.allocSegment(65), AllocError, 'NoMemory') as AllocError;
    expect(e.requested).toBe(65);
    expect(e.free).toBe(64);
    expect(e.message).not.toMatch(/contiguous/);
    expectAllFree(sys);
  });

  it('enough frames free but not contiguous: NoMemory, and the message says so', () => {
    const sys = makeSystem({ frames: 8 });
    const frames = Array.from({ length: 8 }, () => sys.allocFrame());
    for (let k = 1; k < 8; k += 2) frames[k].drop();
    expect(sys.stats().free).toBe(4);
    const e = expectNoChange(sys, () => sys.allocSegment(2), AllocError, 'NoMemory') as AllocError;
    expect(e.requested).toBe(2);
    expect(e.free).toBe(4);
    expect(e.message).toMatch(/contiguous/);
    expect(e.message).toMatch(/\b2\b/);
    expect(e.message).toMatch(/\b4\b/);
    // Single frames can still be had.
    const one = sys.allocFrame();
    one.drop();
    for (let k = 0; k < 8; k += 2) frames[k].drop();
    expectAllFree(sys);
  });
});

describe('metadata initialisation is all or nothing', () => {
  type Init = { value: number };
  const badInits: unknown[] = [{ value: -1 }, { value: 2 ** 32 }, { value: 1.5 }, { value: 'a string' }, { value: NaN }, { nope: 1 }];

  it('a bad value for allocFrameWith / allocUnique is BadValue, the region unchanged and no frame lost', () => {
    const sys = makeSystem();
    const options = new FrameAllocOptions(sys);
    for (const bad of badInits) {
      expectNoChange(sys, () => options.allocFrameWith(MockMeta, bad as Init), FrameUseError, 'BadValue');
      expectNoChange(sys, () => options.allocUnique(MockMeta, bad as Init), FrameUseError, 'BadValue');
      expectNoChange(sys, () => sys.allocFrame(MockMeta, bad as Init), FrameUseError, 'BadValue');
      expect(sys.stats().free).toBe(64);
    }
    expectAllFree(sys);
  });

  it('a bad value from allocSegmentWith init is BadValue, the region unchanged and no frame lost', () => {
    const sys = makeSystem();
    register(sys, MockMeta);
    const options = new FrameAllocOptions(sys);
    for (const bad of badInits) {
      for (const at of [1, 2, 4]) {
        let calls = 0;
        expectNoChange(
          sys,
          () => options.allocSegmentWith(4, MockMeta, () => (++calls === at ? (bad as Init) : { value: 7 })),
          FrameUseError,
          'BadValue',
        );
        expect(calls).toBe(at);
        expect(sys.stats().free).toBe(64);
      }
    }
    expectAllFree(sys);
  });

  it('allocSegmentWith whose init throws on the 3rd frame: the error propagates, the region is unchanged', () => {
    const sys = makeSystem();
    register(sys, MockMeta);
    const held = sys.allocSegment(5); // not an empty region
    let calls = 0;
    const e = expectNoChange(
      sys,
      () =>
        new FrameAllocOptions(sys).allocSegmentWith(6, MockMeta, (p) => {
          if (++calls === 3) throw new InitFailure(`cannot describe ${p}`);
          return { value: calls };
        }),
      InitFailure,
    );
    expect(calls).toBe(3);
    expect(e.message).toMatch(/^cannot describe \d+$/);
    expect(sys.stats().free).toBe(59);
    // The frames are allocatable again.
    const seg = sys.allocSegment(6, MockMeta, () => ({ value: 1 }));
    expect(seg.nframes).toBe(6);
    seg.drop();
    held.drop();
    expectAllFree(sys);
  });
  it('a failed allocSegmentWith leaves the type registry as it was (a type never used before)', () => {
    const sys = makeSystem();
    const Fresh = defineMeta('test.options.freshOnThrow', { value: 'u32' });
    let calls = 0;
    expectNoChange(
      sys,
      () =>
        new FrameAllocOptions(sys).allocSegmentWith(4, Fresh, () => {
          if (++calls === 3) throw new InitFailure('third frame');
          return { value: 1 };
        }),
      InitFailure,
    );
    expectAllFree(sys);
  });
});

/**
 * A simple allocator kept in JavaScript: a set of free frame indices, searched from the top (so
 * its answers differ from the buddy allocator's, which hands out low frames first).
 */
class ListAllocator implements GlobalFrameAllocator {
  readonly free = new Set<number>();
  readonly calls: string[] = [];

  alloc(nframes: number, alignFrames: number): Paddr | null {
    this.calls.push(`alloc(${nframes}, ${alignFrames})`);
    const top = Math.max(-1, ...this.free);
    for (let start = top - nframes + 1; start >= 0; start--) {
      if (start % alignFrames !== 0) continue;
      let ok = true;
      for (let k = start; k < start + nframes && ok; k++) ok = this.free.has(k);
      if (!ok) continue;
      for (let k = start; k < start + nframes; k++) this.free.delete(k);
      return start * PAGE_SIZE;
    }
    return null;
  }

  dealloc(paddr: Paddr, nframes: number): void {
    this.calls.push(`dealloc(${paddr / PAGE_SIZE}, ${nframes})`);
    for (let k = paddr / PAGE_SIZE; k < paddr / PAGE_SIZE + nframes; k++) {
      if (this.free.has(k)) throw new Error(`double free of frame ${k}`);
      this.free.add(k);
    }
  }

  addFreeMemory(paddr: Paddr, nframes: number): void {
    this.calls.push(`addFreeMemory(${paddr}, ${nframes})`);
    for (let k = paddr / PAGE_SIZE; k < paddr / PAGE_SIZE + nframes; k++) this.free.add(k);
  }

  freeFrames(): number {
    return this.free.size;
  }

  forEachFree(fn: (paddr: Paddr, nframes: number) => void): void {
    for (const k of this.free) fn(k * PAGE_SIZE, 1);
  }
}

/** Answers whatever address it is told to (for a misbehaving plugged-in allocator). */
class FixedAllocator extends ListAllocator {
  constructor(private readonly answer: () => Paddr) {
    super();
  }

  override alloc(nframes: number, alignFrames: number): Paddr | null {
    this.calls.push(`alloc(${nframes}, ${alignFrames})`);
    const paddr = this.answer();
    for (let k = paddr / PAGE_SIZE; k < paddr / PAGE_SIZE + nframes; k++) this.free.delete(k);
    return paddr;
  }
}

describe('a custom GlobalFrameAllocator', () => {
  it('gets addFreeMemory(0, frames) at creation and is the system allocator', () => {
    const allocator = new ListAllocator();
    const sys = FrameSystem.create({ frames: 16, allocator });
    expect(allocator.calls).toEqual(['addFreeMemory(0, 16)']);
    expect(sys.allocator).toBe(allocator);
    expect(allocator.free.size).toBe(16);
    expect(sys.stats().free).toBe(16);
    sys.checkInvariants();
  });

  it('serves every allocation and gets every frame back', () => {
    const allocator = new ListAllocator();
    const sys = FrameSystem.create({ frames: 16, allocator });
    allocator.calls.length = 0;
    const frame = sys.allocFrame(MockMeta, { value: 3 });
    expect(frame.paddr).toBe(15 * PAGE_SIZE); // the top frame: this allocator's answer
    expect(allocator.calls).toEqual(['alloc(1, 1)']);
    expect(sys.stats().free).toBe(15);
    const seg = new FrameAllocOptions(sys).allocSegment(3);
    expect(seg.startPaddr).toBe(12 * PAGE_SIZE);
    const unique = new FrameAllocOptions(sys).allocUnique(MockMeta);
    expect(unique.paddr).toBe(11 * PAGE_SIZE);
    expect(allocator.calls).toEqual(['alloc(1, 1)', 'alloc(3, 1)', 'alloc(1, 1)']);
    expect(sys.stats().free).toBe(11);
    sys.checkInvariants();
    frame.drop();
    expect(allocator.calls.at(-1)).toBe('dealloc(15, 1)');
    seg.drop();
    unique.drop();
    expect(allocator.free).toEqual(new Set(Array.from({ length: 16 }, (_, k) => k)));
    expectAllFree(sys);
  });

  it('when it has nothing to give: NoMemory with its free count', () => {
    const allocator = new ListAllocator();
    const sys = FrameSystem.create({ frames: 4, allocator });
    const e = expectNoChange(sys, () => sys.allocSegment(5), AllocError, 'NoMemory') as AllocError;
    expect(e.requested).toBe(5);
    expect(e.free).toBe(4);
    expect(allocator.free.size).toBe(4);
    expectAllFree(sys);
  });

  it('an out-of-range answer makes the allocation throw GetFrameError OutOfBound', () => {
    let answer = 0;
    const allocator = new FixedAllocator(() => answer);
    const sys = FrameSystem.create({ frames: 8, allocator });
    register(sys, MockMeta);
    // This allocator takes what it answers off its own free list: pageframe cannot undo a
    // misbehaving allocator's state, but it leaves every slot as it was.
    const slots = (): Int32Array => sys._region.mem.i32.slice(sys._region.metaWord, sys._region.metaWord + sys.nframes * 16);
    const refused = (fn: () => unknown, code: string): GetFrameError => {
      const before = slots();
      let caught: unknown;
      try {
        fn();
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(GetFrameError);
      expect((caught as GetFrameError).code).toBe(code);
      expect(slots()).toEqual(before);
      return caught as GetFrameError;
    };
    for (const bad of [sys.maxPaddr, sys.maxPaddr + PAGE_SIZE, 2 ** 40, -PAGE_SIZE]) {
      answer = bad;
      expect(refused(() => sys.allocFrame(), 'OutOfBound').paddr).toBe(bad);
      refused(() => new FrameAllocOptions(sys).allocUnique(MockMeta), 'OutOfBound');
      expect(refused(() => sys.allocSegment(2, MockMeta), 'OutOfBound').paddr).toBe(bad);
    }
    answer = sys.maxPaddr - PAGE_SIZE; // starts inside, runs past the end
    refused(() => sys.allocSegment(2), 'OutOfBound');
    answer = PAGE_SIZE + 8; // unaligned
    refused(() => sys.allocFrame(), 'NotAligned');
  });
});

describe('a custom allocator in a region that grows', () => {
  it('gets the new frames through addFreeMemory, from grow and from autoGrow', () => {
    const list = new ListAllocator();
    const sys = FrameSystem.create({ frames: 4, maxFrames: 32, autoGrow: 4, allocator: list });
    expect(list.calls).toEqual([`addFreeMemory(0, 4)`]);
    expect(sys.grow(8)).toBe(12);
    expect(list.calls.at(-1)).toBe(`addFreeMemory(${4 * PAGE_SIZE}, 8)`);
    const held: { drop(): void }[] = [sys.allocSegment(12)]; // all of them
    held.push(sys.allocFrame()); // none left: autoGrow by 4, into the custom allocator
    expect(list.calls).toContain(`addFreeMemory(${12 * PAGE_SIZE}, 4)`);
    expect(sys.nframes).toBe(16);
    for (const h of held) h.drop();
    expect(list.free.size).toBe(16);
    sys.checkInvariants();
    sys.close();
  });
});
