/**
 * The per-worker object caches (the OSDK heap allocator's per-CPU caches), in shared memory: a
 * stack of free slots per size class per worker (`region/heap.ts`). A worker allocates from its
 * own stacks and frees onto them, whoever allocated the block: a block freed in another worker
 * than its allocator's needs no lock. A stack that runs empty is refilled with a slab's worth of
 * slots under the heap lock; one that grows past `maxCached` is flushed down to `keepCached`.
 * Before a NoMemory, a worker gives back its own stacks and takes every other worker's (one
 * exchange each: no help from them is needed); `reclaimWorker` takes a dead worker's the same way.
 */
import { MAX_WORKERS } from '../base/limits.js';
import { NUM_CLASSES, cacheLength, cacheTakeAll, cacheWord, heapReady, slotLength } from '../region/heap.js';
import type { Region } from '../region/region.js';
import type { SlabPool } from './slab.js';
import { slotsPerSlab } from './slot.js';

/** The most slots a worker caches of class `c` (4 slabs' worth) before it flushes. */
export function maxCached(c: number): number {
  return 4 * slotsPerSlab(c);
}

/** What a flush leaves in the cache of class `c` (a slab's worth), and what a refill brings. */
export function keepCached(c: number): number {
  return slotsPerSlab(c);
}

/**
 * Flushes this worker's cache of class `c` down to `keep` slots: the excess is popped and given
 * back to the slabs (under the heap lock). Returns the frames given back.
 */
export function flushCache(r: Region, pool: SlabPool, c: number, keep: number): number {
  const at = cacheWord(r.workerId, c);
  const excess = cacheLength(r, at) - keep;
  if (excess <= 0) return 0;
  return pool.flush(at, excess);
}

/** Gives every slot of worker `worker`'s caches back to the slabs (taking each stack whole);
 *  returns the slots given back. */
export function takeCachesOf(r: Region, pool: SlabPool, worker: number): number {
  if (!heapReady(r)) return 0;
  let slots = 0;
  for (let c = 0; c < NUM_CLASSES; c++) {
    const top = cacheTakeAll(r, cacheWord(worker, c));
    if (top === 0) continue;
    const n = slotLength(r, top);
    pool.giveBack(top, n); // journaled as this worker's chain at once (setHeapChain)
    slots += n;
  }
  return slots;
}

/**
 * Before a NoMemory: every worker's caches, this worker's too, back to the slabs, and every empty
 * slab back to the frame allocator. Returns the slots and slabs given back (0: nothing was).
 */
export function stealCaches(r: Region, pool: SlabPool): number {
  let slots = 0;
  for (let id = 1; id <= MAX_WORKERS; id++) slots += takeCachesOf(r, pool, id);
  return slots + pool.dropEmpty();
}
