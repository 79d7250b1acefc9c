/**
 * The buddy allocator's words: its lock, free count and one free list per order in the region
 * header, the links of free chunks in their head frames' slots, and the free marks of every free
 * frame. The protocol half of `frame-allocator/buddy.ts` (osdk `frame-allocator`'s `set.rs`),
 * which decides what to split, merge and hand out and reaches these words only through the
 * functions below. Nothing else writes them but the WebAssembly twins of `markTaken` and
 * `markFree` (fast-path.ts), which those two choose; `reclaimWorker` uses the lock,
 * `takeOverAllocator` and `isFree`.
 *
 *   header: lock owner | lock sleepers | free count | head of order 0 | ... | head of MAX_ORDER - 1
 *           (H_BUDDY_LOCK, H_BUDDY_FREE, H_BUDDY_HEADS of geometry.ts)
 *   slot:   next | prev | aux             (S_NEXT, S_PREV, S_AUX of meta.ts)
 *
 * A free chunk of order `o` is `2^o` UNUSED frames from a multiple of `2^o`. Its head frame's
 * slot links it into list `o` (`S_NEXT`, `S_PREV`, and the list's head, hold a chunk's index + 1;
 * 0: none) and says `AUX_FREE | AUX_HEAD | o` in `S_AUX`; every other frame of it says `AUX_FREE`.
 * The functions name a chunk by its head frame's index, and answer -1 for none. The marks are the
 * ground truth: `rebuildLocked` restores the lists and the count from them after a worker died
 * holding the lock. A frame leaving the free lists loses its mark and names its new owner in
 * `S_PREV` (which is `S_OWNER`) first (`markTaken`).
 *
 * Who writes: only the holder of the allocator lock (`lockAllocator`), with plain stores, and
 * the reclaimer that took the lock over from a dead holder (`takeOverAllocator`). The lock's
 * `unlock` orders every write before the next holder's CAS.
 *
 * ORDER: frames are marked free before any list changes (`BuddyAllocator.addFreeMemory`,
 * `freeRunsLocked`), and a taken frame is journaled by its new owner before its mark is cleared
 * (`allocJournaled`): a death anywhere in between leaves every frame marked free or journaled.
 * Read without the lock: the free count (`freeCount`, an atomic load: a snapshot), and in checked
 * mode a frame's mark and count (`freeRefusal`, atomic loads: a check made again by nobody, as
 * racy as a double free across workers is).
 */
import { lock, lockWithin, unlock } from '../shm/lock.js';
import { syncFrames } from './header.js';
import { H_BUDDY_FREE, H_BUDDY_HEADS, H_BUDDY_LOCK, MAX_ORDER } from './geometry.js';
import { AUX_FREE, AUX_HEAD, RC_UNUSED, SLOT_SHIFT, SLOT_WORDS, S_AUX, S_NEXT, S_PREV, S_REF, isCachedHead } from './meta.js';
import type { Region } from './region.js';

/** What `freeRefusal` answers: the frame may be freed, or why not. */
export const FREEABLE = 0;

/** The frame's count is not UNUSED. */
export const FREE_NOT_UNUSED = 1;

/** The frame is marked free already (a double free). */
export const FREE_ALREADY_FREE = 2;

/** Word index of the slot of frame `index`. */
function slotOf(r: Region, index: number): number {
  return r.metaWord + (index << SLOT_SHIFT);
}

// --- The lock ---------------------------------------------------------------------------------

/** Takes the allocator lock for this worker (`r.token`), waiting as long as it takes. */
export function lockAllocator(r: Region): void {
  lock(r.i32, H_BUDDY_LOCK, r.token);
  syncFrames(r); // the region grows only under this lock: from here on r.nframes is exact
}

/** `lockAllocator`, giving up after about `ms` milliseconds: whether it was taken. */
export function lockAllocatorWithin(r: Region, ms: number): boolean {
  if (!lockWithin(r.i32, H_BUDDY_LOCK, r.token, ms)) return false;
  syncFrames(r); // as `lockAllocator`
  return true;
}

/** Gives the allocator lock back (its ORDER note is `unlock`'s, in shm/lock.ts). */
export function unlockAllocator(r: Region): void {
  unlock(r.i32, H_BUDDY_LOCK);
}

/**
 * `reclaimWorker`: takes the allocator lock over from the dead worker whose token is
 * `deadToken`, if it held it; whether it did. The lists may then be half changed: the caller
 * rebuilds them (`BuddyAllocator.rebuildLocked`) before `unlockAllocator`.
 * ORDER: one CAS from the dead token to ours, so of two reclaimers only one takes it over, and no
 * live worker can hold it in between.
 */
export function takeOverAllocator(r: Region, deadToken: number): boolean {
  return Atomics.compareExchange(r.i32, H_BUDDY_LOCK, deadToken, r.token) === deadToken;
}

// --- The free count -----------------------------------------------------------------------------

/** Frames in the free lists: an atomic load, so a snapshot when read without the lock. */
export function freeCount(r: Region): number {
  return Atomics.load(r.i32, H_BUDDY_FREE);
}

/** Adds `n` (negative: takes) to the free count. Under the allocator lock. */
export function addFreeCount(r: Region, n: number): void {
  r.i32[H_BUDDY_FREE] += n; // OWNER: under the allocator lock; `freeCount` reads a whole Int32
}

/** Sets the free count to `n` (`rebuildLocked`). Under the allocator lock. */
export function setFreeCount(r: Region, n: number): void {
  r.i32[H_BUDDY_FREE] = n; // OWNER: under the allocator lock
}

// --- The lists ----------------------------------------------------------------------------------

/** The first chunk (its head frame's index) of order `order`'s list, -1 if empty. Lock held. */
export function freeHead(r: Region, order: number): number {
  return r.i32[H_BUDDY_HEADS + order] - 1;
}

/** The chunk after chunk `index` in its list, -1 if it is the last. Lock held. */
export function freeNext(r: Region, index: number): number {
  return r.i32[slotOf(r, index) + S_NEXT] - 1;
}

/** The chunk before chunk `index` in its list, -1 if it is the first. Lock held. */
export function freePrev(r: Region, index: number): number {
  return r.i32[slotOf(r, index) + S_PREV] - 1;
}

/**
 * Pushes the free chunk of order `order` from frame `index` (its frames marked free) on its
 * list, and marks its head. Lock held.
 */
export function pushChunk(r: Region, index: number, order: number): void {
  const i32 = r.i32;
  const w = slotOf(r, index);
  const head = i32[H_BUDDY_HEADS + order];
  // OWNER: every write below is under the allocator lock (the chunk's frames are free: nobody
  // else writes their slots).
  i32[w + S_NEXT] = head;
  i32[w + S_PREV] = 0;
  i32[w + S_AUX] = AUX_FREE | AUX_HEAD | order;
  if (head !== 0) i32[slotOf(r, head - 1) + S_PREV] = index + 1;
  i32[H_BUDDY_HEADS + order] = index + 1;
}

/** Removes chunk `index` from order `order`'s list; its frames stay marked free. Lock held. */
export function unlinkChunk(r: Region, index: number, order: number): void {
  const i32 = r.i32;
  const w = slotOf(r, index);
  const next = i32[w + S_NEXT];
  const prev = i32[w + S_PREV];
  // OWNER: every write below is under the allocator lock, as `pushChunk`'s.
  if (prev === 0) i32[H_BUDDY_HEADS + order] = next;
  else i32[slotOf(r, prev - 1) + S_NEXT] = next;
  if (next !== 0) i32[slotOf(r, next - 1) + S_PREV] = prev;
  i32[w + S_NEXT] = 0;
  i32[w + S_PREV] = 0;
  i32[w + S_AUX] = AUX_FREE;
}

/** Empties every list (`rebuildLocked`, before it pushes the chunks again). Lock held. */
export function clearFreeLists(r: Region): void {
  // OWNER: under the allocator lock (taken over from a dead holder).
  for (let order = 0; order < MAX_ORDER; order++) r.i32[H_BUDDY_HEADS + order] = 0;
}

// --- The marks ----------------------------------------------------------------------------------

/**
 * Marks the `n` frames from `index` taken from the free lists by this worker: no longer free,
 * unlinked, naming the owner (`S_PREV` is `S_OWNER`) first, so that a frame no longer marked
 * free always names the worker it went to. In the fast path where there is one. Lock held.
 */
export function markTaken(r: Region, index: number, n: number): void {
  const fast = r.fast;
  if (fast !== undefined) {
    fast.markTaken(slotOf(r, index), n);
    return;
  }
  const i32 = r.i32;
  const owner = r.workerId;
  // OWNER: under the allocator lock; from here the frames are this worker's (journaled first).
  for (let w = slotOf(r, index), end = w + (n << SLOT_SHIFT); w < end; w += SLOT_WORDS) {
    i32[w + S_PREV] = owner; // ORDER: the owner before the mark goes
    i32[w + S_NEXT] = 0;
    i32[w + S_AUX] = 0;
  }
}

/**
 * Marks the `n` frames from `index` free (`AUX_FREE`, the ground truth of `rebuildLocked`), in
 * the fast path where there is one. Lock held; the caller inserts them in the lists after.
 */
export function markFree(r: Region, index: number, n: number): void {
  const fast = r.fast;
  if (fast !== undefined) {
    fast.markFree(slotOf(r, index), n);
    return;
  }
  const i32 = r.i32;
  // OWNER: under the allocator lock; the frames were the caller's, UNUSED.
  for (let w = slotOf(r, index), end = w + (n << SLOT_SHIFT); w < end; w += SLOT_WORDS) i32[w + S_AUX] = AUX_FREE;
}

/**
 * Marks frame `index`, found marked free, free again with no links and no head mark
 * (`rebuildLocked`, before it pushes the chunks again). Lock held.
 */
export function resetFree(r: Region, index: number): void {
  const i32 = r.i32;
  const w = slotOf(r, index);
  // OWNER: under the allocator lock (taken over from a dead holder).
  i32[w + S_AUX] = AUX_FREE;
  i32[w + S_NEXT] = 0;
  i32[w + S_PREV] = 0;
}

/** Whether frame `index` is marked free. A plain read: under the allocator lock. */
export function isFree(r: Region, index: number): boolean {
  return (r.i32[slotOf(r, index) + S_AUX] & AUX_FREE) !== 0;
}

/** Whether frame `index` is marked free and not a chunk's head. Lock held. */
export function isFreeInside(r: Region, index: number): boolean {
  return r.i32[slotOf(r, index) + S_AUX] === AUX_FREE;
}

/** Whether frame `index` is marked the head of a free chunk of order `order`. Lock held. */
export function isChunkHead(r: Region, index: number, order: number): boolean {
  return r.i32[slotOf(r, index) + S_AUX] === (AUX_FREE | AUX_HEAD | order);
}

/**
 * Whether frame `index` heads a free chunk of order `order` that a chunk may merge with: marked
 * so, and UNUSED (`insertChunk`). Plain reads: under the allocator lock.
 */
export function isMergeable(r: Region, index: number, order: number): boolean {
  const w = slotOf(r, index);
  return r.i32[w + S_AUX] === (AUX_FREE | AUX_HEAD | order) && r.i32[w + S_REF] === RC_UNUSED;
}

/** Whether frame `index`'s count is UNUSED now (an atomic load), as every free frame's is. */
export function isUnused(r: Region, index: number): boolean {
  return Atomics.load(r.i32, slotOf(r, index) + S_REF) === RC_UNUSED;
}


/**
 * Checked mode, before a frame is given back: `FREEABLE`, or `FREE_NOT_UNUSED`, or
 * `FREE_ALREADY_FREE` (in that order). Atomic loads, without the lock (see the module's ORDER).
 */
export function freeRefusal(r: Region, index: number): number {
  const w = slotOf(r, index);
  const rc = Atomics.load(r.i32, w + S_REF);
  if (isCachedHead(rc)) return FREE_ALREADY_FREE; // in a worker's cache
  if (rc !== RC_UNUSED) return FREE_NOT_UNUSED;
  if ((Atomics.load(r.i32, w + S_AUX) & AUX_FREE) !== 0) return FREE_ALREADY_FREE;
  return FREEABLE;
}
