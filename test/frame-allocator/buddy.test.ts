/**
 * The buddy allocator: the kernel allocator tests (ostd/src/mm/frame/allocator.rs and
 * osdk/deps/frame-allocator), its order arithmetic, split and merge observed through the public
 * allocator, argument checks, checked-mode double frees, and `checkInvariants` on its free lists.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AllocError,
  BuddyAllocator,
  Frame,
  FrameAllocOptions,
  InvariantError,
  PAGE_SIZE,
  REF_COUNT_UNUSED,
  UniqueFrame,
  Untyped,
  type FrameSystem,
  type Paddr,
} from '../../src/index.js';
import { greaterOrderOf, lesserOrderOf, maxOrderFrom, splitToChunks } from '../../src/frame-allocator/chunk.js';
import { AUX_FREE, AUX_HEAD, RC_UNUSED, SLOT_WORDS, S_AUX, S_NEXT, S_PREV, isCachedHead } from '../../src/region/meta.js';
import { H_BUDDY_FREE, H_BUDDY_HEADS, MAX_ORDER } from '../../src/region/geometry.js';
import { expectAllFree, expectNoChange, firstDifference, makeSystem, MockMeta, snapshot } from '../helpers.js';

/**
 * A region whose worker uses the shared buddy allocator directly (no per-worker caches), so
 * these tests see the buddy level itself.
 */
function makeBuddySystem(options: Parameters<typeof makeSystem>[0] = {}): FrameSystem {
  return makeSystem({ caches: false, ...options });
}

/** Word index of the slot of frame `index`. */
function slot(sys: FrameSystem, index: number): number {
  return sys._region.metaWord + index * SLOT_WORDS;
}

/** The frame's reference count, unsigned, read without taking a reference. */
function refCount(sys: FrameSystem, paddr: Paddr): number {
  const rc = Atomics.load(sys._region.mem.i32, slot(sys, paddr / PAGE_SIZE));
  return (isCachedHead(rc) ? RC_UNUSED : rc) >>> 0; // a cached run's head is unused too (its mark says whose cache)
}

/** The free chunks as `[frame index, frames]`, sorted by index. */
function freeChunks(sys: FrameSystem): [number, number][] {
  const out: [number, number][] = [];
  sys.allocator.forEachFree!((p, n) => out.push([p / PAGE_SIZE, n]));
  return out.sort((a, b) => a[0] - b[0]);
}

/** Allocates one raw frame, failing the test if there is none. */
function allocOne(sys: FrameSystem): Paddr {
  const p = sys.allocator.alloc(1, 1);
  expect(p).not.toBeNull();
  return p as Paddr;
}

describe('order arithmetic (frame-allocator chunk.rs tests)', () => {
  it('greater_order_of_works', () => {
    const cases: [number, number][] = [[1, 0], [2, 1], [3, 2], [4, 2], [5, 3], [6, 3], [7, 3], [8, 3], [9, 4]];
    for (const [n, order] of cases) expect(greaterOrderOf(n), `greaterOrderOf(${n})`).toBe(order);
    expect(greaterOrderOf(1 << 20)).toBe(20);
    expect(greaterOrderOf((1 << 20) + 1)).toBe(21);
  });

  it('lesser_order_of_works', () => {
    const cases: [number, number][] = [[1, 0], [2, 1], [3, 1], [4, 2], [5, 2], [6, 2], [7, 2], [8, 3], [9, 3]];
    for (const [n, order] of cases) expect(lesserOrderOf(n), `lesserOrderOf(${n})`).toBe(order);
    expect(lesserOrderOf((1 << 20) - 1)).toBe(19);
    expect(lesserOrderOf(1 << 20)).toBe(20);
  });

  it('max_order_from_works (frame 0 gets the largest order, MAX_ORDER - 1 = 20)', () => {
    expect(MAX_ORDER - 1).toBe(20);
    const cases: [number, number][] = [
      [0, 20], [1, 0], [2, 1], [3, 0], [4, 2], [5, 0], [6, 1], [7, 0], [8, 3], [9, 0], [10, 1], [11, 0], [12, 2],
    ];
    for (const [index, order] of cases) expect(maxOrderFrom(index), `maxOrderFrom(${index})`).toBe(order);
    expect(maxOrderFrom(1 << 19)).toBe(19);
    expect(maxOrderFrom(3 << 19)).toBe(19);
  });

  it('property: greaterOrderOf is the least order holding n, lesserOrderOf the largest inside n', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1 << 20 }), (n) => {
        const g = greaterOrderOf(n);
        const l = lesserOrderOf(n);
        expect(2 ** g).toBeGreaterThanOrEqual(n);
        if (g > 0) expect(2 ** (g - 1)).toBeLessThan(n);
        expect(2 ** l).toBeLessThanOrEqual(n);
        expect(2 ** (l + 1)).toBeGreaterThan(n);
      }),
    );
  });

  it('split_to_chunks_works (frame units, [index, order] pairs)', () => {
    const cases: [number, number, [number, number][]][] = [
      [0, 0, []],
      [0, 1, [[0, 0]]],
      [0, 2, [[0, 1]]],
      [6, 32, [[6, 1], [8, 3], [16, 4], [32, 2], [36, 1]]],
      [7, 5, [[7, 0], [8, 2]]],
      [12, 16, [[12, 2], [16, 3], [24, 2]]],
      [1024, 1024, [[1024, 10]]],
    ];
    for (const [index, n, chunks] of cases) expect(splitToChunks(index, n), `splitToChunks(${index}, ${n})`).toEqual(chunks);
  });

  it('property: splitToChunks tiles [index, index + n) with aligned chunks, largest first where it can', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1 << 20 }), fc.integer({ min: 0, max: 1 << 20 }), (index, n) => {
        let at = index;
        let left = n;
        for (const [start, order] of splitToChunks(index, n)) {
          expect(start).toBe(at);
          expect(order).toBeLessThanOrEqual(MAX_ORDER - 1);
          expect(start % 2 ** order).toBe(0);
          expect(order).toBe(Math.min(maxOrderFrom(start), lesserOrderOf(left)));
          at += 2 ** order;
          left -= 2 ** order;
        }
        expect(left).toBe(0);
        expect(at).toBe(index + n);
      }),
    );
  });
});

describe('kernel allocator tests', () => {
  it('frame_allocator_alloc_layout_match: runs are aligned, and every frame in them is UNUSED', () => {
    const sys = makeBuddySystem();
    const layouts: [number, number][] = [[1, 1], [2, 1], [3, 1], [4, 1], [2, 2], [4, 4], [8, 8], [16, 16]];
    for (const [size, align] of layouts) {
      const p = sys.allocator.alloc(size, align);
      expect(p, `alloc(${size}, ${align})`).not.toBeNull();
      const paddr = p as Paddr;
      expect(paddr % (align * PAGE_SIZE)).toBe(0);
      expect(paddr + size * PAGE_SIZE).toBeLessThanOrEqual(sys.maxPaddr);
      for (let q = paddr; q < paddr + size * PAGE_SIZE; q += PAGE_SIZE) {
        const u = UniqueFrame.fromUnused(sys, q, Untyped);
        u.resetAsUnused();
      }
      expect(sys.stats().raw).toBe(size);
      sys.checkInvariants();
      sys.allocator.dealloc(paddr, size);
      expectAllFree(sys);
    }
  });

  it('frame_allocator_alloc_layout_match, all layouts held at once: runs do not overlap', () => {
    const sys = makeBuddySystem();
    const layouts: [number, number][] = [[1, 1], [2, 1], [3, 1], [4, 1], [2, 2], [4, 4], [8, 8], [16, 16]];
    const owner = new Int32Array(sys.nframes).fill(-1);
    const held: [Paddr, number][] = [];
    layouts.forEach(([size, align], i) => {
      const paddr = sys.allocator.alloc(size, align) as Paddr;
      expect(paddr).not.toBeNull();
      expect(paddr % (align * PAGE_SIZE)).toBe(0);
      for (let k = paddr / PAGE_SIZE; k < paddr / PAGE_SIZE + size; k++) {
        expect(owner[k], `frame ${k} handed out twice`).toBe(-1);
        owner[k] = i;
        UniqueFrame.fromUnused(sys, k * PAGE_SIZE, Untyped).resetAsUnused();
      }
      held.push([paddr, size]);
    });
    expect(sys.stats().free).toBe(sys.nframes - 40);
    sys.checkInvariants();
    for (const [paddr, size] of held) sys.allocator.dealloc(paddr, size);
    expectAllFree(sys);
    expect(freeChunks(sys)).toEqual([[0, 64]]);
  });

  it('test_alloc_dealloc: mixed single frames and 10-frame non-zeroed segments', () => {
    const sys = makeBuddySystem({ frames: 256 });
    const options = new FrameAllocOptions(sys);
    const raw = new FrameAllocOptions(sys).zeroed(false);
    const remember: Frame[] = [];
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 10; i++) {
        const frame = options.allocFrame();
        if (i % 3 === 0) remember.push(frame);
        else frame.drop();
      }
      const seg = raw.allocSegment(10);
      expect(seg.nframes).toBe(10);
      seg.drop();
      remember.pop()!.drop();
      expect(sys.stats().free).toBe(256 - remember.length);
      sys.checkInvariants();
    }
    expect(remember.length).toBe(30);
    const paddrs = new Set(remember.map((f) => f.paddr));
    expect(paddrs.size).toBe(30);
    for (const f of remember) f.drop();
    expectAllFree(sys);
    expect(freeChunks(sys)).toEqual([[0, 256]]);
  });

  it('buddy_set_insert_alloc: sizes after each alloc and dealloc, merged back into one chunk', () => {
    const sys = makeBuddySystem({ frames: 16 });
    const a = sys.allocator;
    const free = (): number => sys.stats().free;
    expect(free()).toBe(16);
    const c1 = a.alloc(1, 1) as Paddr;
    expect(free()).toBe(15);
    const c2 = a.alloc(1, 1) as Paddr;
    expect(free()).toBe(14);
    const c3 = a.alloc(2, 1) as Paddr;
    expect(free()).toBe(12);
    const c4 = a.alloc(4, 1) as Paddr;
    expect(free()).toBe(8);
    const c5 = a.alloc(8, 1) as Paddr;
    expect(free()).toBe(0);
    for (const c of [c1, c2, c3, c4, c5]) expect(c).not.toBeNull();
    expect(a.alloc(1, 1)).toBeNull();
    a.dealloc(c3, 2);
    expect(free()).toBe(2);
    a.dealloc(c1, 1);
    expect(free()).toBe(3);
    a.dealloc(c5, 8);
    expect(free()).toBe(11);
    a.dealloc(c2, 1);
    expect(free()).toBe(12);
    expect(freeChunks(sys).map(([, n]) => n).sort((x, y) => x - y)).toEqual([4, 8]); // order 2 + order 3
    a.dealloc(c4, 4);
    expect(free()).toBe(16);
    expect(freeChunks(sys)).toEqual([[0, 16]]);
    expect(a.alloc(16, 1)).toBe(0);
    expect(free()).toBe(0);
    a.dealloc(0, 16);
    expectAllFree(sys);
  });

  it('free_chunk_ops: a chunk splits into buddy halves and merges back', () => {
    const sys = makeBuddySystem({ frames: 8 });
    expect(freeChunks(sys)).toEqual([[0, 8]]);
    const p = allocOne(sys);
    expect(p).toBe(0);
    // 8 → 4 + 4 → (2 + 2) + 4 → ((1 + 1) + 2) + 4: the right halves stay free.
    expect(freeChunks(sys)).toEqual([[1, 1], [2, 2], [4, 4]]);
    sys.checkInvariants();
    sys.allocator.dealloc(p, 1);
    expect(freeChunks(sys)).toEqual([[0, 8]]);
    // Merging only happens between buddies: 1 and 2 are neighbours but not buddies.
    const ps = [0, 1, 2, 3].map(() => allocOne(sys));
    expect(ps).toEqual([0, 1, 2, 3].map((k) => k * PAGE_SIZE));
    sys.allocator.dealloc(1 * PAGE_SIZE, 1);
    sys.allocator.dealloc(2 * PAGE_SIZE, 1);
    expect(freeChunks(sys)).toEqual([[1, 1], [2, 1], [4, 4]]);
    sys.checkInvariants();
    sys.allocator.dealloc(3 * PAGE_SIZE, 1);
    expect(freeChunks(sys)).toEqual([[1, 1], [2, 2], [4, 4]]);
    sys.allocator.dealloc(0, 1);
    expect(freeChunks(sys)).toEqual([[0, 8]]);
    expectAllFree(sys);
  });
});

describe('buddy merging through the public API', () => {
  it('property: frames freed one by one in any order merge back into one allocation of all', () => {
    const n = 32;
    const sys = makeBuddySystem({ frames: n });
    const indices = Array.from({ length: n }, (_, k) => k);
    fc.assert(
      fc.property(fc.shuffledSubarray(indices, { minLength: n, maxLength: n }), (order) => {
        const got = indices.map(() => allocOne(sys));
        expect(new Set(got).size).toBe(n);
        expect(sys.allocator.alloc(1, 1)).toBeNull();
        for (const k of order) sys.allocator.dealloc(got[k], 1);
        sys.checkInvariants();
        expect(freeChunks(sys)).toEqual([[0, n]]);
        const all = sys.allocator.alloc(n, 1);
        expect(all).toBe(0);
        sys.allocator.dealloc(0, n);
        expectAllFree(sys);
      }),
      { numRuns: 50 },
    );
  });

  it('property: frames freed through Frame handles in any order merge back (64 frames)', () => {
    const sys = makeBuddySystem();
    const indices = Array.from({ length: 64 }, (_, k) => k);
    fc.assert(
      fc.property(fc.shuffledSubarray(indices, { minLength: 64, maxLength: 64 }), (order) => {
        const frames = indices.map(() => sys.allocFrame(MockMeta, { value: 1 }));
        for (const k of order) frames[k].drop();
        const seg = sys.allocSegment(64);
        expect(seg.startPaddr).toBe(0);
        seg.drop();
        expectAllFree(sys);
      }),
      { numRuns: 20 },
    );
  });

  it('NoMemory when exhausted: the raw allocator answers null, without changing anything', () => {
    const sys = makeBuddySystem({ frames: 8 });
    const got = Array.from({ length: 8 }, () => allocOne(sys));
    const before = snapshot(sys);
    expect(sys.allocator.alloc(1, 1)).toBeNull();
    expect(sys.allocator.alloc(2, 2)).toBeNull();
    expect(sys.allocator.alloc(9, 1)).toBeNull();
    expect(firstDifference(before, snapshot(sys))).toBe(-1);
    expect(sys.stats().free).toBe(0);
    // Through FrameAllocOptions it is an AllocError.
    expectNoChange(sys, () => sys.allocFrame(), AllocError, 'NoMemory');
    for (const p of got) sys.allocator.dealloc(p, 1);
    expectAllFree(sys);
  });

  it('more frames than the region has is null even when all are free', () => {
    const sys = makeBuddySystem({ frames: 8 });
    expect(sys.allocator.alloc(9, 1)).toBeNull();
    expect(sys.allocator.alloc(2 ** 21, 1)).toBeNull();
    // Frame 0 is the only 16-aligned frame of an 8-frame region: one such frame can be had.
    const zero = sys.allocator.alloc(1, 16);
    expect(zero).toBe(0);
    expect(sys.allocator.alloc(1, 16)).toBeNull();
    sys.allocator.dealloc(zero!, 1);
    expectAllFree(sys);
  });

  it('a non-power-of-two region (37 frames): all 37 frames can be allocated one by one', () => {
    const sys = makeBuddySystem({ frames: 37 });
    expect(sys.stats().free).toBe(37);
    sys.checkInvariants();
    expect(freeChunks(sys)).toEqual([[0, 32], [32, 4], [36, 1]]);
    const got = Array.from({ length: 37 }, () => allocOne(sys));
    expect(new Set(got)).toEqual(new Set(Array.from({ length: 37 }, (_, k) => k * PAGE_SIZE)));
    expect(sys.allocator.alloc(1, 1)).toBeNull();
    expect(sys.stats().free).toBe(0);
    for (const p of got.reverse()) sys.allocator.dealloc(p, 1);
    expectAllFree(sys);
    expect(freeChunks(sys)).toEqual([[0, 32], [32, 4], [36, 1]]);
  });

  it('a non-power-of-two region (37 frames): after freeing, all 37 can be had as one segment', () => {
    const sys = makeBuddySystem({ frames: 37 });
    const got = Array.from({ length: 37 }, () => allocOne(sys));
    for (const p of got) sys.allocator.dealloc(p, 1);
    expectAllFree(sys);
    // 37 free, contiguous frames starting at frame 0: NoMemory would mean memory is exhausted.
    const seg = sys.allocSegment(37);
    expect(seg.startPaddr).toBe(0);
    expect(seg.nframes).toBe(37);
    seg.drop();
    expectAllFree(sys);
    expect(sys.allocator.alloc(37, 1)).toBe(0);
    sys.allocator.dealloc(0, 37);
    expectAllFree(sys);
  });

  it('a non-power-of-two request leaves the tail of its chunk free', () => {
    const sys = makeBuddySystem({ frames: 16 });
    const p = sys.allocator.alloc(5, 1);
    expect(p).toBe(0);
    expect(sys.stats().free).toBe(11);
    expect(freeChunks(sys)).toEqual([[5, 1], [6, 2], [8, 8]]);
    sys.checkInvariants();
    sys.allocator.dealloc(0, 5);
    expect(freeChunks(sys)).toEqual([[0, 16]]);
    expectAllFree(sys);
  });
});

describe('allocator argument checks', () => {
  it('alloc with a bad count or alignment is InvalidArgs', () => {
    const sys = makeBuddySystem();
    for (const n of [0, -1, 1.5, NaN, Infinity]) {
      expectNoChange(sys, () => sys.allocator.alloc(n, 1), AllocError, 'InvalidArgs');
    }
    for (const align of [3, 0, -2, 1.5, NaN, 6]) {
      expectNoChange(sys, () => sys.allocator.alloc(1, align), AllocError, 'InvalidArgs');
    }
    expectAllFree(sys);
  });

  it('dealloc / addFreeMemory of an unaligned or out-of-range run is InvalidArgs', () => {
    for (const checked of [false, true]) {
      const sys = makeBuddySystem({ checked });
      const p = allocOne(sys);
      const bad: [Paddr, number][] = [
        [p + 1, 1],
        [p + PAGE_SIZE / 2, 1],
        [-PAGE_SIZE, 1],
        [sys.maxPaddr, 1],
        [sys.maxPaddr - PAGE_SIZE, 2],
        [sys.maxPaddr * 2, 1],
        [p, 0],
        [p, -1],
        [p, 1.5],
        [NaN, 1],
      ];
      for (const [paddr, n] of bad) {
        expectNoChange(sys, () => sys.allocator.dealloc(paddr, n), AllocError, 'InvalidArgs');
        expectNoChange(sys, () => sys.allocator.addFreeMemory(paddr, n), AllocError, 'InvalidArgs');
      }
      sys.allocator.dealloc(p, 1);
      expectAllFree(sys);
    }
  });

  it('checked: a double free is InvalidArgs with the region unchanged', () => {
    const sys = makeBuddySystem({ checked: true });
    const p = sys.allocator.alloc(4, 1) as Paddr;
    expect(p).not.toBeNull();
    sys.allocator.dealloc(p + 2 * PAGE_SIZE, 2);
    sys.checkInvariants();
    // Freed a second time, whole or in part, or a frame that was never handed out.
    expectNoChange(sys, () => sys.allocator.dealloc(p + 2 * PAGE_SIZE, 2), AllocError, 'InvalidArgs');
    expectNoChange(sys, () => sys.allocator.dealloc(p + 3 * PAGE_SIZE, 1), AllocError, 'InvalidArgs');
    expectNoChange(sys, () => sys.allocator.dealloc(p, 4), AllocError, 'InvalidArgs');
    expectNoChange(sys, () => sys.allocator.dealloc(sys.maxPaddr - PAGE_SIZE, 1), AllocError, 'InvalidArgs');
    expectNoChange(sys, () => sys.allocator.addFreeMemory(0, sys.nframes), AllocError, 'InvalidArgs');
    sys.allocator.dealloc(p, 2);
    expectAllFree(sys);
  });

  it('checked: freeing a frame that is not UNUSED is InvalidArgs with the region unchanged', () => {
    const sys = makeBuddySystem({ checked: true });
    const frame = sys.allocFrame(MockMeta, { value: 3 });
    const unique = new FrameAllocOptions(sys).allocUnique(MockMeta);
    expectNoChange(sys, () => sys.allocator.dealloc(frame.paddr, 1), AllocError, 'InvalidArgs');
    expectNoChange(sys, () => sys.allocator.dealloc(unique.paddr, 1), AllocError, 'InvalidArgs');
    // A run with one held frame in it is refused as a whole.
    const raw = sys.allocator.alloc(2, 1) as Paddr;
    const held = Frame.fromUnused(sys, raw + PAGE_SIZE, MockMeta);
    expectNoChange(sys, () => sys.allocator.dealloc(raw, 2), AllocError, 'InvalidArgs');
    expect(refCount(sys, raw)).toBe(REF_COUNT_UNUSED);
    expect(frame.meta.value).toBe(3);
    held.drop(); // goes back to the allocator by itself
    sys.allocator.dealloc(raw, 1);
    frame.drop();
    unique.drop();
    expectAllFree(sys);
  });
});

describe('checkInvariants on the buddy free lists', () => {
  /** Corrupts word `at` to `value`, expects checkInvariants to fail, restores the word. */
  function expectDetected(sys: FrameSystem, at: number, value: number, message?: RegExp): void {
    const i32 = sys._region.mem.i32;
    const old = i32[at];
    i32[at] = value;
    try {
      let caught: unknown;
      try {
        sys.checkInvariants();
      } catch (e) {
        caught = e;
      }
      expect(caught, `corrupting word ${at} to ${value} should be detected`).toBeInstanceOf(InvariantError);
      if (message) expect((caught as Error).message).toMatch(message);
    } finally {
      i32[at] = old;
    }
    sys.checkInvariants();
  }

  it('detects corrupted links, orders, counts and heads, and passes once restored', () => {
    const sys = makeBuddySystem({ frames: 16 });
    const p = allocOne(sys); // free chunks: 1 (o0), 2 (o1), 4 (o2), 8 (o3)
    expect(p).toBe(0);
    expect(freeChunks(sys)).toEqual([[1, 1], [2, 2], [4, 4], [8, 8]]);
    sys.checkInvariants();
    // The free-frame count disagrees with the lists.
    expectDetected(sys, H_BUDDY_FREE, 14, /count/);
    // A list head points outside the region.
    expectDetected(sys, H_BUDDY_HEADS + 2, 1000, /broken free list/);
    // A chunk head's prev link is wrong.
    expectDetected(sys, slot(sys, 4) + S_PREV, 9, /prev/);
    // A chunk head's order mark is wrong.
    expectDetected(sys, slot(sys, 8) + S_AUX, AUX_FREE | 2, /marked free/);
    // A list loops back on itself.
    expectDetected(sys, slot(sys, 2) + S_NEXT, 3);
    // The order-1 list starts at frame 1, an order-0 chunk.
    expectDetected(sys, H_BUDDY_HEADS + 1, 2, /marked free/);
    // A frame free in the allocator is not UNUSED.
    expectDetected(sys, slot(sys, 9), 1);
    // The order-0 list points at the head of the order-2 chunk.
    expectDetected(sys, H_BUDDY_HEADS + 0, 5, /marked free/);
    // A chunk is in two lists: the order-1 chunk's list link leads into the order-2 chunk.
    expectDetected(sys, slot(sys, 2) + S_NEXT, 5);
    sys.allocator.dealloc(p, 1);
    expectAllFree(sys);
  });

  it('detects two free buddies that were not merged', () => {
    const sys = makeBuddySystem({ frames: 2 });
    const i32 = sys._region.mem.i32;
    expect(freeChunks(sys)).toEqual([[0, 2]]);
    const saved = [H_BUDDY_HEADS, H_BUDDY_HEADS + 1, slot(sys, 0) + S_NEXT, slot(sys, 0) + S_PREV, slot(sys, 0) + S_AUX,
      slot(sys, 1) + S_NEXT, slot(sys, 1) + S_PREV, slot(sys, 1) + S_AUX].map((w) => [w, i32[w]] as const);
    // Rewrite the lists as two order-0 chunks, 0 then 1, instead of one order-1 chunk.
    i32[H_BUDDY_HEADS + 1] = 0;
    i32[H_BUDDY_HEADS] = 0 + 1;
    i32[slot(sys, 0) + S_NEXT] = 1 + 1;
    i32[slot(sys, 0) + S_PREV] = 0;
    i32[slot(sys, 0) + S_AUX] = AUX_FREE | AUX_HEAD | 0;
    i32[slot(sys, 1) + S_NEXT] = 0;
    i32[slot(sys, 1) + S_PREV] = 0 + 1;
    i32[slot(sys, 1) + S_AUX] = AUX_FREE | AUX_HEAD | 0;
    expect(() => sys.checkInvariants()).toThrow(InvariantError);
    expect(() => sys.checkInvariants()).toThrow(/not merged/);
    for (const [w, v] of saved) i32[w] = v;
    expectAllFree(sys);
  });

  it('the default allocator is a BuddyAllocator with the optional hooks', () => {
    const sys = makeBuddySystem();
    expect(sys.allocator).toBeInstanceOf(BuddyAllocator);
    expect(sys.allocator.freeFrames?.()).toBe(64);
    expect(freeChunks(sys)).toEqual([[0, 64]]);
  });
});

describe('runs across buddy chunks', () => {
  it('finds an aligned run that spans several chunks, and frees back what lies around it', () => {
    const sys = makeBuddySystem({ frames: 16 });
    const a = sys.allocator;
    // Leave frames 1..5 free: buddy chunks [1], [2, 3] and [4, 5].
    const all = a.alloc(16, 1)!;
    a.dealloc(all + PAGE_SIZE, 5); // frees 1..5 back
    expect(freeChunks(sys)).toEqual([[1, 1], [2, 2], [4, 2]]);
    const p = a.alloc(4, 2); // 1..4 is not 2-aligned; 2..5 is
    expect(p).toBe(2 * PAGE_SIZE);
    expect(freeChunks(sys)).toEqual([[1, 1]]);
    expect(a.alloc(2, 1)).toBeNull(); // only frame 1 is left
    sys.checkInvariants();
    a.dealloc(p!, 4);
    a.dealloc(0, 1);
    a.dealloc(6 * PAGE_SIZE, 10);
    expectAllFree(sys);
  });
});
