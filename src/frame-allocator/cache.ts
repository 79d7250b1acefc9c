/**
 * Per-worker caches in front of the buddy allocator, as the kernel's per-CPU caches: for runs of
 * 1, 2, 3 and 4 frames, a LIFO stack in this worker's record in shared memory. Only the owner
 * touches its stacks, with plain reads and writes; they are refilled from and flushed to the
 * buddy level in batches, so single frames almost never take the shared lock. Every move is
 * journaled (see `journal.ts`) so that a worker that dies leaves its frames recoverable. This
 * file is the policy (when to refill half, flush half, take others' runs; osdk `cache.rs`); the
 * stacks' words, and the order of each move, are `region/workers.ts`'s.
 */
import { AllocError, InvariantError, hex } from '../base/errors.js';
import { AJ_MAX_RUNS, OP_OWNED } from '../region/journal.js';
import { isFree, isUnused, lockAllocator, unlockAllocator } from '../region/free-lists.js';
import { cachedRun, cachedWorker, countOf, isCachedHead, slotWord } from '../region/meta.js';
import { CACHE_CAPACITY, cacheCount, cachedFramesOf, cachedRunsOf, forEachStealable, GIVEN, giveBackOne, ownFrames, popCached, popCachedRuns, popOne, pushCached, pushOne, releaseCachedRuns, settleStolen, stackRuns, stealRun } from '../region/workers.js';
import { MAX_WORKERS } from '../base/limits.js';
import { PAGE_SHIFT, PAGE_SIZE } from '../base/units.js';
import { INSPECT, inspectSafely } from '../base/inspect.js';
import { RC_UNUSED } from '../region/meta.js';
import type { Paddr } from '../base/units.js';
import type { BuddyAllocator } from './buddy.js';
import type { Region } from '../region/region.js';
import { checkCount, checkRun, type GlobalFrameAllocator } from '../base/global-allocator.js';
import { reachFrames } from '../region/header.js';
import { clearOp, clearRuns, recordOp, recordRun } from '../region/journal.js';

/**
 * The default allocator: this worker's caches of free frames (LIFO stacks of runs of 1–4 frames,
 * in its record in shared memory) in front of the shared `BuddyAllocator`, as the kernel's
 * per-CPU caches. Single frames almost never take the shared lock; a frame dropped and allocated
 * again on the same worker comes back at the same address. Before `NoMemory` it gives its own
 * cached frames back and takes every other worker's (a steal: no help from them is needed, so a
 * worker idle in its event loop or blocked in a wait keeps nothing from the others).
 *
 * @example
 * ```ts
 * const cached = sys.allocator as CachedAllocator; // the default
 * sys.allocFrame().drop(); // through this worker's cache: no shared lock
 * console.log(sys.allocator instanceof CachedAllocator, cached.cachedFrames(sys.workerId) > 0); // true true
 * ```
 */
export class CachedAllocator implements GlobalFrameAllocator {
  /** The 1-frame stack's capacity: 0 when this worker keeps no cache. */
  private readonly oneCap: number;

  /** @internal Made by `FrameSystem` for its region and worker. */
  constructor(
    private readonly r: Region,
    /**
     * The shared buddy allocator behind the caches.
     *
     * @example
     * ```ts
     * const cached = sys.allocator as CachedAllocator;
     * console.log(cached.buddy.freeFrames() + cached.cachedFrames(sys.workerId)); // 64
     * ```
     */
    readonly buddy: BuddyAllocator,
    /** False: this worker keeps no cache of its own (it still sees, and asks for, the others'). */
    private readonly enabled = true,
  ) {
    this.oneCap = enabled ? CACHE_CAPACITY[1] : 0;
  }

  /** @internal What `console.log` shows (Node, Deno, Bun): `CachedAllocator(worker 1, 63 frames free, 3 in this worker's caches)`. */
  [INSPECT](): string {
    return inspectSafely(
      () => `CachedAllocator(worker ${this.r.workerId}, ${this.freeFrames()} frames free, ${this.cachedFrames(this.r.workerId)} in this worker's caches)`,
      () => 'CachedAllocator()',
    );
  }

  /**
   * @internal The hot path of `take(1)`: the top of this worker's 1-frame stack, journaled as
   * the operation in progress, a raw frame of this worker; -1 if the stack holds none (then
   * `take` does the rest).
   */
  popOne(): number {
    return popOne(this.r, RC_UNUSED);
  }

  /**
   * @internal The hot path of `give(paddr, 1)`: caches frame `index` on the 1-frame stack; false
   * if it is full (then `give` does the rest).
   */
  pushOne(index: number): boolean {
    return pushOne(this.r, index, this.oneCap);
  }

  /**
   * Raw frames: `nframes` contiguous frames aligned to `alignFrames`, or null (after taking back
   * the caches' frames). Runs of 1–4 unaligned frames come from this worker's cache.
   * `AllocError('InvalidArgs')` for a count or alignment that is not a positive integer.
   *
   * @example
   * ```ts
   * const paddr = sys.allocator.alloc(2, 1)!; // UNUSED frames, ours
   * console.log(sys.stats().raw); // 2
   * sys.allocator.dealloc(paddr, 2);
   * ```
   */
  alloc(nframes: number, alignFrames = 1): Paddr | null {
    if (nframes === 1 && alignFrames === 1) {
      const index = this.popOne();
      if (index >= 0) {
        clearOp(this.r); // raw frames: from here on they are the caller's
        return index << PAGE_SHIFT >>> 0;
      }
    }
    const paddr = this.take(nframes, alignFrames);
    clearOp(this.r); // raw frames: from here on they are the caller's
    return paddr;
  }

  /**
   * @internal Like `alloc`, but leaves the frames in this worker's operation journal: the caller
   * clears it once the frames are claimed and published.
   */
  take(nframes: number, alignFrames = 1): Paddr | null {
    if (nframes === 1 && alignFrames === 1) {
      const index = this.popOne();
      if (index >= 0) return index << PAGE_SHIFT >>> 0;
    }
    if (!((nframes === 1 || nframes === 2 || nframes === 3 || nframes === 4) && alignFrames === 1)) {
      checkCount(nframes);
      checkCount(alignFrames, 'alignment');
    }
    if (this.enabled && alignFrames === 1 && nframes <= 4) {
      const index = this.pop(nframes);
      if (index >= 0) return index << PAGE_SHIFT >>> 0;
    }
    return this.fromBuddy(nframes, alignFrames);
  }

  /**
   * Takes back raw frames handed out (by any worker): runs of 1..4 frames to this worker's cache,
   * others to the buddy allocator. `AllocError('InvalidArgs')` for a run that is not page-aligned
   * inside the region.
   *
   * @example
   * ```ts
   * const paddr = sys.allocator.alloc(1, 1)!;
   * sys.allocator.dealloc(paddr, 1);
   * console.log(sys.allocator.alloc(1, 1) === paddr); // true: LIFO, the same frame again
   * sys.allocator.dealloc(paddr, 1);
   * ```
   */
  dealloc(paddr: Paddr, nframes: number): void {
    if (this.r.checked) this.refuseCached(paddr, nframes);
    if (nframes === 1 && typeof paddr === 'number' && paddr >= 0 && paddr < this.r.maxPaddr && paddr % PAGE_SIZE === 0) {
      const index = paddr >>> PAGE_SHIFT;
      // No journal entry is needed for one frame: it is the caller's until its cached mark is
      // stored, and named by its stack entry from then on (workers.ts pushOne).
      if (giveBackOne(this.r, index, this.oneCap) === GIVEN) return;
    }
    this.deallocSlow(paddr, nframes);
  }

  /**
   * Checked mode: a frame of `[paddr, paddr + nframes)` in a worker's cache (any frame of a cached
   * run: the first one's count word says so, the others' only the stacks do) is a double free,
   * `AllocError('InvalidArgs')`, before anything changes.
   */
  private refuseCached(paddr: Paddr, nframes: number): void {
    if (typeof paddr === 'number') reachFrames(this.r, paddr + nframes * PAGE_SIZE); // a frame of a grow elsewhere
    checkRun(paddr, nframes, this.r.nframes);
    const free = this.firstFree(paddr >>> PAGE_SHIFT, nframes);
    if (free >= 0) throw new AllocError('InvalidArgs', `frame ${hex(free * PAGE_SIZE)} is already free, in the allocator or a worker's cache (double free)`);
  }

  /** `dealloc` of a run, or of a frame the 1-frame stack could not take (or refused). */
  private deallocSlow(paddr: Paddr, nframes: number): void {
    if (typeof paddr === 'number') reachFrames(this.r, paddr + nframes * PAGE_SIZE); // a frame of a grow elsewhere
    checkRun(paddr, nframes, this.r.nframes);
    const index = paddr >>> PAGE_SHIFT;
    this.buddy.checkFreeable(index, nframes);
    recordOp(this.r, OP_OWNED, index, nframes);
    ownFrames(this.r, index, nframes);
    this.give(paddr, nframes);
    clearOp(this.r);
  }

  /** @internal `dealloc` for frames the caller already journaled. */
  give(paddr: Paddr, nframes: number): void {
    if (nframes === 1 && this.pushOne(paddr >>> PAGE_SHIFT)) return;
    if (this.enabled && nframes <= 4) this.push(nframes, paddr >>> PAGE_SHIFT);
    else this.buddy.addFreeMemory(paddr, nframes);
  }

  /**
   * Adds frames that were never free to the shared buddy allocator (`FrameSystem.create` adds the
   * whole region). Errors as `BuddyAllocator.addFreeMemory`.
   *
   * @example
   * ```ts
   * const paddr = sys.allocator.alloc(8, 1)!; // 8 frames come from the buddy level
   * sys.allocator.addFreeMemory(paddr, 8); // and go back there
   * console.log(sys.freeFrames()); // 64
   * ```
   */
  addFreeMemory(paddr: Paddr, nframes: number): void {
    this.buddy.addFreeMemory(paddr, nframes);
  }

  /**
   * Free frames: in the buddy allocator and in every worker's caches.
   *
   * @example
   * ```ts
   * const frame = sys.allocFrame();
   * console.log((sys.allocator as CachedAllocator).freeFrames()); // 63
   * frame.drop();
   * ```
   */
  freeFrames(): number {
    let cached = 0;
    for (let id = 1; id <= MAX_WORKERS; id++) cached += this.cachedFrames(id);
    return this.buddy.freeFrames() + cached;
  }

  /**
   * Frames in the caches of worker `id` (racy for another worker's).
   *
   * @example
   * ```ts
   * const cached = sys.allocator as CachedAllocator;
   * sys.allocFrame().drop();
   * const before = cached.cachedFrames(sys.workerId);
   * sys.drainCaches();
   * console.log(before > 0, cached.cachedFrames(sys.workerId)); // true 0
   * ```
   */
  cachedFrames(id: number): number {
    return cachedFramesOf(this.r, id);
  }

  /**
   * Calls `fn(paddr, nframes)` for every free run: the buddy allocator's chunks, then every
   * worker's cached runs.
   *
   * @example
   * ```ts
   * let free = 0;
   * (sys.allocator as CachedAllocator).forEachFree((_, nframes) => (free += nframes));
   * console.log(free); // 64
   * ```
   */
  forEachFree(fn: (paddr: Paddr, nframes: number) => void): void {
    this.buddy.forEachFree(fn);
    for (let id = 1; id <= MAX_WORKERS; id++) {
      for (const [index, k] of this.cachedRuns(id)) fn(index * PAGE_SIZE, k);
    }
  }

  /**
   * The runs `[frame index, frames]` in the caches of worker `id` (racy for another worker's).
   *
   * @example
   * ```ts
   * const frame = sys.allocFrame();
   * const index = frame.paddr / PAGE_SIZE;
   * frame.drop(); // on top of this worker's cache of single frames
   * const runs = (sys.allocator as CachedAllocator).cachedRuns(sys.workerId);
   * console.log(runs.some(([start, n]) => start === index && n === 1)); // true
   * ```
   */
  cachedRuns(id: number): [number, number][] {
    return cachedRunsOf(this.r, id);
  }

  /**
   * @internal The first frame of `[index, index + n)` that is free here (marked free in the buddy
   * lists, or in any worker's cache), or -1. Read without the locks (a snapshot): enough to
   * refuse a `fromUnused` of a free frame before anything changes; a frame owned raw is in
   * neither.
   */
  firstFree(index: number, n: number): number {
    let first = -1;
    for (let k = index; k < index + n; k++) {
      if (isFree(this.r, k)) {
        first = k;
        break;
      }
    }
    for (let id = 1; id <= MAX_WORKERS; id++) {
      for (const [start, len] of cachedRunsOf(this.r, id)) {
        if (start < index + n && index < start + len) {
          const k = Math.max(start, index);
          if (first < 0 || k < first) first = k;
        }
      }
    }
    return first;
  }

  /**
   * Checks the buddy allocator and every worker's cache (each cached frame UNUSED, in the region,
   * cached once, not also free in the buddy lists), throwing `InvariantError`.
   * `sys.checkInvariants()` calls it.
   *
   * @example
   * ```ts
   * sys.allocFrame().drop();
   * (sys.allocator as CachedAllocator).checkInvariants(); // returns quietly
   * ```
   */
  checkInvariants(): void {
    this.buddy.checkInvariants();
    const r = this.r;
    const seen = new Map<number, number>();
    const heads = new Set<number>();
    for (let id = 1; id <= MAX_WORKERS; id++) {
      for (const [index, k] of this.cachedRuns(id)) {
        heads.add(index);
        for (let f = index; f < index + k; f++) {
          const where = `cache of worker ${id}: frame ${hex(f * PAGE_SIZE)}`;
          if (!(f >= 0 && f < r.nframes)) throw new InvariantError(where, 'outside the region');
          const other = seen.get(f);
          if (other !== undefined) throw new InvariantError(where, `cached twice (also by worker ${other})`);
          seen.set(f, id);
          if (f > index && !isUnused(r, f)) throw new InvariantError(where, 'in a cached run but not UNUSED');
          if (isFree(r, f)) throw new InvariantError(where, 'cached and free in the buddy allocator');
        }
      }
    }
    // Every frame whose count says "cached" heads a run its worker's stack counts.
    for (let f = 0; f < r.nframes; f++) {
      const rc = countOf(r, slotWord(r, f));
      if (isCachedHead(rc) && !heads.has(f)) {
        throw new InvariantError(`frame ${hex(f * PAGE_SIZE)}`, `marked cached by worker ${cachedWorker(rc)} (a run of ${cachedRun(rc)}), but no stack of that worker counts it`);
      }
    }
  }

  /**
   * Gives this worker's cached frames back to the buddy allocator. Returns how many.
   * `sys.drainCaches()` calls it.
   *
   * @example
   * ```ts
   * const cached = sys.allocator as CachedAllocator;
   * sys.allocFrame().drop();
   * console.log(cached.drainCaches() > 0, cached.buddy.freeFrames()); // true 64
   * ```
   */
  drainCaches(): number {
    const r = this.r;
    let moved = 0;
    for (let k = 1; k <= 4; k++) {
      for (let count = cacheCount(r, k); count > 0; count = cacheCount(r, k)) {
        const take = Math.min(count, AJ_MAX_RUNS);
        const runs: [number, number][] = [];
        popCachedRuns(r, k, take, runs); // journaled, then off the stack
        moved += this.freeOwnRuns(runs) * k;
      }
    }
    return moved;
  }

  /** Pops a run of k frames from the cache (refilling it when empty); -1 if none can be had. */
  private pop(k: number): number {
    const index = popCached(this.r, k); // journaled and owned as it leaves the stack
    return index >= 0 ? index : this.refill(k);
  }

  /**
   * Refills the empty cache of class k with half its capacity, taken from the buddy allocator as
   * one contiguous block (as the kernel does), and returns the first run.
   */
  private refill(k: number): number {
    const runs = CACHE_CAPACITY[k] >> 1;
    const block = this.buddy.allocJournaled(runs * k, 1, (index, n) => recordRun(this.r, index, n));
    if (block === null) return -1;
    const first = block >>> PAGE_SHIFT;
    // Push the runs but the first; the block stays journaled until the count covers them.
    stackRuns(this.r, k, first + k, runs - 1);
    recordOp(this.r, OP_OWNED, first, k);
    clearRuns(this.r);
    return first;
  }

  /** Pushes a free run of k frames; a full cache first gives half of itself back to the buddy. */
  private push(k: number, index: number): void {
    if (pushCached(this.r, k, index)) return;
    // Full: flush the new run and the top half-capacity - 1 runs, as the kernel flushes 2/3 + 1.
    const cap = CACHE_CAPACITY[k];
    const flush = cap >> 1;
    const runs: [number, number][] = [[index, k]];
    popCachedRuns(this.r, k, flush - 1, runs); // journaled, then off the stack
    this.freeOwnRuns(runs, 1);
  }

  /**
   * Frees runs this worker journaled (`popCachedRuns`) under one hold of the allocator lock: the
   * first `raw` of them are its raw frames, and the others it won back first from its cache
   * (`releaseCachedRuns`; a run stolen meanwhile is another's now); the journal is cleared before
   * the lock is released. The number of runs freed.
   */
  private freeOwnRuns(runs: readonly (readonly [number, number])[], raw = 0): number {
    const r = this.r;
    lockAllocator(r);
    try {
      const won = [...runs.slice(0, raw), ...releaseCachedRuns(r, runs.slice(raw))];
      this.buddy.freeRunsLocked(won);
      clearRuns(r);
      return won.length;
    } finally {
      unlockAllocator(r);
    }
  }

  /** The buddy level, for runs the caches do not serve, and the NoMemory path for all. */
  private fromBuddy(nframes: number, alignFrames: number): Paddr | null {
    const journal = (index: number, n: number): void => recordOp(this.r, OP_OWNED, index, n);
    let paddr = this.buddy.allocJournaled(nframes, alignFrames, journal);
    if (paddr !== null) return paddr;
    // Before NoMemory: this worker's cached frames, then every other worker's.
    if (this.drainCaches() > 0) {
      paddr = this.buddy.allocJournaled(nframes, alignFrames, journal);
      if (paddr !== null) return paddr;
    }
    // Whatever the steal got: a frame freed since the last try may sit in the buddy allocator
    // (finding F4 of docs/verification.md: without this try, NoMemory with that frame free).
    this.stealCaches();
    return this.buddy.allocJournaled(nframes, alignFrames, journal);
  }

  /**
   * Takes every run the other workers cache (attached or not: a worker that died keeps nothing
   * from the others either) and frees it to the buddy allocator, under one hold of the allocator
   * lock, without their help: each run is journaled, then won with one CAS of its head
   * (`stealRun`; an owner's pop that wins first keeps it), made this worker's (`settleStolen`) and
   * freed, AJ_MAX_RUNS runs at a time. The number of frames freed.
   *
   * @example
   * ```ts
   * const other = FrameSystem.attach(sys.handle, { separate: true }); // another worker, idle from now on
   * other.allocFrame().drop(); // one frame cached there, and 15 more from its refill
   * const cached = sys.allocator as CachedAllocator;
   * console.log(cached.stealCaches(), cached.cachedFrames(other.workerId)); // 16 0
   * other.close();
   * ```
   */
  stealCaches(): number {
    const r = this.r;
    let stolen = 0;
    lockAllocator(r);
    try {
      let runs: [number, number][] = [];
      const settle = (): void => {
        settleStolen(r, runs);
        this.buddy.freeRunsLocked(runs);
        clearRuns(r);
        for (const [, k] of runs) stolen += k;
        runs = [];
      };
      for (let id = 1; id <= MAX_WORKERS; id++) {
        if (id === r.workerId) continue;
        forEachStealable(r, id, (index, k) => {
          if (stealRun(r, id, index, k, runs.length)) runs.push([index, k]);
          if (runs.length === AJ_MAX_RUNS) settle();
        });
      }
      if (runs.length > 0) settle();
    } finally {
      unlockAllocator(r);
    }
    return stolen;
  }
}
