/**
 * The heap's words: the protocol half of `heap/` (the kernel's `mm/heap` slabs and the OSDK heap
 * allocator's per-CPU object caches). Three kinds of words:
 *
 *   header (from H_HEAP): lock (owner, sleepers) | ready | list id of each class's partial slabs
 *                         × NUM_CLASSES | their generations × NUM_CLASSES | … | per worker:
 *                         the head of its cache of free slots of each class × NUM_CLASSES
 *   slab slot storage:    allocated | free-list head | size class        (the `pageframe.slab` type)
 *   a free slot's bytes:  next | length                                  (its first two words)
 *
 * A slot (a heap block of a slab) is named by its word index in the region (never 0: the header
 * comes first), so the links of a free slot and every list head are word indices, 0 for none.
 *
 * A slab's free list (`SL_FREE`, linked through the free slots' first words, as the kernel's
 * `SlabSlotList`) and its count of slots not on it (`SL_ALLOCATED`) are written only by the heap
 * lock's holder (`slabPop`, `slabPush`, `initSlab`).
 *
 * A worker's cache of a class (`cacheWord`) is a stack of free slots linked the same way; each
 * node's second word holds the length of the stack from that node down, so the head says how
 * many slots the cache holds. Its owner pushes and pops with one CAS of the head each
 * (`cachePush`, `cachePop`); any other worker takes the whole stack at once with one exchange to
 * 0 (`cacheTakeAll`: a steal before NoMemory, `reclaimWorker`, a census). Only the owner ever puts
 * a slot on its stack, so a head it read and then finds unchanged by its CAS is the stack it
 * read: no ABA (verify/heap.pml; BROKEN_PLAIN_PUSH is the same with a plain store for the push).
 */
import { forceRelease, lock, lockOwner, unlock } from '../shm/lock.js';
import { H_HEAP, HEAP_WORKER_WORDS } from './geometry.js';
import { S_LIST, S_STORAGE, S_TYPE, SLOT_SHIFT } from './meta.js';
import type { Region } from './region.js';
import { InvariantError } from '../base/errors.js';
import { MAX_WORKERS } from '../base/limits.js';
import { PAGE_SHIFT, PAGE_SIZE } from '../base/units.js';

/** Size classes 8, 16, ..., 2048 bytes: class `c` holds slots of `8 << c` bytes. */
export const NUM_CLASSES = 9;

/** The heap lock (2 words: owner token, sleepers). */
const HP_LOCK = H_HEAP;
/** 1 once the slab lists exist (`setReady`). */
const HP_READY = H_HEAP + 2;
/** List id (1..MAX_LISTS) of class `c`'s partial slabs, and that list's generation. */
const HP_LIST = H_HEAP + 3;
const HP_GEN = HP_LIST + NUM_CLASSES;
/** The per-worker cache heads, HEAP_WORKER_WORDS a worker. */
const HP_CACHES = H_HEAP + 32;
/** In a worker's words, after its cache heads: the slab (frame index + 1) it is changing under
 *  the heap lock, 0 when none (`setHeapJournal`). */
const HJ_SLAB = NUM_CLASSES;
/** The rest of a chain of free slots this worker is giving back to their slabs (a stolen or
 *  reclaimed stack): its next slot, 0 when none (`setHeapChain`). */
const HJ_CHAIN = NUM_CLASSES + 1;

/** Slab slot storage, in the `pageframe.slab` type's field order (largest first, then by name). */
const SL_ALLOCATED = S_STORAGE;
const SL_FREE = S_STORAGE + 1;
const SL_CLASS = S_STORAGE + 2;

/** A large block's first frame: its length in frames (0 on the other frames). */
const LB_FRAMES = S_STORAGE;

/** Word index of worker `worker`'s cache head of class `c`. */
export function cacheWord(worker: number, c: number): number {
  return HP_CACHES + (worker - 1) * HEAP_WORKER_WORDS + c;
}

/**
 * Pops the top slot of this worker's cache at word `at`: its word index, or 0 if the cache is
 * empty. OWNER: only the owner pops with a CAS; a stealer only exchanges the head to 0. ORDER:
 * the CAS succeeds only if the head is still the slot whose link was read, and only the owner
 * pushes, so the link read is the one the owner wrote before publishing that slot.
 */
export function cachePop(r: Region, at: number): number {
  const i32 = r.i32;
  for (;;) {
    const head = i32[at];
    if (head === 0) return 0;
    const next = i32[head];
    if (Atomics.compareExchange(i32, at, head, next) === head) return head;
  }
}

/**
 * Pushes slot `w` (this worker's: a block being freed) on this worker's cache at word `at`;
 * returns the cache's new length, or 0 (nothing done) if `w` is the top already (a double free,
 * the one that costs nothing to see). OWNER: the slot's two words are the caller's (the block is
 * being freed, no one else names it). ORDER: the links are written before the CAS that makes the
 * slot the head, so whoever takes the stack later (the owner's pop, a stealer's exchange) reads
 * them; a failed CAS (the stack was taken meanwhile) writes them again against the new head.
 */
export function cachePush(r: Region, at: number, w: number): number {
  const i32 = r.i32;
  for (;;) {
    const head = i32[at];
    if (head === w) return 0;
    const len = head === 0 ? 1 : i32[head + 1] + 1;
    i32[w] = head; // OWNER: the freed block's words are the caller's
    i32[w + 1] = len; // OWNER: as above
    if (Atomics.compareExchange(i32, at, head, w) === head) return len;
  }
}

/**
 * The length of the cache at word `at`, as its owner sees it. From any other worker a snapshot:
 * the top it read may have been popped and written over by its new holder since, so a value that
 * no cache can hold (past 4096 slots, or a top outside the region) counts as 0.
 */
export function cacheLength(r: Region, at: number): number {
  const i32 = r.i32;
  const head = Atomics.load(i32, at);
  if (head <= 0 || head + 1 >= i32.length) return 0;
  const len = i32[head + 1];
  return len > 0 && len <= 4096 ? len : 0;
}

/**
 * Takes the whole cache at word `at` (any worker's): returns its top slot (the others follow
 * through `slotNext`; the top's `slotLength` says how many), or 0. ORDER: one exchange; the
 * owner's next CAS fails against the 0 it leaves and starts a new stack, so the stack taken is
 * the taker's alone (see the module).
 */
export function cacheTakeAll(r: Region, at: number): number {
  return Atomics.exchange(r.i32, at, 0);
}

/** The top of the cache at word `at`, read without taking it (a census of a quiet region). */
export function cachePeek(r: Region, at: number): number {
  return Atomics.load(r.i32, at);
}

/** The link of a free slot (the next slot's word index, 0 for none). */
export function slotNext(r: Region, w: number): number {
  return r.i32[w];
}

/** The length word of a cached slot (the stack's length from it down). */
export function slotLength(r: Region, w: number): number {
  return r.i32[w + 1];
}

/** Word index of the byte at paddr `addr` (a slot's name). */
export function slotAt(r: Region, addr: number): number {
  return (r.frameByte + addr) / 4;
}

/** The paddr of the slot named `w`. */
export function slotAddr(r: Region, w: number): number {
  return w * 4 - r.frameByte;
}

/** The metadata slot word of the frame holding paddr `addr`. */
export function slabOfAddr(r: Region, addr: number): number {
  return r.metaWord + ((addr >>> PAGE_SHIFT) << SLOT_SHIFT);
}

/** The metadata slot word of the frame holding the slot named `w`. */
export function slabOfSlot(r: Region, w: number): number {
  return r.metaWord + (((w * 4 - r.frameByte) >>> PAGE_SHIFT) << SLOT_SHIFT);
}

/** The size class of the slab whose slot is at `sw`. */
export function slabClass(r: Region, sw: number): number {
  return r.i32[sw + SL_CLASS];
}

/** The slots of slab `sw` that are not on its free list (handed out: to a cache or a user). */
export function slabAllocated(r: Region, sw: number): number {
  return r.i32[sw + SL_ALLOCATED];
}

/** The first slot of slab `sw`'s free list (0: none). */
export function slabFreeHead(r: Region, sw: number): number {
  return r.i32[sw + SL_FREE];
}

/**
 * Makes the slab whose slot is at `sw` and whose first byte is word `first` (a new unique frame of
 * the slab type, class `c`) hold every slot on its free list, first slot first.
 * OWNER: the frame is new and unique, this worker's (the heap lock is held too).
 */
export function initSlab(r: Region, sw: number, first: number, c: number): void {
  const i32 = r.i32;
  const words = 2 << c;
  let head = 0;
  for (let w = first + (1024 - words); w >= first; w -= words) {
    i32[w] = head; // OWNER: the new slab's bytes are this worker's
    head = w;
  }
  i32[sw + SL_CLASS] = c; // OWNER: as above
  i32[sw + SL_ALLOCATED] = 0; // OWNER: as above
  i32[sw + SL_FREE] = head; // OWNER: as above
}

/** Pops a slot off slab `sw`'s free list (0 if none). OWNER: the heap lock's holder. */
export function slabPop(r: Region, sw: number): number {
  const i32 = r.i32;
  const head = i32[sw + SL_FREE];
  if (head === 0) return 0;
  i32[sw + SL_FREE] = i32[head]; // OWNER: the heap lock's holder
  i32[sw + SL_ALLOCATED]++; // OWNER: as above
  return head;
}

/** Puts slot `w` back on slab `sw`'s free list; returns the slab's slots still allocated.
 *  OWNER: the heap lock's holder; the slot's words are the caller's (a block being freed). */
export function slabPush(r: Region, sw: number, w: number): number {
  const i32 = r.i32;
  i32[w] = i32[sw + SL_FREE]; // OWNER: the heap lock's holder
  i32[sw + SL_FREE] = w; // OWNER: as above
  return --i32[sw + SL_ALLOCATED]; // OWNER: as above
}

/**
 * Records that this worker is about to change the slab of frame `index` (its words or its list)
 * under the heap lock; -1 clears it. OWNER: a worker's heap journal is written by that worker
 * only (a plain store), and read by `reclaimWorker` once it exited (`heapJournalOf`).
 */
export function setHeapJournal(r: Region, index: number): void {
  r.i32[HP_CACHES + (r.workerId - 1) * HEAP_WORKER_WORDS + HJ_SLAB] = index + 1;
}

/** The slab frame index worker `worker` was changing when it died, or -1. */
export function heapJournalOf(r: Region, worker: number): number {
  return r.i32[HP_CACHES + (worker - 1) * HEAP_WORKER_WORDS + HJ_SLAB] - 1;
}

/** Clears the dead worker `worker`'s heap journal. OWNER: the reclaimer, once it exited. */
export function clearHeapJournalOf(r: Region, worker: number): void {
  r.i32[HP_CACHES + (worker - 1) * HEAP_WORKER_WORDS + HJ_SLAB] = 0;
}

/**
 * Records the rest of the chain of free slots this worker is giving back (its next slot, 0:
 * none). OWNER: as `setHeapJournal`. ORDER: stored before the slot ahead of it goes back, so a
 * worker that dies anywhere in a give-back loses at most that one slot (`reclaimWorker` gives the
 * rest back).
 */
export function setHeapChain(r: Region, w: number): void {
  r.i32[HP_CACHES + (r.workerId - 1) * HEAP_WORKER_WORDS + HJ_CHAIN] = w;
}

/** The rest of the chain the dead worker `worker` was giving back (0: none), and clears it.
 *  OWNER: the reclaimer, once it exited. */
export function takeHeapChainOf(r: Region, worker: number): number {
  const at = HP_CACHES + (worker - 1) * HEAP_WORKER_WORDS + HJ_CHAIN;
  const w = r.i32[at];
  r.i32[at] = 0; // OWNER: the reclaimer
  return w;
}

/**
 * Repairs the count of slab `sw` (class `c`) from its free list, which every change keeps whole
 * (a link is written before the head that publishes it): its slots handed out are those not on
 * it. Returns the free slots, or -1 if the list is not one of its slots (left as it is).
 * OWNER: the heap lock's holder (`reclaimWorker`, after a holder died halfway through a change).
 */
export function repairSlabCount(r: Region, sw: number, first: number, c: number): number {
  const i32 = r.i32;
  const cap = 512 >> c;
  const words = 2 << c;
  let free = 0;
  for (let w = i32[sw + SL_FREE]; w !== 0; w = i32[w]) {
    if (w < first || w >= first + 1024 || (w - first) % words !== 0 || ++free > cap) return -1;
  }
  i32[sw + SL_ALLOCATED] = cap - free; // OWNER: the heap lock's holder
  return free;
}

/** A large block's length in frames, read on its first frame (0 on another frame). */
export function largeFrames(r: Region, sw: number): number {
  return r.i32[sw + LB_FRAMES];
}

/** Takes the heap lock (docs/waits.md). */
export function lockHeap(r: Region): void {
  lock(r.i32, HP_LOCK, r.token);
}

/** Gives the heap lock back (its ORDER note is `unlock`'s, in shm/lock.ts). */
export function unlockHeap(r: Region): void {
  unlock(r.i32, HP_LOCK);
}

/**
 * Releases the heap lock if the dead worker whose token is `deadToken` holds it (reclaim).
 * ORDER: as `forceRelease` (shm/lock.ts): one CAS from the dead token. The slab change it left
 * half done is repaired after (`SlabPool.repair`, from its heap journal).
 */
export function releaseHeapFrom(r: Region, deadToken: number): boolean {
  return lockOwner(r.i32, HP_LOCK) === deadToken && forceRelease(r.i32, HP_LOCK, deadToken);
}

/** Whether the slab lists exist (`setReady`). */
export function heapReady(r: Region): boolean {
  return Atomics.load(r.i32, HP_READY) === 1;
}

/** The id and generation of class `c`'s list of partial slabs. */
export function partialList(r: Region, c: number): { id: number; gen: number } {
  return { id: Atomics.load(r.i32, HP_LIST + c), gen: Atomics.load(r.i32, HP_GEN + c) };
}

/**
 * Records the lists of partial slabs (`ids[c]`, `gens[c]`) and marks the heap ready.
 * OWNER: the heap lock's holder, once (the ready word was 0 under the lock). ORDER: the ids are
 * stored before the ready word, so a worker that loads 1 from it reads them.
 */
export function setReady(r: Region, ids: readonly number[], gens: readonly number[]): void {
  for (let c = 0; c < NUM_CLASSES; c++) {
    Atomics.store(r.i32, HP_LIST + c, ids[c]);
    Atomics.store(r.i32, HP_GEN + c, gens[c]);
  }
  Atomics.store(r.i32, HP_READY, 1);
}

/** What `heapCensus` counts: per class, slabs, their slots handed out, and slots cached. */
export interface HeapCensus {
  readonly slabs: number[];
  /** Slots not on their slab's free list (cached or in use), per class. */
  readonly allocated: number[];
  /** Slots in the workers' caches, per class. */
  readonly cached: number[];
  largeBlocks: number;
  largeFrames: number;
}

/**
 * Counts the heap's slabs, slots and large blocks over the `nframes` frames (a snapshot: read
 * without the lock, exact in a quiet region).
 */
export function heapCensus(r: Region, nframes: number, slabType: number, largeType: number): HeapCensus {
  const i32 = r.i32;
  const out: HeapCensus = { slabs: new Array<number>(NUM_CLASSES).fill(0), allocated: new Array<number>(NUM_CLASSES).fill(0), cached: new Array<number>(NUM_CLASSES).fill(0), largeBlocks: 0, largeFrames: 0 };
  for (let k = 0; k < nframes; k++) {
    const sw = r.metaWord + (k << SLOT_SHIFT);
    const t = i32[sw + S_TYPE];
    if (t === 0) continue;
    if (t === slabType) {
      const c = i32[sw + SL_CLASS];
      if (c >= 0 && c < NUM_CLASSES) {
        out.slabs[c]++;
        out.allocated[c] += i32[sw + SL_ALLOCATED];
      }
    } else if (t === largeType && i32[sw + LB_FRAMES] > 0) {
      out.largeBlocks++;
      out.largeFrames += i32[sw + LB_FRAMES];
    }
  }
  if (heapReady(r)) {
    for (let id = 1; id <= MAX_WORKERS; id++) for (let c = 0; c < NUM_CLASSES; c++) out.cached[c] += cacheLength(r, cacheWord(id, c));
  }
  return out;
}

/**
 * Checks the heap in a quiet region (`checkInvariants`): every slot of every slab is on its
 * slab's free list, in exactly one worker's cache, or neither (in use), never twice; each slab's
 * count of slots handed out agrees with its free list; a slab is in its class's list of partial
 * slabs exactly when it has free slots; each cache's length words agree with its links.
 * Throws `InvariantError('heap', ...)`.
 */
export function checkHeap(r: Region, nframes: number, slabType: number): void {
  const i32 = r.i32;
  const fail = (msg: string): never => {
    throw new InvariantError('heap', msg);
  };
  const seen = new Set<number>();
  const cachedIn = new Map<number, number>(); // slab slot word -> slots of it cached
  const ready = heapReady(r);
  const frameOf = (w: number): number => (w * 4 - r.frameByte) >>> PAGE_SHIFT;
  /** Whether `w` names a slot of a slab of class `c` (any class if -1). */
  const isSlot = (w: number, c: number): boolean => {
    if (!Number.isInteger(w) || w <= 0 || w * 4 < r.frameByte) return false;
    const k = frameOf(w);
    if (k >= nframes) return false;
    const sw = r.metaWord + (k << SLOT_SHIFT);
    if (i32[sw + S_TYPE] !== slabType) return false;
    const sc = i32[sw + SL_CLASS];
    if (c >= 0 && sc !== c) return false;
    return ((w * 4 - r.frameByte) & (PAGE_SIZE - 1)) % (8 << sc) === 0;
  };
  if (ready) {
    for (let id = 1; id <= MAX_WORKERS; id++) {
      for (let c = 0; c < NUM_CLASSES; c++) {
        let w = i32[cacheWord(id, c)];
        const len = w === 0 ? 0 : i32[w + 1];
        for (let k = len; k > 0; k--) {
          if (!isSlot(w, c)) fail(`worker ${id}'s cache of ${8 << c}-byte slots holds ${w * 4 - r.frameByte}, not a free slot of that class`);
          if (i32[w + 1] !== k) fail(`worker ${id}'s cache of ${8 << c}-byte slots: a length word says ${i32[w + 1]}, not ${k}`);
          if (seen.has(w)) fail(`slot ${w * 4 - r.frameByte} is cached twice`);
          seen.add(w);
          const sw = r.metaWord + (frameOf(w) << SLOT_SHIFT);
          cachedIn.set(sw, (cachedIn.get(sw) ?? 0) + 1);
          w = i32[w];
        }
        if (w !== 0) fail(`worker ${id}'s cache of ${8 << c}-byte slots is longer than its length word says`);
      }
    }
  }
  for (let k = 0; k < nframes; k++) {
    const sw = r.metaWord + (k << SLOT_SHIFT);
    if (i32[sw + S_TYPE] !== slabType) continue;
    const paddr = k * PAGE_SIZE;
    const c = i32[sw + SL_CLASS];
    if (!(c >= 0 && c < NUM_CLASSES)) fail(`slab ${paddr} has size class ${c}`);
    const cap = 512 >> c;
    let free = 0;
    for (let w = i32[sw + SL_FREE]; w !== 0; w = i32[w]) {
      if (!isSlot(w, c) || frameOf(w) !== k) fail(`slab ${paddr}'s free list holds ${w * 4 - r.frameByte}, not one of its slots`);
      if (seen.has(w)) fail(`slot ${w * 4 - r.frameByte} is on its slab's free list and cached, or twice on the list`);
      seen.add(w);
      if (++free > cap) fail(`slab ${paddr}'s free list is longer than its ${cap} slots`);
    }
    const allocated = i32[sw + SL_ALLOCATED];
    if (allocated + free !== cap) fail(`slab ${paddr}: ${allocated} slots handed out and ${free} free, not ${cap} in all`);
    if ((cachedIn.get(sw) ?? 0) > allocated) fail(`slab ${paddr}: ${cachedIn.get(sw)} slots cached, more than the ${allocated} handed out`);
    const list = i32[sw + S_LIST];
    const want = free > 0 ? Atomics.load(i32, HP_LIST + c) : 0;
    if (list !== want) fail(`slab ${paddr} (${free} free slots) is in list ${list}, not ${want}`);
  }
}
