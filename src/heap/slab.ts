/**
 * Slabs (the kernel's `Slab` and `SlabMeta`) and large blocks: a slab is a unique frame of
 * metadata type `pageframe.slab` cut into slots of one size class, its free list threaded through
 * its free slots; a large block is a segment of frames of type `pageframe.heap-large`, forgotten
 * (`intoRaw`) while in use. The slab pool keeps, per class, a `LinkedList` of the slabs with free
 * slots (the kernel's slab caches' partial lists); a full slab is in no list (held raw), an empty
 * one goes back to the frame allocator at once. Every change of a slab is made under the heap
 * lock (`region/heap.ts`).
 */
import { AllocError } from '../base/errors.js';
import { PAGE_SHIFT, PAGE_SIZE, type Paddr } from '../base/units.js';
import { FrameAllocOptions } from '../frame/allocator.js';
import type { FrameContext } from '../frame/context.js';
import { defineType, lookupTypeId, typeIdOf } from '../frame/meta-type.js';
import { LinkedList } from '../frame/linked-list.js';
import { Segment } from '../frame/segment.js';
import { UniqueFrame } from '../frame/unique.js';
import {
  NUM_CLASSES,
  cachePop,
  cachePush,
  clearHeapJournalOf,
  heapJournalOf,
  heapReady,
  initSlab,
  lockHeap,
  partialList,
  repairSlabCount,
  setHeapChain,
  setHeapJournal,
  setReady,
  slabAllocated,
  slabClass,
  slabFreeHead,
  slabOfSlot,
  slabPop,
  slabPush,
  slotAt,
  slotNext,
  takeHeapChainOf,
  unlockHeap,
} from '../region/heap.js';
import { listFront, listIdOf, listedNext } from '../region/lists.js';
import { RC_UNIQUE, countOf, slotWord, typeOf } from '../region/meta.js';
import { slotsPerSlab } from './slot.js';
import type { Region } from '../region/region.js';

/** The longest chain of free slots a give-back walks (more than any cache holds). */
const MAX_CHAIN = 4096;

/** The names of the slab and large-block metadata types (the frame map finds them by name). */
export const SLAB_TYPE = 'pageframe.slab';
export const LARGE_TYPE = 'pageframe.heap-large';

/** The metadata of a slab frame: its size class, the slots handed out, its free list's head. */
export const SlabMeta = defineType(SLAB_TYPE, { sizeClass: 'u32', allocated: 'u32', freeHead: 'u32' }, false);

/** The metadata of a large block's frames: its length in frames on the first, 0 on the others. */
export const LargeMeta = defineType(LARGE_TYPE, { blockFrames: 'u32' }, false);

/**
 * One worker's hands on the slab pool: the lists of partial slabs, opened on first use. Each
 * method that changes slabs takes the heap lock for its whole body.
 */
export class SlabPool {
  private readonly r: Region;
  private lists: LinkedList<typeof SlabMeta>[] | undefined;
  private alloc: FrameAllocOptions | undefined;

  constructor(private readonly sys: FrameContext) {
    this.r = sys._region;
  }

  /** The type id of slabs in this region (registered on first use). */
  slabTypeId(): number {
    return typeIdOf(this.r, SlabMeta);
  }

  /** The slab type's id here, or 0 if it was never registered (nothing to check then). */
  slabTypeIdIfAny(): number {
    return lookupTypeId(this.r, SlabMeta);
  }

  /** The type id of large blocks' frames in this region (registered on first use). */
  largeTypeId(): number {
    return typeIdOf(this.r, LargeMeta);
  }

  /** Class `c`'s list of partial slabs; the lists are made by the first worker that needs one.
   *  The caller holds the heap lock. */
  private list(c: number): LinkedList<typeof SlabMeta> {
    if (this.lists === undefined) {
      const r = this.r;
      if (!heapReady(r)) {
        const made: LinkedList<typeof SlabMeta>[] = [];
        try {
          for (let k = 0; k < NUM_CLASSES; k++) made.push(LinkedList.create(this.sys, SlabMeta));
        } catch (e) {
          for (const l of made) l.destroy();
          throw e;
        }
        setReady(r, made.map((l) => l.id), made.map((l) => l.handle.gen));
      }
      const lists: LinkedList<typeof SlabMeta>[] = [];
      for (let k = 0; k < NUM_CLASSES; k++) lists.push(LinkedList.open(this.sys, partialList(r, k), SlabMeta));
      this.lists = lists;
    }
    return this.lists[c];
  }

  /**
   * Moves up to `n` free slots of class `c` from the pool to the cache at word `cache` (this
   * worker's), making new slabs as needed; returns how many it moved (0: no slot and no frame for
   * a new slab). Under the heap lock.
   */
  refill(c: number, n: number, cache: number): number {
    const r = this.r;
    lockHeap(r);
    try {
      return this.takeLocked(c, n, (w) => cachePush(r, cache, w));
    } finally {
      setHeapJournal(r, -1);
      unlockHeap(r);
    }
  }

  /** One free slot of class `c` straight from a slab (checked mode: no caches), or 0. Under the heap lock. */
  takeOne(c: number): number {
    const r = this.r;
    lockHeap(r);
    try {
      let got = 0;
      this.takeLocked(c, 1, (w) => (got = w));
      return got;
    } finally {
      setHeapJournal(r, -1);
      unlockHeap(r);
    }
  }

  /** `refill`'s body: up to `n` slots of class `c` given to `put`; the caller holds the lock. */
  private takeLocked(c: number, n: number, put: (w: number) => void): number {
    const r = this.r;
    const list = this.list(c);
    let got = 0;
    while (got < n) {
      // The front slab is read without taking it out (only the heap lock's holder changes these
      // lists): it leaves the list only once it is full.
      const front = listFront(r, list.id - 1);
      let fresh: UniqueFrame<typeof SlabMeta> | null = null;
      let sw: number;
      if (front !== 0) {
        sw = slotWord(r, front - 1);
        setHeapJournal(r, front - 1);
      } else {
        try {
          fresh = (this.alloc ??= new FrameAllocOptions(this.sys).zeroed(false)).allocUnique(SlabMeta, { sizeClass: c });
        } catch (e) {
          if (e instanceof AllocError && e.code === 'NoMemory') break;
          throw e;
        }
        sw = slabOfSlot(r, slotAt(r, fresh.paddr));
        setHeapJournal(r, fresh.paddr / PAGE_SIZE);
        initSlab(r, sw, slotAt(r, fresh.paddr), c);
      }
      while (got < n) {
        const w = slabPop(r, sw);
        if (w === 0) break;
        put(w);
        got++;
      }
      const full = slabFreeHead(r, sw) === 0;
      if (fresh !== null) {
        if (full) fresh.intoRaw(); // full: held raw, in no list
        else list.pushFront(fresh);
      } else if (full) list.popFront()!.intoRaw();
    }
    return got;
  }

  /**
   * Gives `count` slots back to their slabs: the chain from slot `first` linked through
   * `slotNext` (a cache's stack, taken whole or popped). A slab that was full goes back to its
   * list; one left empty goes back to the frame allocator. Returns the frames given back. Under
   * the heap lock.
   */
  giveBack(first: number, count: number): number {
    const r = this.r;
    let freed = 0;
    setHeapChain(r, first); // before the wait for the lock: the chain is this worker's from here
    lockHeap(r);
    try {
      for (let w = first, k = 0; w !== 0 && k < count; k++) {
        const next = slotNext(r, w);
        setHeapChain(r, next);
        freed += this.putLocked(w);
        w = next;
      }
    } finally {
      setHeapChain(r, 0);
      setHeapJournal(r, -1);
      unlockHeap(r);
    }
    return freed;
  }

  /**
   * Gives up to `n` slots of this worker's cache at word `at` back to their slabs, popping each
   * under the heap lock right before it goes back (a death in between loses that one slot).
   * Returns the frames given back.
   */
  flush(at: number, n: number): number {
    const r = this.r;
    let freed = 0;
    lockHeap(r);
    try {
      for (let k = 0; k < n; k++) {
        const w = cachePop(r, at);
        if (w === 0) break;
        freed += this.putLocked(w);
      }
    } finally {
      setHeapJournal(r, -1);
      unlockHeap(r);
    }
    return freed;
  }

  /** Gives one slot back (checked mode) once `check(slab)` passed under the lock (it throws to
   *  refuse, changing nothing); returns the frames given back (0 or 1). Under the heap lock. */
  giveOneChecked(w: number, check: (slab: number) => void): number {
    const r = this.r;
    lockHeap(r);
    try {
      check(slabOfSlot(r, w));
      return this.putLocked(w);
    } finally {
      setHeapJournal(r, -1);
      unlockHeap(r);
    }
  }

  /** Slot `w` back on its slab's free list, and the slab filed by its new fill. Lock held. */
  private putLocked(w: number): number {
    const r = this.r;
    const sw = slabOfSlot(r, w);
    const c = slabClass(r, sw);
    const frame = (w * 4 - r.frameByte) >>> PAGE_SHIFT;
    setHeapJournal(r, frame);
    const left = slabPush(r, sw, w);
    const paddr = frame * PAGE_SIZE;
    const list = this.list(c);
    // Filed by where it is, not by its fill before: a worker that died holding the heap lock may
    // have left a slab with free slots out of its list (it is filed again here).
    const listed = listIdOf(r, frame + 1) === list.id;
    if (left === 0) {
      // Empty: back to the frame allocator, unless it is its class's only partial slab (kept,
      // so that one block allocated and freed over and over does not make a slab each time;
      // `dropEmpty` gives it back).
      if (listed && list.size === 1) return 0;
      if (listed) this.dropListed(list, paddr);
      else UniqueFrame.fromRaw(this.sys, paddr, SlabMeta).drop();
      return 1;
    }
    if (!listed) list.pushBack(UniqueFrame.fromRaw(this.sys, paddr, SlabMeta));
    return 0;
  }

  /** Takes slab `paddr` out of `list` and drops it (lock held). */
  private dropListed(list: LinkedList<typeof SlabMeta>, paddr: Paddr): void {
    const cursor = list.cursorMutAt(paddr)!;
    const slab = cursor.takeCurrent()!;
    cursor.release();
    slab.drop();
  }

  /** Gives every empty slab back to the frame allocator; returns how many. Under the heap lock. */
  dropEmpty(): number {
    const r = this.r;
    if (!heapReady(r)) return 0;
    let dropped = 0;
    lockHeap(r);
    try {
      for (let c = 0; c < NUM_CLASSES; c++) {
        const list = this.list(c);
        const empty: Paddr[] = [];
        for (let f = listFront(r, list.id - 1); f !== 0; f = listedNext(r, f)) {
          if (slabAllocated(r, slotWord(r, f - 1)) === 0) empty.push((f - 1) * PAGE_SIZE);
        }
        for (const paddr of empty) {
          setHeapJournal(r, paddr / PAGE_SIZE);
          this.dropListed(list, paddr);
        }
        dropped += empty.length;
      }
    } finally {
      setHeapJournal(r, -1);
      unlockHeap(r);
    }
    return dropped;
  }

  /**
   * `reclaimWorker`'s repair of the slab the dead worker `id` was changing under the heap lock
   * (its heap journal): its count recomputed from its free list, and the slab filed by its fill
   * (in its class's list with free slots, out of it when full, back to the frame allocator when
   * empty). A slab already torn down (the frame reclaim finished its drop) is left alone. Under the
   * heap lock. Returns whether a slab was repaired.
   */
  repair(id: number): boolean {
    const r = this.r;
    if (!heapReady(r)) return false;
    const chain = takeHeapChainOf(r, id);
    const repaired = this.repairSlab(id);
    if (chain !== 0) this.giveBack(chain, MAX_CHAIN); // the rest of a stack it was giving back
    return repaired;
  }

  /** `repair`'s slab (see there). */
  private repairSlab(id: number): boolean {
    const r = this.r;
    const k = heapJournalOf(r, id);
    if (k < 0) return false;
    lockHeap(r);
    try {
      clearHeapJournalOf(r, id);
      if (k >= r.nframes) return false;
      const sw = slotWord(r, k);
      if (typeOf(r, sw) !== this.slabTypeIdIfAny() || countOf(r, sw) !== RC_UNIQUE) return false;
      const c = slabClass(r, sw);
      const free = c >= 0 && c < NUM_CLASSES ? repairSlabCount(r, sw, slotAt(r, k * PAGE_SIZE), c) : -1;
      if (free < 0) return false;
      const list = this.list(c);
      const paddr = k * PAGE_SIZE;
      const listed = listIdOf(r, k + 1) === list.id;
      if (free === slotsPerSlab(c)) {
        if (listed) this.dropListed(list, paddr);
        else UniqueFrame.fromRaw(this.sys, paddr, SlabMeta).drop();
      } else if (free > 0 && !listed) list.pushBack(UniqueFrame.fromRaw(this.sys, paddr, SlabMeta));
      else if (free === 0 && listed) {
        const cursor = list.cursorMutAt(paddr)!;
        const slab = cursor.takeCurrent()!;
        cursor.release();
        slab.intoRaw();
      }
      return true;
    } finally {
      unlockHeap(r);
    }
  }

  /** A large block of `nframes` frames (not zeroed); its paddr. `AllocError('NoMemory')` as a segment's. */
  allocLarge(nframes: number): Paddr {
    let first = true;
    const seg = (this.alloc ??= new FrameAllocOptions(this.sys).zeroed(false)).allocSegmentWith(nframes, LargeMeta, () => {
      const init = first ? { blockFrames: nframes } : undefined;
      first = false;
      return init;
    });
    return seg.intoRaw().start;
  }

  /** Frees the large block of `nframes` frames at `paddr`. */
  freeLarge(paddr: Paddr, nframes: number): void {
    Segment.fromRaw(this.sys, { start: paddr, end: paddr + nframes * PAGE_SIZE }, LargeMeta).drop();
  }
}
