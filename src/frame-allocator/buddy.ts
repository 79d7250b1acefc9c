/**
 * The buddy allocator in shared memory, as the kernel's `BuddySet`: one free list per order, in
 * the header, linked through the metadata slots of the chunks' head frames (which are UNUSED:
 * free implies unused). Its state is all in the region, so any worker's view is the allocator.
 * One lock, with an owner record, guards it; every free frame carries `AUX_FREE`, the ground
 * truth from which `rebuild` restores the lists after a worker died holding the lock.
 */
import { AllocError, InvariantError, hex } from '../base/errors.js';
import { AUX_FREE, AUX_HEAD, RC_UNUSED, SLOT_SHIFT, SLOT_WORDS, S_AUX, S_NEXT, S_PREV, S_REF } from '../region/meta.js';
import { H_BUDDY_FREE, H_BUDDY_HEADS, H_BUDDY_LOCK, MAX_ORDER } from '../region/geometry.js';
import { PAGE_SHIFT, PAGE_SIZE } from '../base/units.js';
import { lock, unlock } from '../shm/lock.js';
import type { Paddr } from '../base/units.js';
import type { Region } from '../region/region.js';
import { checkCount, type GlobalFrameAllocator } from '../base/global-allocator.js';
import { greaterOrderOf, splitToChunks } from './chunk.js';

/**
 * Marks the `n` slots from word `w` taken from the free lists by worker `owner`: no longer free,
 * unlinked, naming the owner (`S_PREV` is `S_OWNER`) first, so that a frame no longer marked
 * free always names the worker it went to. Lock held.
 */
function markTaken(i32: Int32Array, w: number, n: number, owner: number): void {
  for (const end = w + (n << SLOT_SHIFT); w < end; w += SLOT_WORDS) {
    i32[w + S_PREV] = owner;
    i32[w + S_NEXT] = 0;
    i32[w + S_AUX] = 0;
  }
}

/** Marks the `n` slots from word `w` free (`AUX_FREE`, the ground truth of `rebuild`). Lock held. */
function markFree(i32: Int32Array, w: number, n: number): void {
  for (const end = w + (n << SLOT_SHIFT); w < end; w += SLOT_WORDS) i32[w + S_AUX] = AUX_FREE;
}

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
  private readonly i32: Int32Array;

  /** @internal Made by `FrameSystem` for its region. */
  constructor(private readonly r: Region) {
    this.i32 = r.mem.i32;
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
      throw new AllocError('InvalidArgs', `InvalidArgs: alignment ${alignFrames} is not a power of two`);
    }
    const order = Math.max(greaterOrderOf(nframes), greaterOrderOf(alignFrames));
    if (nframes > this.r.nframes) return null;
    const i32 = this.i32;
    lock(i32, H_BUDDY_LOCK, this.r.token);
    try {
      let index = order < MAX_ORDER ? this.allocChunk(order) : -1;
      let end = index + (1 << order);
      if (index < 0) {
        const run = this.findRun(nframes, alignFrames);
        if (run === undefined) return null;
        [index, end] = run;
      }
      journal?.(index, nframes);
      this.markTaken(index, nframes);
      // Give back what lies past the run (the tail of a larger chunk), as the kernel's pools do.
      if (end > index + nframes) this.insertRun(index + nframes, end - index - nframes);
      i32[H_BUDDY_FREE] -= nframes;
      return index * PAGE_SIZE;
    } finally {
      unlock(i32, H_BUDDY_LOCK);
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
    checkCount(nframes);
    if (paddr % PAGE_SIZE !== 0 || paddr < 0 || paddr / PAGE_SIZE + nframes > this.r.nframes) {
      throw new AllocError(
        'InvalidArgs',
        `InvalidArgs: ${nframes} frame(s) at ${hex(paddr)} are not a page-aligned run inside the region`,
      );
    }
    const index = paddr >>> PAGE_SHIFT;
    if (this.r.checked) this.checkFreeable(index, nframes);
    const i32 = this.i32;
    lock(i32, H_BUDDY_LOCK, this.r.token);
    try {
      // ORDER: every frame is marked free before any list changes, so a rebuild after a death
      // anywhere below finds them all.
      this.markFree(index, nframes);
      this.insertRun(index, nframes);
      i32[H_BUDDY_FREE] += nframes;
    } finally {
      unlock(i32, H_BUDDY_LOCK);
    }
  }

  /**
   * @internal Frees several runs `[index, n]` (frame indices) under one lock: a cache flush. `done` runs
   * before the lock is released (it clears the caller's journal: once the frames are free,
   * another worker may take them, and a journal naming them would make recovery free them twice).
   */
  freeRuns(runs: readonly (readonly [number, number])[], done?: () => void): void {
    const i32 = this.i32;
    lock(i32, H_BUDDY_LOCK, this.r.token);
    try {
      this.freeRunsLocked(runs);
      done?.();
    } finally {
      unlock(i32, H_BUDDY_LOCK);
    }
  }

  /**
   * @internal `freeRuns` for a caller that holds the lock: `reclaimWorker`, which must decide
   * which frames to free and free them under one lock (a worker refilling its cache in between
   * would take a frame that reclaim then frees again).
   */
  freeRunsLocked(runs: readonly (readonly [number, number])[]): void {
    if (this.r.checked) for (const [index, n] of runs) this.checkFreeable(index, n);
    const i32 = this.i32;
    let total = 0;
    for (const [index, n] of runs) {
      this.markFree(index, n);
      total += n;
    }
    for (const [index, n] of runs) this.insertRun(index, n);
    i32[H_BUDDY_FREE] += total;
  }

  /**
   * @internal Rebuilds the free lists and the free count from the `AUX_FREE` marks. The caller holds the
   * lock (taken over from a worker that died holding it).
   */
  rebuildLocked(): void {
    const i32 = this.i32;
    const n = this.r.nframes;
    for (let order = 0; order < MAX_ORDER; order++) i32[H_BUDDY_HEADS + order] = 0;
    let free = 0;
    for (let k = 0; k < n; ) {
      if ((i32[this.word(k) + S_AUX] & AUX_FREE) === 0) {
        k++;
        continue;
      }
      let end = k;
      while (end < n && (i32[this.word(end) + S_AUX] & AUX_FREE) !== 0) {
        const w = this.word(end);
        i32[w + S_AUX] = AUX_FREE;
        i32[w + S_NEXT] = 0;
        i32[w + S_PREV] = 0;
        end++;
      }
      this.insertRun(k, end - k);
      free += end - k;
      k = end;
    }
    i32[H_BUDDY_FREE] = free;
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
    return Atomics.load(this.i32, H_BUDDY_FREE);
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
    const i32 = this.i32;
    lock(i32, H_BUDDY_LOCK, this.r.token);
    try {
      for (let order = 0; order < MAX_ORDER; order++) {
        for (let cur = i32[H_BUDDY_HEADS + order]; cur !== 0; cur = i32[this.word(cur - 1) + S_NEXT]) {
          chunks.push([cur - 1, order]);
          if (chunks.length > this.r.nframes) throw new InvariantError(`buddy list ${order}`, 'the list has a cycle');
        }
      }
    } finally {
      unlock(i32, H_BUDDY_LOCK);
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
    const i32 = this.i32;
    const n = this.r.nframes;
    lock(i32, H_BUDDY_LOCK, this.r.token);
    try {
      const seen = new Uint8Array(n);
      let total = 0;
      for (let order = 0; order < MAX_ORDER; order++) {
        let prev = 0;
        let steps = 0;
        for (let cur = i32[H_BUDDY_HEADS + order]; cur !== 0; cur = i32[this.word(cur - 1) + S_NEXT]) {
          const index = cur - 1;
          const where = `buddy chunk ${hex(index * PAGE_SIZE)} (order ${order})`;
          if (++steps > n || index < 0 || index >= n) throw new InvariantError(where, 'broken free list');
          const w = this.word(index);
          if (i32[w + S_PREV] !== prev) throw new InvariantError(where, 'prev link does not match the list');
          if (i32[w + S_AUX] !== (AUX_FREE | AUX_HEAD | order)) throw new InvariantError(where, 'head is not marked free at this order');
          const size = 1 << order;
          if (index % size !== 0 || index + size > n) throw new InvariantError(where, 'chunk is misaligned or out of the region');
          for (let k = index; k < index + size; k++) {
            if (seen[k]) throw new InvariantError(where, `frame ${hex(k * PAGE_SIZE)} is in two free chunks`);
            seen[k] = 1;
            if (Atomics.load(i32, this.word(k) + S_REF) !== RC_UNUSED) {
              throw new InvariantError(where, `free frame ${hex(k * PAGE_SIZE)} is not UNUSED`);
            }
            if (k !== index && i32[this.word(k) + S_AUX] !== AUX_FREE) {
              throw new InvariantError(where, `frame ${hex(k * PAGE_SIZE)} inside the chunk is not marked free (only)`);
            }
          }
          const buddy = index ^ size;
          if (order + 1 < MAX_ORDER && buddy + size <= n && i32[this.word(buddy) + S_AUX] === (AUX_FREE | AUX_HEAD | order)) {
            throw new InvariantError(where, 'its buddy is free at the same order but they were not merged');
          }
          total += size;
          prev = cur;
        }
      }
      for (let k = 0; k < n; k++) {
        if (seen[k] === 0 && (i32[this.word(k) + S_AUX] & AUX_FREE) !== 0 && Atomics.load(i32, this.word(k) + S_REF) === RC_UNUSED) {
          throw new InvariantError(`frame ${hex(k * PAGE_SIZE)}`, 'marked free but in no free chunk');
        }
      }
      if (total !== i32[H_BUDDY_FREE]) {
        throw new InvariantError('buddy allocator', `free lists hold ${total} frames but the count says ${i32[H_BUDDY_FREE]}`);
      }
    } finally {
      unlock(i32, H_BUDDY_LOCK);
    }
  }

  private word(index: number): number {
    return this.r.metaWord + (index << SLOT_SHIFT);
  }

  /** `markTaken` on frames `[index, index + n)`, in the fast path where there is one. Lock held. */
  private markTaken(index: number, n: number): void {
    const fast = this.r.fast;
    if (fast !== undefined) fast.markTaken(this.word(index), n);
    else markTaken(this.i32, this.word(index), n, this.r.workerId);
  }

  /** `markFree` on frames `[index, index + n)`, in the fast path where there is one. Lock held. */
  private markFree(index: number, n: number): void {
    const fast = this.r.fast;
    if (fast !== undefined) fast.markFree(this.word(index), n);
    else markFree(this.i32, this.word(index), n);
  }

  /** Checked mode: every frame given back must be UNUSED and not already free. */
  private checkFreeable(index: number, n: number): void {
    const i32 = this.i32;
    for (let k = index; k < index + n; k++) {
      const w = this.word(k);
      if (Atomics.load(i32, w + S_REF) !== RC_UNUSED) {
        throw new AllocError('InvalidArgs', `InvalidArgs: frame ${hex(k * PAGE_SIZE)} is not unused; it cannot be freed`);
      }
      if ((Atomics.load(i32, w + S_AUX) & AUX_FREE) !== 0) {
        throw new AllocError('InvalidArgs', `InvalidArgs: frame ${hex(k * PAGE_SIZE)} is already free (double free)`);
      }
    }
  }

  /** Inserts frames `[index, index + n)`, already marked free, as aligned chunks. Lock held. */
  private insertRun(index: number, n: number): void {
    for (const [start, order] of splitToChunks(index, n)) this.insertChunk(start, order);
  }

  /** Inserts one free chunk, merging it with free buddies (the kernel's `insert_chunk`). */
  private insertChunk(index: number, order: number): void {
    const i32 = this.i32;
    const n = this.r.nframes;
    while (order + 1 < MAX_ORDER) {
      const size = 1 << order;
      const buddy = index ^ size;
      if (buddy + size > n) break;
      const bw = this.word(buddy);
      if (i32[bw + S_AUX] !== (AUX_FREE | AUX_HEAD | order) || i32[bw + S_REF] !== RC_UNUSED) break;
      this.unlink(buddy, order);
      index = Math.min(index, buddy);
      order++;
    }
    this.push(index, order);
  }

  /** Takes a chunk of exactly `order`, splitting a larger one; -1 if none. Lock held. */
  private allocChunk(order: number): number {
    const i32 = this.i32;
    let o = order;
    while (o < MAX_ORDER && i32[H_BUDDY_HEADS + o] === 0) o++;
    if (o === MAX_ORDER) return -1;
    const index = i32[H_BUDDY_HEADS + o] - 1;
    this.unlink(index, o);
    while (o > order) {
      o--;
      this.push(index + (1 << o), o);
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
    const i32 = this.i32;
    for (let order = 0; order < MAX_ORDER; order++) {
      for (let cur = i32[H_BUDDY_HEADS + order]; cur !== 0; cur = i32[this.word(cur - 1) + S_NEXT]) {
        chunks.push([cur - 1, order]);
      }
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
        for (let j = first; j <= k; j++) this.unlink(chunks[j][0], chunks[j][1]);
        if (start > runStart) this.insertRun(runStart, start - runStart);
        return [start, runEnd];
      }
    }
    return undefined;
  }

  private push(index: number, order: number): void {
    const i32 = this.i32;
    const w = this.word(index);
    const head = i32[H_BUDDY_HEADS + order];
    i32[w + S_NEXT] = head;
    i32[w + S_PREV] = 0;
    i32[w + S_AUX] = AUX_FREE | AUX_HEAD | order;
    if (head !== 0) i32[this.word(head - 1) + S_PREV] = index + 1;
    i32[H_BUDDY_HEADS + order] = index + 1;
  }

  /** Removes a free chunk head from its list; its frames stay marked free. */
  private unlink(index: number, order: number): void {
    const i32 = this.i32;
    const w = this.word(index);
    const next = i32[w + S_NEXT];
    const prev = i32[w + S_PREV];
    if (prev === 0) i32[H_BUDDY_HEADS + order] = next;
    else i32[this.word(prev - 1) + S_NEXT] = next;
    if (next !== 0) i32[this.word(next - 1) + S_PREV] = prev;
    i32[w + S_NEXT] = 0;
    i32[w + S_PREV] = 0;
    i32[w + S_AUX] = AUX_FREE;
  }
}
