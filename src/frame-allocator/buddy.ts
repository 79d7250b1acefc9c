/**
 * The buddy allocator in shared memory, as the kernel's `BuddySet`: one free list per order, in
 * the header, linked through the metadata slots of the chunks' head frames (which are UNUSED:
 * free implies unused). Its state is all in the region, so any worker's view is the allocator.
 * One lock, with an owner record, guards it; every free frame carries a free mark, the ground
 * truth from which `rebuildLocked` restores the lists after a worker died holding the lock. This
 * file is the policy (orders, splits, merges, runs, journaling callbacks); the words, and who
 * writes them when, are `region/free-lists.ts`'s.
 */
import { AllocError, InvariantError, hex } from '../base/errors.js';
import { MAX_ORDER } from '../region/geometry.js';
import { PAGE_SHIFT, PAGE_SIZE } from '../base/units.js';
import { INSPECT, inspectSafely } from '../base/inspect.js';
import type { Paddr } from '../base/units.js';
import type { Region } from '../region/region.js';
import { checkCount, checkRun, type GlobalFrameAllocator } from '../base/global-allocator.js';
import { reachFrames } from '../region/header.js';
import { greaterOrderOf, splitToChunks } from './chunk.js';
import {
  FREE_NOT_UNUSED,
  FREEABLE,
  addFreeCount,
  clearFreeLists,
  freeCount,
  freeHead,
  freeNext,
  freePrev,
  freeRefusal,
  isChunkHead,
  isFree,
  isFreeInside,
  isMergeable,
  isUnused,
  lockAllocator,
  markFree,
  markTaken,
  pushChunk,
  resetFree,
  setFreeCount,
  unlinkChunk,
  unlockAllocator,
} from '../region/free-lists.js';

/**
 * The shared buddy allocator, as the kernel's `BuddySet`: free lists per order in the region's
 * header, linked through the free frames' slots, behind one lock that records its owner. Any
 * worker's view of the region is the allocator. By default each worker's `CachedAllocator` sits
 * in front of it; `create({ caches: false })` makes it `sys.allocator` itself. Raw frames: what it
 * hands out is UNUSED and the caller's (claim it with `Frame.fromUnused`, or `dealloc` it).
 *
 * @example
 * ```ts
 * const sys = FrameSystem.create({ frames: 64, caches: false });
 * const buddy = sys.allocator as BuddyAllocator;
 * const paddr = buddy.alloc(3, 1)!;
 * console.log(sys.allocator instanceof BuddyAllocator, buddy.freeFrames(), sys.stats().raw); // true 61 3
 * buddy.dealloc(paddr, 3);
 * ```
 */
export class BuddyAllocator implements GlobalFrameAllocator {
  /** @internal Made by `FrameSystem` for its region. */
  constructor(private readonly r: Region) {}

  /** @internal What `console.log` shows (Node, Deno, Bun): `BuddyAllocator(60 frames free)`. */
  [INSPECT](): string {
    return inspectSafely(() => `BuddyAllocator(${this.freeFrames()} frames free)`, () => 'BuddyAllocator()');
  }

  /**
   * `nframes` contiguous raw frames whose first frame index is a multiple of `alignFrames` (a
   * power of two), or null if there is no such free run. `AllocError('InvalidArgs')` for a count
   * or alignment that is not a positive integer.
   *
   * @example
   * ```ts
   * const sys = FrameSystem.create({ frames: 64, caches: false });
   * const buddy = sys.allocator as BuddyAllocator;
   * const paddr = buddy.alloc(8, 8)!;
   * console.log(paddr % (8 * PAGE_SIZE), buddy.alloc(100, 1)); // 0 null
   * buddy.dealloc(paddr, 8);
   * ```
   */
  alloc(nframes: number, alignFrames = 1): Paddr | null {
    return this.allocJournaled(nframes, alignFrames, undefined);
  }

  /**
   * @internal `alloc`, telling `journal` which frames it takes, under the lock and before they
   * stop being marked free: a worker that dies after that leaves them findable.
   */
  allocJournaled(nframes: number, alignFrames: number, journal: ((index: number, n: number) => void) | undefined): Paddr | null {
    checkCount(nframes);
    checkCount(alignFrames, 'alignment');
    if ((alignFrames & (alignFrames - 1)) !== 0) {
      throw new AllocError('InvalidArgs', `alignment ${alignFrames} is not a power of two`);
    }
    const order = Math.max(greaterOrderOf(nframes), greaterOrderOf(alignFrames));
    const r = this.r;
    if (nframes > r.maxFrames) return null; // r.nframes may be behind a grow elsewhere until the lock
    lockAllocator(r);
    try {
      let index = order < MAX_ORDER ? this.allocChunk(order) : -1;
      let end = index + (1 << order);
      if (index < 0) {
        const run = this.findRun(nframes, alignFrames);
        if (run === undefined) return null;
        [index, end] = run;
      }
      // ORDER: journaled before the frames stop being marked free (see region/free-lists.ts).
      journal?.(index, nframes);
      markTaken(r, index, nframes);
      // Give back what lies past the run (the tail of a larger chunk), as the kernel's pools do.
      if (end > index + nframes) this.insertRun(index + nframes, end - index - nframes);
      addFreeCount(r, -nframes);
      return index * PAGE_SIZE;
    } finally {
      unlockAllocator(r);
    }
  }

  /**
   * Takes back raw frames (UNUSED), in any grouping: they merge with free buddies. Errors as
   * `addFreeMemory`.
   *
   * @example
   * ```ts
   * const sys = FrameSystem.create({ frames: 64, caches: false });
   * const buddy = sys.allocator as BuddyAllocator;
   * const paddr = buddy.alloc(4, 1)!;
   * buddy.dealloc(paddr, 1); // one by one is fine
   * buddy.dealloc(paddr + PAGE_SIZE, 3);
   * console.log(buddy.freeFrames()); // 64
   * ```
   */
  dealloc(paddr: Paddr, nframes: number): void {
    if (typeof paddr === 'number') reachFrames(this.r, paddr + nframes * PAGE_SIZE); // a frame of a grow elsewhere
    checkRun(paddr, nframes, this.r.nframes);
    this.checkFreeable(paddr >>> PAGE_SHIFT, nframes);
    this.addFreeMemory(paddr, nframes);
  }

  /**
   * Makes frames `[paddr, paddr + nframes × PAGE_SIZE)` free (`FrameSystem.create` adds the whole
   * region). `AllocError('InvalidArgs')` for a run that is not page-aligned inside the region; in
   * checked mode also for a frame that is not UNUSED or already free (a double free).
   *
   * @example
   * ```ts
   * const sys = FrameSystem.create({ frames: 64, caches: false, checked: true });
   * const buddy = sys.allocator as BuddyAllocator;
   * const paddr = buddy.alloc(2, 1)!;
   * buddy.addFreeMemory(paddr, 2);
   * try {
   *   buddy.addFreeMemory(paddr, 2); // again
   * } catch (e) {
   *   console.log((e as AllocError).code, buddy.freeFrames()); // 'InvalidArgs' 64
   * }
   * ```
   */
  addFreeMemory(paddr: Paddr, nframes: number): void {
    if (typeof paddr === 'number') reachFrames(this.r, paddr + nframes * PAGE_SIZE); // a frame of a grow elsewhere
    checkRun(paddr, nframes, this.r.nframes);
    const index = paddr >>> PAGE_SHIFT;
    const r = this.r;
    if (r.checked) this.checkFreeable(index, nframes);
    lockAllocator(r);
    try {
      // ORDER: every frame is marked free before any list changes, so a rebuild after a death
      // anywhere below finds them all.
      markFree(r, index, nframes);
      this.insertRun(index, nframes);
      addFreeCount(r, nframes);
    } finally {
      unlockAllocator(r);
    }
  }

  /**
   * @internal Frees several runs `[index, n]` (frame indices, UNUSED) for a caller that holds the
   * allocator lock: a cache's flush or drain, a steal (which win their runs under the lock first,
   * and clear their journal before the unlock: once the frames are free another worker may take
   * them, and a journal naming them would make recovery free them twice), and `reclaimWorker`
   * (which must decide which frames to free and free them under one lock: a worker refilling its
   * cache in between would take a frame that reclaim then frees again).
   */
  freeRunsLocked(runs: readonly (readonly [number, number])[]): void {
    const r = this.r;
    if (r.checked) for (const [index, n] of runs) this.checkFreeable(index, n);
    let total = 0;
    // ORDER: every frame is marked free before any list changes, as in `addFreeMemory`.
    for (const [index, n] of runs) {
      markFree(r, index, n);
      total += n;
    }
    for (const [index, n] of runs) this.insertRun(index, n);
    addFreeCount(r, total);
  }

  /**
   * @internal Rebuilds the free lists and the free count from the free marks. The caller holds the
   * lock (taken over from a worker that died holding it).
   */
  rebuildLocked(): void {
    const r = this.r;
    const n = r.nframes;
    clearFreeLists(r);
    let free = 0;
    for (let k = 0; k < n; ) {
      if (!isFree(r, k)) {
        k++;
        continue;
      }
      let end = k;
      while (end < n && isFree(r, end)) {
        resetFree(r, end);
        end++;
      }
      this.insertRun(k, end - k);
      free += end - k;
      k = end;
    }
    setFreeCount(r, free);
  }

  /**
   * Free frames in the buddy lists (not counting the workers' caches).
   *
   * @example
   * ```ts
   * const sys = FrameSystem.create({ frames: 64, caches: false });
   * const seg = sys.allocSegment(5);
   * console.log((sys.allocator as BuddyAllocator).freeFrames()); // 59
   * seg.drop();
   * ```
   */
  freeFrames(): number {
    return freeCount(this.r);
  }

  /**
   * Calls `fn(paddr, nframes)` for every free chunk (a power-of-two run), smallest order first
   * (a snapshot taken under the lock; `fn` runs after it is released).
   *
   * @example
   * ```ts
   * const sys = FrameSystem.create({ frames: 16, caches: false });
   * const frame = sys.allocFrame(); // splits the 16-frame chunk: 1 + 2 + 4 + 8 stay free
   * const chunks: number[] = [];
   * (sys.allocator as BuddyAllocator).forEachFree((_, nframes) => chunks.push(nframes));
   * console.log(chunks); // [ 1, 2, 4, 8 ]
   * frame.drop();
   * ```
   */
  forEachFree(fn: (paddr: Paddr, nframes: number) => void): void {
    const chunks: [number, number][] = [];
    const r = this.r;
    lockAllocator(r);
    try {
      for (let order = 0; order < MAX_ORDER; order++) {
        for (let cur = freeHead(r, order); cur !== -1; cur = freeNext(r, cur)) {
          chunks.push([cur, order]);
          if (chunks.length > r.nframes) throw new InvariantError(`buddy list ${order}`, 'the list has a cycle');
        }
      }
    } finally {
      unlockAllocator(r);
    }
    for (const [index, order] of chunks) fn(index * PAGE_SIZE, 1 << order);
  }

  /**
   * Checks the free lists (links, orders, alignment, merged buddies, the free count, every free
   * frame UNUSED) and throws `InvariantError` saying where they fail. `sys.checkInvariants()`
   * calls it.
   *
   * @example
   * ```ts
   * const sys = FrameSystem.create({ frames: 64, caches: false });
   * (sys.allocator as BuddyAllocator).checkInvariants(); // returns quietly
   * ```
   */
  checkInvariants(): void {
    const r = this.r;
    const n = r.nframes;
    lockAllocator(r);
    try {
      const seen = new Uint8Array(n);
      let total = 0;
      for (let order = 0; order < MAX_ORDER; order++) {
        let prev = -1;
        let steps = 0;
        for (let index = freeHead(r, order); index !== -1; index = freeNext(r, index)) {
          const where = `buddy chunk ${hex(index * PAGE_SIZE)} (order ${order})`;
          if (++steps > n || index < 0 || index >= n) throw new InvariantError(where, 'broken free list');
          if (freePrev(r, index) !== prev) throw new InvariantError(where, 'prev link does not match the list');
          if (!isChunkHead(r, index, order)) throw new InvariantError(where, 'head is not marked free at this order');
          const size = 1 << order;
          if (index % size !== 0 || index + size > n) throw new InvariantError(where, 'chunk is misaligned or out of the region');
          for (let k = index; k < index + size; k++) {
            if (seen[k]) throw new InvariantError(where, `frame ${hex(k * PAGE_SIZE)} is in two free chunks`);
            seen[k] = 1;
            if (!isUnused(r, k)) {
              throw new InvariantError(where, `free frame ${hex(k * PAGE_SIZE)} is not UNUSED`);
            }
            if (k !== index && !isFreeInside(r, k)) {
              throw new InvariantError(where, `frame ${hex(k * PAGE_SIZE)} inside the chunk is not marked free (only)`);
            }
          }
          const buddy = index ^ size;
          if (order + 1 < MAX_ORDER && buddy + size <= n && isChunkHead(r, buddy, order)) {
            throw new InvariantError(where, 'its buddy is free at the same order but they were not merged');
          }
          total += size;
          prev = index;
        }
      }
      for (let k = 0; k < n; k++) {
        if (seen[k] === 0 && isFree(r, k) && isUnused(r, k)) {
          throw new InvariantError(`frame ${hex(k * PAGE_SIZE)}`, 'marked free but in no free chunk');
        }
      }
      const count = freeCount(r);
      if (total !== count) {
        throw new InvariantError('buddy allocator', `free lists hold ${total} frames but the count says ${count}`);
      }
    } finally {
      unlockAllocator(r);
    }
  }

  /**
   * @internal Every frame given back must be UNUSED and not already free in the buddy lists
   * (`AllocError('InvalidArgs')` otherwise, and nothing changes): the check of a public
   * `dealloc`, and of every free in checked mode. A cached run's first frame is refused too (its
   * count word is a cached mark); its other frames only checked mode sees
   * (`CachedAllocator.dealloc` looks at the caches first).
   */
  checkFreeable(index: number, n: number): void {
    for (let k = index; k < index + n; k++) {
      const refusal = freeRefusal(this.r, k);
      if (refusal === FREEABLE) continue;
      if (refusal === FREE_NOT_UNUSED) {
        throw new AllocError('InvalidArgs', `frame ${hex(k * PAGE_SIZE)} is not unused; it cannot be freed`);
      }
      throw new AllocError('InvalidArgs', `frame ${hex(k * PAGE_SIZE)} is already free, in the allocator or a worker's cache (double free)`);
    }
  }

  /** Inserts frames `[index, index + n)`, already marked free, as aligned chunks. Lock held. */
  private insertRun(index: number, n: number): void {
    for (const [start, order] of splitToChunks(index, n)) this.insertChunk(start, order);
  }

  /** Inserts one free chunk, merging it with free buddies (the kernel's `insert_chunk`). */
  private insertChunk(index: number, order: number): void {
    const r = this.r;
    const n = r.nframes;
    while (order + 1 < MAX_ORDER) {
      const size = 1 << order;
      const buddy = index ^ size;
      if (buddy + size > n) break;
      if (!isMergeable(r, buddy, order)) break;
      unlinkChunk(r, buddy, order);
      index = Math.min(index, buddy);
      order++;
    }
    pushChunk(r, index, order);
  }

  /** Takes a chunk of exactly `order`, splitting a larger one; -1 if none. Lock held. */
  private allocChunk(order: number): number {
    const r = this.r;
    let o = order;
    while (o < MAX_ORDER && freeHead(r, o) === -1) o++;
    if (o === MAX_ORDER) return -1;
    const index = freeHead(r, o);
    unlinkChunk(r, index, o);
    while (o > order) {
      o--;
      pushChunk(r, index + (1 << o), o);
    }
    return index;
  }

  /**
   * The slow path, when no single chunk is large enough: the first run of adjacent free chunks
   * that holds `n` frames at an `align`-aligned start (a region of 37 frames is free as chunks of
   * 32 + 4 + 1, and can still be had whole). Unlinks the chunks of the run, frees back what lies
   * before its start, and returns `[start, end of the chunks]` (the caller frees what lies past
   * `start + n`); undefined if there is none, so that NoMemory means no such run exists. Lock held.
   */
  private findRun(n: number, align: number): [number, number] | undefined {
    const chunks: [number, number][] = [];
    const r = this.r;
    for (let order = 0; order < MAX_ORDER; order++) {
      for (let cur = freeHead(r, order); cur !== -1; cur = freeNext(r, cur)) chunks.push([cur, order]);
    }
    chunks.sort((a, b) => a[0] - b[0]);
    let runStart = -1;
    let runEnd = -1;
    let first = 0;
    for (let k = 0; k < chunks.length; k++) {
      const [index, order] = chunks[k];
      if (index !== runEnd) {
        runStart = index;
        first = k;
      }
      runEnd = index + (1 << order);
      const start = Math.ceil(runStart / align) * align;
      if (start + n <= runEnd) {
        for (let j = first; j <= k; j++) unlinkChunk(r, chunks[j][0], chunks[j][1]);
        if (start > runStart) this.insertRun(runStart, start - runStart);
        return [start, runEnd];
      }
    }
    return undefined;
  }
}
