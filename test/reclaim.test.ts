/**
 * `reclaimWorker`: recovery of the share of a worker that died at any instruction.
 *
 * A "dead" worker here is a `FrameSystem.attach`ed view in this thread that the test stops using
 * (never closed). Deaths inside an operation are simulated by running the operation's first
 * steps with the library's own internals (journal, slot and allocator functions, with the dead
 * view as host) or by writing its record and slots by hand as those steps would, then stopping.
 * After each scenario the region invariant holds and every frame nobody holds is free. The last
 * test terminates real `worker_threads` while they churn.
 */
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AllocError,
  Frame,
  FrameAllocOptions,
  FrameSystem,
  FrameSystemError,
  MAX_WORKERS,
  PAGE_SIZE,
  UniqueFrame,
  defineMeta,
  type FrameSystemOptions,
  type Paddr,
  type ReclaimReport,
} from '../src/index.js';
import type { CachedAllocator } from '../src/frame-allocator/cache.js';
import { appendRun, journalOf, recordOp, recordRun, recordRuns } from '../src/region/journal.js';
import { settleStolen, stealRun, workerRecord } from '../src/region/workers.js';
import { claimOrThrow, claimedTypeId, writeMeta } from '../src/frame/meta.js';
import { dropLast } from '../src/frame/teardown.js';
import { decRef, cachedHead, AUX_FREE, RC_UNUSED, SLOT_WORDS, S_AUX, S_NEXT, S_OWNER, S_PREV, S_STORAGE, S_TYPE } from '../src/region/meta.js';
import { CACHE_BASE, TOKEN_ID_BITS, WORKER_ATTACHED, WORKER_EXITED, WORKER_FREE, W_GEN, W_CACHE, W_STATE } from '../src/region/workers.js';
import { H_BUDDY_FREE, H_BUDDY_HEADS, H_BUDDY_LOCK, H_DEFER_HEAD, H_DEFER_LOCK, H_REGISTRY, H_REG_LOCK, MAX_ORDER, TYPE_ENTRY_WORDS } from '../src/region/geometry.js';
import { OP_DROP, OP_OWNED, OP_RAW } from '../src/region/journal.js';
import { TYPE_FLAG_ON_DROP, T_FLAGS } from '../src/region/registry.js';
import { MockMeta, expectAllocatable, firstDifference, makeSystem, snapshot } from './helpers.js';
import { RUNTIME } from './runtimes/current.js';

/** Metadata whose onDrop calls are recorded. */
const onDropCalls: number[] = [];
const Counted = defineMeta('test.reclaim.counted', { value: 'u32' }, { onDrop: (m) => onDropCalls.push(m.value) });

/** A region (worker 1, the survivor) and a second worker that is about to die. */
function world(options: Partial<FrameSystemOptions> = {}): { sys: FrameSystem; dead: FrameSystem; id: number; i32: Int32Array } {
  const sys = makeSystem(options);
  const dead = FrameSystem.attach(sys.handle, { separate: true });
  onDropCalls.length = 0;
  return { sys, dead, id: dead.workerId, i32: sys._region.mem.i32 };
}

function cacheOf(sys: FrameSystem): CachedAllocator {
  expect(sys._cache).toBeDefined();
  return sys._cache as CachedAllocator;
}

/** Word index of the slot of frame `index`. */
function slot(sys: FrameSystem, index: number): number {
  return sys._region.metaWord + index * SLOT_WORDS;
}

/** Word index of the count of the class-k cache of worker `id`. */
function cacheBase(id: number, k: number): number {
  return workerRecord(id) + W_CACHE + CACHE_BASE[k];
}

function report(id: number, r: Partial<ReclaimReport>): ReclaimReport {
  return { workerId: id, locks: [], framesFreed: 0, teardowns: 0, leftBusy: 0, pending: false, subscriptions: 0, heapSlots: 0, ...r };
}

/** `n` single frames allocated by `sys`. */
function allocN(sys: FrameSystem, n: number): Frame[] {
  return Array.from({ length: n }, () => sys.allocFrame());
}

/** The invariant holds, nothing is busy, and `free` frames are free. */
function expectHealthy(sys: FrameSystem, free: number): void {
  sys.checkInvariants();
  expect(sys.stats()).toEqual(expect.objectContaining({ free, busy: 0 }));
}


/**
 * Makes `obj[method]` (on this instance only) do its work and then throw, as if the worker died
 * the moment the call returned. Returns the error it throws.
 */
function dieAfter<T extends object, K extends keyof T>(obj: T, method: K): Error {
  const died = new Error(`died right after ${String(method)}`);
  const original = obj[method] as unknown as (...args: unknown[]) => unknown;
  const patched = (...args: unknown[]): never => {
    original.apply(obj, args);
    throw died;
  };
  Object.defineProperty(obj, method, { value: patched, configurable: true });
  return died;
}

describe('reclaimWorker: which ids', () => {
  it("refuses its own id, 0, MAX_WORKERS + 1 and non-integers ('BadWorker'), changing nothing", () => {
    const sys = makeSystem();
    const other = FrameSystem.attach(sys.handle, { separate: true });
    for (const [who, id] of [
      [sys, 1],
      [other, other.workerId],
      [sys, 0],
      [sys, -1],
      [sys, MAX_WORKERS + 1],
      [sys, 1.5],
      [sys, Number.NaN],
      [sys, Number.POSITIVE_INFINITY],
    ] as const) {
      const before = snapshot(sys);
      let caught: unknown;
      try {
        who.reclaimWorker(id);
      } catch (e) {
        caught = e;
      }
      expect(caught, `reclaimWorker(${id}) by worker ${who.workerId}`).toBeInstanceOf(FrameSystemError);
      expect((caught as FrameSystemError).code).toBe('BadWorker');
      expect(firstDifference(before, snapshot(sys))).toBe(-1);
    }
    expect(sys.workers()).toEqual([1, other.workerId]);
    other.close();
  });

  it('a worker id that is not attached: a no-op report', () => {
    const sys = makeSystem();
    const closed = FrameSystem.attach(sys.handle, { separate: true });
    closed.allocFrame().drop();
    closed.close();
    const f = sys.allocFrame();
    const before = snapshot(sys);
    for (const id of [closed.workerId, 7, MAX_WORKERS]) {
      expect(sys.reclaimWorker(id)).toEqual(report(id, {}));
    }
    expect(firstDifference(before, snapshot(sys))).toBe(-1);
    expect(sys.workers()).toEqual([1]);
    f.drop();
    sys.checkInvariants();
  });
});

describe('reclaimWorker: a dead worker with cached frames', () => {
  it('returns its cached frames, frees its id, and a new attach reuses it', () => {
    const { sys, dead, id, i32 } = world({ frames: 128 });
    const mine = sys.allocFrame(); // the survivor's own frame and cache are left alone
    const handles = [dead.allocFrame(), dead.allocFrame(), dead.allocSegment(2), dead.allocSegment(3), dead.allocSegment(4)];
    for (const h of handles) h.drop();
    const cached = 16 + 8 + 12 + 16;
    expect(cacheOf(sys).cachedFrames(id)).toBe(cached);
    expect(sys.workers()).toEqual([1, id]);
    const ownCache = cacheOf(sys).cachedRuns(1);

    expect(sys.reclaimWorker(id)).toEqual(report(id, { framesFreed: cached }));
    expect(sys.workers()).toEqual([1]);
    expect(cacheOf(sys).cachedFrames(id)).toBe(0);
    expect(cacheOf(sys).cachedRuns(1)).toEqual(ownCache);
    // Its record: free, caches and journals empty (the generation word stays).
    const rec = workerRecord(id);
    expect(Array.from(i32.subarray(rec, rec + W_GEN)).every((w) => w === 0)).toBe(true);
    const gen = i32[rec + W_GEN];
    expect(cacheOf(sys).buddy.freeFrames()).toBe(128 - 1 - 15);
    expectHealthy(sys, 127);

    // A second reclaim of the same id is a no-op.
    expect(sys.reclaimWorker(id)).toEqual(report(id, {}));
    expectHealthy(sys, 127);

    const next = FrameSystem.attach(sys.handle, { separate: true });
    expect(next.workerId).toBe(id);
    expect(next._region.token).not.toBe(dead._region.token); // a new generation
    expect(i32[rec + W_GEN]).not.toBe(gen);
    expect(cacheOf(next).cachedFrames(id)).toBe(0);
    next.allocFrame().drop();
    next.close();
    mine.drop();
    expectHealthy(sys, 128);
    expectAllocatable(sys, 128);
  });

  it('frames it still held through handles stay in use; whoever has the address can take them back', () => {
    const { sys, dead, id } = world();
    const f = dead.allocFrame(MockMeta, { value: 4 });
    const p = f.intoRaw(); // e.g. sent to the survivor by address before the death
    const s = dead.allocSegment(2); // held when it died: leaks by design
    expect(sys.reclaimWorker(id)).toEqual(report(id, { framesFreed: 15 + 6 }));
    expect(sys.stats()).toEqual(expect.objectContaining({ free: 61, shared: 3, busy: 0 }));
    sys.checkInvariants();
    const g = Frame.fromRaw(sys, p, MockMeta);
    expect(g.meta.value).toBe(4);
    g.drop();
    expect(s.nframes).toBe(2);
    expectHealthy(sys, 62);
  });
});

describe('reclaimWorker: workers that died together', () => {
  /** Two workers with 16 cached frames each; `a` died holding the allocator lock. */
  function twoDead(): { sys: FrameSystem; i32: Int32Array; a: number; b: number } {
    const sys = makeSystem({ reclaimWaitMs: 20 }); // instead of about a second
    const [a, b] = [FrameSystem.attach(sys.handle, { separate: true }), FrameSystem.attach(sys.handle, { separate: true })];
    a.allocFrame().drop();
    b.allocFrame().drop();
    const i32 = sys._region.mem.i32;
    i32[H_BUDDY_LOCK] = a._region.token;
    return { sys, i32, a: a.workerId, b: b.workerId };
  }

  it('together (reclaimWorkers): the holder\'s lock is taken over first, both are finished', () => {
    const { sys, a, b } = twoDead();
    expect(sys.reclaimWorkers([b, a])).toEqual([report(b, { framesFreed: 16 }), report(a, { locks: ['allocator'], framesFreed: 16 })]);
    expect(sys.workers()).toEqual([1]);
    expectHealthy(sys, 64);
    expectAllocatable(sys, 64);
  });

  it("one by one, the holder last (as from each Worker's 'exit'): the first is pending, the holder's reclaim finishes both", () => {
    const { sys, i32, a, b } = twoDead();
    const before = Array.from(i32.subarray(0, sys._region.metaWord + 64 * SLOT_WORDS)); // header and slots
    expect(sys.reclaimWorker(b)).toEqual(report(b, { pending: true }));
    // Only its state changed (the allocator lock is held: nothing else can be looked at through
    // the allocator): its cache and journals wait, its id stays taken.
    expect(i32[workerRecord(b) + W_STATE]).toBe(WORKER_EXITED);
    const after = Array.from(i32.subarray(0, sys._region.metaWord + 64 * SLOT_WORDS));
    after[workerRecord(b) + W_STATE] = WORKER_ATTACHED;
    expect(after).toEqual(before);
    expect(sys.workers()).toEqual([1, a]);
    expect(sys.reclaimWorker(a)).toEqual(report(a, { locks: ['allocator'], framesFreed: 16 }));
    expect(i32[workerRecord(b) + W_STATE]).toBe(WORKER_FREE);
    expect(cacheOf(sys).cachedFrames(b)).toBe(0);
    expect(sys.workers()).toEqual([1]);
    expectHealthy(sys, 64);
    // Both ids are free again.
    const next = [FrameSystem.attach(sys.handle, { separate: true }), FrameSystem.attach(sys.handle, { separate: true })];
    expect(next.map((w) => w.workerId).sort()).toEqual([a, b].sort());
    for (const w of next) w.close();
    expectAllocatable(sys, 64);
  });

  it('pending because a live holder was slow: any later reclaim finishes it, and a second one changes nothing', () => {
    const { sys, i32, a, b } = twoDead();
    const slow = FrameSystem.attach(sys.handle, { separate: true });
    i32[H_BUDDY_LOCK] = slow._region.token; // a live worker holds it (a has died without it)
    expect(sys.reclaimWorker(b)).toEqual(report(b, { pending: true }));
    i32[H_BUDDY_LOCK] = 0; // it lets go
    expect(sys.reclaimWorkers([])).toEqual([]); // no id: only what is pending
    expect(i32[workerRecord(b) + W_STATE]).toBe(WORKER_FREE);
    expect(cacheOf(sys).cachedFrames(b)).toBe(0);
    expect(sys.reclaimWorker(b)).toEqual(report(b, {}));
    expect(sys.reclaimWorker(a)).toEqual(report(a, { framesFreed: 16 }));
    slow.close();
    expectHealthy(sys, 64);
    expectAllocatable(sys, 64);
  });
});

describe.each([{ checked: false }, { checked: true }])('reclaimWorker: deaths inside operations (checked: $checked)', ({ checked }) => {
  describe('(a) the allocator lock', () => {
    it('died holding it with the free lists half updated: they are rebuilt from the free marks', () => {
      const { sys, dead, id, i32 } = world({ checked });
      const held = [sys.allocFrame(), sys.allocSegment(5)];
      dead.allocFrame().drop(); // its cache: 16 frames
      // As allocChunk leaves it: the largest free chunk unlinked (still marked free, no longer a
      // head), the free count not updated yet. The marks are right; the lists are not.
      let order = MAX_ORDER - 1;
      while (i32[H_BUDDY_HEADS + order] === 0) order--;
      const head = i32[H_BUDDY_HEADS + order] - 1;
      const next = i32[slot(sys, head) + S_NEXT];
      i32[H_BUDDY_HEADS + order] = next;
      if (next !== 0) i32[slot(sys, next - 1) + S_PREV] = 0;
      i32[slot(sys, head) + S_NEXT] = 0;
      i32[slot(sys, head) + S_AUX] = AUX_FREE;
      i32[H_BUDDY_FREE] = 12345;
      i32[H_BUDDY_LOCK] = dead._region.token;

      expect(sys.reclaimWorker(id)).toEqual(report(id, { locks: ['allocator'], framesFreed: 16 }));
      expect(i32[H_BUDDY_LOCK]).toBe(0);
      expect(i32[H_BUDDY_FREE]).toBe(64 - 6 - 15); // the survivor's cache holds 15
      expectHealthy(sys, 58);
      expectAllocatable(sys, 58);
      for (const h of held) h.drop();
      expectHealthy(sys, 64);
    });

    it('died holding it in the middle of a flush: frames already marked free stay free, the others are freed once', () => {
      const { sys, dead, id, i32 } = world({ checked });
      dead.allocFrame().drop();
      const base = cacheBase(id, 1);
      expect(i32[base]).toBe(16);
      // As push() flushes: the runs journaled, popped off the stack, then (under the lock) won
      // back from the cache (their heads' count words UNUSED) and marked free one by one; it
      // died after marking two of four.
      const runs: [number, number][] = [16, 15, 14, 13].map((e) => [i32[base + e], 1]);
      recordRuns(dead._region, runs);
      i32[base] = 12;
      i32[H_BUDDY_LOCK] = dead._region.token;
      for (const [f] of runs) i32[slot(sys, f)] = RC_UNUSED;
      i32[slot(sys, runs[0][0]) + S_AUX] = AUX_FREE;
      i32[slot(sys, runs[1][0]) + S_AUX] = AUX_FREE;

      expect(sys.reclaimWorker(id)).toEqual(report(id, { locks: ['allocator'], framesFreed: 12 + 2 }));
      expectHealthy(sys, 64);
      expectAllocatable(sys, 64);
    });
  });

  describe('(b, c) allocations', () => {
    for (const [n, freed] of [
      [1, 16],
      [3, 12],
      [6, 6],
    ] as const) {
      it(`died between taking ${n} frame(s) from the allocator and claiming them: freed`, () => {
        const { sys, dead, id, i32 } = world({ checked });
        const p = cacheOf(dead).take(n) as Paddr; // journaled OP_OWNED, neither cached nor free
        const index = p / PAGE_SIZE;
        expect(journalOf(sys._region, workerRecord(id))).toEqual([{ index, n, kind: OP_OWNED }]);
        for (let k = index; k < index + n; k++) {
          expect(Atomics.load(i32, slot(sys, k))).toBe(RC_UNUSED);
          expect(i32[slot(sys, k) + S_AUX] & AUX_FREE).toBe(0);
        }
        expect(sys.stats().raw).toBe(n);
        expect(sys.reclaimWorker(id)).toEqual(report(id, { framesFreed: freed }));
        expectHealthy(sys, 64);
        expect(sys.stats().raw).toBe(0);
      });
    }

    it('died after claiming a frame (busy, its own): rolled back and freed', () => {
      const { sys, dead, id, i32 } = world({ checked });
      const p = cacheOf(dead).take(1) as Paddr;
      const w = slot(sys, p / PAGE_SIZE);
      claimOrThrow(dead._region, w, p);
      writeMeta(dead._region, w, claimedTypeId(dead, w, MockMeta), MockMeta, { value: 7 });
      expect(i32[w + S_OWNER]).toBe(id);
      expect(sys.stats().busy).toBe(1);

      expect(sys.reclaimWorker(id)).toEqual(report(id, { framesFreed: 16, teardowns: 1 }));
      expect(i32[w + S_TYPE]).toBe(0);
      expect(i32[w + S_STORAGE]).toBe(0);
      expectHealthy(sys, 64);
    });

    it('died publishing a frame, before the count store: rolled back and freed', () => {
      const { sys, dead, id, i32 } = world({ checked });
      const p = cacheOf(dead).take(1) as Paddr;
      const w = slot(sys, p / PAGE_SIZE);
      claimOrThrow(dead._region, w, p);
      writeMeta(dead._region, w, claimedTypeId(dead, w, MockMeta), MockMeta, { value: 7 });
      // publish is one store (the count); the owner, written when the frame was handed out,
      // still names the dead worker. (An earlier publish cleared the owner first, and a death
      // between the two lost the frame.)
      expect(i32[w + S_OWNER]).toBe(id);
      expect(journalOf(sys._region, workerRecord(id))).toEqual([{ index: p / PAGE_SIZE, n: 1, kind: OP_OWNED }]);
      expect(sys.reclaimWorker(id)).toEqual(report(id, { framesFreed: 16, teardowns: 1 }));
      expectHealthy(sys, 64);
    });

    it('died claiming a segment from the buddy level, halfway: the claimed frames rolled back, all freed', () => {
      const { sys, dead, id } = world({ checked });
      const p = cacheOf(dead).take(6) as Paddr;
      for (let k = 0; k < 3; k++) {
        const q = p + k * PAGE_SIZE;
        const w = slot(sys, q / PAGE_SIZE);
        claimOrThrow(dead._region, w, q);
        writeMeta(dead._region, w, claimedTypeId(dead, w, MockMeta), MockMeta, { value: k });
      }
      expect(sys.reclaimWorker(id)).toEqual(report(id, { framesFreed: 6, teardowns: 3 }));
      expectHealthy(sys, 64);
      expectAllocatable(sys, 64);
    });
  });

  describe('(d) drops', () => {
    it('died in the middle of a last drop (busy, its own): the teardown is completed without onDrop, the frame freed', () => {
      const { sys, dead, id, i32 } = world({ checked });
      const f = dead.allocFrame(Counted, { value: 3 });
      const index = f.paddr / PAGE_SIZE;
      const w = slot(sys, index);
      // dropRef: journaled, the last reference gone, dropLast's first step recorded the owner.
      recordOp(dead._region, OP_DROP, index, 1);
      expect(decRef(dead._region, w)).toBe(1);
      i32[w + S_OWNER] = id;

      expect(sys.reclaimWorker(id)).toEqual(report(id, { framesFreed: 16, teardowns: 1 }));
      expect(onDropCalls).toEqual([]);
      expect(i32[w + S_TYPE]).toBe(0);
      expectHealthy(sys, 64);
    });

    it('died right after the last decrement, before dropLast: the owner was recorded before the decrement', () => {
      const { sys, dead, id, i32 } = world({ checked });
      const f = dead.allocFrame(Counted, { value: 3 });
      const index = f.paddr / PAGE_SIZE;
      const w = slot(sys, index);
      recordOp(dead._region, OP_DROP, index, 1);
      expect(decRef(dead._region, w)).toBe(1); // count 1 -> 0: the last reference was its own
      // dropLast is not entered; decRef wrote the owner before its decrement.
      expect(i32[w + S_OWNER]).toBe(id);
      expect(onDropCalls).toEqual([]);
      expect(sys.reclaimWorker(id)).toEqual(report(id, { framesFreed: 16, teardowns: 1 }));
      expectHealthy(sys, 64);
    });

    it('died in the middle of dropping a unique frame: completed and freed', () => {
      const { sys, dead, id, i32 } = world({ checked });
      const u = new FrameAllocOptions(dead).allocUnique(Counted, { value: 4 });
      const index = u.paddr / PAGE_SIZE;
      const w = slot(sys, index);
      recordOp(dead._region, OP_DROP, index, 1);
      Atomics.store(i32, w, 0);
      i32[w + S_OWNER] = id;
      expect(sys.reclaimWorker(id)).toEqual(report(id, { framesFreed: 16, teardowns: 1 }));
      expect(onDropCalls).toEqual([]);
      expectHealthy(sys, 64);
    });

    it('died after the teardown (onDrop ran, slot UNUSED), before giving the frame back: freed', () => {
      const { sys, dead, id, i32 } = world({ checked });
      const f = dead.allocFrame(Counted, { value: 5 });
      const index = f.paddr / PAGE_SIZE;
      const w = slot(sys, index);
      recordOp(dead._region, OP_DROP, index, 1);
      expect(decRef(dead._region, w)).toBe(1);
      dropLast(dead, w, false); // everything a last drop does but the dealloc
      expect(onDropCalls).toEqual([5]);
      expect(Atomics.load(i32, w)).toBe(RC_UNUSED);
      expect(sys.stats().raw).toBe(1);

      expect(sys.reclaimWorker(id)).toEqual(report(id, { framesFreed: 16 }));
      expect(onDropCalls).toEqual([5]);
      expectHealthy(sys, 64);
      expect(sys.stats().raw).toBe(0);
    });

    it('died halfway through dropping a segment: the torn-down frames freed, the rest still held', () => {
      const { sys, dead, id, i32 } = world({ checked });
      const s = dead.allocSegment(3, Counted, () => ({ value: 6 })); // its class-3 cache: 3 runs
      const index = s.startPaddr / PAGE_SIZE;
      recordOp(dead._region, OP_DROP, index, 3);
      for (let k = index; k < index + 2; k++) {
        expect(decRef(dead._region, slot(sys, k))).toBe(1);
        dropLast(dead, slot(sys, k), true, false); // torn down, waiting for the run's dealloc
      }
      expect(sys.reclaimWorker(id)).toEqual(report(id, { framesFreed: 9 + 2 }));
      expect(onDropCalls).toEqual([6, 6]);
      expect(Atomics.load(i32, slot(sys, index + 2))).toBe(1);
      sys.checkInvariants();
      expect(sys.stats()).toEqual(expect.objectContaining({ free: 63, shared: 1, busy: 0, raw: 0 }));
    });
  });

  describe("(e, f) other workers' frames", () => {
    it('a busy slot that a live worker is tearing down is left alone', () => {
      const { sys, dead, id, i32 } = world({ checked });
      let hook: (() => void) | undefined;
      const Watched = defineMeta('test.reclaim.watched', { value: 'u32' }, { onDrop: () => hook?.() });
      const f = sys.allocFrame(Watched, { value: 1 });
      const index = f.paddr / PAGE_SIZE;
      const w = slot(sys, index);
      const theirs = Frame.fromRaw(dead, f.clone().intoRaw(), Watched);
      expect(theirs.referenceCount).toBe(2);
      // The dead worker's drop: journaled, decremented (not the last), then it died.
      recordOp(dead._region, OP_DROP, index, 1);
      expect(decRef(dead._region, w)).toBeGreaterThan(1);
      // The survivor drops the last reference; reclaim runs while its onDrop runs (slot busy).
      let seen: { rc: number; owner: number; r: ReclaimReport } | undefined;
      hook = () => {
        seen = { rc: Atomics.load(i32, w), owner: i32[w + S_OWNER], r: sys.reclaimWorker(id) };
      };
      f.drop();
      hook = undefined;
      expect(seen).toEqual({ rc: 0, owner: 1, r: report(id, { leftBusy: 1 }) });
      expectHealthy(sys, 64);
    });

    it('an unused frame a live worker tore down (S_OWNER is that worker) is not freed by the dead one’s drop journal', () => {
      const { sys, dead, id } = world({ checked });
      const f = sys.allocFrame(MockMeta, { value: 1 });
      const p = f.paddr;
      const index = p / PAGE_SIZE;
      const theirs = Frame.fromRaw(dead, f.clone().intoRaw(), MockMeta);
      expect(theirs.referenceCount).toBe(2);
      recordOp(dead._region, OP_DROP, index, 1);
      expect(decRef(dead._region, slot(sys, index))).toBeGreaterThan(1);
      f.drop(); // the survivor's last drop: torn down, into the survivor's cache
      expect(cacheOf(sys).cachedRuns(1)).toContainEqual([index, 1]);

      expect(sys.reclaimWorker(id)).toEqual(report(id, {}));
      expectHealthy(sys, 64);
      const g = sys.allocFrame();
      expect(g.paddr).toBe(p); // still in the survivor's cache, and only there
      g.drop();
    });

    it('... nor when that worker has since taken it raw', () => {
      const { sys, dead, id } = world({ checked });
      const f = sys.allocFrame(MockMeta, { value: 1 });
      const p = f.paddr;
      const index = p / PAGE_SIZE;
      const theirs = Frame.fromRaw(dead, f.clone().intoRaw(), MockMeta);
      expect(theirs.referenceCount).toBe(2);
      recordOp(dead._region, OP_DROP, index, 1);
      expect(decRef(dead._region, slot(sys, index))).toBeGreaterThan(1);
      f.drop();
      expect(sys.allocator.alloc(1, 1)).toBe(p); // raw, the survivor's

      expect(sys.reclaimWorker(id)).toEqual(report(id, {}));
      sys.checkInvariants();
      expect(sys.stats()).toEqual(expect.objectContaining({ free: 63, raw: 1, busy: 0 }));
      sys.allocator.dealloc(p, 1);
      expectHealthy(sys, 64);
    });
  });

  describe('(g) raw frames', () => {
    it('died in fromUnused after the claim: rolled back to UNUSED but not freed (it is raw-owned)', () => {
      const { sys, dead, id, i32 } = world({ checked });
      const p = dead.allocator.alloc(1, 1) as Paddr; // raw, its own
      const index = p / PAGE_SIZE;
      const w = slot(sys, index);
      recordOp(dead._region, OP_RAW, index, 1);
      claimOrThrow(dead._region, w, p);
      writeMeta(dead._region, w, claimedTypeId(dead, w, MockMeta), MockMeta, { value: 9 });
      expect(sys.stats()).toEqual(expect.objectContaining({ busy: 1, raw: 0, free: 63 }));

      expect(sys.reclaimWorker(id)).toEqual(report(id, { framesFreed: 15, teardowns: 1 }));
      expect(Atomics.load(i32, w)).toBe(RC_UNUSED);
      sys.checkInvariants();
      expect(sys.stats()).toEqual(expect.objectContaining({ busy: 0, raw: 1, free: 63 }));
      // Whoever has the address still owns it.
      Frame.fromUnused(sys, p, MockMeta, { value: 1 }).drop();
      expectHealthy(sys, 64);
    });

    it('died in fromUnused before the claim: the raw frame is left as it is', () => {
      const { sys, dead, id } = world({ checked });
      const p = dead.allocator.alloc(1, 1) as Paddr;
      recordOp(dead._region, OP_RAW, p / PAGE_SIZE, 1);
      expect(sys.reclaimWorker(id)).toEqual(report(id, { framesFreed: 15 }));
      sys.checkInvariants();
      expect(sys.stats()).toEqual(expect.objectContaining({ busy: 0, raw: 1, free: 63 }));
    });

    it('died in resetAsUnused: the teardown completed, the frame stays raw', () => {
      const { sys, dead, id, i32 } = world({ checked });
      const u = new FrameAllocOptions(dead).allocUnique(Counted, { value: 2 });
      const index = u.paddr / PAGE_SIZE;
      const w = slot(sys, index);
      recordOp(dead._region, OP_RAW, index, 1);
      Atomics.store(i32, w, 0);
      i32[w + S_OWNER] = id;
      expect(sys.reclaimWorker(id)).toEqual(report(id, { framesFreed: 15, teardowns: 1 }));
      expect(onDropCalls).toEqual([]);
      sys.checkInvariants();
      expect(sys.stats()).toEqual(expect.objectContaining({ busy: 0, raw: 1, free: 63 }));
    });
  });

  describe('(h) the other locks', () => {
    it('died holding the type registry lock and the deferred-drop lock: both released', () => {
      const { sys, dead, id, i32 } = world({ checked });
      i32[H_REG_LOCK] = dead._region.token;
      i32[H_DEFER_LOCK] = dead._region.token;
      expect(sys.reclaimWorker(id)).toEqual(report(id, { locks: ['type registry', 'deferred drops'] }));
      expect(i32[H_REG_LOCK]).toBe(0);
      expect(i32[H_DEFER_LOCK]).toBe(0);
      // Both usable again: a new type registers.
      const Fresh = defineMeta(`test.reclaim.fresh.${String(checked)}`, { v: 'u32' });
      sys.allocFrame(Fresh, { v: 1 }).drop();
      expect(sys.drainDeferred()).toBe(0);
      expectHealthy(sys, 64);
    });

    it('all three locks at once', () => {
      const { sys, dead, id, i32 } = world({ checked });
      i32[H_BUDDY_LOCK] = dead._region.token;
      i32[H_REG_LOCK] = dead._region.token;
      i32[H_DEFER_LOCK] = dead._region.token;
      expect(sys.reclaimWorker(id)).toEqual(report(id, { locks: ['allocator', 'type registry', 'deferred drops'] }));
      expectHealthy(sys, 64);
    });

    it("locks held by a live worker are not touched", () => {
      const { sys, id, i32 } = world({ checked });
      const live = FrameSystem.attach(sys.handle, { separate: true });
      i32[H_REG_LOCK] = live._region.token;
      i32[H_DEFER_LOCK] = live._region.token;
      expect(sys.reclaimWorker(id)).toEqual(report(id, {}));
      expect(i32[H_REG_LOCK]).toBe(live._region.token);
      expect(i32[H_DEFER_LOCK]).toBe(live._region.token);
      i32[H_REG_LOCK] = 0;
      i32[H_DEFER_LOCK] = 0;
      live.close();
      expectHealthy(sys, 64);
    });
  });

  describe('(i) the allocator journal', () => {
    it('died in a refill after the lock was released, the batch half pushed: the rest freed', () => {
      const { sys, dead, id, i32 } = world({ checked });
      const block = cacheOf(dead).buddy.allocJournaled(16, 1, (index, n) => recordRun(dead._region, index, n)) as Paddr;
      const first = block / PAGE_SIZE;
      const base = cacheBase(id, 1);
      for (let r = 1; r <= 7; r++) {
        i32[base + r] = first + (16 - r); // as stackRuns: the entry, then the head's mark
        i32[slot(sys, first + (16 - r))] = cachedHead(id, 1);
      }
      i32[base] = 7;
      expect(sys.stats().free).toBe(48 + 7);
      expect(sys.reclaimWorker(id)).toEqual(report(id, { framesFreed: 16 }));
      expectHealthy(sys, 64);
      expectAllocatable(sys, 64);
    });

    it('died in a refill under the lock, after journaling, with some free marks cleared: rebuilt and freed', () => {
      const { sys, dead, id, i32 } = world({ checked });
      const died = new Error('died here');
      let taken = -1;
      expect(() =>
        cacheOf(dead).buddy.allocJournaled(16, 1, (index, n) => {
          recordRun(dead._region, index, n);
          taken = index;
          throw died; // stop right after the journal entry
        }),
      ).toThrow(died);
      // allocJournaled released the lock on the way out: the dead worker still held it, and had
      // cleared the free marks of the first 5 frames.
      i32[H_BUDDY_LOCK] = dead._region.token;
      // (in the order allocJournaled writes them: the owner first, the free mark last).
      for (let k = taken; k < taken + 5; k++) {
        i32[slot(sys, k) + S_PREV] = id;
        i32[slot(sys, k) + S_NEXT] = 0;
        i32[slot(sys, k) + S_AUX] = 0;
      }
      expect(sys.reclaimWorker(id)).toEqual(report(id, { locks: ['allocator'], framesFreed: 5 }));
      expectHealthy(sys, 64);
      expectAllocatable(sys, 64);
    });

    it('died right after a flush gave its runs back: frames another worker took since are not freed again', () => {
      const { sys, dead, id, i32 } = world({ checked });
      const held = Array.from({ length: 48 }, () => dead.allocFrame()); // 3 batches
      const raw = sys.allocator.alloc(16, 1) as Paddr; // the survivor takes the rest, raw
      expect(raw).not.toBeNull();
      expect(cacheOf(sys).buddy.freeFrames()).toBe(0);
      for (let i = 0; i < 32; i++) held[i].drop(); // its cache is full
      // The 33rd drop flushes 16 runs back; the worker dies as the buddy call returns (the lock
      // released, the frames free), before anything after it runs.
      const died = dieAfter(cacheOf(dead) as unknown as { freeOwnRuns(): number }, 'freeOwnRuns');
      expect(() => held[32].drop()).toThrow(died);
      // A death runs no `finally`: the drop's journal entry stays too.
      recordOp(dead._region, OP_DROP, held[32].paddr / PAGE_SIZE, 1);
      expect(cacheOf(sys).buddy.freeFrames()).toBe(16);
      // Meanwhile the survivor's refill takes those 16 frames into its cache.
      const g = sys.allocFrame();
      expect(cacheOf(sys).buddy.freeFrames()).toBe(0);

      const r = sys.reclaimWorker(id);
      expect(r.framesFreed).toBe(17); // its cache, and nothing the survivor has
      sys.checkInvariants();
      // Free: the survivor's cache (15) and the reclaimed cache (17). Held: g, the dead worker's
      // 15 handles, the survivor's 16 raw frames.
      expect(sys.stats()).toEqual(expect.objectContaining({ free: 32, shared: 16, raw: 16, busy: 0 }));
      g.drop();
      sys.allocator.dealloc(raw, 16);
      expectHealthy(sys, 64 - 15);
      expect(i32[H_BUDDY_LOCK]).toBe(0);
    });

    it('died right after giving back a raw run of more than 4 frames: not freed again once another worker took it', () => {
      const { sys, dead, id } = world({ checked });
      const p = dead.allocator.alloc(8, 1) as Paddr;
      const died = dieAfter(cacheOf(dead).buddy, 'addFreeMemory');
      expect(() => dead.allocator.dealloc(p, 8)).toThrow(died); // back at the buddy level, then died
      const q = sys.allocator.alloc(8, 1) as Paddr; // the survivor takes the same run, raw
      expect(q).toBe(p);

      expect(sys.reclaimWorker(id)).toEqual(report(id, {}));
      sys.checkInvariants();
      expect(sys.stats()).toEqual(expect.objectContaining({ free: 56, raw: 8, busy: 0 }));
      sys.allocator.dealloc(q, 8);
      expectHealthy(sys, 64);
    });
  });

  describe('(j) steals: a worker taking the runs another caches, before NoMemory', () => {
    /** The survivor caches `n` single frames and holds the rest; returns the cached ones and the held. */
    function victimCaches(sys: FrameSystem, n: number): { cached: number[]; held: Frame[] } {
      const held = Array.from({ length: 64 }, () => sys.allocFrame());
      for (const f of held.slice(0, n)) f.drop();
      return { cached: held.slice(0, n).map((f) => f.paddr / PAGE_SIZE), held: held.slice(n) };
    }
    const release = (held: Frame[]): void => held.forEach((f) => f.drop());

    it('the thief died after journaling a run, before its CAS: the run stays the victim\'s', () => {
      const { sys, dead, id, i32 } = world({ checked });
      const { cached, held } = victimCaches(sys, 3);
      const f = cached[2];
      i32[H_BUDDY_LOCK] = dead._region.token; // stealCaches holds the allocator lock
      appendRun(dead._region, 0, f, 1);
      expect(journalOf(sys._region, workerRecord(id))).toEqual([{ index: f, n: 1, kind: OP_OWNED }]);
      expect(sys.reclaimWorker(id)).toEqual(report(id, { locks: ['allocator'] }));
      expect(i32[slot(sys, f)]).toBe(cachedHead(sys.workerId, 1));
      expect(cacheOf(sys).cachedFrames(sys.workerId)).toBe(3);
      const g = sys.allocFrame(); // the victim's own pop still has it
      expect(g.paddr).toBe(f * PAGE_SIZE);
      g.drop();
      release(held);
      expectHealthy(sys, 64);
    });

    it('the thief died right after its CAS won: the run is its own, and comes back; the victim skips its entry', () => {
      const { sys, dead, id, i32 } = world({ checked });
      const { cached, held } = victimCaches(sys, 3);
      const f = cached[2];
      i32[H_BUDDY_LOCK] = dead._region.token;
      expect(stealRun(dead._region, sys.workerId, f, 1, 0)).toBe(true);
      expect(i32[slot(sys, f)]).toBe(cachedHead(id, 1));
      expect(cacheOf(sys).cachedFrames(sys.workerId)).toBe(2); // the entry is stale
      expect(sys.reclaimWorker(id)).toEqual(report(id, { locks: ['allocator'], framesFreed: 1 }));
      sys.checkInvariants();
      expect(cacheOf(sys).buddy.freeFrames()).toBe(1);
      const got = allocN(sys, 3);
      expect(got.map((g) => g.paddr / PAGE_SIZE).sort()).toEqual([...cached].sort()); // two from the cache, f from the buddy level
      expect(() => sys.allocFrame()).toThrow(AllocError);
      release(got);
      release(held);
      expectHealthy(sys, 64);
    });

    it('the thief died after settling its runs, before freeing them: freed once', () => {
      const { sys, dead, id, i32 } = world({ checked });
      const { cached, held } = victimCaches(sys, 3);
      i32[H_BUDDY_LOCK] = dead._region.token;
      const runs: [number, number][] = [];
      for (const f of cached) if (stealRun(dead._region, sys.workerId, f, 1, runs.length)) runs.push([f, 1]);
      expect(runs).toHaveLength(3);
      settleStolen(dead._region, runs);
      i32[slot(sys, cached[0]) + S_AUX] = AUX_FREE; // freeRunsLocked marked one free, then died
      expect(sys.reclaimWorker(id)).toEqual(report(id, { locks: ['allocator'], framesFreed: 2 }));
      sys.checkInvariants();
      expect(cacheOf(sys).buddy.freeFrames()).toBe(3);
      release(held);
      expectHealthy(sys, 64);
    });

    it('the victim died with a pop journaled, its CAS lost to a live thief: the frame is the thief\'s, not freed again', () => {
      const { sys, dead, id, i32 } = world({ checked });
      const held = Array.from({ length: 48 }, () => sys.allocFrame());
      const mine = allocN(dead, 16); // the dead worker's batch
      for (const f of mine) f.drop(); // 16 cached by the dead worker
      const f = mine[15].paddr / PAGE_SIZE; // its top
      recordOp(dead._region, OP_OWNED, f, 1); // its pop journaled the top, then it died
      const stolen = allocN(sys, 16); // the survivor runs out and takes all 16, f among them
      expect(stolen.map((g) => g.paddr / PAGE_SIZE)).toContain(f);
      expect(i32[slot(sys, f)]).toBe(1);
      expect(sys.reclaimWorker(id)).toEqual(report(id, {})); // nothing left to free, f untouched
      expect(i32[slot(sys, f)]).toBe(1);
      sys.checkInvariants();
      release([...held, ...stolen]);
      expectHealthy(sys, 64);
    });

    it('a dead worker\'s cache is taken by a live worker before its reclaim; the reclaim then frees only the rest', () => {
      const { sys, dead, id } = world({ checked });
      const held = Array.from({ length: 48 }, () => sys.allocFrame());
      const mine = allocN(dead, 16);
      for (const f of mine.slice(0, 10)) f.drop(); // 10 cached, 6 still held by the dead worker
      const stolen = allocN(sys, 10);
      expect(cacheOf(sys).cachedFrames(id)).toBe(0);
      expect(sys.reclaimWorker(id)).toEqual(report(id, {}));
      sys.checkInvariants();
      release([...held, ...stolen]);
      expectHealthy(sys, 64 - 6); // its 6 handles die with it, by design
    });
  });

  describe('the deferred-drop stack', () => {
    it('a frame on the deferred-drop stack is never torn down by reclaim', () => {
      const { sys, dead, id, i32 } = world({ checked });
      const name = `test.reclaim.late.${String(checked)}`;
      const calls: number[] = [];
      const Late = defineMeta(name, { value: 'u32' }); // no onDrop in this thread (yet)
      const f = dead.allocFrame(Late, { value: 8 });
      const index = f.paddr / PAGE_SIZE;
      const w = slot(sys, index);
      // Another worker defined its onDrop: the registry flag, as defineMeta there sets it.
      Atomics.or(i32, H_REGISTRY + (i32[w + S_TYPE] - 1) * TYPE_ENTRY_WORDS + T_FLAGS, TYPE_FLAG_ON_DROP);
      f.drop(); // the last drop, in a worker without the onDrop: deferred
      expect(i32[H_DEFER_HEAD]).toBe(index + 1);
      expect(Atomics.load(i32, w)).toBe(0);
      recordOp(dead._region, OP_DROP, index, 1); // it died before its drop cleared the journal

      expect(sys.reclaimWorker(id)).toEqual(report(id, { framesFreed: 15 }));
      expect(i32[H_DEFER_HEAD]).toBe(index + 1);
      expect(Atomics.load(i32, w)).toBe(0);
      sys.checkInvariants();
      expect(sys.stats()).toEqual(expect.objectContaining({ busy: 1, free: 63 }));
      // A worker with the onDrop runs it.
      defineMeta(name, { value: 'u32' }, { onDrop: (m) => calls.push(m.value) });
      expect(sys.drainDeferred()).toBe(1);
      expect(calls).toEqual([8]);
      expectHealthy(sys, 64);
    });

    it('a deferred frame it had taken off the stack to tear down: completed without onDrop and freed', () => {
      const { sys, dead, id, i32 } = world({ checked });
      const name = `test.reclaim.taken.${String(checked)}`;
      const calls: number[] = [];
      const Late = defineMeta(name, { value: 'u32' });
      const f = sys.allocFrame(Late, { value: 8 });
      const index = f.paddr / PAGE_SIZE;
      const w = slot(sys, index);
      Atomics.or(i32, H_REGISTRY + (i32[w + S_TYPE] - 1) * TYPE_ENTRY_WORDS + T_FLAGS, TYPE_FLAG_ON_DROP);
      f.drop();
      expect(i32[H_DEFER_HEAD]).toBe(index + 1);
      // takeDeferred in the dead worker: journaled, owned, unlinked; then it died.
      recordOp(dead._region, OP_DROP, index, 1);
      i32[w + S_OWNER] = id;
      i32[H_DEFER_HEAD] = i32[w + S_NEXT];
      i32[w + S_NEXT] = 0;
      defineMeta(name, { value: 'u32' }, { onDrop: (m) => calls.push(m.value) });

      expect(sys.reclaimWorker(id)).toEqual(report(id, { framesFreed: 1, teardowns: 1 }));
      expect(calls).toEqual([]);
      expect(sys.drainDeferred()).toBe(0);
      expectHealthy(sys, 64);
    });
  });
});

describe('reclaimWorker: a real worker stopped at a named step of a steal, then terminated', () => {
  it('died after winning and settling the runs, before freeing them (allocator lock held): the lock is taken over, the runs freed once', async () => {
    const sys = FrameSystem.create({ frames: 64 });
    const held = Array.from({ length: 64 }, () => sys.allocFrame());
    for (const f of held.slice(0, 20)) f.drop(); // 20 frames cached here; this thread then idles
    const worker = new Worker(new URL('./workers/steal-death.worker.js', import.meta.url), { workerData: { handle: sys.handle } });
    try {
      const [msg] = (await once(worker, 'message')) as [{ step: string; workerId: number; raw: number[]; runs: [number, number][] }];
      expect(msg.step).toMatch(/^steal: /);
      expect(msg.raw).toEqual([]); // nothing else was free: the very first allocation stole
      expect(msg.runs.reduce((n, [, k]) => n + k, 0)).toBe(20);
      await worker.terminate();
      // The thief held the allocator lock; the stolen runs are named the thief's, UNUSED, in its journal.
      expect(sys._region.mem.i32[H_BUDDY_LOCK]).not.toBe(0);
      expect(cacheOf(sys).cachedFrames(sys.workerId)).toBe(0); // this thread's entries are stale
      expect(sys.reclaimWorker(msg.workerId)).toEqual(report(msg.workerId, { locks: ['allocator'], framesFreed: 20 }));
      expect(sys._region.mem.i32[H_BUDDY_LOCK]).toBe(0);
      sys.checkInvariants();
      // Every frame is this thread's to allocate again (its stale entries are skipped).
      const again = Array.from({ length: 20 }, () => sys.allocFrame());
      expect(new Set(again.map((f) => f.paddr))).toEqual(new Set(held.slice(0, 20).map((f) => f.paddr)));
      expect(() => sys.allocFrame()).toThrow(AllocError);
      for (const f of [...again, ...held.slice(20)]) f.drop();
      expectHealthy(sys, 64);
    } finally {
      await worker.terminate();
    }
  });
});

// Deno's terminate() does not stop a thread that never returns to its event loop (these churn in
// a loop), and fires 'exit' all the same: the "dead" workers would go on churning after their
// reclaim. test/runtimes/facts.test.ts asserts that, and the README tells Deno users what to do.
describe.skipIf(RUNTIME === 'deno')('reclaimWorker: real workers terminated while they churn', () => {
  const CHURN = new URL('./workers/churn.worker.js', import.meta.url);
  const running = new Set<Worker>();
  const errors: unknown[] = [];

  afterEach(async () => {
    await Promise.all([...running].map((w) => w.terminate()));
    running.clear();
  });

  async function start(sys: FrameSystem, counter: Int32Array, slotIndex: number): Promise<{ worker: Worker; id: number }> {
    const worker = new Worker(CHURN, {
      workerData: { handle: sys.handle, counter: counter.buffer, slot: slotIndex, seed: (Math.random() * 2 ** 32) >>> 0 },
    });
    running.add(worker);
    worker.on('error', (e) => errors.push(e));
    const [msg] = (await once(worker, 'message')) as [{ workerId: number }];
    return { worker, id: msg.workerId };
  }

  async function stop(worker: Worker): Promise<void> {
    await worker.terminate();
    running.delete(worker);
  }

  const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

  /** A random moment: a few milliseconds, then a spin of up to half of one. */
  async function randomMoment(): Promise<void> {
    await sleep(Math.random() * 4);
    const until = performance.now() + Math.random() * 0.5;
    while (performance.now() < until);
  }

  /** Waits until each counter in `slots` moved by `atLeast` (the workers are not stuck). */
  async function progress(counter: Int32Array, slots: readonly number[], atLeast: number): Promise<void> {
    const start = slots.map((s) => Atomics.load(counter, s));
    const deadline = Date.now() + 5000;
    while (slots.some((s, i) => Atomics.load(counter, s) - start[i] < atLeast)) {
      expect(errors).toEqual([]);
      if (Date.now() > deadline) throw new Error(`churning workers made no progress: ${Array.from(counter).join(', ')}`);
      await sleep(1);
    }
  }

  it('every frame the dead workers did not hold is free again, and the invariant holds', async () => {
    const N = 3;
    const MAX_HELD = 8; // frames one churn iteration holds at most
    for (let round = 0; round < 6; round++) {
      const sys = FrameSystem.create({ frames: 512 });
      const i32 = sys._region.mem.i32;
      const counter = new Int32Array(new SharedArrayBuffer(4 * N));
      const all = [...Array(N).keys()];
      const ws = await Promise.all(all.map((s) => start(sys, counter, s)));
      expect(sys.workers()).toEqual([1, ...ws.map((w) => w.id).sort((a, b) => a - b)]);
      await progress(counter, all, 200);

      // One dies at a random moment; reclaiming it must not stop the others.
      await randomMoment();
      await stop(ws[0].worker);
      const first = sys.reclaimWorker(ws[0].id);
      expect(first.teardowns + first.leftBusy).toBeLessThanOrEqual(MAX_HELD);
      await progress(counter, all.slice(1), 200);
      // A new worker takes the freed id.
      const fresh = await start(sys, counter, 0);
      expect(fresh.id).toBe(ws[0].id);
      await progress(counter, all, 200);

      // The others die at random moments, one after another.
      const dying = [fresh, ...ws.slice(1)];
      for (const w of dying) {
        await randomMoment();
        await stop(w.worker);
      }
      // Reclaim the one that died holding the allocator lock first: reclaiming another needs
      // that lock (to free its frames) and would wait for it forever.
      const holder = Atomics.load(i32, H_BUDDY_LOCK) & ((1 << TOKEN_ID_BITS) - 1);
      dying.sort((a, b) => Number(b.id === holder) - Number(a.id === holder));
      const journals = dying.map((w) => ({ id: w.id, journal: journalOf(sys._region, workerRecord(w.id)) }));
      const reports = dying.map((w) => sys.reclaimWorker(w.id));

      expect(errors).toEqual([]);
      expect(sys.workers()).toEqual([1]);
      for (let id = 2; id <= MAX_WORKERS; id++) expect(i32[workerRecord(id) + W_STATE]).toBe(WORKER_FREE);
      expect(i32[workerRecord(1) + W_STATE]).toBe(WORKER_ATTACHED);
      const st = sys.stats();
      const busy = [];
      for (let k = 0; k < sys.nframes; k++) {
        const w = slot(sys, k);
        if (Atomics.load(i32, w) === 0) busy.push({ frame: k, owner: i32[w + S_OWNER], type: i32[w + S_TYPE] });
      }
      const details = JSON.stringify({ round, busy, journals, reports });
      // Nothing is left busy (half set up or half torn down).
      expect(st.busy, details).toBe(0);
      sys.checkInvariants();
      // What the dead workers held through handles (or raw) at the moment they died leaks by
      // design: at most one iteration's frames each. Nothing else is lost.
      const held = st.shared + st.unique + st.raw;
      expect(st.free + held).toBe(st.total);
      expect(held).toBeLessThanOrEqual(MAX_HELD * (N + 1));
      expectAllocatable(sys, st.free);
    }
  });

  /**
   * Two workers churn unique frames they keep raw (`intoRaw`, `fromRaw(...).drop()`); one, which
   * never finishes (so it cannot close and free its id for the other), is terminated at a random
   * moment of the other's churn, and reclaimed while the other goes on. The survivor sees no
   * error, and once the frames the dead one held raw are taken back from its table, every frame
   * is free but the one it may have had between the allocator and its table.
   */
  it('one churning raw unique frames, killed and reclaimed while the other churns: neither sees the other', async () => {
    const RAW = new URL('./workers/raw-churn.worker.js', import.meta.url);
    const Churned = defineMeta('test.raw-churn', { a: 'u32' });
    for (let round = 0; round < 6; round++) {
      const sys = FrameSystem.create({ frames: 512 });
      const table = new SharedArrayBuffer(2 * 64 * 8);
      const counter = new Int32Array(new SharedArrayBuffer(12)); // steps of each; [2]: the survivor's stop
      const spawn = async (slotIndex: number, stoppable: boolean): Promise<{ worker: Worker; id: number; done: Promise<unknown>; exited: Promise<unknown> }> => {
        const worker = new Worker(RAW, { workerData: { handle: sys.handle, table, counter: counter.buffer, slot: slotIndex, stoppable, seed: (Math.random() * 2 ** 32) >>> 0 } });
        running.add(worker);
        worker.on('error', (e) => errors.push(e));
        const done = new Promise((resolve) => worker.on('message', (m) => m === 'done' && resolve(m)));
        const exited = once(worker, 'exit');
        const [msg] = (await once(worker, 'message')) as [{ workerId: number }];
        return { worker, id: msg.workerId, done, exited };
      };
      const dying = await spawn(0, false);
      const survivor = await spawn(1, true);
      expect(survivor.id).not.toBe(dying.id); // the dying one is still attached
      await progress(counter, [0, 1], 200);
      await randomMoment();
      await stop(dying.worker);
      const report = sys.reclaimWorker(dying.id);
      expect(report.leftBusy).toBe(0);
      await progress(counter, [1], 2000); // the survivor churned on, through the reclaim
      Atomics.store(counter, 2, 1);
      await survivor.done;
      await survivor.exited;
      running.delete(survivor.worker);
      expect(errors).toEqual([]);
      sys.checkInvariants();
      // The frames the dead worker held raw, taken back by the number.
      const row = new Float64Array(table, 0, 64);
      for (const v of row) if (v !== 0) UniqueFrame.fromRaw(sys, v - 1, Churned).drop();
      const st = sys.stats();
      expect(st.busy, JSON.stringify({ round, report })).toBe(0);
      expect(st.shared + st.raw).toBe(0);
      expect(st.unique).toBeLessThanOrEqual(1); // allocated, not yet in its table
      expect(st.free + st.unique).toBe(st.total);
      sys.checkInvariants();
      sys.close();
    }
  });
});
