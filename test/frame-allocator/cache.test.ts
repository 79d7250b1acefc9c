/**
 * The default allocator's per-worker caches (`CachedAllocator`): LIFO reuse of frames and of
 * segments of 1..4 frames, refills in batches from the buddy level, the half flush of a full
 * cache, `drainCaches` and `close`, free counts, one cache per worker, the drains before
 * `NoMemory`, `checkInvariants` on cache entries, and `caches: false`.
 */
import { describe, expect, it } from 'vitest';
import {
  AllocError,
  BuddyAllocator,
  Frame,
  FrameAllocOptions,
  FrameSystem,
  InvariantError,
  PAGE_SIZE,
  type Paddr,
  type Segment,
  type Untyped,
} from '../../src/index.js';
import { CachedAllocator } from '../../src/frame-allocator/cache.js';
import { workerRecord } from '../../src/region/workers.js';
import { AUX_FREE, RC_UNUSED, SLOT_WORDS, S_AUX, cachedHead } from '../../src/region/meta.js';
import { CACHE_BASE, CACHE_CAPACITY, W_CACHE } from '../../src/region/workers.js';
import { H_BUDDY_LOCK } from '../../src/region/geometry.js';
import { MockMeta, expectNoChange, makeSystem } from '../helpers.js';

/** The system's allocator, which must be the cached one. */
function cachedAllocator(sys: FrameSystem): CachedAllocator {
  expect(sys.allocator).toBeInstanceOf(CachedAllocator);
  return sys.allocator as CachedAllocator;
}

/** Free frames at the buddy level (not counting any cache). */
function buddyFree(sys: FrameSystem): number {
  return cachedAllocator(sys).buddy.freeFrames();
}

/** Word index of the count of the class-k cache of worker `id`. */
function cacheBase(id: number, k: number): number {
  return workerRecord(id) + W_CACHE + CACHE_BASE[k];
}

/** Runs in the class-k cache of `sys`'s worker (or of worker `id`). */
function cacheCount(sys: FrameSystem, k: number, id = sys.workerId): number {
  return sys._region.mem.i32[cacheBase(id, k)];
}

/** Frames in all caches of worker `id`. */
function cachedFrames(sys: FrameSystem, id = sys.workerId): number {
  return cachedAllocator(sys).cachedFrames(id);
}

function allocFrames(sys: FrameSystem, n: number): Frame<Untyped>[] {
  return Array.from({ length: n }, () => sys.allocFrame());
}

function dropAll(handles: readonly { drop(): void }[]): void {
  for (const h of handles) h.drop();
}

describe('LIFO reuse on one worker', () => {
  it('a frame dropped and allocated again comes back at the same address', () => {
    const sys = makeSystem();
    const keep = allocFrames(sys, 3); // not the first frame of a batch, nor the last
    for (let i = 0; i < 20; i++) {
      const f = sys.allocFrame();
      const p = f.paddr;
      f.fill(0x5a);
      f.drop();
      const g = sys.allocFrame();
      expect(g.paddr).toBe(p);
      expect(g.bytes().every((b) => b === 0)).toBe(true); // zeroed again on allocation
      g.drop();
    }
    dropAll(keep);
    expect(sys.stats().free).toBe(64);
    sys.checkInvariants();
  });

  it('typed and unique frames are reused the same way', () => {
    const sys = makeSystem();
    const f = sys.allocFrame(MockMeta, { value: 1 });
    const p = f.paddr;
    f.drop();
    const u = new FrameAllocOptions(sys).allocUnique(MockMeta, { value: 2 });
    expect(u.paddr).toBe(p);
    expect(u.meta.value).toBe(2);
    u.drop();
    const g = sys.allocFrame(MockMeta, { value: 3 });
    expect(g.paddr).toBe(p);
    g.drop();
    sys.checkInvariants();
  });

  it('[a, b, c, d]; c, b, a dropped: the next allocations return a, b, c', () => {
    const sys = makeSystem();
    const [a, b, c, d] = allocFrames(sys, 4);
    const [pa, pb, pc] = [a.paddr, b.paddr, c.paddr];
    c.drop();
    b.drop();
    a.drop();
    const x = sys.allocFrame();
    expect(x.paddr).toBe(pa);
    const y = sys.allocFrame();
    expect(y.paddr).toBe(pb);
    const z = sys.allocFrame();
    expect(z.paddr).toBe(pc);
    dropAll([x, y, z, d]);
    expect(sys.stats().free).toBe(64);
    sys.checkInvariants();
  });

  it('a segment of 1..4 frames dropped and allocated again comes back at the same address', () => {
    const sys = makeSystem();
    for (let k = 1; k <= 4; k++) {
      const keep = sys.allocSegment(k); // the batch's first run stays out
      const s = sys.allocSegment(k);
      const p = s.startPaddr;
      s.drop();
      const t = sys.allocSegment(k);
      expect(t.startPaddr).toBe(p);
      expect(t.nframes).toBe(k);
      t.drop();
      keep.drop();
    }
    expect(sys.stats().free).toBe(64);
    sys.checkInvariants();
  });

  it('each size of run has its own stack', () => {
    const sys = makeSystem();
    const s2 = sys.allocSegment(2);
    const s3 = sys.allocSegment(3);
    const f = sys.allocFrame();
    const [p2, p3, p1] = [s2.startPaddr, s3.startPaddr, f.paddr];
    s2.drop();
    s3.drop();
    f.drop();
    // Dropped last but in another class: not what a 2-frame request gets.
    const t2 = sys.allocSegment(2);
    expect(t2.startPaddr).toBe(p2);
    const g = sys.allocFrame();
    expect(g.paddr).toBe(p1);
    const t3 = sys.allocSegment(3);
    expect(t3.startPaddr).toBe(p3);
    dropAll([t2, g, t3]);
    sys.checkInvariants();
  });

  it('segments of more than 4 frames go to and from the buddy level, bypassing the caches', () => {
    const sys = makeSystem();
    const s = sys.allocSegment(5);
    expect(buddyFree(sys)).toBe(59);
    expect(cachedFrames(sys)).toBe(0);
    s.drop();
    expect(buddyFree(sys)).toBe(64);
    expect(cachedFrames(sys)).toBe(0);
    sys.checkInvariants();
  });
});

describe('batches from and to the buddy level', () => {
  it('the first single frame takes a batch of 16 from the buddy level; the next 15 do not touch it', () => {
    const sys = makeSystem();
    expect(buddyFree(sys)).toBe(64);
    const held = [sys.allocFrame()];
    expect(buddyFree(sys)).toBe(48);
    expect(cacheCount(sys, 1)).toBe(15);
    for (let i = 0; i < 15; i++) {
      held.push(sys.allocFrame());
      expect(buddyFree(sys)).toBe(48);
      expect(sys._region.mem.i32[H_BUDDY_LOCK]).toBe(0);
    }
    expect(cacheCount(sys, 1)).toBe(0);
    // The batch was one contiguous block handed out in address order.
    const sorted = held.map((f) => f.paddr / PAGE_SIZE).sort((a, b) => a - b);
    expect(sorted).toEqual(Array.from({ length: 16 }, (_, i) => sorted[0] + i));
    held.push(sys.allocFrame()); // the 17th: the next batch
    expect(buddyFree(sys)).toBe(32);
    expect(cacheCount(sys, 1)).toBe(15);
    expect(sys.stats().free).toBe(64 - 17);
    dropAll(held);
    sys.checkInvariants();
  });

  it('runs of 2..4 frames come in batches of 4 runs', () => {
    for (let k = 2; k <= 4; k++) {
      const sys = makeSystem();
      const held: Segment<Untyped>[] = [sys.allocSegment(k)];
      expect(buddyFree(sys)).toBe(64 - 4 * k);
      expect(cacheCount(sys, k)).toBe(3);
      for (let i = 0; i < 3; i++) {
        held.push(sys.allocSegment(k));
        expect(buddyFree(sys)).toBe(64 - 4 * k);
      }
      held.push(sys.allocSegment(k));
      expect(buddyFree(sys)).toBe(64 - 8 * k);
      expect(sys.stats().free).toBe(64 - 5 * k);
      dropAll(held);
      expect(sys.stats().free).toBe(64);
      sys.checkInvariants();
    }
  });

  it('a full cache of single frames gives half of itself back to the buddy level', () => {
    const sys = makeSystem({ frames: 128 });
    const held = allocFrames(sys, 48); // three batches, the cache empty again
    expect(cacheCount(sys, 1)).toBe(0);
    expect(buddyFree(sys)).toBe(80);
    for (let i = 0; i < 32; i++) held[i].drop();
    expect(cacheCount(sys, 1)).toBe(CACHE_CAPACITY[1]);
    expect(buddyFree(sys)).toBe(80); // filling the cache does not touch the buddy level
    held[32].drop(); // the 33rd: the new run and the 15 on top go back
    expect(cacheCount(sys, 1)).toBe(17);
    expect(buddyFree(sys)).toBe(96);
    expect(sys.stats().free).toBe(128 - 15);
    sys.checkInvariants();
    // The bottom of the stack stayed: the next frame is the 17th dropped.
    const f = sys.allocFrame();
    expect(f.paddr).toBe(held[16].paddr);
    f.drop();
    for (let i = 33; i < 48; i++) held[i].drop();
    expect(sys.stats().free).toBe(128);
    sys.checkInvariants();
  });

  it('a full cache of runs gives half of itself back to the buddy level', () => {
    const sys = makeSystem({ frames: 128 });
    const held = Array.from({ length: 12 }, () => sys.allocSegment(2)); // three batches of 4
    expect(cacheCount(sys, 2)).toBe(0);
    expect(buddyFree(sys)).toBe(128 - 24);
    for (let i = 0; i < 8; i++) held[i].drop();
    expect(cacheCount(sys, 2)).toBe(CACHE_CAPACITY[2]);
    expect(buddyFree(sys)).toBe(128 - 24);
    held[8].drop();
    expect(cacheCount(sys, 2)).toBe(5);
    expect(buddyFree(sys)).toBe(128 - 24 + 8);
    sys.checkInvariants();
    const s = sys.allocSegment(2);
    expect(s.startPaddr).toBe(held[4].startPaddr);
    s.drop();
    for (let i = 9; i < 12; i++) held[i].drop();
    expect(sys.stats().free).toBe(128);
    sys.checkInvariants();
  });
});

describe('draining and counting', () => {
  it('drainCaches returns the number of cached frames and leaves the caches empty', () => {
    const sys = makeSystem();
    const held = [sys.allocFrame(), sys.allocSegment(2), sys.allocSegment(3), sys.allocSegment(4)];
    dropAll(held);
    const cached = 16 + 8 + 12 + 16;
    expect(cachedFrames(sys)).toBe(cached);
    expect(buddyFree(sys)).toBe(64 - cached);
    expect(sys.stats().free).toBe(64);
    expect(sys.drainCaches()).toBe(cached);
    for (let k = 1; k <= 4; k++) expect(cacheCount(sys, k)).toBe(0);
    expect(cachedFrames(sys)).toBe(0);
    expect(buddyFree(sys)).toBe(64);
    expect(sys.stats().free).toBe(64);
    sys.checkInvariants();
    expect(sys.drainCaches()).toBe(0);
    // The whole region is one free chunk again: a 64-frame segment can be had.
    const all = sys.allocSegment(64);
    all.drop();
    sys.checkInvariants();
  });

  it('close() gives the worker its cached frames back to the buddy level', () => {
    const sys = makeSystem();
    const b = FrameSystem.attach(sys.handle, { separate: true });
    const f = b.allocFrame();
    const s = b.allocSegment(3);
    f.drop();
    s.drop();
    const id = b.workerId;
    expect(cachedFrames(sys, id)).toBe(16 + 12);
    expect(buddyFree(sys)).toBe(64 - 28);
    b.close();
    expect(cachedFrames(sys, id)).toBe(0);
    expect(buddyFree(sys)).toBe(64);
    expect(sys.workers()).toEqual([1]);
    sys.checkInvariants();
  });

  it('stats().free and freeFrames() count cached frames as free', () => {
    const sys = makeSystem();
    const f = sys.allocFrame();
    expect(buddyFree(sys)).toBe(48);
    expect(sys.stats()).toEqual(expect.objectContaining({ free: 63, used: 1, shared: 1, raw: 0 }));
    expect(sys.freeFrames()).toBe(63);
    f.drop();
    expect(buddyFree(sys)).toBe(48);
    expect(sys.stats()).toEqual(expect.objectContaining({ free: 64, used: 0, shared: 0, raw: 0 }));
    expect(sys.freeFrames()).toBe(64);
    // A raw frame taken from the cache is not free; given back, it is.
    const p = sys.allocator.alloc(1, 1) as Paddr;
    expect(sys.stats()).toEqual(expect.objectContaining({ free: 63, raw: 1 }));
    sys.allocator.dealloc(p, 1);
    expect(sys.stats()).toEqual(expect.objectContaining({ free: 64, raw: 0 }));
    sys.checkInvariants();
  });
});

describe('one cache per worker', () => {
  it('a frame dropped by worker B is not reused by worker A', () => {
    const sys = makeSystem();
    const b = FrameSystem.attach(sys.handle, { separate: true });
    const f = b.allocFrame();
    const p = f.paddr;
    f.drop();
    expect(cachedAllocator(sys).cachedRuns(b.workerId)).toContainEqual([p / PAGE_SIZE, 1]);
    const g = sys.allocFrame();
    expect(g.paddr).not.toBe(p);
    expect(cachedAllocator(sys).cachedRuns(sys.workerId)).not.toContainEqual([p / PAGE_SIZE, 1]);
    // B gets it back.
    const h = b.allocFrame();
    expect(h.paddr).toBe(p);
    dropAll([g, h]);
    sys.checkInvariants();
    b.close();
    expect(sys.stats().free).toBe(64);
  });

  it('a frame goes to the cache of the worker that drops it last', () => {
    const sys = makeSystem();
    const b = FrameSystem.attach(sys.handle, { separate: true });
    const f = b.allocFrame();
    const p = f.intoRaw(); // handed to A by address
    Frame.fromRaw(sys, p).drop();
    expect(cachedAllocator(sys).cachedRuns(sys.workerId)).toContainEqual([p / PAGE_SIZE, 1]);
    const g = sys.allocFrame();
    expect(g.paddr).toBe(p);
    g.drop();
    b.close();
    sys.checkInvariants();
  });

  it('with all frames taken, B drains its own cache before NoMemory, not asking A', () => {
    const sys = makeSystem();
    const b = FrameSystem.attach(sys.handle, { separate: true });
    const bFrames = allocFrames(b, 16);
    const aFrames = allocFrames(sys, 48);
    expect(buddyFree(sys)).toBe(0);
    dropAll(bFrames); // 16 single frames in B's cache
    dropAll(aFrames.slice(0, 8)); // 8 in A's
    expect(cachedFrames(sys, b.workerId)).toBe(16);
    expect(cachedFrames(sys)).toBe(8);
    // A 2-frame run: none in B's class-2 cache, none at the buddy level.
    const s = b.allocSegment(2);
    expect(s.nframes).toBe(2);
    expect(bFrames.map((f) => f.paddr)).toContain(s.startPaddr);
    expect(cachedFrames(sys, b.workerId)).toBe(0);
    expect(buddyFree(sys)).toBe(14);
    expect(cachedFrames(sys)).toBe(8); // A's cache untouched: B's own frames sufficed
    s.drop();
    dropAll(aFrames.slice(8));
    b.close();
    expect(sys.stats().free).toBe(64);
    sys.checkInvariants();
  });

  for (const k of [1, 2, 3, 4]) {
    it(`frames cached only in an idle worker A (runs of ${k}): B takes them without A's help, never NoMemory while they last`, () => {
      const sys = makeSystem();
      const b = FrameSystem.attach(sys.handle, { separate: true });
      const aFrames: (Frame<Untyped> | Segment<Untyped>)[] = [];
      for (;;) {
        try {
          aFrames.push(k === 1 ? sys.allocFrame() : sys.allocSegment(k));
        } catch {
          break;
        }
      }
      const rest: Paddr[] = []; // what fragmentation left, taken raw from the buddy level
      for (let p = cachedAllocator(sys).buddy.alloc(1, 1); p !== null; p = cachedAllocator(sys).buddy.alloc(1, 1)) rest.push(p);
      expect(buddyFree(sys)).toBe(0);
      expect(cachedFrames(sys)).toBe(0);
      for (const f of aFrames.slice(0, 3)) f.drop(); // 3 runs of k in A's class-k cache
      const cachedByA = aFrames.slice(0, 3).map((f) => ('startPaddr' in f ? f.startPaddr : f.paddr));
      expect(cachedFrames(sys)).toBe(3 * k);
      // A makes no allocator call from here on (idle in this thread): B still gets every frame.
      const got = allocFrames(b, 3 * k);
      expect(got.map((f) => f.paddr).filter((p) => cachedByA.some((q) => p >= q && p < q + k * PAGE_SIZE))).toHaveLength(3 * k);
      expect(cachedFrames(sys)).toBe(0);
      sys.checkInvariants();
      expectNoChange(b, () => b.allocFrame(), AllocError, 'NoMemory'); // now memory is really gone
      // A's stack still names the stolen runs (stale): its next pops skip them.
      expect(cacheCount(sys, k)).toBe(3);
      expect(() => sys.allocFrame()).toThrow(AllocError); // A's own drain before NoMemory drops them
      expect(cacheCount(sys, k)).toBe(0);
      dropAll(got);
      for (const f of aFrames.slice(3)) f.drop();
      for (const p of rest) cachedAllocator(sys).buddy.dealloc(p, 1);
      b.close();
      expect(sys.stats().free).toBe(64);
      sys.checkInvariants();
    });
  }

  it("a worker's stale entries (runs stolen from it) are skipped, and its cache works on", () => {
    const sys = makeSystem();
    const b = FrameSystem.attach(sys.handle, { separate: true });
    const a = allocFrames(sys, 64);
    dropAll(a.slice(0, 10)); // A caches 10 frames
    const stolen = allocFrames(b, 10); // B takes them all (a steal: nothing else is free)
    expect(cachedFrames(sys)).toBe(0);
    expect(cacheCount(sys, 1)).toBe(10); // the entries are still there, stale
    dropAll(stolen); // into B's cache
    a[10].drop(); // A caches one more, on top of its stale entries
    expect(cachedFrames(sys)).toBe(1);
    const g = sys.allocFrame();
    expect(g.paddr).toBe(a[10].paddr); // the live one
    const h = sys.allocFrame(); // the stale entries are skipped and dropped; B's cache is stolen from
    expect(cacheCount(sys, 1)).toBe(0);
    expect(stolen.map((f) => f.paddr)).toContain(h.paddr);
    expect(cachedFrames(sys, b.workerId)).toBe(0);
    sys.checkInvariants();
    g.drop();
    h.drop();
    dropAll(a.slice(11));
    b.close();
    expect(sys.stats().free).toBe(64);
    sys.checkInvariants();
  });

  it('NoMemory when memory really is exhausted: nothing is stolen, nothing changes', () => {
    const sys = makeSystem({ frames: 16 });
    const b = FrameSystem.attach(sys.handle, { separate: true });
    const held = allocFrames(sys, 16);
    expectNoChange(b, () => b.allocFrame(), AllocError, 'NoMemory');
    dropAll(held);
    b.close();
    sys.checkInvariants();
  });
});

describe('NoMemory after a steal that got nothing (finding F4 of verify/cache.pml)', () => {
  it('the buddy allocator is tried again: a frame another worker freed there meanwhile is found', () => {
    const sys = makeSystem({ frames: 16 });
    const held = allocFrames(sys, 16);
    const buddy = cachedAllocator(sys).buddy;
    const raw = buddy.alloc(1, 1); // nothing free anywhere...
    expect(raw).toBeNull();
    sys.drainCaches();
    const last = held.pop()!;
    const lastPaddr = last.paddr;
    // ... until, while this worker steals (and finds nothing), another worker frees a frame
    // straight to the buddy level (a flush of its full cache, or a reclaim).
    const cache = cachedAllocator(sys) as unknown as { stealCaches(): number };
    const steal = cache.stealCaches.bind(cache);
    Object.defineProperty(cache, 'stealCaches', {
      configurable: true,
      value: () => {
        const got = steal();
        last.drop();
        sys.drainCaches(); // it lands at the buddy level
        return got;
      },
    });
    const g = sys.allocFrame(); // the old fromBuddy: NoMemory here
    expect(g.paddr).toBe(lastPaddr);
    delete (cache as { stealCaches?: unknown }).stealCaches;
    g.drop();
    dropAll(held);
    sys.checkInvariants();
  });
});

describe('a second free of a frame another worker caches', () => {
  for (const checked of [false, true]) {
    it(`is refused, changing nothing: a cached frame${checked ? ', and any frame of a cached run (checked mode)' : ' (its count word says cached)'}`, () => {
      const sys = makeSystem({ checked });
      const b = FrameSystem.attach(sys.handle, { separate: true });
      const p = b.allocator.alloc(1, 1)!;
      b.allocator.dealloc(p, 1); // cached by B
      expectNoChange(sys, () => sys.allocator.dealloc(p, 1), AllocError, 'InvalidArgs');
      const s = b.allocSegment(2);
      const q = s.startPaddr;
      s.drop(); // a run of 2 cached by B
      expectNoChange(sys, () => sys.allocator.dealloc(q, 2), AllocError, 'InvalidArgs');
      if (checked) expectNoChange(sys, () => sys.allocator.dealloc(q + PAGE_SIZE, 1), AllocError, 'InvalidArgs');
      b.close();
      expect(sys.stats().free).toBe(64);
      sys.checkInvariants();
    });
  }
});

describe('checkInvariants on the caches', () => {
  it('a stale entry (its frame left the cache) is no error; a frame marked cached that no stack counts is', () => {
    const sys = makeSystem();
    const f = sys.allocFrame(); // the cache holds the other 15 of the batch
    sys.checkInvariants();
    const i32 = sys._region.mem.i32;
    const base = cacheBase(sys.workerId, 1);
    const count = i32[base];
    i32[base + count + 1] = f.paddr / PAGE_SIZE; // names a held frame: stale, skipped
    i32[base] = count + 1;
    sys.checkInvariants();
    expect(cachedFrames(sys)).toBe(15);
    i32[base] = count;
    const raw = sys.allocator.alloc(1, 1)!; // UNUSED, ours
    const w = sys._region.metaWord + (raw / PAGE_SIZE) * SLOT_WORDS;
    i32[w] = cachedHead(sys.workerId, 1); // marked cached, but in no stack: lost for ever
    expect(() => sys.checkInvariants()).toThrow(InvariantError);
    expect(() => sys.checkInvariants()).toThrow(/marked cached by worker 1 .*no stack of that worker counts it/);
    i32[w] = RC_UNUSED;
    sys.checkInvariants();
    sys.allocator.dealloc(raw, 1);
    f.drop();
  });

  it("catches a cached run (of any worker's cache) that is also free in the buddy allocator", () => {
    const sys = makeSystem();
    const b = FrameSystem.attach(sys.handle, { separate: true });
    b.allocFrame().drop();
    const chunks: [number, number][] = [];
    cachedAllocator(sys).buddy.forEachFree((p, n) => chunks.push([p / PAGE_SIZE, n]));
    const freeIndex = chunks[0][0];
    const i32 = sys._region.mem.i32;
    const w = sys._region.metaWord + freeIndex * SLOT_WORDS;
    expect(i32[w + S_AUX] & AUX_FREE).toBe(AUX_FREE);
    const base = cacheBase(b.workerId, 3);
    expect(i32[base]).toBe(0);
    i32[base + 1] = freeIndex;
    i32[base] = 1;
    i32[w] = cachedHead(b.workerId, 3);
    expect(() => sys.checkInvariants()).toThrow(InvariantError);
    // The buddy allocator's own check may see it first (a free frame that is not UNUSED).
    expect(() => sys.checkInvariants()).toThrow(new RegExp(`cache of worker ${b.workerId}: .*cached and free in the buddy allocator|free frame .*not UNUSED|UNUSED`));
    i32[w] = RC_UNUSED;
    i32[base] = 0;
    sys.checkInvariants();
    b.close();
  });

  it('catches cached runs that overlap (a frame in two runs), and a run whose other frames are not UNUSED', () => {
    const sys = makeSystem();
    const s2 = sys.allocSegment(2);
    const [x] = [s2.startPaddr / PAGE_SIZE];
    s2.drop(); // A's class-2 cache: [x, 2] (and the rest of the batch)
    sys.checkInvariants();
    const i32 = sys._region.mem.i32;
    const base1 = cacheBase(sys.workerId, 1);
    const w1 = sys._region.metaWord + (x + 1) * SLOT_WORDS;
    i32[base1 + 1] = x + 1; // x + 1 also heads a run of 1 in A's class-1 stack
    i32[base1] = 1;
    i32[w1] = cachedHead(sys.workerId, 1);
    expect(() => sys.checkInvariants()).toThrow(InvariantError);
    i32[w1] = RC_UNUSED;
    i32[base1] = 0;
    sys.checkInvariants();
  });

  it("stats() of a worker without caches counts the other workers' cached frames as free, not raw", () => {
    const sys = makeSystem({ caches: false });
    const b = FrameSystem.attach(sys.handle, { separate: true });
    const f = b.allocFrame(); // B's cache: the other 15 of the batch
    // The region is the same from every worker: 63 free, 1 held, nothing raw.
    expect(b.stats()).toEqual(expect.objectContaining({ free: 63, shared: 1, raw: 0 }));
    expect(sys.stats()).toEqual(expect.objectContaining({ free: 63, shared: 1, raw: 0 }));
    f.drop();
    b.close();
  });

  it("a worker without caches takes the others' cached frames before NoMemory", () => {
    const sys = makeSystem({ caches: false });
    const b = FrameSystem.attach(sys.handle, { separate: true });
    const held = allocFrames(b, 64);
    dropAll(held.slice(0, 5)); // free frames exist, but only in B's cache
    const g = sys.allocFrame(); // B is idle: its cached frames are taken without its help
    expect(held.slice(0, 5).map((h) => h.paddr)).toContain(g.paddr);
    g.drop();
    dropAll(held.slice(5));
    b.close();
    expect((sys.allocator as BuddyAllocator).freeFrames()).toBe(64);
    sys.checkInvariants();
  });
});
