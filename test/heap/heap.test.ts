/**
 * `sys.heap`: small objects on frames (slabs of size classes 8..2048, large blocks of frames),
 * per-worker caches, checked mode, and `sys.bytes` / `sys.dataView`. Workers here are `attach`ed
 * views in this thread (`separate`); test/heap/workers.test.ts runs real worker threads.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AllocError, ContractError, FrameSystem, FrameUseError, InvariantError, PAGE_SIZE, captureFrameMap, renderFrameMap, type HeapStats } from '../../src/index.js';
import { describeFrame, heapLine, typesById } from '../../src/map/text.js';
import { classOf, slotSize, slotsPerSlab } from '../../src/heap/slot.js';
import { keepCached, maxCached } from '../../src/heap/cache.js';
import { S_STORAGE } from '../../src/region/meta.js';
import { cacheWord } from '../../src/region/heap.js';
import { makeSystem } from '../helpers.js';

/** Every frame free, no slab, no cached slot, the region whole. */
function expectEmpty(sys: FrameSystem): void {
  sys.heap.trim();
  sys.checkInvariants();
  const s = sys.heap.stats();
  expect({ blocks: s.blocksInUse, slabs: s.slabs, cached: s.cachedSlots, large: s.large }).toEqual({ blocks: 0, slabs: 0, cached: 0, large: { blocks: 0, frames: 0 } });
  expect(sys.stats().free).toBe(sys.stats().total);
}

/** What a refused call must leave as it was. */
function state(sys: FrameSystem): { heap: HeapStats; frames: unknown } {
  return { heap: sys.heap.stats(), frames: sys.stats() };
}

describe('size classes (the kernel’s rule: the larger of the size class and the alignment class)', () => {
  it('maps sizes and alignments to 8..2048-byte classes, and larger requests to large blocks', () => {
    expect([1, 8, 9, 16, 17, 100, 1024, 1025, 2048, 2049].map((n) => classOf(n, 8))).toEqual([0, 0, 1, 1, 2, 4, 7, 8, 8, -1]);
    expect([1, 2, 4, 8, 16, 512, 2048, 4096].map((a) => classOf(1, a))).toEqual([0, 0, 0, 0, 1, 6, 8, -1]);
    expect(classOf(100, 256)).toBe(5);
    for (let c = 0; c < 9; c++) expect(slotSize(c) * slotsPerSlab(c)).toBe(PAGE_SIZE);
  });

  it('alloc answers a block of its class, aligned, with sizeOf its slot size', () => {
    const sys = makeSystem({ frames: 128 });
    const cases: [number, number, number][] = [[1, 8, 8], [13, 8, 16], [100, 8, 128], [2048, 8, 2048], [8, 64, 64], [3, 1, 8], [2049, 8, 4096], [5000, 8, 8192], [1, 4096, 4096]];
    const blocks = cases.map(([size, align, want]) => {
      const addr = size === 1 && align === 8 ? sys.heap.alloc(size) : sys.heap.alloc(size, align);
      expect(addr % align).toBe(0);
      expect(sys.heap.sizeOf(addr)).toBe(want);
      return addr;
    });
    sys.checkInvariants();
    for (const b of blocks) sys.heap.free(b);
    expectEmpty(sys);
  });
});

describe('a model of alloc and free (fast-check)', () => {
  const op = fc.oneof(
    { weight: 5, arbitrary: fc.record({ kind: fc.constant('alloc' as const), size: fc.oneof(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 2048 }), fc.integer({ min: 2049, max: 3 * PAGE_SIZE })), align: fc.constantFrom(1, 2, 8, 8, 8, 16, 64, 256, 4096) }) },
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('free' as const), pick: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('trim' as const, 'check' as const, 'other' as const), pick: fc.nat() }) },
  );

  for (const checked of [false, true]) {
    it(`${checked ? 'checked mode: ' : ''}blocks never overlap, are aligned, keep their bytes, and sizeOf and stats agree with the model`, () => {
      fc.assert(
        fc.property(fc.array(op, { maxLength: 120 }), (ops) => {
          const sys = FrameSystem.create({ frames: 96, checked });
          const other = FrameSystem.attach(sys.handle, { separate: true }); // frees some blocks: another worker's cache
          const live = new Map<number, { size: number; slot: number; tag: number }>();
          let tag = 1;
          const verify = (): void => {
            const sorted = [...live.entries()].sort((a, b) => a[0] - b[0]);
            for (let i = 1; i < sorted.length; i++) expect(sorted[i - 1][0] + sorted[i - 1][1].slot).toBeLessThanOrEqual(sorted[i][0]);
            for (const [addr, b] of live) expect(sys.bytes(addr, b.size).every((x) => x === b.tag)).toBe(true);
            const s = sys.heap.stats();
            expect(s.blocksInUse).toBe(live.size);
            expect(s.bytesInUse).toBe([...live.values()].reduce((n, b) => n + b.slot, 0));
          };
          try {
            for (const o of ops) {
              if (o.kind === 'alloc') {
                let addr: number;
                try {
                  addr = sys.heap.alloc(o.size, o.align);
                } catch (e) {
                  expect(e).toBeInstanceOf(AllocError);
                  expect((e as AllocError).code).toBe('NoMemory');
                  continue;
                }
                const c = classOf(o.size, o.align);
                const slot = c < 0 ? Math.ceil(o.size / PAGE_SIZE) * PAGE_SIZE : slotSize(c);
                expect(addr % o.align).toBe(0);
                expect(sys.heap.sizeOf(addr)).toBe(slot);
                const t = (tag++ % 255) + 1;
                sys.bytes(addr, o.size).fill(t);
                live.set(addr, { size: o.size, slot, tag: t });
              } else if (o.kind === 'free' || o.kind === 'other') {
                if (live.size === 0) continue;
                const addr = [...live.keys()][o.pick % live.size];
                const b = live.get(addr)!;
                expect(sys.bytes(addr, b.size).every((x) => x === b.tag)).toBe(true);
                (o.kind === 'other' ? other : sys).heap.free(addr);
                live.delete(addr);
              } else if (o.kind === 'trim') sys.heap.trim();
              else {
                sys.checkInvariants();
                verify();
              }
            }
            verify();
            sys.checkInvariants();
            for (const addr of live.keys()) sys.heap.free(addr);
            other.heap.trim();
            expectEmpty(sys);
          } finally {
            other.close();
          }
        }),
        { numRuns: checked ? 30 : 80 },
      );
    });
  }
});

describe('refusals: a typed error, and nothing changed', () => {
  it('alloc of a size or alignment that is no request is AllocError(InvalidArgs)', () => {
    const sys = makeSystem();
    const keep = sys.heap.alloc(8);
    const before = state(sys);
    const bad: [unknown, unknown][] = [[0, 8], [-1, 8], [1.5, 8], [NaN, 8], [Infinity, 8], ['8', 8], [null, 8], [8n, 8], [8, 3], [8, 0], [8, 8192], [8, 1.5], [8, '8'], [2 ** 40, 8]];
    for (const [size, align] of bad) {
      const call = (): number => (sys.heap.alloc as (s: unknown, a: unknown) => number)(size, align);
      expect(call).toThrow(AllocError);
      try {
        call();
      } catch (e) {
        expect((e as AllocError).code).toBe('InvalidArgs');
      }
    }
    expect(state(sys)).toEqual(before);
    sys.heap.free(keep);
    expectEmpty(sys);
  });

  it('free of what is not an allocated block is refused where it shows cheaply', () => {
    const sys = makeSystem();
    const a = sys.heap.alloc(32);
    const b = sys.heap.alloc(32);
    const big = sys.heap.alloc(3 * PAGE_SIZE);
    const frame = sys.allocFrame();
    const gone = sys.heap.alloc(32);
    sys.heap.free(gone);
    const before = state(sys);
    const refusals: [unknown, string][] = [
      ['64', 'BadValue'],
      [null, 'BadValue'],
      [a + 8, 'NotHeld'], // inside a slot
      [a + 1, 'NotHeld'],
      [big + PAGE_SIZE, 'NotHeld'], // inside a large block
      [frame.paddr, 'NotHeld'], // a frame that is no heap block
      [sys.maxPaddr, 'NotHeld'], // outside the region
      [-8, 'NotHeld'],
      [gone, 'NotHeld'], // freed just before: the top of this worker's cache
    ];
    for (const [addr, code] of refusals) {
      let err: unknown;
      try {
        sys.heap.free(addr as number);
      } catch (e) {
        err = e;
      }
      expect(err, `free(${String(addr)})`).toBeInstanceOf(FrameUseError);
      expect((err as FrameUseError).code, `free(${String(addr)})`).toBe(code);
      if (addr !== gone) expect(() => sys.heap.sizeOf(addr as number)).toThrow(FrameUseError); // a cached slot's size is still known
    }
    expect(state(sys)).toEqual(before);
    sys.heap.free(big);
    expect(() => sys.heap.free(big)).toThrow(FrameUseError); // a large block freed twice
    frame.drop();
    sys.heap.free(a);
    sys.heap.free(b);
    expectEmpty(sys);
  });

  it('checked mode: every bad free, a double free of a slot too, is ContractError(heap_dealloc_requires)', () => {
    const sys = makeSystem({ checked: true });
    const a = sys.heap.alloc(64);
    const b = sys.heap.alloc(64);
    sys.heap.free(a);
    const before = state(sys);
    for (const addr of [a, a + 8, b + 32, sys.maxPaddr + 64]) {
      let err: unknown;
      try {
        sys.heap.free(addr);
      } catch (e) {
        err = e;
      }
      expect(err, `free(${addr})`).toBeInstanceOf(ContractError);
      expect((err as ContractError).contract).toBe('heap_dealloc_requires');
    }
    expect(state(sys)).toEqual(before);
    expect(sys.heap.stats().cachedSlots).toBe(0); // checked mode keeps no cache
    sys.heap.free(b);
    expectEmpty(sys);
  });

  it('a closed system refuses the heap (Closed)', () => {
    const sys = makeSystem();
    const other = FrameSystem.attach(sys.handle, { separate: true });
    const a = other.heap.alloc(8);
    other.close();
    expect(() => other.heap.alloc(8)).toThrow(FrameUseError);
    expect(() => other.heap.free(a)).toThrow(FrameUseError);
    expect(() => other.bytes(a, 8)).toThrow(FrameUseError);
    sys.heap.free(a);
    expectEmpty(sys);
  });
});

describe('sys.bytes and sys.dataView', () => {
  it('view a block in place, and refuse ranges outside the region', () => {
    const sys = makeSystem();
    const a = sys.heap.alloc(16);
    sys.dataView(a, 16).setFloat64(8, Math.PI, true);
    expect(new Float64Array(sys.bytes(a + 8, 8).slice().buffer)[0]).toBe(Math.PI);
    const other = FrameSystem.attach(sys.handle, { separate: true });
    expect(other.dataView(a, 16).getFloat64(8, true)).toBe(Math.PI); // the same address in every worker
    other.close();
    expect(() => sys.bytes(sys.maxPaddr - 4, 8)).toThrow(FrameUseError);
    expect(() => sys.bytes(-1, 1)).toThrow(FrameUseError);
    expect(() => sys.dataView(0.5, 1)).toThrow(FrameUseError);
    expect(() => sys.bytes('0' as unknown as number, 1)).toThrow(FrameUseError);
    expect(sys.bytes(sys.maxPaddr, 0).length).toBe(0);
    sys.heap.free(a);
    expectEmpty(sys);
  });
});

describe('slabs, caches and the frame allocator', () => {
  it('the kernel’s slab-counter test: 20 slabs of 8-byte slots, all freed, then the caches dropped', () => {
    const sys = makeSystem({ frames: 256 });
    const start = sys.stats().used;
    const n = 20 * slotsPerSlab(0);
    const blocks: number[] = [];
    for (let i = 0; i < n; i++) blocks.push(sys.heap.alloc(8));
    const full = sys.stats().used;
    expect(full - start).toBeGreaterThanOrEqual(20);
    expect(sys.heap.stats().byClass[8].slabs).toBeGreaterThanOrEqual(20);
    for (const b of blocks) sys.heap.free(b);
    const freed = sys.stats().used;
    expect(freed).toBeLessThan(full);
    expect(sys.heap.stats().cachedSlots).toBeLessThanOrEqual(maxCached(0));
    sys.checkInvariants();
    sys.heap.trim();
    expect(sys.stats().used).toBe(start);
    expectEmpty(sys);
  });

  it('a worker’s cache is refilled a slab’s worth at a time and flushed past its maximum', () => {
    const sys = makeSystem({ frames: 128 });
    const c = 3; // 64 bytes
    const a = sys.heap.alloc(64);
    expect(sys.heap.stats().cachedSlots).toBe(keepCached(c) - 1);
    const blocks = [a];
    for (let i = 0; i < maxCached(c) + 10; i++) blocks.push(sys.heap.alloc(64));
    for (const b of blocks) sys.heap.free(b);
    expect(sys.heap.stats().cachedSlots).toBeLessThanOrEqual(maxCached(c));
    expect(sys.heap.stats().cachedSlots).toBeGreaterThanOrEqual(keepCached(c));
    sys.checkInvariants();
    expectEmpty(sys);
  });

  it('a block freed by another worker goes to that worker’s cache, and comes back to its slab', () => {
    const sys = makeSystem();
    const other = FrameSystem.attach(sys.handle, { separate: true });
    const blocks = Array.from({ length: 100 }, () => sys.heap.alloc(128));
    for (const b of blocks) other.heap.free(b);
    expect(other.heap.stats().byClass[128].cached).toBeGreaterThanOrEqual(32);
    sys.checkInvariants();
    const again = other.heap.alloc(128); // the other worker reuses what it freed
    expect(blocks).toContain(again);
    other.heap.free(again);
    other.close(); // its caches back to the slabs
    expectEmpty(sys);
  });

  it('drainCaches and close give the heap’s cached slots and empty slabs back', () => {
    const sys = makeSystem();
    sys.heap.free(sys.heap.alloc(256));
    expect(sys.heap.stats().slabs).toBe(1);
    sys.drainCaches();
    expect(sys.heap.stats().slabs).toBe(0);
    const other = FrameSystem.attach(sys.handle, { separate: true });
    other.heap.free(other.heap.alloc(256));
    other.close();
    expectEmpty(sys);
  });

  it('NoMemory only once no frame and no cached slot is left: other workers’ caches are taken first', () => {
    const sys = makeSystem({ frames: 32 });
    const other = FrameSystem.attach(sys.handle, { separate: true });
    const theirs = Array.from({ length: 300 }, () => other.heap.alloc(64));
    for (const b of theirs) other.heap.free(b); // slots cached by the other worker, partial slabs
    expect(other.heap.stats().cachedSlots).toBeGreaterThan(0);
    const mine: number[] = [];
    let error: unknown;
    for (;;) {
      try {
        mine.push(sys.heap.alloc(8));
      } catch (e) {
        error = e;
        break;
      }
    }
    expect(error).toBeInstanceOf(AllocError);
    expect((error as AllocError).code).toBe('NoMemory');
    const s = sys.heap.stats();
    expect(s.cachedSlots).toBe(0);
    expect(s.byClass[64].slabs).toBe(0);
    expect(sys.freeFrames()).toBe(0);
    expect(mine.length).toBe(32 * slotsPerSlab(0));
    // Large blocks too: NoMemory, nothing changed.
    const before = state(sys);
    expect(() => sys.heap.alloc(PAGE_SIZE * 2)).toThrow(AllocError);
    expect(state(sys)).toEqual(before);
    sys.checkInvariants();
    for (const b of mine) sys.heap.free(b);
    other.close();
    expectEmpty(sys);
  });

  it('with autoGrow, the heap grows the region instead of NoMemory', () => {
    const sys = FrameSystem.create({ frames: 16, maxFrames: 64, autoGrow: true });
    const blocks = Array.from({ length: 40 * slotsPerSlab(5) }, () => sys.heap.alloc(256));
    expect(sys.nframes).toBeGreaterThan(16);
    sys.checkInvariants();
    for (const b of blocks) sys.heap.free(b);
    expectEmpty(sys);
  });

  it('reclaimWorker gives a dead worker’s cached slots back to their slabs', () => {
    const sys = makeSystem();
    const dead = FrameSystem.attach(sys.handle, { separate: true });
    const kept = dead.heap.alloc(32); // a block it still held: known to no one, stays in use
    for (const size of [8, 32, 512]) dead.heap.free(dead.heap.alloc(size));
    const cached = sys.heap.stats().cachedSlots;
    expect(cached).toBeGreaterThan(0);
    const report = sys.reclaimWorker(dead.workerId);
    expect(report.heapSlots).toBe(cached);
    expect(sys.heap.stats().cachedSlots).toBe(0);
    expect(sys.heap.stats().blocksInUse).toBe(1);
    sys.checkInvariants();
    sys.heap.free(kept); // its address, handed on before it died
    expectEmpty(sys);
  });

  it('reclaimWorker repairs the slab a worker that died under the heap lock was changing', async () => {
    const { lockHeap, setHeapJournal, slabPush, slabOfSlot, slotAt } = await import('../../src/region/heap.js');
    for (const step of ['push', 'pop'] as const) {
      const sys = makeSystem();
      const dead = FrameSystem.attach(sys.handle, { separate: true });
      const blocks = Array.from({ length: 70 }, () => dead.heap.alloc(64)); // two slabs' worth taken
      dead.heap.trim(); // the unused rest back: a full slab, and a partial one
      const r = dead._region;
      const b0 = blocks[0];
      const sw = slabOfSlot(r, slotAt(r, b0));
      lockHeap(r);
      setHeapJournal(r, b0 >>> 12);
      if (step === 'push') {
        slabPush(r, sw, slotAt(r, b0)); // a free of b0 stopped before the slab, full until now, was listed again
      } else {
        const other = slabOfSlot(r, slotAt(r, blocks[69]));
        setHeapJournal(r, blocks[69] >>> 12);
        const i32 = r.i32;
        i32[other + S_STORAGE + 1] = i32[i32[other + S_STORAGE + 1]]; // a pop stopped before its count
      }
      expect(() => sys.checkInvariants()).toThrow(InvariantError);
      const report = sys.reclaimWorker(dead.workerId);
      expect(report.locks).toContain('heap');
      sys.checkInvariants();
      for (const b of blocks.slice(step === 'push' ? 1 : 0)) sys.heap.free(b);
      sys.heap.trim();
      sys.checkInvariants();
      expect(sys.heap.stats().blocksInUse).toBe(step === 'push' ? 0 : 1); // a popped slot is lost with its worker
      if (step === 'push') expectEmpty(sys);
    }
  });

  it('reclaimWorker gives back the rest of a stack a worker died giving back (its heap chain)', async () => {
    const { cacheTakeAll, setHeapChain, slotLength } = await import('../../src/region/heap.js');
    const sys = makeSystem();
    const thief = FrameSystem.attach(sys.handle, { separate: true });
    sys.heap.free(sys.heap.alloc(16)); // this worker's cache of 16-byte slots: a slab's worth
    const top = cacheTakeAll(thief._region, cacheWord(sys.workerId, 1)); // a steal...
    expect(slotLength(thief._region, top)).toBe(keepCached(1));
    setHeapChain(thief._region, top); // ...journaled, and the thief dies before giving any back
    expect(sys.heap.stats().blocksInUse).toBe(keepCached(1)); // neither cached nor in a slab: as if in use
    sys.reclaimWorker(thief.workerId);
    expect(sys.heap.stats().blocksInUse).toBe(0);
    sys.checkInvariants();
    expectEmpty(sys);
  });

  it('reclaimWorker releases the heap lock of a worker that died holding it', async () => {
    const sys = makeSystem();
    const dead = FrameSystem.attach(sys.handle, { separate: true });
    dead.heap.free(dead.heap.alloc(8));
    const { lockHeap } = await import('../../src/region/heap.js');
    lockHeap(dead._region); // it dies holding the lock
    const report = sys.reclaimWorker(dead.workerId);
    expect(report.locks).toContain('heap');
    expect(report.heapSlots).toBe(keepCached(0));
    expectEmpty(sys);
  });
});

describe('checkInvariants covers the heap', () => {
  it('finds a slab whose count disagrees with its free list', () => {
    const sys = makeSystem();
    const a = sys.heap.alloc(16);
    sys.checkInvariants();
    const w = sys._region.metaWord + (a >>> 12) * 16 + S_STORAGE; // the slab's `allocated`
    sys._region.i32[w]++;
    expect(() => sys.checkInvariants()).toThrow(InvariantError);
    sys._region.i32[w]--;
    sys.heap.free(a);
    expectEmpty(sys);
  });

  it('finds a slot both cached and on its slab’s free list, and a cache whose length words lie', () => {
    const sys = makeSystem();
    const blocks = [sys.heap.alloc(16), sys.heap.alloc(16)];
    for (const b of blocks) sys.heap.free(b);
    sys.checkInvariants();
    const i32 = sys._region.i32;
    const head = i32[cacheWord(sys.workerId, 1)];
    i32[head + 1] += 1;
    expect(() => sys.checkInvariants()).toThrow(/length/);
    i32[head + 1] -= 1;
    sys.checkInvariants();
    expectEmpty(sys);
  });
});

describe('the frame map shows the heap', () => {
  it('each slab with its slot size and fill, each large block, and a summary line', () => {
    const sys = makeSystem();
    expect(captureFrameMap(sys).heap).toBeUndefined(); // no heap used yet
    const small = Array.from({ length: 10 }, () => sys.heap.alloc(64));
    const big = sys.heap.alloc(2 * PAGE_SIZE);
    const map = captureFrameMap(sys);
    const slab = small[0] >>> 12;
    expect(map.heap?.slabs).toEqual([[slab, 64, keepCached(3), 64]]); // the slots handed out: 10 in use, the rest cached
    expect(map.heap?.large).toEqual([[big >>> 12, 2]]);
    expect(describeFrame(map, typesById(map), slab, 'unique')).toContain('heap slab of 64-byte slots, 64 of 64 handed out');
    expect(describeFrame(map, typesById(map), big >>> 12, 'shared')).toContain('heap block of 2 frames');
    expect(heapLine(map)).toBe('heap: 1 slab (64 B: 1 slab, 100.0% full), 1 large block (2 frames)');
    expect(renderFrameMap(map, { format: 'svg' })).toContain('heap: 1 slab');
    for (const b of [...small, big]) sys.heap.free(b);
    expectEmpty(sys);
    expect(captureFrameMap(sys).heap).toEqual({ slabs: [], large: [] });
  });
});
