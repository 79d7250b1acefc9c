/**
 * `Heap`: small objects on frames, as the kernel's `mm/heap` with the OSDK heap allocator. Blocks
 * of up to 2048 bytes are slots of slabs (`slab.ts`), in size classes 8..2048 (`slot.ts`), served
 * from per-worker caches in shared memory (`cache.ts`); larger blocks are segments of whole
 * frames. A block is named by its address in paddr coordinates (the frame's paddr plus the offset
 * in it), the same number in every worker; `FrameSystem.bytes` / `dataView` view it.
 */
import { AllocError, ContractError, FrameUseError, hex } from '../base/errors.js';
import { checkHeapRequest, checkNumber } from '../base/args.js';
import { PAGE_SHIFT, PAGE_SIZE, type Paddr } from '../base/units.js';
import { MAX_FRAMES } from '../base/limits.js';
import type { FrameContext } from '../frame/context.js';
import { syncFrames } from '../region/header.js';
import {
  cachePop,
  cachePush,
  cacheWord,
  checkHeap,
  heapCensus,
  largeFrames,
  slabAllocated,
  slabClass,
  slabFreeHead,
  slabOfAddr,
  slabOfSlot,
  slotAt,
  slotNext,
} from '../region/heap.js';
import { typeOf } from '../region/meta.js';
import type { Region } from '../region/region.js';
import { flushCache, keepCached, maxCached, stealCaches, takeCachesOf } from './cache.js';
import { SlabPool } from './slab.js';
import { MAX_SLOT_SIZE, NUM_CLASSES, classOf, slotSize } from './slot.js';

/**
 * What `Heap.stats` counts, over the whole region (a snapshot; exact when no worker is
 * allocating).
 *
 * @example
 * ```ts
 * const a = sys.heap.alloc(24);
 * const s: HeapStats = sys.heap.stats();
 * console.log(s.blocksInUse, s.bytesInUse, s.byClass[32].used); // 1 32 1
 * sys.heap.free(a);
 * sys.heap.trim();
 * ```
 */
export interface HeapStats {
  /** Blocks allocated and not freed (slots and large blocks). */
  readonly blocksInUse: number;
  /** Their usable bytes (slot sizes, and whole frames of large blocks). */
  readonly bytesInUse: number;
  /** Frames used as slabs. */
  readonly slabs: number;
  /** Free slots held in the workers' caches. */
  readonly cachedSlots: number;
  /** Blocks above 2048 bytes: how many, and their frames. */
  readonly large: { readonly blocks: number; readonly frames: number };
  /** Per slot size (8..2048): slabs, slots in use, slots cached. */
  readonly byClass: Readonly<Record<number, { readonly slabs: number; readonly used: number; readonly cached: number }>>;
}

/** The largest block, in bytes (a region has at most MAX_FRAMES frames). */
const MAX_BLOCK = MAX_FRAMES * PAGE_SIZE;

/**
 * The heap of a region as one worker sees it (`sys.heap`): `alloc`, `free`, `sizeOf`, `stats`,
 * `trim`. Blocks are not zeroed. Any worker may free any block. Checked mode (the region's flag)
 * keeps no cache, and checks every `free` against the block's slab.
 *
 * @example
 * ```ts
 * const addr = sys.heap.alloc(16); // a block of 16 bytes, in paddr coordinates
 * sys.dataView(addr, 16).setFloat64(8, 1.5, true);
 * console.log(sys.dataView(addr, 16).getFloat64(8, true), sys.heap.sizeOf(addr)); // 1.5 16
 * sys.heap.free(addr); // from any worker
 * sys.heap.trim();
 * ```
 */
export class Heap {
  private readonly r: Region;
  private readonly pool: SlabPool;
  /** Word index of this worker's cache head of class 0 (class c: + c). */
  private readonly cache0: number;
  /** The slab and large-block type ids here (-1 until the first use registers them). */
  private slabId = -1;
  private largeId = -1;
  /** Word index of frame 0's first byte: slot `w` is at paddr `(w - frameWord) * 4`. */
  private readonly frameWord: number;
  /** Whether the hot paths may run: caches in use, not checked, not closed. */
  private fast: boolean;

  /** @internal Made by `FrameSystem.heap`. */
  constructor(private readonly sys: FrameContext) {
    this.r = sys._region;
    this.pool = new SlabPool(sys);
    this.cache0 = cacheWord(this.r.workerId, 0);
    this.frameWord = this.r.frameByte >>> 2;
    this.fast = !sys.checked;
  }

  /**
   * A block of at least `size` bytes aligned to `align` (a power of two up to 4096, default 8):
   * its address (paddr coordinates). Up to 2048 bytes it is a slot of the larger of the two
   * rounded up to a power of two (at least 8); above, whole frames. Not zeroed.
   * `AllocError('InvalidArgs')` for a size that is not an integer >= 1 or an alignment that is
   * not a power of two in 1..4096; `AllocError('NoMemory')` when no free slot and no frame is
   * left anywhere (every worker's cached slots were taken back first; with `autoGrow` the region
   * grows instead).
   *
   * @example
   * ```ts
   * const a = sys.heap.alloc(100); // a 128-byte slot
   * const b = sys.heap.alloc(8, 64); // aligned to 64: a 64-byte slot
   * console.log(sys.heap.sizeOf(a), b % 64); // 128 0
   * sys.heap.free(a);
   * sys.heap.free(b);
   * sys.heap.trim();
   * ```
   */
  alloc(size: number, align = 8): number {
    // The hot path: a slot whose class is its size's (alignments 1, 2, 4 and 8 never raise it).
    if (this.fast && typeof size === 'number' && size >= 1 && size <= MAX_SLOT_SIZE && (size | 0) === size && (align === 8 || align === 4 || align === 1 || align === 2)) {
      const c = size <= 8 ? 0 : 29 - Math.clz32(size - 1);
      const w = cachePop(this.r, this.cache0 + c);
      if (w !== 0) return (w - this.frameWord) * 4;
      return this.refill(c);
    }
    return this.allocSlow(size, align);
  }

  /** `alloc` off the hot path: checks, checked mode, alignment, large blocks. */
  private allocSlow(size: number, align: number): number {
    this.sys._assertOpen();
    checkHeapRequest(size, align, MAX_BLOCK, PAGE_SIZE);
    const c = classOf(size, align);
    if (c < 0) {
      this.ids();
      const nframes = Math.ceil(size / PAGE_SIZE);
      try {
        return this.pool.allocLarge(nframes);
      } catch (e) {
        if (!(e instanceof AllocError && e.code === 'NoMemory')) throw e;
        if (stealCaches(this.r, this.pool) === 0) throw e;
        return this.pool.allocLarge(nframes);
      }
    }
    if (this.fast) {
      const w = cachePop(this.r, this.cache0 + c);
      if (w !== 0) return w * 4 - this.r.frameByte;
      return this.refill(c);
    }
    this.ids();
    let w = this.pool.takeOne(c);
    if (w === 0 && stealCaches(this.r, this.pool) > 0) w = this.pool.takeOne(c);
    if (w === 0) throw new AllocError('NoMemory', `no free ${slotSize(c)}-byte slot and no free frame for a slab`, 1, this.sys.allocator.freeFrames?.() ?? 0);
    return w * 4 - this.r.frameByte;
  }

  /** Refills this worker's empty cache of class `c` and takes a slot; before NoMemory, every
   *  worker's cached slots go back to their slabs (freeing empty ones) and it tries again. */
  private refill(c: number): number {
    this.sys._assertOpen();
    this.ids();
    const at = this.cache0 + c;
    for (let attempt = 0; ; attempt++) {
      if (this.pool.refill(c, keepCached(c), at) > 0) {
        const w = cachePop(this.r, at);
        if (w !== 0) return w * 4 - this.r.frameByte;
      }
      if (attempt > 0 || stealCaches(this.r, this.pool) === 0) {
        throw new AllocError('NoMemory', `no free ${slotSize(c)}-byte slot and no free frame for a slab`, 1, this.sys.allocator.freeFrames?.() ?? 0);
      }
    }
  }

  /** Registers the slab and large types here on first use. */
  private ids(): void {
    if (this.slabId < 0) {
      this.slabId = this.pool.slabTypeId();
      this.largeId = this.pool.largeTypeId();
    }
  }

  /**
   * Frees the block at `addr` (from any worker, whichever allocated it). An address that is not
   * an allocated block's is refused where it shows cheaply: not a number
   * (`FrameUseError('BadValue')`), outside the region, inside a block, in a frame that is no
   * slab or large block, in an empty slab, a large block freed already (`FrameUseError('NotHeld')`);
   * in checked mode every case, a slot freed twice too (`ContractError('heap_dealloc_requires')`).
   * A refused call changes nothing.
   *
   * @example
   * ```ts
   * const addr = sys.heap.alloc(32);
   * sys.heap.free(addr);
   * try {
   *   sys.heap.free(addr + 8); // inside a block: refused
   * } catch (e) {
   *   console.log((e as FrameUseError).code); // 'NotHeld'
   * }
   * sys.heap.trim();
   * ```
   */
  free(addr: number): void {
    const r = this.r;
    if (this.fast && typeof addr === 'number' && (addr & 7) === 0 && addr >= 0 && addr < r.maxPaddr) {
      const sw = slabOfAddr(r, addr);
      if (typeOf(r, sw) === this.slabId) {
        const c = slabClass(r, sw);
        if ((addr & ((8 << c) - 1)) === 0 && slabAllocated(r, sw) > 0) {
          const len = cachePush(r, this.cache0 + c, this.frameWord + (addr >>> 2));
          if (len > maxCached(c)) flushCache(r, this.pool, c, keepCached(c));
          if (len !== 0) return;
        }
      }
    }
    this.freeSlow(addr);
  }

  /** `free` off the hot path: the checks, checked mode, large blocks. */
  private freeSlow(addr: number): void {
    this.sys._assertOpen();
    const kind = this.classify(addr, 'free');
    const r = this.r;
    if (kind < 0) {
      this.pool.freeLarge(addr, -kind);
      return;
    }
    const w = slotAt(r, addr);
    if (!this.fast) {
      this.pool.giveOneChecked(w, (sw) => this.requireAllocated(sw, w, addr));
      return;
    }
    const len = cachePush(r, this.cache0 + kind, w);
    if (len === 0) this.refuse(addr, 'free', 'the slot is free already (a double free)', (addr >>> PAGE_SHIFT) * PAGE_SIZE);
    if (len > maxCached(kind)) flushCache(r, this.pool, kind, keepCached(kind));
  }

  /**
   * What the block at `addr` is, or a refusal: its class (>= 0) if it is a slot of a slab, minus
   * its frames if it is a large block.
   */
  private classify(addr: unknown, what: string): number {
    checkNumber(addr, `heap.${what}'s address`);
    this.ids();
    const r = this.r;
    if (!(addr >= 0 && addr < r.maxPaddr)) syncFrames(r);
    if (!(Number.isInteger(addr) && addr >= 0 && addr < r.maxPaddr)) this.refuse(addr, what, 'not an address in the region', 0);
    const framePaddr = (addr >>> PAGE_SHIFT) * PAGE_SIZE;
    const sw = slabOfSlot(r, slotAt(r, framePaddr));
    const type = typeOf(r, sw);
    if (type === this.slabId) {
      const c = slabClass(r, sw);
      if ((addr & (slotSize(c) - 1)) !== 0) this.refuse(addr, what, `inside a ${slotSize(c)}-byte slot`, framePaddr);
      if (slabAllocated(r, sw) <= 0) this.refuse(addr, what, 'in a slab with no slot allocated', framePaddr);
      return c;
    }
    if (type === this.largeId) {
      const n = largeFrames(r, sw);
      if (n <= 0 || addr !== framePaddr) this.refuse(addr, what, 'inside a large block', framePaddr);
      return -n;
    }
    return this.refuse(addr, what, 'not in a heap block (the frame is no slab and no large block)', framePaddr);
  }

  /** Checked mode: the slot `w` of slab `sw` must not be on the slab's free list (a double free).
   *  Called under the heap lock. */
  private requireAllocated(sw: number, w: number, addr: number): void {
    const r = this.r;
    let n = 0;
    for (let f = slabFreeHead(r, sw); f !== 0 && n <= 512; f = slotNext(r, f), n++) {
      if (f === w) throw new ContractError('heap_dealloc_requires', (addr >>> PAGE_SHIFT) * PAGE_SIZE, `heap.free(${hex(addr)}): the slot is free already (a double free)`);
    }
  }

  /** Throws the refusal of `addr` (see `free`). */
  private refuse(addr: number, what: string, why: string, framePaddr: Paddr): never {
    if (this.sys.checked) throw new ContractError('heap_dealloc_requires', framePaddr, `heap.${what}(${hex(addr)}): ${why}`);
    throw new FrameUseError('NotHeld', `heap.${what}(${hex(addr)}): ${why}`);
  }

  /**
   * The usable size of the block at `addr`: its slot's size, or its frames' bytes for a large
   * block. Refuses what `free` refuses, as `free` does (but a free slot whose slab still has
   * slots in use, which only `free` in checked mode tells).
   *
   * @example
   * ```ts
   * const small = sys.heap.alloc(20);
   * const big = sys.heap.alloc(5000);
   * console.log(sys.heap.sizeOf(small), sys.heap.sizeOf(big)); // 32 8192
   * sys.heap.free(small);
   * sys.heap.free(big);
   * sys.heap.trim();
   * ```
   */
  sizeOf(addr: number): number {
    this.sys._assertOpen();
    const kind = this.classify(addr, 'sizeOf');
    return kind < 0 ? -kind * PAGE_SIZE : slotSize(kind);
  }

  /**
   * Counts the heap's blocks, slabs and cached slots over the whole region (see `HeapStats`):
   * a scan of every frame's slot, for tests and monitoring.
   *
   * @example
   * ```ts
   * const blocks = [sys.heap.alloc(8), sys.heap.alloc(8), sys.heap.alloc(3000)];
   * const s = sys.heap.stats();
   * console.log(s.blocksInUse, s.slabs, s.large); // 3 1 { blocks: 1, frames: 1 }
   * for (const b of blocks) sys.heap.free(b);
   * sys.heap.trim();
   * console.log(sys.heap.stats().slabs); // 0
   * ```
   */
  stats(): HeapStats {
    this.sys._assertOpen();
    this.ids();
    const r = this.r;
    syncFrames(r);
    const census = heapCensus(r, r.nframes, this.slabId, this.largeId);
    let blocks = census.largeBlocks;
    let bytes = census.largeFrames * PAGE_SIZE;
    let slabs = 0;
    let cached = 0;
    const byClass: Record<number, { slabs: number; used: number; cached: number }> = {};
    for (let c = 0; c < NUM_CLASSES; c++) {
      const used = Math.max(0, census.allocated[c] - census.cached[c]);
      byClass[slotSize(c)] = { slabs: census.slabs[c], used, cached: census.cached[c] };
      blocks += used;
      bytes += used * slotSize(c);
      slabs += census.slabs[c];
      cached += census.cached[c];
    }
    return { blocksInUse: blocks, bytesInUse: bytes, slabs, cachedSlots: cached, large: { blocks: census.largeBlocks, frames: census.largeFrames }, byClass };
  }

  /**
   * Gives this worker's cached free slots back to their slabs, and every slab left empty back to
   * the frame allocator (`FrameSystem.drainCaches` and `close` do it too). Returns the frames
   * given back.
   *
   * @example
   * ```ts
   * sys.heap.free(sys.heap.alloc(64)); // the slot stays in this worker's cache, its slab too
   * console.log(sys.heap.stats().slabs, sys.heap.trim(), sys.heap.stats().slabs); // 1 1 0
   * ```
   */
  trim(): number {
    this.sys._assertOpen();
    return this._trim();
  }

  /** @internal `trim` without the closed check (`close` calls it). */
  _trim(): number {
    let frames = 0;
    for (let c = 0; c < NUM_CLASSES; c++) frames += flushCache(this.r, this.pool, c, 0);
    return frames + this.pool.dropEmpty();
  }

  /** @internal `reclaimWorker`: the dead worker `id`'s cached slots back to their slabs; how many. */
  _reclaim(id: number): number {
    this.pool.repair(id); // a slab it left half changed under the heap lock, first
    return takeCachesOf(this.r, this.pool, id);
  }

  /** @internal `close`: no hot path any more. */
  _close(): void {
    this.fast = false;
  }

  /** @internal `checkInvariants`' part: see `checkHeap` in region/heap.ts. */
  _check(): void {
    const slabId = this.pool.slabTypeIdIfAny();
    if (slabId === 0) return;
    checkHeap(this.r, this.r.nframes, slabId);
  }
}
